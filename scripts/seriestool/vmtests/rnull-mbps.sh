# SPDX-License-Identifier: GPL-2.0
# rnull mbps, next to C null_blk: a bandwidth limit in MiB/s. fio moves data
# for 3 s at queue depth 16 and must come within 10 % of the limit; without
# a limit the same job is checked to go well beyond it, so the check can
# fail. configfs: the attribute, C's clamp to 40960 and bad values.
. /tests/lib.sh

LIMIT=20

# bw_kib DEV [fio options...]: the KiB/s of 3 s of 64k random reads at
# queue depth 16 (the options may make them writes, or polled).
bw_kib() {
	dev=$1
	shift
	fio --name=bw --filename="$dev" --ioengine=libaio --direct=1 \
		--rw=randread --bs=64k --iodepth=16 --time_based --runtime=3 \
		--output-format=terse --terse-version=3 "$@" > /tmp/fio.out 2>&1 ||
		{ tail -5 /tmp/fio.out; return 1; }
	# Terse v3: field 7 is the read bandwidth (KiB/s), 48 the write one.
	awk -F';' '{printf "%d", $7 + $48}' /tmp/fio.out
}

# mib KIB: KiB as MiB with one decimal.
mib() {
	echo "$1" | awk '{printf "%.1f", $1 / 1024}'
}

# within DEV LIMIT WHAT [fio options...]: DEV moves LIMIT MiB/s +- 10 %.
within() {
	dev=$1 limit=$2 what=$3
	shift 3
	bw=$(bw_kib "$dev" "$@") || fail "fio $what on $dev"
	echo "$dev, mbps=$limit, $what: $(mib $bw) MiB/s"
	[ $((bw * 10)) -ge $((limit * 1024 * 9)) ] && [ $((bw * 10)) -le $((limit * 1024 * 11)) ] ||
		fail "$dev: $what at $(mib $bw) MiB/s, not within 10 % of $limit"
}

params="nr_devices=1 gb=1"
modprobe null_blk $params || fail "modprobe null_blk"
modprobe rnull_mod $params || fail "modprobe rnull_mod"
wait_dev /dev/nullb0
wait_dev /dev/rnullb0
for dev in nullb0 rnullb0; do
	bw=$(bw_kib /dev/$dev) || fail "fio on $dev"
	echo "$dev, no limit: $(mib $bw) MiB/s"
	[ "$bw" -gt $((LIMIT * 1024 * 2)) ] ||
		fail "$dev: $(mib $bw) MiB/s without a limit, the checks below could not fail"
done
rmmod null_blk || fail "rmmod null_blk"
rmmod rnull_mod || fail "rmmod rnull_mod"

modprobe null_blk $params mbps=$LIMIT || fail "modprobe null_blk mbps=$LIMIT"
modprobe rnull_mod $params mbps=$LIMIT || fail "modprobe rnull_mod mbps=$LIMIT"
wait_dev /dev/nullb0
wait_dev /dev/rnullb0
# C's own figure, for comparison.
bw=$(bw_kib /dev/nullb0) || fail "fio on nullb0"
echo "nullb0, mbps=$LIMIT, reads: $(mib $bw) MiB/s"
within /dev/rnullb0 $LIMIT reads
within /dev/rnullb0 $LIMIT writes --rw=randwrite
# The poll queue is limited too.
within /dev/rnullb0 $LIMIT "polled reads" --ioengine=io_uring --hipri=1
rmmod null_blk || fail "rmmod null_blk"

# configfs: the default comes from the module parameter; with irqmode 2
# the completion time comes on top of the transfer.
cfg=/sys/kernel/config/rnull
mkdir $cfg/rnullm || fail "mkdir rnullm"
v=$(cat $cfg/rnullm/mbps)
[ "$v" = $LIMIT ] || fail "mbps of a new device is $v, expected the parameter's $LIMIT"
for bad in x -1 4294967296 ""; do
	echo "$bad" > $cfg/rnullm/mbps 2>/dev/null && fail "mbps took '$bad'"
done
echo 10 > $cfg/rnullm/mbps || fail "setting mbps"
echo 2 > $cfg/rnullm/irqmode || fail "setting irqmode"
echo 1000000 > $cfg/rnullm/completion_nsec || fail "setting completion_nsec"
echo 1 > $cfg/rnullm/power || fail "power on rnullm"
wait_dev /dev/rnullm
echo 20 > $cfg/rnullm/mbps 2>/dev/null && fail "mbps changed while powered"
within /dev/rnullm 10 "reads, irqmode 2"
echo 0 > $cfg/rnullm/power || fail "power off rnullm"
# As C, more than 40 GiB/s is clamped at power on, and shown clamped.
echo 50000 > $cfg/rnullm/mbps || fail "setting mbps 50000"
echo 1 > $cfg/rnullm/power || fail "power on rnullm"
v=$(cat $cfg/rnullm/mbps)
[ "$v" = 40960 ] || fail "mbps is $v after power on, expected C's clamp to 40960"
rmdev rnullm
# A deep queue does not make requests wait until they time out: with 1 MiB/s,
# 16 requests of 256k and an io_timeout of 1 s, booking them all would put
# the last 4 s ahead; rnull books 20 ms ahead and blk-mq holds the rest.
mkdev rnulld mbps=1
echo 1000 > /sys/block/rnulld/queue/io_timeout || fail "setting io_timeout"
dmesg -c > /dev/null
fio --name=deep --filename=/dev/rnulld --ioengine=libaio --direct=1 --rw=randread \
	--bs=256k --iodepth=16 --time_based --runtime=4 --output-format=terse \
	--terse-version=3 > /tmp/fio.out 2>&1 || { tail -5 /tmp/fio.out; fail "fio with a deep queue failed"; }
# rnull's own count and message; other "timed out" lines (the clocksource
# watchdog's under a slow debug kernel) are not rnull's.
expect /sys/block/rnulld/rnull/timeouts 0
dmesg | grep -q "rnull_mod: request timed out" &&
	fail "a request timed out behind the bandwidth limit"
bw=$(awk -F';' '{printf "%d", $7}' /tmp/fio.out)
echo "/dev/rnulld, mbps=1, 16 x 256k in flight, io_timeout 1 s: $(mib $bw) MiB/s, no timeout"
[ $((bw * 10)) -ge $((1024 * 9)) ] && [ $((bw * 10)) -le $((1024 * 11)) ] ||
	fail "rnulld: $(mib $bw) MiB/s, not within 10 % of 1"
rmdev rnulld
rmmod rnull_mod || fail "rmmod rnull_mod"
echo "rnull mbps: reads, writes and polled reads within 10 % of the limit"

# SPDX-License-Identifier: GPL-2.0
# posting: block-rnull (the posting whose tree this test needs; see README.md)
# rnull mbps, next to C null_blk: a bandwidth limit in MiB/s. fio moves data
# for 3 s at queue depth 16 on both drivers, one after the other, with the
# same limit. What the throttle guarantees is checked on its own: never
# above the limit (10 % for fio's accounting), and far below the rate
# without a limit (measured first, so the checks can fail: the limit is
# 20 MiB/s, or a quarter of the slower rate where a debug kernel on a busy
# host moves less than twice that). That rnull
# reaches the limit is checked against the limit, or, where a busy host
# slows the VM down so far that the limit cannot be reached, against
# null_blk measured the same way in the same boot. configfs: the
# attribute, C's clamp to 40960 and bad values.
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

# throttled C_DEV RUST_DEV LIMIT WHAT [fio options...]: the same fio job on
# null_blk's C_DEV, then on rnull's RUST_DEV, both limited to LIMIT MiB/s.
# rnull never goes above the limit, and comes within 10 % of it or at
# least to 85 % of what null_blk moved.
throttled() {
	cdev=$1 rdev=$2 limit=$3 what=$4
	shift 4
	cbw=$(bw_kib "$cdev" "$@") || fail "fio $what on $cdev"
	rbw=$(bw_kib "$rdev" "$@") || fail "fio $what on $rdev"
	echo "mbps=$limit, $what: null_blk $(mib $cbw), rnull $(mib $rbw) MiB/s"
	[ $((rbw * 10)) -le $((limit * 1024 * 11)) ] ||
		fail "$rdev: $what at $(mib $rbw) MiB/s, above the limit of $limit"
	[ $((rbw * 10)) -ge $((limit * 1024 * 9)) ] || [ $((rbw * 100)) -ge $((cbw * 85)) ] ||
		fail "$rdev: $what at $(mib $rbw) MiB/s, neither within 10 % of $limit" \
			"nor at 85 % of null_blk's $(mib $cbw)"
}

params="nr_devices=1 gb=1"
modprobe null_blk $params || fail "modprobe null_blk"
modprobe rnull_mod $params || fail "modprobe rnull_mod"
wait_dev /dev/nullb0
wait_dev /dev/rnullb0
slowest=
for dev in nullb0 rnullb0; do
	bw=$(bw_kib /dev/$dev) || fail "fio on $dev"
	echo "$dev, no limit: $(mib $bw) MiB/s"
	[ -n "$slowest" ] && [ "$slowest" -le "$bw" ] || slowest=$bw
done
# C null_blk hands out 20 ms' worth of bytes at a time and never passes a
# request larger than that: the configfs step below runs at half the limit
# with 64k requests, which need at least 3.2 MiB/s there. So the limit is
# at least MIN_LIMIT, and the rate without one at least twice that (a
# driver that ignored the limit would still be seen above it).
MIN_LIMIT=8
if [ "$slowest" -le $((LIMIT * 1024 * 2)) ]; then
	LIMIT=$((slowest / 1024 / 4))
	[ $LIMIT -ge $MIN_LIMIT ] || LIMIT=$MIN_LIMIT
	[ "$slowest" -ge $((LIMIT * 1024 * 2)) ] ||
		fail "$(mib $slowest) MiB/s without a limit: too slow to check one of $LIMIT"
	echo "limit $LIMIT MiB/s: a quarter of the slower rate without one, at least $MIN_LIMIT"
fi
rmmod null_blk || fail "rmmod null_blk"
rmmod rnull_mod || fail "rmmod rnull_mod"

modprobe null_blk $params mbps=$LIMIT || fail "modprobe null_blk mbps=$LIMIT"
modprobe rnull_mod $params mbps=$LIMIT || fail "modprobe rnull_mod mbps=$LIMIT"
wait_dev /dev/nullb0
wait_dev /dev/rnullb0
throttled /dev/nullb0 /dev/rnullb0 $LIMIT reads
throttled /dev/nullb0 /dev/rnullb0 $LIMIT writes --rw=randwrite
# The poll queue is limited too.
throttled /dev/nullb0 /dev/rnullb0 $LIMIT "polled reads" --ioengine=io_uring --hipri=1
rmmod null_blk || fail "rmmod null_blk"
modprobe null_blk nr_devices=0 || fail "modprobe null_blk nr_devices=0"

# configfs: the default comes from the module parameter; with irqmode 2
# the completion time comes on top of the transfer.
rcfg=/sys/kernel/config/rnull
mkdir $rcfg/rnullm || fail "mkdir rnullm"
v=$(cat $rcfg/rnullm/mbps)
[ "$v" = $LIMIT ] || fail "mbps of a new device is $v, expected the parameter's $LIMIT"
for bad in x -1 4294967296 ""; do
	echo "$bad" > $rcfg/rnullm/mbps 2>/dev/null && fail "mbps took '$bad'"
done
half=$((LIMIT / 2))
echo $half > $rcfg/rnullm/mbps || fail "setting mbps"
echo 2 > $rcfg/rnullm/irqmode || fail "setting irqmode"
echo 1000000 > $rcfg/rnullm/completion_nsec || fail "setting completion_nsec"
echo 1 > $rcfg/rnullm/power || fail "power on rnullm"
wait_dev /dev/rnullm
echo $LIMIT > $rcfg/rnullm/mbps 2>/dev/null && fail "mbps changed while powered"
CFG=/sys/kernel/config/nullb mkdev nullm mbps=$half irqmode=2 completion_nsec=1000000
throttled /dev/nullm /dev/rnullm $half "reads, irqmode 2"
CFG=/sys/kernel/config/nullb rmdev nullm
echo 0 > $rcfg/rnullm/power || fail "power off rnullm"
# As C, more than 40 GiB/s is clamped at power on, and shown clamped.
echo 50000 > $rcfg/rnullm/mbps || fail "setting mbps 50000"
echo 1 > $rcfg/rnullm/power || fail "power on rnullm"
v=$(cat $rcfg/rnullm/mbps)
[ "$v" = 40960 ] || fail "mbps is $v after power on, expected C's clamp to 40960"
rmdev rnullm
# A deep queue does not make requests wait until they time out: with 1 MiB/s,
# 16 requests of 256k and an io_timeout of 1 s, booking them all would put
# the last 4 s ahead; rnull books 20 ms ahead and blk-mq holds the rest.
# (C null_blk's 20 ms budget of 20 KiB never fits a 256k request: there is
# nothing of C's to compare with, so the check is the throttle's guarantee
# and that data moved at all.)
mkdev rnulld mbps=1
echo 1000 > /sys/block/rnulld/queue/io_timeout || fail "setting io_timeout"
dmesg -c > /dev/null
bw=$(bw_kib /dev/rnulld --bs=256k --runtime=4) || fail "fio with a deep queue failed"
# rnull's own count and message; other "timed out" lines (the clocksource
# watchdog's under a slow debug kernel) are not rnull's.
expect /sys/block/rnulld/rnull/timeouts 0
dmesg | grep -q "rnull_mod: request timed out" &&
	fail "a request timed out behind the bandwidth limit"
echo "/dev/rnulld, mbps=1, 16 x 256k in flight, io_timeout 1 s: $(mib $bw) MiB/s, no timeout"
[ $((bw * 10)) -le $((1024 * 11)) ] && [ $((bw * 2)) -ge 1024 ] ||
	fail "rnulld: $(mib $bw) MiB/s, not between half the limit of 1 and 10 % above it"
rmdev rnulld
rmmod rnull_mod || fail "rmmod rnull_mod"
rmmod null_blk || fail "rmmod null_blk"
echo "rnull mbps: reads, writes and polled reads never above the limit and up to it"

# SPDX-License-Identifier: GPL-2.0
# posting: block-rnull (the posting whose tree this test needs; see README.md)
# Zoned devices: rnull against C null_blk, both made with the same options,
# must report the same zones and limits after the same writes and zone
# operations, fail the same writes, and refuse the same bad options.
# Memory backed zoned devices keep their data (fio in zonemode=zbd verifies
# it) and read 0xff beyond the write pointer, as C does.
. /tests/lib.sh

C=/sys/kernel/config/nullb
R=/sys/kernel/config/rnull

# report DEV [SECTOR [COUNT]]: the zone report from SECTOR on.
report() {
	blkzone report -o ${2:-0} ${3:+-c $3} /dev/$1 || fail "blkzone report $1"
}

# same_zones CDEV RDEV WHAT [SECTOR [COUNT]]: both devices report the same
# zones.
same_zones() {
	report $1 $4 $5 > /tmp/zc
	report $2 $4 $5 > /tmp/zr
	cmp -s /tmp/zc /tmp/zr || {
		diff /tmp/zc /tmp/zr | head -10
		fail "$3: zone reports differ"
	}
}

# same_limits CDEV RDEV: the zoned queue attributes are the same.
same_limits() {
	for a in zoned chunk_sectors nr_zones max_open_zones max_active_zones \
		zone_append_max_bytes zone_write_granularity; do
		c=$(cat /sys/block/$1/queue/$a) r=$(cat /sys/block/$2/queue/$a)
		[ "$c" = "$r" ] || fail "queue/$a: $1 has '$c', $2 has '$r'"
	done
}

# write DEV SECTOR [COUNT]: writes COUNT (default 8) sectors at SECTOR, in
# one O_DIRECT write. (Not busybox dd: its buffers are not aligned, and the
# kernel then falls back to the page cache, which zoned devices do not
# take.)
write() {
	n=$(( ${3:-8} * 512 ))
	fio --name=w --filename=/dev/$1 --ioengine=psync --direct=1 --rw=write \
		--bs=$n --size=$n --offset=$(( $2 * 512 )) --zonemode=none \
		--output-format=terse --terse-version=3 > /dev/null
}

# on_both CMD ARGS: runs CMD ARGS $cdev, then CMD ARGS $rdev; fails the
# test unless both succeed or both fail, and returns what both did.
on_both() {
	c=0 r=0
	"$@" $cdev > /tmp/out.c 2>&1 || c=1
	"$@" $rdev > /tmp/out.r 2>&1 || r=1
	[ $c = $r ] || {
		cat /tmp/out.c /tmp/out.r
		dmesg | tail -5
		blkzone report /dev/$cdev | head -4
		fail "'$*': null_blk exit $c, rnull exit $r"
	}
	return $c
}

# zone OP SECTOR COUNT DEV: the zone operation OP on COUNT zones from SECTOR.
zone() { blkzone "$1" -o "$2" -c "$3" /dev/"$4"; }
# wr SECTOR COUNT DEV, rd BLOCK DEV: write sectors, read a 4k block.
wr() { write "$3" "$1" "$2"; }
rd() { dd if=/dev/$2 of=/dev/null bs=4k count=1 skip=$1 iflag=direct 2>/dev/null; }

echo "== module parameters: 1 GiB, 64 MiB zones, 2 conventional, limits 4/6"
params="nr_devices=1 gb=1 zoned=1 zone_size=64 zone_nr_conv=2 zone_max_open=4 \
zone_max_active=6"
modprobe null_blk $params || fail "modprobe null_blk $params"
modprobe rnull $params || fail "modprobe rnull $params"
wait_dev /dev/nullb0
wait_dev /dev/rnullb0
cdev=nullb0 rdev=rnullb0
[ "$(cat /sys/block/rnullb0/queue/zoned)" = host-managed ] ||
	fail "rnullb0 is not host-managed"
[ "$(cat /sys/block/rnullb0/queue/nr_zones)" = 16 ] || fail "rnullb0 has not 16 zones"
same_limits nullb0 rnullb0
same_zones nullb0 rnullb0 "fresh devices"

zs=131072 # sectors in a zone
echo "== writes at the write pointer, and elsewhere"
on_both wr $((2 * zs)) 8 || fail "write at the write pointer failed"
on_both wr $((2 * zs + 8)) 16 || fail "second write failed"
on_both wr $((2 * zs)) 8 && fail "write behind the write pointer succeeded"
on_both wr $((3 * zs + 8)) 8 && fail "write beyond the write pointer succeeded"
on_both wr 100 8 || fail "write into a conventional zone failed"
same_zones nullb0 rnullb0 "after writes"

echo "== open, close, finish, reset"
on_both zone open $((4 * zs)) 1 || fail "open"
on_both zone close $((2 * zs)) 1 || fail "close"
on_both zone finish $((5 * zs)) 1 || fail "finish"
on_both zone open 0 1 && fail "opening a conventional zone succeeded"
same_zones nullb0 rnullb0 "after zone operations"
on_both wr $((5 * zs)) 8 && fail "write into a full zone succeeded"
on_both zone reset $((2 * zs)) 1 || fail "reset"
same_zones nullb0 rnullb0 "after reset"

echo "== open and active limits"
# Zone 4 is explicitly open; open 3 more (the limit is 4), then one too many.
on_both zone open $((6 * zs)) 3 || fail "opening up to the limit"
on_both zone open $((9 * zs)) 1 && fail "opening beyond max_open succeeded"
# A write to an empty zone needs an open zone too.
on_both wr $((10 * zs)) 8 && fail "implicit open beyond max_open succeeded"
on_both zone close $((6 * zs)) 1 || fail "close below the limit"
# (The failed write leaves zone 10 for the block layer to recheck; both
# drivers must just agree on what happens next.)
on_both wr $((10 * zs)) 8
on_both zone open $((11 * zs)) 1 || fail "open within the limits"
same_zones nullb0 rnullb0 "at the limits"
on_both zone reset $((2 * zs)) 14 || fail "reset all sequential zones"
same_zones nullb0 rnullb0 "after resetting all"
rmmod rnull_mod || fail "rmmod rnull_mod"
rmmod null_blk || fail "rmmod null_blk"

echo "== configfs: memory backed, smaller zone capacity, native and emulated zone append"
modprobe null_blk nr_devices=0 || fail "modprobe null_blk nr_devices=0"
modprobe rnull nr_devices=0 || fail "modprobe rnull nr_devices=0"
for append in 0 64; do
	CFG=$C mkdev zc$append zoned=1 memory_backed=1 size=64 zone_size=8 zone_capacity=4 \
		zone_nr_conv=1 zone_append_max_sectors=$append
	mkdev zr$append zoned=1 memory_backed=1 size=64 zone_size=8 zone_capacity=4 \
		zone_nr_conv=1 zone_append_max_sectors=$append
	same_limits zc$append zr$append
	same_zones zc$append zr$append "memory backed, zone_append_max_sectors=$append"
done
dmesg | grep -q "zr0: using emulated zone append" || fail "zr0 does not emulate zone append"
dmesg | grep -q "zr64: using native zone append" || fail "zr64 does not append natively"

echo "== data round trip through the zones (fio zonemode=zbd)"
fio_verify /dev/zr64 56M --zonemode=zbd --rw=write --bs=16k --offset=8M ||
	fail "fio zbd verify on zr64"
# Data written in the conventional zone stays too.
fio_verify /dev/zr64 8M --size=8M || fail "fio verify in the conventional zone"

echo "== reads beyond the write pointer give 0xff"
cdev=zc64 rdev=zr64
# Only zr64 went through fio: start both from empty zones.
on_both zone reset 16384 7 || fail "reset zones 1 to 7"
same_zones zc64 zr64 "after resetting the zones fio wrote"
on_both wr 16384 8 || fail "write 8 sectors into zone 1"
for d in zc64 zr64; do
	dd if=/dev/$d bs=512 skip=16384 count=16 iflag=direct 2>/dev/null |
		od -An -tx1 -v | tr -s ' \n' '  ' > /tmp/read.$d
done
tail -c 200 /tmp/read.zr64 | grep -q "ff ff ff ff" || fail "rnull: no 0xff beyond the write pointer"
[ "$(tail -c 2000 /tmp/read.zc64)" = "$(tail -c 2000 /tmp/read.zr64)" ] ||
	fail "beyond the write pointer, rnull reads other bytes than null_blk"

echo "== zone_readonly and zone_offline"
for d in zc64 zr64; do
	if [ $d = zc64 ]; then cfg=$C; else cfg=$R; fi
	echo 32768 > $cfg/$d/zone_readonly || fail "$d: zone_readonly"
	echo 49152 > $cfg/$d/zone_offline || fail "$d: zone_offline"
	cat $cfg/$d/zone_readonly > /dev/null 2>&1 && fail "$d: zone_readonly can be read"
	echo 0 > $cfg/$d/zone_readonly 2>/dev/null && fail "$d: conventional zone made read-only"
	echo 999999999 > $cfg/$d/zone_offline 2>/dev/null && fail "$d: sector out of range taken"
done
same_zones zc64 zr64 "read-only and offline zones"
on_both wr 32768 8 && fail "write into a read-only zone succeeded"
on_both rd 4096 || fail "read of a read-only zone failed"
on_both rd 6144 && fail "read of an offline zone succeeded"
for d in zc64 zr64; do
	if [ $d = zc64 ]; then cfg=$C; else cfg=$R; fi
	echo 32768 > $cfg/$d/zone_readonly || fail "$d: zone_readonly again"
done
same_zones zc64 zr64 "read-only zone back to empty"
on_both wr 32768 8 || fail "write into the restored zone"

echo "== attributes of a powered device are fixed"
for a in zoned zone_size zone_capacity zone_nr_conv zone_max_open zone_max_active \
	zone_append_max_sectors zone_full; do
	err=$( (echo 1 > $R/zr64/$a) 2>&1) && fail "$a changed on a powered device"
	echo "$err" | grep -q "busy" || fail "$a on a powered device: $err"
done
for d in zc0 zc64; do CFG=$C rmdev $d; done
for d in zr0 zr64; do rmdev $d; done

echo "== zone_full"
CFG=$C mkdev zcf zoned=1 size=64 zone_size=8 zone_full=1
mkdev zrf zoned=1 size=64 zone_size=8 zone_full=1
same_zones zcf zrf "zone_full"
report zrf | grep -q "zcond:14(fu)" || fail "zone_full: zones are not full"
CFG=$C rmdev zcf
rmdev zrf

echo "== bad zone options are refused at power on, as C does"
for opts in "zone_size=3" "zone_size=0" "zone_size=128" "zone_capacity=16" \
	"zone_capacity=4 size=60"; do
	# shellcheck disable=SC2086
	CFG=$C power_on_refused zbc zoned=1 size=64 zone_size=8 $opts
	# shellcheck disable=SC2086
	power_on_refused zbr zoned=1 size=64 zone_size=8 $opts
done
echo "== bad module parameters"
rmmod rnull_mod || fail "rmmod rnull_mod"
for p in zone_size=3 zone_capacity=512; do
	modprobe rnull zoned=1 $p 2>/dev/null && fail "modprobe rnull zoned=1 $p succeeded"
done
dmesg | grep -q "rnull.*zone_size must be non-zero power-of-two" ||
	fail "no message for zone_size=3"
# Leave no module behind for the tests that follow.
rmmod null_blk || fail "rmmod null_blk"
echo "ok"

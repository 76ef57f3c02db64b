# SPDX-License-Identifier: GPL-2.0
# posting: block-rnull (the posting whose tree this test needs; see README.md)
# rnull badblocks: I/O fails with EIO exactly on the sectors the configfs
# attribute lists, in every completion mode; the table changes while the
# device is powered; badblocks_once forgets a range after its first error;
# badblocks_partial_io transfers the blocks before the first bad one. Bad
# input is refused with EINVAL.
. /tests/lib.sh

cfg=/sys/kernel/config/rnull
modprobe rnull_mod nr_devices=0 || fail "modprobe rnull_mod nr_devices=0"

# io DEV RW SECTOR COUNT [fio options...]: one direct I/O of COUNT sectors
# at SECTOR; succeeds or fails as the I/O does.
io() {
	dev=$1 rw=$2 sector=$3 count=$4
	shift 4
	fio --name=bb --filename="$dev" --ioengine=psync --direct=1 --rw="$rw" \
		--bs=$((count * 512)) --offset=$((sector * 512)) --size=$((count * 512)) \
		--output-format=terse "$@" > /tmp/fio.out 2>&1
}

# bad VALUE: writing VALUE to the badblocks of rnullbb fails with EINVAL.
bad() {
	err=$( (echo "$1" > $cfg/rnullbb/badblocks) 2>&1) && fail "badblocks took '$1'"
	echo "$err" | grep -q "Invalid argument" || fail "badblocks '$1': $err"
}

for mode in 0 1 2; do
	mkdev rnullbb size=64 irqmode=$mode
	echo "+100-107" > $cfg/rnullbb/badblocks || fail "adding 100-107"
	[ "$(cat $cfg/rnullbb/badblocks)" = "100 8" ] ||
		fail "badblocks reads '$(cat $cfg/rnullbb/badblocks)'"
	io /dev/rnullbb read 92 8 || fail "irqmode $mode: read of 92-99 failed"
	io /dev/rnullbb read 108 8 || fail "irqmode $mode: read of 108-115 failed"
	io /dev/rnullbb write 96 4 || fail "irqmode $mode: write of 96-99 failed"
	for s in 97 100 107; do
		io /dev/rnullbb read $s 4 && fail "irqmode $mode: read of $s-$((s + 3)) succeeded"
	done
	grep -q "Input/output error" /tmp/fio.out || fail "irqmode $mode: not EIO: $(head -3 /tmp/fio.out)"
	io /dev/rnullbb write 104 1 && fail "irqmode $mode: write to sector 104 succeeded"
	echo "-100-103" > $cfg/rnullbb/badblocks || fail "clearing 100-103"
	[ "$(cat $cfg/rnullbb/badblocks)" = "104 4" ] ||
		fail "after clearing 100-103 badblocks reads '$(cat $cfg/rnullbb/badblocks)'"
	io /dev/rnullbb read 100 4 || fail "irqmode $mode: read of cleared 100-103 failed"
	io /dev/rnullbb read 104 1 && fail "irqmode $mode: read of 104 succeeded"
	if [ $mode = 2 ]; then
		bad "100-107"; bad "+107-100"; bad "+a-5"; bad "+5"; bad "*1-2"; bad ""
		bad "+0-18446744073709551615"; bad "+0-4294967296"; bad "+18014398509481983-18014398509481984"
		echo "+0x10-0x17" > $cfg/rnullbb/badblocks || fail "hex range"
		[ "$(head -1 $cfg/rnullbb/badblocks)" = "16 8" ] || fail "hex range reads wrong"
	fi
	rmdev rnullbb
	echo "irqmode $mode: EIO exactly on the bad sectors, before and after a partial clear"
done

mkdev rnullbo size=64 badblocks_once=1
echo "+200-203" > $cfg/rnullbo/badblocks || fail "adding 200-203"
io /dev/rnullbo read 202 1 && fail "once: first read of 202 succeeded"
io /dev/rnullbo read 202 1 || fail "once: second read of 202 failed"
io /dev/rnullbo read 200 4 || fail "once: the rest of the range still fails"
[ -z "$(cat $cfg/rnullbo/badblocks)" ] || fail "once: table not empty"
err=$( (echo 0 > $cfg/rnullbo/badblocks_once) 2>&1) && fail "badblocks_once changed while powered"
echo "$err" | grep -q busy || fail "badblocks_once while powered: $err"
rmdev rnullbo
echo "badblocks_once: the range fails one request, then reads"

# partial NAME BS PARTIAL BAD FIRST COUNT GOOD: writes COUNT sectors of 0xaa
# from FIRST over the bad range BAD, then checks that exactly the GOOD
# sectors from FIRST on were written.
partial() {
	mkdev $1 size=64 blocksize=$2 memory_backed=1 badblocks_partial_io=$3
	echo "+$4" > $cfg/$1/badblocks || fail "adding $4"
	io /dev/$1 write $5 $6 --buffer_pattern=0xaa && fail "$1: write over $4 succeeded"
	echo "-$4" > $cfg/$1/badblocks || fail "clearing $4"
	if [ $7 -gt 0 ]; then
		io /dev/$1 read $5 $7 --verify=pattern --verify_pattern=0xaa ||
			fail "$1: the $7 sectors before the bad block were not written"
	fi
	io /dev/$1 read $(($5 + $7)) $(($6 - $7)) --verify=pattern --verify_pattern=0x00 ||
		fail "$1: sectors from the bad block on were written"
	rmdev $1
	echo "badblocks_partial_io=$3, blocksize $2, bad $4, write of $6 from $5: $7 sectors written"
}
partial rnullp1 512 1 104-111 96 16 8
partial rnullp2 512 0 104-111 96 16 0
partial rnullp3 4096 1 12-12 0 24 8
partial rnullp4 4096 1 0-3 0 24 0
rmmod rnull_mod || fail "rmmod rnull_mod"

# SPDX-License-Identifier: GPL-2.0
# posting: block-rnull (the posting whose tree this test needs; see README.md)
# rnull data path: a memory-backed device made through configfs keeps every
# byte (fio verify over the whole device, 4 KiB and 512 B blocks, I/O that
# crosses pages), discarded ranges read back as zeroes, a device without
# memory drops data (so the verify can fail), and power-off/rmdir clean up.
. /tests/lib.sh

modprobe rnull_mod nr_devices=0 || fail "modprobe rnull_mod nr_devices=0"
cfg=/sys/kernel/config/rnull
[ -d $cfg ] || fail "no $cfg"

# rdev NAME SIZE_MIB BLOCKSIZE MEMORY_BACKED [attr=value...]
rdev() {
	name=$1 size=$2 bs=$3 mb=$4
	shift 4
	mkdev $name size=$size blocksize=$bs memory_backed=$mb "$@"
}

rdev rnullm 128 4096 1 irqmode=0
[ "$(cat /sys/block/rnullm/size)" = $((128 * 2048)) ] ||
	fail "capacity $(cat /sys/block/rnullm/size) sectors, expected $((128 * 2048))"
[ "$(cat /sys/block/rnullm/queue/logical_block_size)" = 4096 ] || fail "block size"
fio_verify /dev/rnullm 128M || fail "fio verify over the whole memory-backed device"
echo "memory-backed rnull, irqmode 0: fio verify of all 128M passed"

# Discard: the range reads back as zeroes, the data around it is kept.
dd if=/dev/urandom of=/tmp/pattern bs=1M count=4 2>/dev/null
dd if=/tmp/pattern of=/dev/rnullm bs=1M count=4 oflag=direct 2>/dev/null || fail "dd"
blkdiscard -o 4096 -l 8192 /dev/rnullm && fail "discard worked with discard=0"
rmdev rnullm

rdev rnulld 64 512 1 discard=1
[ "$(cat /sys/block/rnulld/queue/discard_max_hw_bytes)" -gt 0 ] || fail "no discard limit"
dd if=/tmp/pattern of=/dev/rnulld bs=1M count=4 oflag=direct 2>/dev/null || fail "dd"
# 512 B blocks: discard a range that starts and ends inside pages.
blkdiscard -o 1536 -l 10240 /dev/rnulld || fail "blkdiscard"
dd if=/dev/rnulld of=/tmp/back bs=1M count=4 iflag=direct 2>/dev/null || fail "read back"
cmp -n 1536 /tmp/pattern /tmp/back || fail "data before the discarded range changed"
dd if=/tmp/back of=/tmp/mid bs=512 skip=3 count=20 2>/dev/null
dd if=/dev/zero of=/tmp/zero bs=512 count=20 2>/dev/null
cmp /tmp/mid /tmp/zero || fail "discarded range does not read back as zeroes"
dd if=/tmp/back of=/tmp/tail bs=512 skip=23 2>/dev/null
dd if=/tmp/pattern of=/tmp/ptail bs=512 skip=23 2>/dev/null
cmp /tmp/ptail /tmp/tail || fail "data after the discarded range changed"
echo "discard: 10240 bytes at 1536 read back as zeroes, the rest intact"
# 512 B blocks, softirq completion, I/O of 1.5 KiB that crosses pages.
fio_verify /dev/rnulld 60M --rw=write --bs=1536 || fail "fio verify with 1536 B I/O"
echo "memory-backed rnull, 512 B blocks, irqmode 1: fio verify with 1536 B I/O passed"
rmdev rnulld

rdev rnulln 64 4096 0
fio_io /dev/rnulln 64M || fail "fio I/O on rnull"
fio_verify /dev/rnulln 16M && fail "fio verify passed although the device keeps no data"
echo "rnull without memory: 64M of I/O ok, fio verify failed as it must"
rmdev rnulln
rmmod rnull_mod || fail "rmmod rnull_mod"

# SPDX-License-Identifier: GPL-2.0
# posting: block-rnull (the posting whose tree this test needs; see README.md)
# C null_blk: data written to a memory-backed device reads back intact, and
# the same check does fail on a device that drops data (so it can fail).
. /tests/lib.sh

modprobe null_blk nr_devices=1 gb=1 bs=4096 memory_backed=1 irqmode=0 ||
	fail "modprobe null_blk"
wait_dev /dev/nullb0
fio_verify /dev/nullb0 64M || fail "fio verify on memory-backed null_blk"
echo "memory-backed null_blk: fio verify of 64M passed"
rmmod null_blk || fail "rmmod null_blk"

modprobe null_blk nr_devices=1 gb=1 memory_backed=0 || fail "modprobe null_blk"
wait_dev /dev/nullb0
fio_verify /dev/nullb0 16M && fail "fio verify passed on a device that drops data"
echo "null_blk without memory: fio verify failed as it must"
rmmod null_blk || fail "rmmod null_blk"

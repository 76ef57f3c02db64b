# SPDX-License-Identifier: GPL-2.0
# posting: block-rnull (the posting whose tree this test needs; see README.md)
# Memory backed devices across power cycles and the write cache
# (cache_size, fua), on C null_blk and rnull side by side: data survives a
# power cycle; with a cache, a completed write survives only after a flush
# or with FUA, the cache holds at most cache_size, FUA bypasses it only
# when fua=1 (fua=0 makes the block layer flush instead), and discard
# reaches cached data.
. /tests/lib.sh

modprobe null_blk nr_devices=0 || fail "modprobe null_blk nr_devices=0"
modprobe rnull_mod nr_devices=0 || fail "modprobe rnull_mod nr_devices=0"

dd if=/dev/urandom of=/tmp/p64k bs=64k count=1 2>/dev/null
dd if=/dev/urandom of=/tmp/p4m bs=1M count=4 2>/dev/null
dd if=/dev/zero of=/tmp/z64k bs=64k count=1 2>/dev/null
# What fua_write writes.
fio --name=pat --filename=/tmp/f64k --size=64k --rw=write --bs=64k \
	--buffer_pattern=0xdeadbeef --output=/tmp/fio.out > /dev/null 2>&1 || fail "fio pattern"

# put DEV FILE OFFSET_KIB [dd flags...]: writes FILE at OFFSET_KIB, O_DIRECT.
put() {
	dev=$1 file=$2 off=$3
	shift 3
	dd if=$file of=$dev bs=4k seek=$((off / 4)) oflag=direct conv=notrunc "$@" \
		2>/dev/null || fail "writing $file to $dev"
}

# has DEV FILE OFFSET_KIB: DEV holds FILE at OFFSET_KIB.
has() {
	n=$(stat -c %s $2)
	dd if=$1 of=/tmp/back bs=4k skip=$(($3 / 4)) count=$((n / 4096)) iflag=direct \
		2>/dev/null || fail "reading $1"
	cmp -s $2 /tmp/back
}

# fua_write DEV OFFSET_KIB: writes /tmp/f64k with O_DSYNC from io_uring,
# which asks for FUA and nothing else (no flush follows, as it would for a
# synchronous write).
fua_write() {
	fio --name=fua --filename=$1 --ioengine=io_uring --direct=1 --sync=dsync \
		--rw=write --bs=64k --size=64k --offset=$(($2 * 1024)) \
		--buffer_pattern=0xdeadbeef --output=/tmp/fio.out > /dev/null 2>&1 ||
		{ cat /tmp/fio.out; fail "fio O_DSYNC write to $1"; }
}

# check DRIVER PREFIX: runs every check on DRIVER's configfs devices
# (nullb or rnull), named PREFIX-something.
check() {
	export CFG=/sys/kernel/config/$1
	p=$2

	# Without a cache the data survives a power cycle.
	mkdev ${p}keep memory_backed=1 size=16 blocksize=4096 irqmode=0
	[ "$(cat /sys/block/${p}keep/queue/write_cache)" = "write through" ] ||
		fail "$1: no cache but write_cache is $(cat /sys/block/${p}keep/queue/write_cache)"
	put /dev/${p}keep /tmp/p4m 0
	powercycle ${p}keep
	has /dev/${p}keep /tmp/p4m 0 || fail "$1: data lost in a power cycle without a cache"
	rmdev ${p}keep
	echo "$1: 4 MiB kept across a power cycle"

	mkdev ${p}wc memory_backed=1 size=16 cache_size=1 blocksize=4096
	[ "$(cat /sys/block/${p}wc/queue/write_cache)" = "write back" ] ||
		fail "$1: write_cache is $(cat /sys/block/${p}wc/queue/write_cache)"
	[ "$(cat /sys/block/${p}wc/queue/fua)" = 1 ] || fail "$1: fua is not 1"
	# A completed write reads back from the cache but is lost at power off.
	put /dev/${p}wc /tmp/p64k 0
	has /dev/${p}wc /tmp/p64k 0 || fail "$1: cached data does not read back"
	powercycle ${p}wc
	has /dev/${p}wc /tmp/z64k 0 || fail "$1: unflushed data survived power off"
	echo "$1: unflushed write read back, then lost at power off"
	# After fsync (a flush) it survives.
	put /dev/${p}wc /tmp/p64k 0 conv=fsync
	powercycle ${p}wc
	has /dev/${p}wc /tmp/p64k 0 || fail "$1: flushed data lost at power off"
	echo "$1: flushed write kept"
	# FUA: the FUA write survives, the cached one next to it does not.
	put /dev/${p}wc /tmp/p64k 2048
	fua_write /dev/${p}wc 4096
	powercycle ${p}wc
	has /dev/${p}wc /tmp/f64k 4096 || fail "$1: FUA write lost at power off"
	has /dev/${p}wc /tmp/z64k 2048 || fail "$1: FUA write flushed the cache"
	echo "$1: FUA write kept, cached write beside it lost"
	# The cache holds at most cache_size (1 MiB) and writes back the rest.
	put /dev/${p}wc /tmp/p4m 8192
	powercycle ${p}wc
	dd if=/dev/${p}wc of=/tmp/back bs=1M skip=8 count=4 iflag=direct 2>/dev/null
	lost=$(cmp -l /tmp/p4m /tmp/back | wc -l)
	[ "$lost" -gt 0 ] || fail "$1: nothing of 4 MiB was cached"
	[ "$lost" -le 1048576 ] || fail "$1: $lost bytes of 4 MiB lost, more than the 1 MiB cache"
	echo "$1: 4 MiB without flush, $lost bytes lost (at most the 1 MiB cache)"
	rmdev ${p}wc

	# fua=0: the block layer turns FUA into a flush, which also saves the
	# cached write.
	mkdev ${p}nf memory_backed=1 size=16 cache_size=1 fua=0 blocksize=4096
	[ "$(cat /sys/block/${p}nf/queue/fua)" = 0 ] || fail "$1: fua=0 but queue/fua is 1"
	put /dev/${p}nf /tmp/p64k 2048
	fua_write /dev/${p}nf 4096
	powercycle ${p}nf
	has /dev/${p}nf /tmp/f64k 4096 || fail "$1: fua=0: O_DSYNC write lost"
	has /dev/${p}nf /tmp/p64k 2048 || fail "$1: fua=0: cached write lost after emulated FUA"
	rmdev ${p}nf
	echo "$1: fua=0: O_DSYNC write flushes the cache"

	# Discard reaches data that is still cached.
	mkdev ${p}dc memory_backed=1 size=16 cache_size=1 discard=1 blocksize=512
	put /dev/${p}dc /tmp/p64k 0
	blkdiscard -o 4096 -l 8192 /dev/${p}dc || fail "$1: blkdiscard"
	dd if=/tmp/p64k of=/tmp/expect bs=4k count=1 2>/dev/null
	dd if=/dev/zero bs=4k count=2 2>/dev/null >> /tmp/expect
	dd if=/tmp/p64k bs=4k skip=3 2>/dev/null >> /tmp/expect
	has /dev/${p}dc /tmp/expect 0 || fail "$1: discard of cached data"
	dd if=/dev/zero of=/dev/${p}dc count=0 conv=fsync 2>/dev/null || fail "$1: fsync"
	powercycle ${p}dc
	has /dev/${p}dc /tmp/expect 0 || fail "$1: discard of cached data, after flush"
	# The cache in the data path at 512 B blocks, I/O across pages.
	fio_verify /dev/${p}dc 12M --bs=1536 --rw=write || fail "$1: fio verify through the cache"
	rmdev ${p}dc
	echo "$1: discard of cached data reads back as zeroes; fio verify passed"
}

check nullb c
check rnull r
rmmod rnull_mod || fail "rmmod rnull_mod"
rmmod null_blk || fail "rmmod null_blk"

# SPDX-License-Identifier: GPL-2.0
# posting: block-rnull (the posting whose tree this test needs; see README.md)
# A script written for null_blk works on rnull with only the names changed:
# the same module parameters and configfs writes are taken by both, and the
# devices show the same values afterwards: queue counts, attributes
# adjusted at power on, queue limits. Buffers aligned to 2 bytes work with
# O_DIRECT on both, and so do 64 KiB blocks.
. /tests/lib.sh

# nr_cpu_ids: one more than the last possible CPU.
ncpu=$(( $(sed 's/.*[-,]//' /sys/devices/system/cpu/possible) + 1 ))
queues() {
	ls /sys/block/$1/mq | wc -l
}

# More submit queues than CPUs and many devices, as module parameters.
modprobe null_blk submit_queues=16 nr_devices=32 gb=1 || fail "modprobe null_blk submit_queues=16 nr_devices=32"
modprobe rnull_mod submit_queues=16 nr_devices=32 gb=1 || fail "modprobe rnull_mod submit_queues=16 nr_devices=32"
for i in $(seq 0 31); do
	wait_dev /dev/rnullb$i
	[ "$(queues rnullb$i)" = "$(queues nullb$i)" ] ||
		fail "rnullb$i has $(queues rnullb$i) hardware queues, nullb$i $(queues nullb$i)"
done
[ -b /dev/rnullb32 ] && fail "rnull made a 33rd device"
[ "$(queues rnullb0)" = $((ncpu + 1)) ] || fail "rnullb0 has $(queues rnullb0) queues, not $ncpu + 1 poll queue"
rmmod null_blk || fail "rmmod null_blk"
rmmod rnull_mod || fail "rmmod rnull_mod"
echo "submit_queues=16 nr_devices=32: 32 devices with $ncpu submit queues each on both ($ncpu CPUs)"

modprobe null_blk nr_devices=0 || fail "modprobe null_blk"
modprobe rnull_mod nr_devices=0 || fail "modprobe rnull_mod"

# snapshot CFG NAME: what user space sees of a powered device.
snapshot() {
	for a in submit_queues poll_queues blocking home_node cache_size blocksize; do
		echo "$a=$(cat $1/$2/$a)"
	done
	for a in dma_alignment write_zeroes_max_bytes logical_block_size nr_requests; do
		echo "$a=$(cat /sys/block/$2/queue/$a)"
	done
	echo "hw_queues=$(queues $2)"
}

# same STEP ATTR=VALUE...: makes a device with those configfs writes on
# each driver, as a null_blk script would, and compares what they show.
same() {
	step=$1
	shift
	CFG=/sys/kernel/config/nullb mkdev c$step "$@"
	CFG=/sys/kernel/config/rnull mkdev r$step "$@"
	snapshot /sys/kernel/config/nullb c$step | sed "s/c$step/X/" > /tmp/c.txt
	snapshot /sys/kernel/config/rnull r$step | sed "s/r$step/X/" > /tmp/r.txt
	cmp -s /tmp/c.txt /tmp/r.txt || {
		echo "null_blk vs rnull after: $*"
		diff /tmp/c.txt /tmp/r.txt
		fail "rnull differs from null_blk"
	}
	echo "same as null_blk: $* ($(tr '\n' ' ' < /tmp/r.txt))"
}

# The configfs steps of a null_blk script: more submit queues than CPUs.
same 1 irqmode=2 completion_nsec=2000000 submit_queues=4 hw_queue_depth=1
[ "$(cat /sys/kernel/config/rnull/r1/submit_queues)" = "$ncpu" ] || fail "submit_queues=4 did not become $ncpu"
for d in c1 r1; do
	fio --name=r --filename=/dev/$d --rw=randread --bs=4k --direct=1 --ioengine=io_uring \
		--iodepth=1 --size=1M --io_size=200k > /tmp/fio.out 2>&1 || fail "fio on $d: $(tail -3 /tmp/fio.out)"
done
same 2 submit_queues=0
# Memory backed: blocking is forced on; without: cache_size is dropped.
same 3 memory_backed=1 cache_size=16
same 4 cache_size=16
same 5 memory_backed=1 home_node=0
# A block size above the page size, with large folios.
same 6 memory_backed=1 blocksize=65536

# 2 byte aligned O_DIRECT buffers: fio puts its buffers 2 bytes past a page.
# The NVMe namespace needs 4 byte alignment, which shows that they are
# misaligned.
[ "$(cat /sys/block/nvme0n1/queue/dma_alignment)" -ge 3 ] || fail "nvme0n1 takes 2 byte aligned buffers"
fio_verify /dev/nvme0n1 1M --iomem_align=2 && fail "2 byte aligned buffers passed on nvme0n1"
for d in c3 r3; do
	fio_verify /dev/$d 16M --iomem_align=2 || fail "fio verify with 2 byte aligned buffers on $d"
done
echo "2 byte aligned O_DIRECT buffers: fio verify passed on both (refused by nvme0n1)"
for d in c6 r6; do
	fio_verify /dev/$d 16M --bs=64k || fail "fio verify with 64 KiB blocks on $d"
done
echo "64 KiB blocks: fio verify passed on both"

for i in 1 2 3 4 5 6; do
	CFG=/sys/kernel/config/nullb rmdev c$i
	CFG=/sys/kernel/config/rnull rmdev r$i
done
rmmod null_blk || fail "rmmod null_blk"
rmmod rnull_mod || fail "rmmod rnull_mod"

# SPDX-License-Identifier: GPL-2.0
# posting: block-rnull (the posting whose tree this test needs; see README.md)
# rnull module parameters: with the same parameters, rnull's devices look to
# the block layer as C null_blk's do (capacity, block size, queues, depth,
# scheduler, limits, polling); bad values fail the load with a message.
. /tests/lib.sh

ATTRS="size queue/logical_block_size queue/physical_block_size queue/nr_requests
queue/scheduler queue/max_hw_sectors_kb queue/virt_boundary_mask queue/rotational
queue/discard_max_hw_bytes queue/write_cache queue/fua queue/io_poll
queue/io_timeout"

# snapshot DISK: the attributes above and the number of hardware queues.
snapshot() {
	for a in $ATTRS; do
		echo "$a=$(cat /sys/block/$1/$a)"
	done
	echo "hw_queues=$(ls /sys/block/$1/mq | wc -l)"
}

# same PARAMS...: loads both drivers with PARAMS and compares their devices.
same() {
	modprobe null_blk "$@" || fail "modprobe null_blk $*"
	modprobe rnull_mod "$@" || fail "modprobe rnull_mod $*"
	n=0
	for d in /sys/block/nullb*; do
		d=${d##*/}
		r=r$d
		wait_dev /dev/$r
		snapshot $d > /tmp/c.txt
		snapshot $r > /tmp/r.txt
		cmp -s /tmp/c.txt /tmp/r.txt || {
			echo "null_blk $d vs rnull $r with: $*"
			diff /tmp/c.txt /tmp/r.txt
			fail "rnull differs from null_blk"
		}
		n=$((n + 1))
	done
	[ -b /dev/rnullb$n ] && fail "rnull made more devices than null_blk"
	rmmod null_blk || fail "rmmod null_blk"
	rmmod rnull_mod || fail "rmmod rnull_mod"
	echo "same as null_blk ($n devices): $*"
}

# "modprobe rnull" works through the module alias (kmod's modprobe; the
# VM's busybox modprobe does not read modules.alias, so load by name here).
grep -q "^alias rnull rnull_mod$" /lib/modules/$(uname -r)/modules.alias ||
	fail "no alias rnull for rnull_mod in modules.alias"

same
same nr_devices=2 gb=1 bs=4096 irqmode=0
same nr_devices=1 gb=2 bs=1024 submit_queues=2 hw_queue_depth=32 no_sched=1
same gb=1 max_sectors=256 virt_boundary=1 rotational=1 blocking=1
same gb=1 shared_tag_bitmap=1 submit_queues=2 home_node=0
same gb=1 memory_backed=1 discard=1
same gb=1 memory_backed=1 cache_size=16
same gb=1 memory_backed=1 cache_size=1 fua=0
same gb=1 cache_size=16
same nr_devices=2 gb=1 irqmode=2 completion_nsec=20000
same gb=1 poll_queues=0
same gb=1 submit_queues=2 poll_queues=2
same nr_devices=2 gb=1 shared_tags=1 submit_queues=2 hw_queue_depth=16 mbps=100
# A submit queue per online node (the VM has one) instead of submit_queues.
same gb=1 use_per_node_hctx=1 submit_queues=2
# Adjusted at load as in C: more submit queues than CPUs become one per
# CPU, none become one, a block size above the page size becomes the page
# size and an invalid home node none, the last two with a message.
same gb=1 submit_queues=16
same gb=1 submit_queues=0
dmesg -c > /dev/null
same gb=1 bs=8192
[ "$(dmesg | grep -c 'defaults block size to 4096')" = 2 ] ||
	fail "bs=8192: not both drivers said that the block size became 4096"
dmesg -c > /dev/null
same gb=1 home_node=5
[ "$(dmesg | grep -c 'invalid home_node value')" = 2 ] ||
	fail "home_node=5: not both drivers said that the node is invalid"
# The bio interface is gone: multiqueue, with a message.
dmesg -c > /dev/null
same gb=1 queue_mode=0
[ "$(dmesg | grep -c 'BIO-based IO path is no longer available')" = 2 ] ||
	fail "queue_mode=0: not both drivers said that bio is gone"

modprobe rnull_mod nr_devices=1 gb=1 memory_backed=1 irqmode=0 || fail "modprobe rnull_mod"
wait_dev /dev/rnullb0
fio_verify /dev/rnullb0 32M || fail "fio verify on rnullb0 from module parameters"
rmmod rnull_mod || fail "rmmod rnull_mod"
echo "memory_backed=1 from module parameters: fio verify passed"

for bad in bs=1000 irqmode=3 irqmode=7 completion_nsec=9223372036854775808 hw_queue_depth=0 \
	max_sectors=4 poll_queues=1000 gb=9007199254740992 queue_mode=3; do
	dmesg -c > /dev/null
	modprobe rnull_mod $bad 2> /dev/null && fail "modprobe rnull_mod $bad succeeded"
	dmesg | grep -q "invalid value for" || fail "no message for $bad"
	lsmod | grep -q rnull_mod && fail "rnull_mod loaded with $bad"
	echo "refused: $bad"
done
# The legacy request interface is gone, as null_blk says.
for mod in null_blk rnull_mod; do
	dmesg -c > /dev/null
	modprobe $mod queue_mode=1 2> /dev/null && fail "modprobe $mod queue_mode=1 succeeded"
	dmesg | grep -q "legacy IO path is no longer available" || fail "$mod: no message for queue_mode=1"
done
echo "refused: queue_mode=1, by both"
true

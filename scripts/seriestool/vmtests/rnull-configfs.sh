# SPDX-License-Identifier: GPL-2.0
# posting: block-rnull (the posting whose tree this test needs; see README.md)
# rnull configfs: every attribute reads back what was written, bad values
# get EINVAL, a powered device refuses changes with EBUSY (but for the queue counts), names of module
# parameter devices are refused, and "features" lists every attribute.
. /tests/lib.sh

modprobe rnull_mod nr_devices=1 gb=1 || fail "modprobe rnull_mod"
cfg=/sys/kernel/config/rnull
mkdir $cfg/rnullb0 2>/dev/null && fail "mkdir rnullb0 succeeded next to the parameter device"
mkdir $cfg/rnullc || fail "mkdir rnullc"
for a in $(cat $cfg/features | tr , ' '); do
	[ -f $cfg/rnullc/$a ] || fail "features lists $a, which the device does not have"
done
# Attributes only, as C's: the fault injection groups are directories.
for f in $cfg/rnullc/*; do
	[ -d "$f" ] && continue
	cat $cfg/features | tr , '\n' | grep -qx "${f##*/}" || fail "features lacks ${f##*/}"
done

# Defaults come from the module parameters, as in C.
[ "$(cat $cfg/rnullc/size)" = 1024 ] || fail "size default $(cat $cfg/rnullc/size), expected 1024"
[ "$(cat $cfg/rnullc/blocksize)" = 512 ] || fail "blocksize default"
[ "$(cat $cfg/rnullc/hw_queue_depth)" = 64 ] || fail "hw_queue_depth default"
[ "$(cat $cfg/rnullc/irqmode)" = 1 ] || fail "irqmode default"
[ "$(cat $cfg/rnullc/completion_nsec)" = 10000 ] || fail "completion_nsec default"
[ "$(cat $cfg/rnullc/cache_size)" = 0 ] || fail "cache_size default"
[ "$(cat $cfg/rnullc/fua)" = 1 ] || fail "fua default"

# ok ATTR VALUE [SHOWN]: the write succeeds and reads back as SHOWN.
ok() {
	echo "$2" > $cfg/rnullc/$1 || fail "writing $2 to $1 failed"
	[ "$(cat $cfg/rnullc/$1)" = "${3:-$2}" ] || fail "$1 reads $(cat $cfg/rnullc/$1) after writing $2"
}
# bad ATTR VALUE: the write fails with EINVAL and the value stays.
bad() {
	before=$(cat $cfg/rnullc/$1)
	err=$( (echo "$2" > $cfg/rnullc/$1) 2>&1) && fail "writing '$2' to $1 succeeded"
	echo "$err" | grep -q "Invalid argument" || fail "writing '$2' to $1: $err"
	[ "$(cat $cfg/rnullc/$1)" = "$before" ] || fail "$1 changed after a refused write"
}

# Up to 64 KiB: the VM kernel has large folios (BLK_MAX_BLOCK_SIZE).
ok blocksize 4096; ok blocksize 65536; bad blocksize 1000; bad blocksize 131072
bad blocksize x; ok blocksize 512
ok size 64; bad size -1; bad size 1M; bad size 18446744073709551615
ok irqmode 0; ok irqmode 2; bad irqmode 3; bad irqmode -1; ok irqmode 1
ok completion_nsec 0; ok completion_nsec 9223372036854775807; bad completion_nsec 9223372036854775808
bad completion_nsec -1; bad completion_nsec 1us; ok completion_nsec 20000
# Any count, as in C: power on adjusts it (see rnull-compat).
ok submit_queues 0; ok submit_queues 100000; bad submit_queues x; ok submit_queues 2
ok hw_queue_depth 128; bad hw_queue_depth 0; bad hw_queue_depth 20000
# Unsigned, as C's: no node is 4294967295.
ok home_node 0; ok home_node 4294967295; bad home_node -1; bad home_node 100000
ok cache_size 18446744073709551615; ok cache_size 1; bad cache_size -1; bad cache_size 1M
bad cache_size 18446744073709551616; ok cache_size 0
ok mbps 100; ok mbps 4294967295; bad mbps -1; bad mbps 4294967296; bad mbps x; ok mbps 0
ok index 7; bad index -1; bad index x; ok index 0
ok queue_mode 0; ok queue_mode 1; bad queue_mode 3; bad queue_mode -1; ok queue_mode 2
ok max_sectors 512; ok max_sectors 8; ok max_sectors 0; bad max_sectors 1; bad max_sectors 7; bad max_sectors abc
for b in rotational no_sched blocking shared_tag_bitmap virt_boundary memory_backed discard \
	badblocks_once badblocks_partial_io fua shared_tags use_per_node_hctx; do
	ok $b 1; ok $b 0; ok $b y 1; ok $b N 0; bad $b 2; bad $b maybe
done
bad power 2
echo "every attribute: valid values read back, bad values refused with EINVAL"

ok memory_backed 1
ok power 1
wait_dev /dev/rnullc
[ "$(cat /sys/block/rnullc/size)" = $((64 * 2048)) ] || fail "capacity"
# submit_queues=2 and the default poll queue.
[ "$(ls /sys/block/rnullc/mq | wc -l)" = 3 ] || fail "submit_queues=2 gave $(ls /sys/block/rnullc/mq | wc -l) queues"
[ "$(cat /sys/block/rnullc/queue/nr_requests)" = 128 ] || fail "hw_queue_depth"
for a in blocksize size irqmode completion_nsec hw_queue_depth home_node max_sectors rotational \
	no_sched blocking shared_tag_bitmap virt_boundary memory_backed discard badblocks_once \
	badblocks_partial_io cache_size fua mbps index shared_tags use_per_node_hctx queue_mode; do
	err=$( (echo 1 > $cfg/rnullc/$a) 2>&1) && fail "changing $a of a powered device succeeded"
	echo "$err" | grep -q "busy" || fail "changing $a of a powered device: $err"
done
echo "powered device: attribute changes refused with EBUSY (queue counts: rnull-queues)"
fio_verify /dev/rnullc 16M || fail "fio verify"
ok power 0
rmdir $cfg/rnullc || fail "rmdir"
rmmod rnull_mod || fail "rmmod"

# Indexes, next to null_blk: a device takes the lowest index free at power
# on, after those of the module parameter devices, and gives it back at
# power off; the attribute keeps showing it.
modprobe null_blk nr_devices=2 || fail "modprobe null_blk"
modprobe rnull_mod nr_devices=2 || fail "modprobe rnull_mod"
# index DRV NAME EXPECTED
index() {
	i=$(cat /sys/kernel/config/$1/$2/index)
	[ "$i" = "$3" ] || fail "$1 device $2 has index $i, expected $3"
}
for drv in nullb rnull; do
	export CFG=/sys/kernel/config/$drv
	mkdir $CFG/${drv}i1 || fail "mkdir ${drv}i1"
	echo 9 > $CFG/${drv}i1/index || fail "writing index"
	echo 1 > $CFG/${drv}i1/power || fail "power on ${drv}i1"
	index $drv ${drv}i1 2
	mkdev ${drv}i2
	index $drv ${drv}i2 3
	echo 0 > $CFG/${drv}i1/power || fail "power off ${drv}i1"
	index $drv ${drv}i1 2
	mkdev ${drv}i3
	index $drv ${drv}i3 2
	echo 1 > $CFG/${drv}i1/power || fail "power on ${drv}i1"
	index $drv ${drv}i1 4
	for d in i1 i2 i3; do
		rmdev $drv$d
	done
	unset CFG
done
rmmod null_blk || fail "rmmod null_blk"
rmmod rnull_mod || fail "rmmod rnull_mod"
echo "index: the same numbers as null_blk's"

# Adjusted at power on as in C and shown adjusted: a submit queue per
# online node, bio becomes multiqueue; the legacy request interface fails.
modprobe rnull_mod nr_devices=0 || fail "modprobe rnull_mod"
cfg=/sys/kernel/config/rnull
mkdir $cfg/rnulla || fail "mkdir rnulla"
echo 2 > $cfg/rnulla/submit_queues || fail "setting submit_queues"
echo 1 > $cfg/rnulla/use_per_node_hctx || fail "setting use_per_node_hctx"
echo 0 > $cfg/rnulla/queue_mode || fail "setting queue_mode"
echo 1 > $cfg/rnulla/power || fail "power on rnulla"
wait_dev /dev/rnulla
v=$(cat $cfg/rnulla/submit_queues)
[ "$v" = 1 ] || fail "use_per_node_hctx: submit_queues is $v, expected the one online node"
[ "$(cat $cfg/rnulla/queue_mode)" = 2 ] || fail "queue_mode 0 did not become 2"
rmdev rnulla
power_on_refused rnullq queue_mode=1
rmmod rnull_mod || fail "rmmod rnull_mod"
echo "use_per_node_hctx and queue_mode adjusted at power on as in C"

# SPDX-License-Identifier: GPL-2.0
# posting: block-rnull (the posting whose tree this test needs; see README.md)
# rnull shared_tags, next to C null_blk: with shared_tags=1 the devices of
# the module share one tag set. With one tag (hw_queue_depth=1) and a 10 ms
# completion time, two devices read at the same time take turns, so
# together they complete about as many reads as one device alone; with
# tag sets of their own, twice as many. Checked on both drivers, so the
# check can fail. A configfs device with shared_tags joins the set.
. /tests/lib.sh

# iops DEV...: the reads per second that the devices complete together,
# one synchronous reader on each, for 2 s.
iops() {
	jobs=""
	for d in "$@"; do
		jobs="$jobs --name=${d##*/} --filename=$d"
	done
	fio --ioengine=psync --direct=1 --rw=randread --bs=4k --time_based \
		--runtime=2 --group_reporting --output-format=terse \
		--terse-version=3 $jobs > /tmp/fio.out 2>&1 ||
		{ tail -5 /tmp/fio.out; return 1; }
	# Terse v3: field 8 is the read IOPS.
	awk -F';' '{printf "%d", $8}' /tmp/fio.out
}

params="nr_devices=2 gb=1 hw_queue_depth=1 irqmode=2 completion_nsec=10000000 poll_queues=0"
for mod in null_blk rnull_mod; do
	[ $mod = null_blk ] && dev=nullb || dev=rnullb
	modprobe $mod $params || fail "modprobe $mod"
	wait_dev /dev/${dev}1
	own=$(iops /dev/${dev}0 /dev/${dev}1) || fail "fio on $mod"
	rmmod $mod || fail "rmmod $mod"
	modprobe $mod $params shared_tags=1 || fail "modprobe $mod shared_tags=1"
	wait_dev /dev/${dev}1
	shared=$(iops /dev/${dev}0 /dev/${dev}1) || fail "fio on $mod shared_tags=1"
	echo "$mod: two devices with a tag each: $own reads/s, sharing one tag: $shared reads/s"
	[ $((shared * 10)) -lt $((own * 7)) ] ||
		fail "$mod: $shared reads/s with a shared tag, not below 70 % of $own"
	[ $mod = null_blk ] && { rmmod $mod || fail "rmmod $mod"; }
done

# rnull_mod is loaded with shared_tags=1: a configfs device with it shares
# the tag of the parameter devices, one without has its own.
cfg=/sys/kernel/config/rnull
for st in 1 0; do
	mkdev rnulls hw_queue_depth=1 irqmode=2 completion_nsec=10000000 poll_queues=0 shared_tags=$st
	n=$(iops /dev/rnullb0 /dev/rnulls) || fail "fio on rnullb0 and rnulls"
	echo "rnullb0 and a configfs device with shared_tags=$st: $n reads/s"
	[ $st = 1 ] && together=$n || apart=$n
	rmdev rnulls
done
[ $((together * 10)) -lt $((apart * 7)) ] ||
	fail "configfs shared_tags=1: $together reads/s, not below 70 % of $apart"
# rnull memory backs in queue_rq, which may sleep: a non-blocking shared set
# cannot take a memory backed device.
power_on_refused rnullm shared_tags=1 memory_backed=1
rmmod rnull_mod || fail "rmmod rnull_mod"
echo "shared_tags: devices share one tag set as with null_blk"

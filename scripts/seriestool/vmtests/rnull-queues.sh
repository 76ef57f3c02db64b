# SPDX-License-Identifier: GPL-2.0
# posting: block-rnull (the posting whose tree this test needs; see README.md)
# Live queue changes, next to C null_blk: writing submit_queues or
# poll_queues of a powered device changes its hardware queues at once
# (blk_mq_update_nr_hw_queues()), also while fio runs. The data
# written before and during the changes reads back intact, io_poll follows
# the poll queues, and values C refuses are refused with EINVAL with the
# queues left as they were, and power cycles racing with changes leave a
# consistent device. Changes with init_hctx faults armed: rnull-faults.
. /tests/lib.sh

# nr_cpu_ids: one more than the last possible CPU.
ncpu=$(( $(sed 's/.*[-,]//' /sys/devices/system/cpu/possible) + 1 ))

# queues DISK SUBMIT POLL: DISK has SUBMIT + POLL hardware queues, polls
# exactly when POLL is not 0, and its attributes say so.
queues() {
	n=$(ls /sys/block/$1/mq | wc -l)
	[ "$n" = $(($2 + $3)) ] || fail "$1 has $n hardware queues, expected $2 + $3"
	expect /sys/block/$1/queue/io_poll $([ "$3" = 0 ] && echo 0 || echo 1)
	expect $CFG/$1/submit_queues $2
	expect $CFG/$1/poll_queues $3
}

# set_queues DISK SUBMIT POLL: writes both counts and checks the result.
set_queues() {
	echo $2 > $CFG/$1/submit_queues || fail "$1: submit_queues $2"
	echo $3 > $CFG/$1/poll_queues || fail "$1: poll_queues $3"
	queues "$@"
}

dd if=/dev/urandom of=/tmp/before bs=1M count=16 2> /dev/null || fail "making /tmp/before"

modprobe null_blk nr_devices=0 poll_queues=2 || fail "modprobe null_blk"
modprobe rnull_mod nr_devices=0 poll_queues=2 || fail "modprobe rnull_mod"
for drv in nullb rnull; do
	export CFG=/sys/kernel/config/$drv
	d=${drv}q
	mkdev $d size=256 memory_backed=1 submit_queues=1 poll_queues=1
	queues $d 1 1
	dd if=/tmp/before of=/dev/$d bs=1M oflag=direct 2> /dev/null || fail "$d: writing 16M"

	# C null_blk moves the data of a polled request in its poll handler,
	# where writing to a memory backed device allocates with GFP_NOIO
	# under RCU ("sleeping function called from invalid context" with
	# DEBUG_ATOMIC_SLEEP). So on C, writes are not polled; polled reads
	# are (they allocate nothing). rnull moves the data in queue_rq.
	if [ $drv = rnull ]; then polled_writes=--hipri=1; else polled_writes=; fi

	# Changes while fio verifies the second 64 MiB (polled on rnull).
	# Every change waits for the I/O in flight; the poll queues never drop
	# to 0, which would fail polled I/O.
	fio_verify /dev/$d 64M --offset=64M $polled_writes &
	fio=$!
	sleep 1
	changes=0
	for sp in "2 1" "1 2" "2 2" "1 1" "$ncpu 2" "2 1"; do
		kill -0 $fio 2> /dev/null || fail "$d: fio ended after $changes changes; make it longer"
		set_queues $d $sp
		changes=$((changes + 1))
	done
	wait $fio || fail "$d: fio verify while the queues changed"
	echo "$d: $changes queue changes under fio${polled_writes:+ (polled)}, data verified"

	# Values C refuses leave the queues as they were.
	write_fails $CFG/$d/submit_queues 0 "Invalid argument"
	write_fails $CFG/$d/submit_queues $((ncpu + 1)) "Invalid argument"
	write_fails $CFG/$d/poll_queues 3 "Invalid argument"
	write_fails $CFG/$d/submit_queues x "Invalid argument"
	queues $d 2 1

	# No poll queues: io_uring refuses polled I/O, plain I/O goes on; then
	# polled I/O works on the new poll queue.
	set_queues $d 1 0
	fio_verify /dev/$d 8M --hipri=1 > /dev/null 2>&1 && fail "$d: polled I/O without poll queues"
	fio_verify /dev/$d 8M --offset=128M || fail "$d: verify without poll queues"
	set_queues $d 2 1
	fio_verify /dev/$d 8M --offset=128M $polled_writes || fail "$d: verify after the poll queue came back"
	fio --name=polled --filename=/dev/$d --ioengine=io_uring --direct=1 --hipri=1 \
		--rw=randread --bs=4k --size=8M --offset=128M > /tmp/fio.out 2>&1 ||
		fail "$d: polled reads on the new poll queue: $(tail -3 /tmp/fio.out)"

	dd if=/dev/$d bs=1M count=16 iflag=direct 2> /dev/null | cmp -s - /tmp/before ||
		fail "$d: the data written before the changes is lost"
	echo "$d: bad values refused, io_poll follows the poll queues, data kept"

	# A device of the shared tag set cannot change its queues.
	mkdev ${drv}s shared_tags=1
	write_fails $CFG/${drv}s/submit_queues 2 "Invalid argument"
	queues ${drv}s 1 2
	rmdev ${drv}s

	# Power cycles racing with changes; the device is consistent after.
	(for i in $(seq 20); do
		echo 0 > $CFG/$d/power
		echo 1 > $CFG/$d/power
	done) 2> /dev/null &
	pw=$!
	for i in $(seq 20); do
		echo $((i % 2 + 1)) > $CFG/$d/submit_queues 2> /dev/null
	done
	wait $pw
	echo 1 > $CFG/$d/power || fail "$d: power on after the race"
	wait_dev /dev/$d
	queues $d $(cat $CFG/$d/submit_queues) $(cat $CFG/$d/poll_queues)
	dd if=/dev/$d bs=1M count=16 iflag=direct 2> /dev/null | cmp -s - /tmp/before ||
		fail "$d: the data is lost after the power cycles"
	echo "$d: power cycles racing with queue changes left it consistent"
	rmdev $d
done
unset CFG
rmmod null_blk || fail "rmmod null_blk"
rmmod rnull_mod || fail "rmmod rnull_mod"

# SPDX-License-Identifier: GPL-2.0
# posting: block-rnull (the posting whose tree this test needs; see README.md)
# rnull poll queues, next to C null_blk: poll_queues=N (default 1) adds N
# hardware queues that polled I/O (io_uring with IOPOLL, fio --hipri) goes
# to. Their requests complete when they are polled, so with irqmode=2 a
# polled read does not wait for completion_nsec while a plain one does;
# with poll_queues=0 io_uring refuses polled I/O. The checks compare
# latencies with a 5 ms completion time, so each one can fail.
. /tests/lib.sh

DELAY_US=5000
# Polled reads take microseconds; a plain one at least the delay.
POLLED_MAX_US=$((DELAY_US / 2))

# clat_min_us DEV [fio options...]: the smallest completion latency, in
# microseconds, of 100 queue depth 1 reads, synchronous unless the options
# say otherwise. (fio's io_uring engine stamps a request after submitting
# it, which under TCG can take a millisecond: plain reads use psync, as in
# rnull-irqmode.)
clat_min_us() {
	dev=$1
	shift
	fio --name=lat --filename="$dev" --ioengine=psync --direct=1 \
		--rw=randread --bs=4k --size=64M --number_ios=100 --iodepth=1 \
		--output-format=terse --terse-version=3 "$@" > /tmp/fio.out 2>&1 ||
		{ tail -5 /tmp/fio.out; return 1; }
	# Terse v3: field 14 is the minimum read completion latency (usec).
	awk -F';' '{print int($14)}' /tmp/fio.out
}

# check DISK QUEUES POLL: DISK has QUEUES hardware queues, io_poll is POLL,
# and polled reads wait for the timer exactly when POLL is 0.
check() {
	disk=$1 queues=$2 poll=$3
	n=$(ls /sys/block/$disk/mq | wc -l)
	[ "$n" = "$queues" ] || fail "$disk has $n hardware queues, expected $queues"
	p=$(cat /sys/block/$disk/queue/io_poll)
	[ "$p" = "$poll" ] || fail "$disk: io_poll is $p, expected $poll"
	plain=$(clat_min_us /dev/$disk) || fail "fio on $disk"
	[ "$plain" -ge $DELAY_US ] || fail "$disk: plain read after $plain us, before completion_nsec"
	if [ "$poll" = 1 ]; then
		polled=$(clat_min_us /dev/$disk --ioengine=io_uring --hipri=1) || fail "fio --hipri on $disk"
		[ "$polled" -lt $POLLED_MAX_US ] || fail "$disk: polled read took $polled us, as if it waited for the timer"
		polled="$polled us"
	else
		# io_uring refuses to poll a disk without poll queues.
		clat_min_us /dev/$disk --ioengine=io_uring --hipri=1 > /dev/null &&
			fail "$disk: polled I/O without poll queues"
		polled="refused"
	fi
	echo "$disk: $n hw queues, io_poll $p, min latency plain ${plain} us, polled ${polled}"
}

params="nr_devices=1 gb=1 irqmode=2 completion_nsec=${DELAY_US}000"
for pq in "" poll_queues=0 poll_queues=2; do
	case $pq in
	"") queues=2 poll=1 ;;
	*=0) queues=1 poll=0 ;;
	*=2) queues=3 poll=1 ;;
	esac
	modprobe null_blk $params $pq || fail "modprobe null_blk $pq"
	modprobe rnull_mod $params $pq || fail "modprobe rnull_mod $pq"
	wait_dev /dev/nullb0
	wait_dev /dev/rnullb0
	echo "-- ${pq:-default poll_queues}"
	check nullb0 $queues $poll
	check rnullb0 $queues $poll
	rmmod null_blk || fail "rmmod null_blk"
	rmmod rnull_mod || fail "rmmod rnull_mod"
done

# Polled I/O on a memory backed device keeps its data: rnull transfers in
# queue_rq and only ends the request in the poll.
modprobe rnull_mod nr_devices=0 || fail "modprobe rnull_mod nr_devices=0"
mkdev rnullp size=64 memory_backed=1
fio_verify /dev/rnullp 16M --hipri=1 || fail "polled verify on rnullp"
fio_verify /dev/rnullp 16M --hipri=1 --iodepth=64 --rw=randrw --bs=16k ||
	fail "polled mixed verify on rnullp"
echo "rnullp: polled verify passed"
rmdev rnullp

# Configfs: poll_queues defaults to the module parameter and is clamped to
# it at power on, as in C; values that do not parse are refused, and so are
# poll queues for a device powered on without any.
modprobe null_blk nr_devices=0 || fail "modprobe null_blk nr_devices=0"
for drv in nullb rnull; do
	cfg=/sys/kernel/config/$drv
	mkdir $cfg/${drv}q || fail "mkdir $cfg/${drv}q"
	[ "$(cat $cfg/${drv}q/poll_queues)" = 1 ] || fail "$drv: poll_queues default is not 1"
	rmdir $cfg/${drv}q
	CFG=$cfg mkdev ${drv}q poll_queues=2 irqmode=2 completion_nsec=${DELAY_US}000
	[ "$(cat $cfg/${drv}q/poll_queues)" = 1 ] || fail "$drv: poll_queues not clamped to 1"
	check ${drv}q 2 1
	CFG=$cfg rmdev ${drv}q
done
rmmod null_blk || fail "rmmod null_blk"
cfg=/sys/kernel/config/rnull
mkdir $cfg/rnullq || fail "mkdir $cfg/rnullq"
for bad in x -1; do
	echo $bad > $cfg/rnullq/poll_queues 2> /dev/null && fail "poll_queues took $bad"
done
# Any count, as in C: power on clamps it (above).
echo 1000000 > $cfg/rnullq/poll_queues || fail "poll_queues 1000000"
echo 0 > $cfg/rnullq/poll_queues || fail "poll_queues 0"
echo 1 > $cfg/rnullq/power || fail "power on rnullq"
wait_dev /dev/rnullq
# Made without poll queues, its tag set has no poll map to add some to.
write_fails $cfg/rnullq/poll_queues 1 "Invalid argument"
[ "$(ls /sys/block/rnullq/mq | wc -l)" = 1 ] || fail "rnullq has poll queues"
rmdev rnullq
rmmod rnull_mod || fail "rmmod rnull_mod"

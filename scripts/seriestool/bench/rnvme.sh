# SPDX-License-Identifier: GPL-2.0
# A/B: C nvme (side C) against rnvme (side Rust) on two QEMU NVMe
# controllers configured alike (same QEMU options, namespaces and backing),
# in one boot: the controller with serial rnvme0 goes to rnvme through
# driver_override, the one with serial rseries0 stays with C nvme. Both
# drivers get one I/O queue per CPU of depth 1024 and one poll queue
# (poll_queues=1), shadow doorbells, SGLs as their default sgl_threshold
# (32 KiB) chooses them and no I/O scheduler. Every workload runs with
# interrupts and polled (io_uring hipri, which goes to the poll queue).
# Sides alternate within every repetition (which one goes first
# alternates too). Prints BENCH <workload> <side> <rep> <IOPS>.
# With series.profile=N (`bench --icount`, `--profile`) each side runs each
# workload for N I/Os per repetition instead, after a sync that starts a
# new phase of the instruction count; prints
# PROFILE-RUN <workload> <side> <I/Os> <rep>.
. /tests/lib.sh

bench_args
sides="C Rust"

# C nvme is built in: its poll_queues takes effect when it probes the
# controller again.
cctrl=$(nvme_ctrl rseries0)
[ -n "$cctrl" ] || fail "no C nvme controller with serial rseries0"
cbdf=$(basename "$(readlink -f /sys/class/nvme/$cctrl/device)")
echo 1 > /sys/module/nvme/parameters/poll_queues || fail "nvme poll_queues=1"
echo "$cbdf" > /sys/bus/pci/drivers/nvme/unbind || fail "unbind $cbdf from nvme"
echo "$cbdf" > /sys/bus/pci/drivers/nvme/bind || fail "bind $cbdf to nvme"
cdev=$(nvme_ctrl rseries0)n1
[ "$cdev" != n1 ] || fail "C nvme did not probe $cbdf again"
wait_dev /dev/$cdev
rnvme_take poll_queues=1
rnvme_wait 0
for d in $cdev rnvme0n1; do
	echo none > /sys/block/$d/queue/scheduler || fail "scheduler none on $d"
	queues=$(ls /sys/block/$d/mq | wc -l)
	[ "$queues" = 3 ] || fail "$d has $queues hardware queues, expected 2 and a poll queue"
	echo "BENCH-CONFIG $d: hw queues $queues (one polled)," \
		"nr_requests $(cat /sys/block/$d/queue/nr_requests)," \
		"max_hw_sectors_kb $(cat /sys/block/$d/queue/max_hw_sectors_kb)," \
		"scheduler '$(cat /sys/block/$d/queue/scheduler)'," \
		"block size $(cat /sys/block/$d/queue/logical_block_size)," \
		"sectors $(cat /sys/block/$d/size)"
done
echo "BENCH-CONFIG C nvme: sgl_threshold $(cat /sys/module/nvme/parameters/sgl_threshold)," \
	"poll_queues $(cat /sys/module/nvme/parameters/poll_queues);" \
	"rnvme: modprobe poll_queues=1, sgl_threshold its default (32768)"
if [ -n "$ios" ]; then
	echo "BENCH-CONFIG fio: io_uring, O_DIRECT, $ios I/Os per run, $reps repetitions"
else
	echo "BENCH-CONFIG fio: io_uring, O_DIRECT, ${runtime}s per run, $reps repetitions"
fi
# Both disks hold data where the reads go.
for d in $cdev rnvme0n1; do
	fio --name=fill --filename=/dev/$d --ioengine=io_uring --direct=1 --rw=write \
		--bs=1M --iodepth=8 --size=128M --output-format=terse > /dev/null ||
		fail "fill $d"
done

# fio_run DEV RW BS QD MODE [OPTION...]: one fio run (MODE irq or poll),
# terse output.
fio_run() {
	dev=$1 rw=$2 bs=$3 qd=$4 mode=$5
	shift 5
	[ "$mode" = poll ] && set -- --hipri "$@"
	fio --name=b --filename="$dev" --ioengine=io_uring --direct=1 --rw="$rw" --bs="$bs" \
		--iodepth="$qd" --size=128M "$@" \
		--output-format=terse --terse-version=3 < /dev/null
}

dev_of() { if [ "$1" = C ]; then echo /dev/$cdev; else echo /dev/rnvme0n1; fi; }

# measure SIDE RW BS QD MODE: one run; prints IOPS, or with series.profile
# the I/Os done (total KiB over the block size in KiB).
measure() {
	side=$1
	shift
	if [ -n "$ios" ]; then
		# io_size: wraps around the 128 MiB until the I/Os are done.
		fio_run "$(dev_of $side)" "$@" --number_ios="$ios" \
			--io_size=$((ios * ${2%k}))k |
			awk -F';' -v bs="${2%k}" '{ printf "%.0f\n", ($6 + $47) / bs }'
	else
		fio_run "$(dev_of $side)" "$@" --time_based --runtime="$runtime" |
			awk -F';' '{ printf "%.0f\n", $8 + $49 }'
	fi
}

# A run in which a driver timed requests out measured its recovery, not its
# I/O path: the benchmark fails rather than report it. (Counted runs check
# once at the end, so that the check's instructions are in no run's count.)
timeouts() { dmesg | grep -c -i "timeout"; }
check_timeouts() {
	[ "$(timeouts)" = "$1" ] ||
		fail "requests timed out $2: $(dmesg | grep -i timeout | tail -2)"
}

workloads=$(for mode in irq poll; do for rw in randread randwrite; do for bs in 4k 128k; do
	for qd in 1 32; do echo "$rw $bs $qd $mode"; done; done; done; done)

echo "BENCH-PLAN $(echo "$workloads" |
	awk '{ printf "%s%s-%s-qd%s-%s", (NR > 1 ? "," : ""), $1, $2, $3, $4 }')"

# The addresses the instruction count's blocks are in: the modules' symbols.
[ -z "$ios" ] || awk 'NF == 4 { print "PROFILE-SYM", $0 }' /proc/kallsyms

before=$(timeouts)
while read -r rw bs qd mode; do
	wl=$rw-$bs-qd$qd-$mode
	rep=0
	while [ $rep -lt "$reps" ]; do
		for side in $(bench_order $rep $sides); do
			if [ -n "$ios" ]; then
				sync
				n=$(measure $side $rw $bs $qd $mode)
				[ -n "$n" ] || fail "fio failed on $(dev_of $side) ($wl)"
				echo "PROFILE-RUN $wl $side $n $rep"
			else
				n=$(measure $side $rw $bs $qd $mode)
				[ -n "$n" ] || fail "fio failed on $(dev_of $side) ($wl)"
				check_timeouts "$before" "on $(dev_of $side) ($wl, $side, repetition $rep)"
				echo "BENCH $wl $side $rep $n"
			fi
		done
		rep=$((rep + 1))
	done
done <<EOF
$workloads
EOF
if [ -n "$ios" ]; then
	# The end of the last run's phase.
	sync
	check_timeouts "$before" "during the counted runs"
fi

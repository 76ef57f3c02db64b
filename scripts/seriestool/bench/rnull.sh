# SPDX-License-Identifier: GPL-2.0
# A/B: C null_blk (side C) against rnull (side Rust), both loaded with the
# same module parameters: 4 GiB, 4k blocks, one submission queue of depth
# 256 (and the default poll queue, unused), irqmode 0, no data kept, no I/O
# scheduler. Sides alternate within every repetition (which one goes first
# alternates too). Prints BENCH <workload> <side> <rep> <IOPS>.
# With series.sides=Rust on the command line only rnull runs (for
# `bench --compare-inline-helpers`, which compares kernels, not drivers).
# With series.profile=N (`bench --icount`, `--profile`) each side runs each
# workload for N I/Os per job and repetition instead, after a sync that
# starts a new phase of the instruction count; prints
# PROFILE-RUN <workload> <side> <I/Os> <rep>.
. /tests/lib.sh

bench_args
sides=$(sed -n 's/.*series\.sides=\([A-Za-z,]*\).*/\1/p' /proc/cmdline | tr , ' ')
sides=${sides:-C Rust}

# The same module parameters on both sides. Both add their default poll
# queue, which the unpolled runs here leave idle.
params="nr_devices=1 gb=4 bs=4096 irqmode=0 memory_backed=0 no_sched=1 submit_queues=1
hw_queue_depth=256"
modprobe null_blk $params || fail "modprobe null_blk"
modprobe rnull $params || fail "modprobe rnull"
wait_dev /dev/nullb0
wait_dev /dev/rnullb0
for d in nullb0 rnullb0; do
	echo none > /sys/block/$d/queue/scheduler || fail "scheduler none on $d"
	echo "BENCH-CONFIG $d: hw queues $(ls /sys/block/$d/mq | wc -l)," \
		"nr_requests $(cat /sys/block/$d/queue/nr_requests)," \
		"scheduler '$(cat /sys/block/$d/queue/scheduler)'," \
		"block size $(cat /sys/block/$d/queue/logical_block_size)," \
		"sectors $(cat /sys/block/$d/size)"
done
echo "BENCH-CONFIG fio: io_uring, O_DIRECT, ${runtime}s per run, $reps repetitions"

# fio DEV RW BS QD JOBS [OPTION...]: one fio run, terse output.
fio_run() {
	dev=$1 rw=$2 bs=$3 qd=$4 jobs=$5
	shift 5
	fio --name=b --filename="$dev" --ioengine=io_uring --direct=1 --rw="$rw" --bs="$bs" \
		--iodepth="$qd" --numjobs="$jobs" --group_reporting "$@" \
		--output-format=terse --terse-version=3 < /dev/null
}

# run DEV RW BS QD JOBS: prints the IOPS of one fio run (read + write).
run() {
	fio_run "$@" --time_based --runtime="$runtime" | awk -F';' '{ printf "%.0f\n", $8 + $49 }'
}

dev_of() { if [ "$1" = C ]; then echo /dev/nullb0; else echo /dev/rnullb0; fi; }

# One line per workload: RW BS QD JOBS. The loops over them read a here
# document, so that they run in this shell and `fail` ends the script.
workloads=$(for rw in randread randwrite; do for qd in 1 32 128; do for bs in 4k 64k; do
	for jobs in 1 2; do echo "$rw $bs $qd $jobs"; done; done; done; done)

# Every workload this run measures, so that the runner can tell a
# complete report from a short one.
echo "BENCH-PLAN $(echo "$workloads" |
	awk '{ printf "%s%s-%s-qd%s-j%s", (NR > 1 ? "," : ""), $1, $2, $3, $4 }')"

if [ -n "$ios" ]; then
	# The addresses the profile's blocks are in: the modules' symbols.
	awk 'NF == 4 { print "PROFILE-SYM", $0 }' /proc/kallsyms
	while read -r rw bs qd jobs; do
		rep=0
		while [ $rep -lt "$reps" ]; do
			for side in $(bench_order $rep $sides); do
				sync
				# Total KiB read and written over the block size in KiB.
				n=$(fio_run "$(dev_of $side)" $rw $bs $qd $jobs --number_ios="$ios" |
					awk -F';' -v bs="${bs%k}" '{ printf "%.0f\n", ($6 + $47) / bs }')
				[ -n "$n" ] || fail "fio failed on $(dev_of $side)"
				echo "PROFILE-RUN $rw-$bs-qd$qd-j$jobs $side $n $rep"
			done
			rep=$((rep + 1))
		done
	done <<-EOF
	$workloads
	EOF
	sync
	exit 0
fi

while read -r rw bs qd jobs; do
	wl=$rw-$bs-qd$qd-j$jobs
	rep=0
	while [ $rep -lt "$reps" ]; do
		for side in $(bench_order $rep $sides); do
			iops=$(run "$(dev_of $side)" $rw $bs $qd $jobs)
			[ -n "$iops" ] || fail "fio failed on $(dev_of $side) ($wl)"
			echo "BENCH $wl $side $rep $iops"
		done
		rep=$((rep + 1))
	done
done <<EOF
$workloads
EOF

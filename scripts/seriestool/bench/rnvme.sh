# SPDX-License-Identifier: GPL-2.0
# A/B: C nvme (side C) against rnvme (side Rust) on two QEMU NVMe
# controllers configured alike (same QEMU options, namespaces and backing),
# in one boot: the controller with serial rnvme0 goes to rnvme through
# driver_override, the one with serial rseries0 stays with C nvme. Both
# drivers get one I/O queue per CPU of depth 1024, shadow doorbells, SGLs
# as their default sgl_threshold (32 KiB) chooses them, no poll queues and
# no I/O scheduler. Sides alternate within every repetition (which one goes
# first alternates too). Prints BENCH <workload> <side> <rep> <IOPS>.
# With series.profile=N (`bench --profile`) each side runs each workload
# once for N I/Os, after a sync that starts a new phase of the instruction
# profile; prints PROFILE-RUN <workload> <side> <I/Os>.
. /tests/lib.sh

arg() { sed -n "s/.*series\.$1=\([0-9]*\).*/\1/p" /proc/cmdline; }
reps=$(arg reps); reps=${reps:-5}
runtime=$(arg runtime); runtime=${runtime:-3}
sides="C Rust"

cdev=$(nvme_ctrl rseries0)n1
[ "$cdev" != n1 ] || fail "no C nvme controller with serial rseries0"
rnvme_take
rnvme_wait 0
for d in $cdev rnvme0n1; do
	echo none > /sys/block/$d/queue/scheduler || fail "scheduler none on $d"
	echo "BENCH-CONFIG $d: hw queues $(ls /sys/block/$d/mq | wc -l)," \
		"nr_requests $(cat /sys/block/$d/queue/nr_requests)," \
		"max_hw_sectors_kb $(cat /sys/block/$d/queue/max_hw_sectors_kb)," \
		"scheduler '$(cat /sys/block/$d/queue/scheduler)'," \
		"block size $(cat /sys/block/$d/queue/logical_block_size)," \
		"sectors $(cat /sys/block/$d/size)"
done
echo "BENCH-CONFIG C nvme: sgl_threshold $(cat /sys/module/nvme/parameters/sgl_threshold)," \
	"poll_queues $(cat /sys/module/nvme/parameters/poll_queues); rnvme: the same defaults"
echo "BENCH-CONFIG fio: io_uring, O_DIRECT, ${runtime}s per run, $reps repetitions"
# Both disks hold data where the reads go.
for d in $cdev rnvme0n1; do
	fio --name=fill --filename=/dev/$d --ioengine=io_uring --direct=1 --rw=write \
		--bs=1M --iodepth=8 --size=128M --output-format=terse > /dev/null ||
		fail "fill $d"
done

fio_run() {
	dev=$1 rw=$2 bs=$3 qd=$4
	shift 4
	fio --name=b --filename="$dev" --ioengine=io_uring --direct=1 --rw="$rw" --bs="$bs" \
		--iodepth="$qd" --size=128M "$@" \
		--output-format=terse --terse-version=3 < /dev/null
}

run() {
	fio_run "$@" --time_based --runtime="$runtime" | awk -F';' '{ printf "%.0f\n", $8 + $49 }'
}

dev_of() { if [ "$1" = C ]; then echo /dev/$cdev; else echo /dev/rnvme0n1; fi; }

# A run in which a driver timed requests out measured its recovery, not its
# I/O path: the benchmark fails rather than report it.
timeouts() { dmesg | grep -c -i "timeout"; }

workloads=$(for rw in randread randwrite; do for bs in 4k 128k; do for qd in 1 32; do
	echo "$rw $bs $qd"; done; done; done)

echo "BENCH-PLAN $(echo "$workloads" |
	awk '{ printf "%s%s-%s-qd%s", (NR > 1 ? "," : ""), $1, $2, $3 }')"

ios=$(arg profile)
if [ -n "$ios" ]; then
	awk 'NF == 4 { print "PROFILE-SYM", $0 }' /proc/kallsyms
	while read -r rw bs qd; do
		for side in $sides; do
			sync
			n=$(fio_run "$(dev_of $side)" $rw $bs $qd --number_ios="$ios" |
				awk -F';' -v bs="${bs%k}" '{ printf "%.0f\n", ($6 + $47) / bs }')
			[ -n "$n" ] || fail "fio failed on $(dev_of $side)"
			echo "PROFILE-RUN $rw-$bs-qd$qd $side $n"
		done
	done <<-EOF
	$workloads
	EOF
	sync
	exit 0
fi

while read -r rw bs qd; do
	wl=$rw-$bs-qd$qd
	rep=0
	while [ $rep -lt "$reps" ]; do
		if [ $((rep % 2)) -eq 0 ]; then order="C Rust"; else order="Rust C"; fi
		for side in $order; do
			before=$(timeouts)
			iops=$(run "$(dev_of $side)" $rw $bs $qd)
			[ -n "$iops" ] || fail "fio failed on $(dev_of $side) ($wl)"
			[ "$(timeouts)" = "$before" ] ||
				fail "requests timed out on $(dev_of $side) ($wl, $side, repetition $rep): $(dmesg | grep -i timeout | tail -2)"
			echo "BENCH $wl $side $rep $iops"
		done
		rep=$((rep + 1))
	done
done <<EOF
$workloads
EOF

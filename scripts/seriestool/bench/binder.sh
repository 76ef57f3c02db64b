# SPDX-License-Identifier: GPL-2.0
# A/B: the kernel's binder (side C: C binder in the vm kernel, Rust Binder
# in vm-rustbinder; through binderfs) against binderlike (side Rust), in
# one boot, with one client program (binder-abi bench) that takes the
# device path. Workloads: ping round trips (a context-manager server and
# one client; FREE_BUFFER + TRANSACTION, then FREE_BUFFER + REPLY) with
# payloads of 0, 64 B, 1 KiB, 16 KiB and 128 KiB; throughput with 1, 2 and 4
# client processes against a server that spawns loopers; a oneway stream
# (both ends pinned: see struct ow_flow in binder-abi.c); and pipe
# ping-pong, which no binder driver runs: the control that both
# sides and both kernels compare alike. Sides alternate within every
# repetition. Prints BENCH <workload> <side> <rep> <operations per second>.
# With series.profile=N (`bench --icount`, `--profile`) each side runs each
# workload for N operations per repetition instead, after a sync that starts
# a new phase of the instruction count; prints
# PROFILE-RUN <workload> <side> <operations> <rep>. Each ping run also
# prints its round trip's percentiles (ns of guest time, which follows the
# host under TCG): BENCH-LAT <workload> <side> <rep> <p50> <p99>.
. /tests/lib.sh

# The console, for BENCH-LAT lines from runs whose output is captured.
exec 3>&1

bench_args
sides="C Rust"

mkdir -p /dev/binderfs
mount -t binder binder /dev/binderfs || fail "mount binderfs"
[ -c /dev/binderfs/binder ] || fail "no /dev/binderfs/binder"
modprobe binderlike || fail "modprobe binderlike"
wait_dev /dev/binderlike -c
echo "BENCH-CONFIG side C: the kernel's binder (/dev/binderfs/binder), side Rust:" \
	"binderlike (max_buffer_kib $(cat /sys/module/binderlike/parameters/max_buffer_kib));" \
	"binder-abi bench, mappings of 1 MiB - 2 pages as libbinder"

dev_of() { if [ "$1" = C ]; then echo /dev/binderfs/binder; else echo /dev/binderlike; fi; }

workloads="ping 0
ping 64
ping 1024
ping 16384
ping 131072
throughput 1
throughput 2
throughput 4
oneway 0
pipe 0"

name() {
	case $1 in
	ping) echo "ping-$2" ;;
	throughput) echo "tput-$2" ;;
	*) echo "$1" ;;
	esac
}
echo "BENCH-PLAN $(echo "$workloads" | while read -r w p; do printf "%s," "$(name $w $p)"; done |
	sed 's/,$//')"
echo "BENCH-LAT-PLAN $(echo "$workloads" | awk '$1 == "ping" { printf "%sping-%s", n++ ? "," : "", $2 }')"

# iters: with series.profile the operations per run; timed runs are sized
# by a first run so that each lasts about $runtime seconds.
iters_for() {
	[ -n "$ios" ] && { echo "$ios"; return; }
	echo "${timed_iters:-2000}"
}

# run SIDE WORKLOAD PARAM ITERS: one run; prints operations per second.
run() {
	dev=$(dev_of $1)
	case $2 in
	ping) out=$(binder-abi bench "$dev" ping --payload "$3" --iters "$4" --warmup 100) ;;
	throughput) out=$(binder-abi bench "$dev" throughput --clients "$3" --iters "$4") ;;
	oneway) out=$(binder-abi bench "$dev" oneway --iters "$4") ;;
	pipe) out=$(binder-abi bench - pipe --iters "$4") ;;
	esac || return 1
	# The percentiles of a measured run (lat_rep: its repetition).
	if [ "$2" = ping ] && [ -n "${lat_rep:-}" ]; then
		echo "$out" | sed -n 's/.*"p50_ns":\([0-9]*\),.*"p99_ns":\([0-9]*\).*/BENCH-LAT '"ping-$3 $1 $lat_rep"' \1 \2/p' >&3
	fi
	echo "$out" | sed -n 's/.*"mean_ns":\([0-9.]*\).*/\1/p;s/.*"ops_per_s":\([0-9.]*\).*/O\1/p' |
		awk '/^O/ { print substr($0, 2); next } { printf "%.0f\n", 1e9 / $1 }'
}

[ -z "$ios" ] || awk 'NF == 4 { print "PROFILE-SYM", $0 }' /proc/kallsyms

echo "$workloads" | while read -r w p; do
	wl=$(name $w $p)
	# Timed runs: calibrate the iterations on the C side once.
	if [ -z "$ios" ]; then
		rate=$(run C $w $p 500) || fail "calibration of $wl failed"
		timed_iters=$(( rate * runtime ))
		[ "$timed_iters" -ge 200 ] || timed_iters=200
	fi
	rep=0
	while [ $rep -lt "$reps" ]; do
		lat_rep=$rep
		for side in $(bench_order $rep $sides); do
			n=$(iters_for)
			if [ -n "$ios" ]; then
				sync
				run $side $w $p "$n" > /dev/null || fail "$wl on $(dev_of $side) failed"
				# Throughput's iterations are per client.
				[ "$w" = throughput ] && n=$((n * p))
				echo "PROFILE-RUN $wl $side $n $rep"
			else
				v=$(run $side $w $p "$n") || fail "$wl on $(dev_of $side) failed"
				[ -n "$v" ] || fail "$wl on $(dev_of $side) gave no number"
				echo "BENCH $wl $side $rep $v"
			fi
		done
		rep=$((rep + 1))
	done
	lat_rep=
done || exit 1
# The end of the last run's phase.
[ -z "$ios" ] || sync
rmmod binderlike || fail "rmmod binderlike"

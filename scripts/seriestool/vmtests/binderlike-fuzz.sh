# SPDX-License-Identifier: GPL-2.0
# posting: binderlike (the posting whose tree this test needs; see README.md)
# binderlike under binder-abi's seeded fuzzer: random command streams built
# on valid skeletons from several processes, with random kills, then the
# module unloads (nothing holds it). The kernel splat check of the run
# makes it count under KASAN and lockdep (debug profile). The number of
# ioctls is series.binder_fuzz=N from the kernel command line (the full run:
# `scripts/series vmtest --profile debug --append series.binder_fuzz=1000000
# binderlike-fuzz`), else 200000 on vm and 50000 on debug, in 4 seeds.
. /tests/lib.sh

total=$(karg binder_fuzz)
if [ -z "$total" ]; then
	total=200000
	debug_kernel && total=50000
fi
trap 'rmmod binderlike 2> /dev/null' EXIT
modprobe binderlike || fail "modprobe binderlike"
wait_dev /dev/binderlike -c
start=$(date +%s)
for seed in 1 2 3 4; do
	binder-abi fuzz /dev/binderlike --seed $seed --ioctls $((total / 4)) --procs 4 ||
		fail "fuzz seed $seed"
done
echo "binderlike-fuzz: $total ioctls in $(( $(date +%s) - start )) s"
rmmod binderlike || fail "binderlike still held after the fuzzer's processes exited"
exit 0

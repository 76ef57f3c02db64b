# SPDX-License-Identifier: GPL-2.0
# posting: binderlike (the posting whose tree this test needs; see README.md)
# binderlike leaks nothing over 10^4 open/mmap/close cycles and 100
# load/ping/unload cycles. Memory is compared on the vm kernel only: the
# debug kernel's KASAN quarantine holds freed objects for a while; there
# (about 7 ms a cycle) the test runs 500 and 10 cycles, for the checkers.
. /tests/lib.sh

trap 'rmmod binderlike 2> /dev/null' EXIT
sunreclaim() {
	echo 3 > /proc/sys/vm/drop_caches
	awk '/^SUnreclaim:/ { print $2 }' /proc/meminfo
}

cycles=10000 loads=100
debug_kernel && cycles=500 loads=10
modprobe binderlike || fail "modprobe binderlike"
wait_dev /dev/binderlike -c
# Warm up the caches the cycles use.
binder-abi test --cycles 200 /dev/binderlike open-close ping > /dev/null || fail "warm-up"
before=$(sunreclaim)
binder-abi test --timeout 120 --cycles $cycles /dev/binderlike open-close ping ||
	fail "$cycles open/close cycles"
after=$(sunreclaim)
echo "unreclaimable slab: $before KiB before $cycles open/close cycles, $after KiB after"
if grep -q "series.kernel=vm " /proc/cmdline && [ $((after - before)) -gt 1024 ]; then
	fail "unreclaimable slab grew by $((after - before)) KiB over $cycles cycles"
fi
rmmod binderlike || fail "rmmod binderlike"

before=$(sunreclaim)
for i in $(seq $loads); do
	modprobe binderlike || fail "modprobe $i"
	wait_dev /dev/binderlike -c
	binder-abi test /dev/binderlike ping > /dev/null || fail "ping after load $i"
	rmmod binderlike || fail "rmmod $i"
done
after=$(sunreclaim)
echo "unreclaimable slab: $before KiB before $loads load/unload cycles, $after KiB after"
if grep -q "series.kernel=vm " /proc/cmdline && [ $((after - before)) -gt 1024 ]; then
	fail "unreclaimable slab grew by $((after - before)) KiB over $loads load cycles"
fi
exit 0

# SPDX-License-Identifier: GPL-2.0
# posting: binderlike (the posting whose tree this test needs; see README.md)
# binderlike speaks the binder UAPI as C binder does: binder-abi's
# conformance scenarios (scripts/seriestool/binder/binder-abi.c) run first
# on C binder through binderfs, the reference, then on binderlike, with the
# same expectations. Also: devices named by the module parameter, each with
# its own context manager; bad names refused; no unload while a file is open.
. /tests/lib.sh

# The debug kernel takes about 7 ms an open/mmap/close cycle (C binder's
# and binderlike's alike): 2000 of them there, 10^4 on vm.
cycles=10000 timeout=10
debug_kernel && cycles=2000 timeout=60

mkdir -p /dev/binderfs
mount -t binder binder /dev/binderfs || fail "mount binderfs"
trap 'umount /dev/binderfs 2> /dev/null; rmmod binderlike 2> /dev/null' EXIT
binder-abi test --cycles $cycles --timeout $timeout /dev/binderfs/binder ||
	fail "C binder does not pass binder-abi: the reference and the test disagree"

modprobe binderlike devices=binderlike,binderlike2 || fail "modprobe binderlike"
wait_dev /dev/binderlike -c
wait_dev /dev/binderlike2 -c
binder-abi test --cycles $cycles --timeout $timeout /dev/binderlike || fail "binderlike does not pass binder-abi"
# The second device has a context manager of its own.
binder-abi test --timeout $timeout /dev/binderlike2 context-mgr ping || fail "binderlike2"

# An open file holds the module.
exec 3< /dev/binderlike
rmmod binderlike 2> /dev/null && fail "binderlike unloaded with a file open"
exec 3<&-
rmmod binderlike || fail "rmmod binderlike"

for bad in "a/b" "," "x,,y" ""; do
	modprobe binderlike devices="$bad" 2> /dev/null &&
		fail "devices=\"$bad\" accepted"
done
dmesg | grep -q "binderlike: invalid device name" || fail "no message for a bad device name"
[ -e /dev/x ] && fail "/dev/x made by a refused load"
exit 0

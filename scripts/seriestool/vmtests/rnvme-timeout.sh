# SPDX-License-Identifier: GPL-2.0
# rnvme timeouts, with the block layer's fail_io_timeout losing the
# completions of requests: a request that times out is aborted (QEMU's
# controller aborts nothing), times out again, and rnvme resets the
# controller. The request and the others the controller had are queued
# again, so fio's verify sees no error, and the data of the other namespace
# is intact. A request that a reset queued again 5 times fails, as in C.
. /tests/lib.sh

rnvme_take
rnvme_wait 0
d=rnvme0n1
fio_write /dev/rnvme0n2 0 || fail "write rnvme0n2"
echo 1000 > /sys/block/$d/queue/io_timeout || fail "io_timeout"
echo 1 > /sys/block/$d/io-timeout-fail || fail "io-timeout-fail"
resets() { dmesg | grep -c "rnvme: controller reset"; }
aborts() { dmesg | grep -c "rnvme: I/O .* timed out, aborting"; }
r0=$(resets) a0=$(aborts)
# Two lost completions among the 8192 requests of the verify.
arm_fail_io_timeout 1000 2
start=$(date +%s)
fio_verify /dev/$d 16M --iodepth=32 || fail "fio verify across the resets"
secs=$(( $(date +%s) - start ))
expect /sys/kernel/debug/fail_io_timeout/times 0
[ $(( $(aborts) - a0 )) -ge 1 ] || fail "no abort"
[ $(( $(resets) - r0 )) -ge 1 ] || fail "no reset"
echo "$d: verify passed across $(( $(resets) - r0 )) resets after" \
	"$(( $(aborts) - a0 )) aborts, in $secs s"
fio_check /dev/rnvme0n2 0 || fail "rnvme0n2 lost data across the resets"
fio_verify /dev/$d 4M --offset=32M || fail "verify after the resets"

# Every completion lost: after 5 resets the request fails, and the
# controller works on.
arm_fail_io_timeout 1 -1
dd if=/dev/$d of=/dev/null bs=4k count=1 iflag=direct 2> /tmp/dd.err &&
	fail "a read whose completion is always lost succeeded"
grep -q "Input/output error" /tmp/dd.err || fail "dd: $(cat /tmp/dd.err)"
arm_fail_io_timeout 1 0
echo 0 > /sys/block/$d/io-timeout-fail
fio_verify /dev/$d 4M || fail "verify after a failed request"
echo "$d: a request lost 6 times fails with EIO; the controller works on"
rmmod rnvme_mod || fail "rmmod rnvme_mod"

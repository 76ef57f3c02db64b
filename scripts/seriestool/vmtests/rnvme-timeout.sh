# SPDX-License-Identifier: GPL-2.0
# posting: pci-dma-rnvme (the posting whose tree this test needs; see README.md)
# rnvme timeouts, with the block layer's fail_io_timeout losing the
# completions of requests: a request that times out is aborted (QEMU's
# controller aborts nothing), times out again, and rnvme resets the
# controller. The request and the others the controller had are queued
# again, so fio's verify sees no error, and the data of the other namespace
# is intact. A request that a reset queued again 5 times fails, as in C.
# A controller that stops answering (its memory space turned off in its
# PCI command register: QEMU then reads its registers as zeroes) fails the
# request in flight after the abort and the reset fail, and its disks go;
# bound again, it has the data written before.
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

# The controller stops answering.
cfg=/sys/bus/pci/devices/$bdf/config
# command: the PCI command register of the controller, in decimal.
command() { dd if=$cfg bs=1 skip=4 count=2 2> /dev/null | od -An -tu2 | tr -d ' '; }
# set_command VALUE: writes the PCI command register.
set_command() {
	printf "\\$(printf %o $(($1 & 255)))\\$(printf %o $(($1 >> 8)))" |
		dd of=$cfg bs=1 seek=4 count=2 conv=notrunc 2> /dev/null
}
cmd=$(command)
[ $((cmd & 2)) = 2 ] || fail "memory space is off already: command $cmd"
echo 1000 > /sys/block/$d/queue/io_timeout || fail "io_timeout"
set_command $((cmd & ~2))
[ "$(command)" = $((cmd & ~2)) ] || fail "command register: $(command)"
dd if=/dev/$d of=/dev/null bs=4k count=1 iflag=direct 2> /tmp/dd.err &&
	fail "a read from a controller that does not answer succeeded"
grep -q "Input/output error" /tmp/dd.err || fail "dd: $(cat /tmp/dd.err)"
for _ in $(seq 100); do
	[ -e /sys/block/rnvme0n1 ] || [ -e /sys/block/rnvme0n2 ] || break
	sleep 0.1
done
[ -e /sys/block/rnvme0n1 ] && fail "rnvme0n1 is still there"
[ -e /sys/block/rnvme0n2 ] && fail "rnvme0n2 is still there"
expect /sys/class/rnvme/rnvme0/state dead
dmesg | grep -q "the controller is dead: removing its disks" || fail "no removal logged"
# Bound again with its memory space on, it works, with the data.
set_command $cmd
echo "$bdf" > /sys/bus/pci/drivers/rnvme/unbind || fail "unbind the dead controller"
echo "$bdf" > /sys/bus/pci/drivers/rnvme/bind || fail "bind it again"
wait_dev /dev/rnvme1n2
fio_check /dev/rnvme1n2 0 || fail "rnvme1n2 lost the data written before"
echo "dead controller: the read failed, the disks went; bound again, the data is there"
rmmod rnvme_mod || fail "rmmod rnvme_mod"

# SPDX-License-Identifier: GPL-2.0
# rnvme on QEMU's NVMe controller (the one with serial rnvme0, taken from
# the C driver with driver_override): both namespaces appear as disks under
# the controller's PCI device and keep the data written to them, with
# requests from 512 bytes to 1 MiB (one PRP, two PRPs, PRP lists), O_SYNC
# writes (FUA and flushes), across unbind/bind and rmmod/modprobe.
. /tests/lib.sh

rnvme_take
rnvme_wait 0
for ns in 1 2; do
	d=/dev/rnvme0n$ns
	[ "$(cat /sys/block/rnvme0n$ns/size)" = 262144 ] ||
		fail "rnvme0n$ns: $(cat /sys/block/rnvme0n$ns/size) sectors"
	fio_verify $d 32M || fail "fio verify on $d"
	fio_verify $d 32M --bsrange=512-1M --offset=32M || fail "fio verify, 512 B to 1 MiB, on $d"
	fio_verify $d 4M --sync=1 --offset=64M || fail "fio verify, O_SYNC, on $d"
	echo "rnvme0n$ns: fio verify passed"
done

# Data written before an unbind is there after the next bind, and before
# an rmmod after the next modprobe.
instance=0
for i in 1 2 3; do
	fio_write /dev/rnvme${instance}n1 96M || fail "write before unbind $i"
	echo "$bdf" > /sys/bus/pci/drivers/rnvme/unbind || fail "unbind $i"
	[ -b /dev/rnvme${instance}n1 ] && fail "rnvme${instance}n1 still there after unbind"
	echo "$bdf" > /sys/bus/pci/drivers/rnvme/bind || fail "bind $i"
	instance=$((instance + 1))
	rnvme_wait $instance
	fio_check /dev/rnvme${instance}n1 96M || fail "data lost across unbind/bind $i"
done
echo "unbind/bind: data kept"
fio_write /dev/rnvme${instance}n2 96M || fail "write before rmmod"
rmmod rnvme_mod || fail "rmmod rnvme_mod"
[ -b /dev/rnvme${instance}n2 ] && fail "rnvme${instance}n2 still there after rmmod"
modprobe rnvme_mod || fail "modprobe rnvme_mod again"
rnvme_wait 0
fio_check /dev/rnvme0n2 96M || fail "data lost across rmmod/modprobe"
echo "rmmod/modprobe: data kept"

# SPDX-License-Identifier: GPL-2.0
# rnvme on QEMU's NVMe controller (the one with serial rnvme0, taken from
# the C driver with driver_override): both namespaces appear as disks under
# the controller's PCI device and keep the data written to them, with
# requests from 512 bytes to 1 MiB (one PRP, two PRPs, PRP lists), O_SYNC
# writes (FUA and flushes), across unbind/bind and rmmod/modprobe.
. /tests/lib.sh

bdf=
for c in /sys/class/nvme/nvme*; do
	read -r serial < $c/serial
	[ "$serial" = rnvme0 ] && bdf=$(basename "$(readlink -f $c/device)")
done
[ -n "$bdf" ] || fail "no C nvme controller with serial rnvme0"
dev=/sys/bus/pci/devices/$bdf
echo "$bdf" > /sys/bus/pci/drivers/nvme/unbind || fail "unbind $bdf from nvme"
echo rnvme > $dev/driver_override || fail "driver_override"
modprobe rnvme_mod || fail "modprobe rnvme_mod"

# bind_wait INSTANCE: waits for the disks of rnvme instance INSTANCE.
bind_wait() {
	wait_dev /dev/rnvme$1n1
	wait_dev /dev/rnvme$1n2
	readlink -f /sys/block/rnvme$1n1 | grep -q "/$bdf/" ||
		fail "rnvme$1n1 is not under $bdf: $(readlink -f /sys/block/rnvme$1n1)"
}

bind_wait 0
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
fio_write() {
	fio --name=w --filename="$1" --ioengine=io_uring --direct=1 --rw=write \
		--bs=64k --size=8M --offset=96M --verify=crc32c --do_verify=0 \
		--output-format=terse > /tmp/fio.out 2>&1 || { tail -3 /tmp/fio.out; return 1; }
}
fio_check() {
	fio --name=w --filename="$1" --ioengine=io_uring --direct=1 --rw=write \
		--bs=64k --size=8M --offset=96M --verify=crc32c --verify_only=1 \
		--verify_fatal=1 --output-format=terse > /tmp/fio.out 2>&1 ||
		{ tail -3 /tmp/fio.out; return 1; }
}
instance=0
for i in 1 2 3; do
	fio_write /dev/rnvme${instance}n1 || fail "write before unbind $i"
	echo "$bdf" > /sys/bus/pci/drivers/rnvme/unbind || fail "unbind $i"
	[ -b /dev/rnvme${instance}n1 ] && fail "rnvme${instance}n1 still there after unbind"
	echo "$bdf" > /sys/bus/pci/drivers/rnvme/bind || fail "bind $i"
	instance=$((instance + 1))
	bind_wait $instance
	fio_check /dev/rnvme${instance}n1 || fail "data lost across unbind/bind $i"
done
echo "unbind/bind: data kept"
fio_write /dev/rnvme${instance}n2 || fail "write before rmmod"
rmmod rnvme_mod || fail "rmmod rnvme_mod"
[ -b /dev/rnvme${instance}n2 ] && fail "rnvme${instance}n2 still there after rmmod"
modprobe rnvme_mod || fail "modprobe rnvme_mod again"
bind_wait 0
fio_check /dev/rnvme0n2 || fail "data lost across rmmod/modprobe"
echo "rmmod/modprobe: data kept"

# SPDX-License-Identifier: GPL-2.0
# posting: pci-dma-rnvme (the posting whose tree this test needs; see README.md)
# rnvme on QEMU's NVMe controller (the one with serial rnvme0, taken from
# the C driver with driver_override): both namespaces appear as disks under
# the controller's PCI device and keep the data written to them, with
# requests from 512 bytes to 1 MiB (one PRP, two PRPs, PRP lists, SGLs),
# O_SYNC writes (FUA and flushes), across unbind/bind and rmmod/modprobe.
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

# SGLs (QEMU's controller has them): with sgl_threshold=512 every request
# with data gets one, from one Data Block descriptor to a segment of many;
# sequential 512 byte writes from buffers 4 bytes past a page merge into
# requests whose segments meet within pages, which only an SGL describes.
rmmod rnvme_mod || fail "rmmod rnvme_mod"
modprobe rnvme_mod sgl_threshold=512 || fail "modprobe rnvme_mod sgl_threshold=512"
rnvme_wait 0
fio_verify /dev/rnvme0n1 32M --bsrange=512-1M || fail "fio verify with SGLs for all requests"
rmmod rnvme_mod || fail "rmmod rnvme_mod"
modprobe rnvme_mod || fail "modprobe rnvme_mod"
rnvme_wait 0
merges() { awk '{ print $6 }' /sys/block/rnvme0n1/stat; }
m=$(merges)
fio_verify /dev/rnvme0n1 4M --rw=write --bs=512 --iomem_align=4 --iodepth=32 \
	--iodepth_batch_submit=32 --offset=96M || fail "fio verify of merged 512 byte writes"
[ "$(merges)" -gt "$m" ] || fail "no 512 byte writes were merged: no request had gaps"
echo "SGLs: fio verify passed"

# Discard (Dataset Management) and write zeroes: the ranges read back as
# zeroes, the data around them is intact.
d=/dev/rnvme0n2
mib=1048576
[ "$(cat /sys/block/rnvme0n2/queue/discard_max_bytes)" -gt 0 ] || fail "no discard on rnvme0n2"
[ "$(cat /sys/block/rnvme0n2/queue/write_zeroes_max_bytes)" -gt 0 ] || fail "no write zeroes on rnvme0n2"
dd if=/dev/urandom of=/tmp/pat bs=1M count=4 2> /dev/null
dd if=/tmp/pat of=$d bs=1M seek=100 oflag=direct 2> /dev/null || fail "write the pattern"
/usr/sbin/blkdiscard -o $((101 * mib)) -l $mib $d || fail "blkdiscard"
/usr/sbin/blkdiscard -z -o $((102 * mib)) -l $((mib / 2)) $d || fail "blkdiscard -z (write zeroes)"
dd if=$d of=/tmp/back bs=1M skip=100 count=4 iflag=direct 2> /dev/null || fail "read back"
# part FILE OFFSET_KIB LEN_KIB: md5 of that part of FILE.
part() { dd if=$1 bs=1k skip=$2 count=$3 2> /dev/null | md5sum | cut -d' ' -f1; }
zero=$(dd if=/dev/zero bs=1k count=1024 2> /dev/null | md5sum | cut -d' ' -f1)
half=$(dd if=/dev/zero bs=1k count=512 2> /dev/null | md5sum | cut -d' ' -f1)
[ "$(part /tmp/back 0 1024)" = "$(part /tmp/pat 0 1024)" ] || fail "data before the discard changed"
[ "$(part /tmp/back 1024 1024)" = "$zero" ] || fail "discarded range does not read zeroes"
[ "$(part /tmp/back 2048 512)" = "$half" ] || fail "write zeroes range does not read zeroes"
[ "$(part /tmp/back 2560 1536)" = "$(part /tmp/pat 2560 1536)" ] || fail "data after the zeroed ranges changed"
echo "discard and write zeroes: zeroes where asked, data around intact"

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

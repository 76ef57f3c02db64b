# SPDX-License-Identifier: GPL-2.0
# posting: pci-dma-rnvme (the posting whose tree this test needs; see README.md)
# nvme format on rnvme, as on C nvme: no I/O of the controller's disks runs
# during the Format NVM (their queues are frozen), and then the disk takes
# its namespace's new format: 4096-byte blocks with the same capacity and
# C's queue limits for it; a format rnvme does not take (8 bytes of
# metadata) leaves the disk without capacity, a change the block layer
# announces; formatted back to 512-byte blocks, it has its capacity again
# and takes verified I/O. The other namespace's I/O goes on during the
# formats, its data intact. nvme ns-rescan reads the formats again, for
# CAP_SYS_ADMIN only.
. /tests/lib.sh

rnvme_take
rnvme_wait 0
ctl=/dev/rnvme0
wait_dev $ctl -c
c=$(nvme_ctrl rseries0)
[ -n "$c" ] || fail "no C nvme controller to compare with"
# C names its disks by namespace head, which need not follow the IDs.
cdisk=
for d in /sys/block/${c}n*; do
	[ "$(cat $d/nsid)" = 1 ] && cdisk=$(basename $d)
done
[ -n "$cdisk" ] || fail "no disk of namespace 1 of $c"
q=/sys/block/rnvme0n1/queue
sectors=$(cat /sys/block/rnvme0n1/size)
[ "$sectors" -gt 0 ] || fail "rnvme0n1 has no capacity"

# format CTRL LBAF: formats namespace 1 of CTRL (a character device) with
# LBA format LBAF: 0 is 512-byte blocks, 1 the same with 8 bytes of
# metadata, 4 4096-byte blocks.
format() {
	nvme format "$1" --namespace-id=1 --lbaf="$2" --force > /tmp/f.out 2>&1 ||
		fail "nvme format $1 --lbaf=$2: $(cat /tmp/f.out)"
	flbas=$(nvme id-ns "$1" -n 1 | awk '/^flbas/ { print $3 }')
	[ $((flbas & 0xf)) = "$2" ] || fail "$1: flbas $flbas after a format with LBA format $2"
}

# I/O on the other namespace all along: checksummed writes, then read and
# verified, in a loop until the formats are done.
fio_write /dev/rnvme0n2 0 || fail "write rnvme0n2"
rm -f /tmp/busy.stop
# Whatever happens, the I/O below stops with the test.
trap 'touch /tmp/busy.stop; wait' EXIT
(
	n=0
	while [ ! -e /tmp/busy.stop ]; do
		fio --name=busy --filename=/dev/rnvme0n2 --ioengine=io_uring --direct=1 \
			--rw=randwrite --bs=4k --iodepth=8 --size=4M --offset=16M \
			--verify=crc32c --do_verify=1 --verify_fatal=1 \
			--output-format=terse > /tmp/busy.out 2>&1 || { echo fail > /tmp/busy.rc; exit 1; }
		n=$((n + 1))
	done
	echo "$n" > /tmp/busy.rc
) &
busy=$!
# And reads of the namespace being formatted: some fail once its blocks
# change, none may do harm.
(
	while [ ! -e /tmp/busy.stop ]; do
		dd if=/dev/rnvme0n1 of=/dev/null bs=512 count=64 iflag=direct 2> /dev/null
	done
) &
reader=$!

# 4096-byte blocks: the same capacity, the limits C gives such a disk.
dmesg -c > /dev/null
format $ctl 4
expect $q/logical_block_size 4096
expect $q/physical_block_size 4096
expect /sys/block/rnvme0n1/size "$sectors"
format /dev/$c 4
# C nvme's disk takes the format later, in its scan work: wait for it.
wait_value /sys/block/$cdisk/queue/logical_block_size 4096
known="max_integrity_segments=1/0"
for f in /sys/block/$cdisk/queue/*; do
	[ -f $f ] || continue
	n=$(basename $f)
	cv=$(cat $f | tr '\n' ' ')
	rv=$(cat $q/$n | tr '\n' ' ')
	[ "$cv" = "$rv" ] && continue
	echo "$known" | tr ' ' '\n' | grep -qx "$n=${cv% }/${rv% }" ||
		fail "4096-byte blocks: queue/$n: '$rv', C nvme's '$cv'"
done
fio_verify /dev/rnvme0n1 8M --bsrange=4k-64k || fail "verify with 4096-byte blocks"
# The block layer refuses direct I/O smaller than a block now.
fio --name=small --filename=/dev/rnvme0n1 --ioengine=psync --direct=1 --rw=read \
	--bs=512 --size=4k > /tmp/small.out 2>&1 &&
	fail "a 512-byte read of a disk with 4096-byte blocks succeeded"
grep -q "Invalid argument" /tmp/small.out || fail "512-byte read: $(tail -3 /tmp/small.out)"
echo "4096-byte blocks: $(cat $q/logical_block_size)-byte blocks, $sectors sectors, C's limits, verified"

# Metadata: rnvme takes no metadata, so the disk has no capacity (as C for
# formats it does not take), announced by the block layer.
format $ctl 1
expect /sys/block/rnvme0n1/size 0
dmesg | grep -q "rnvme0n1: detected capacity change from $sectors to 0" ||
	fail "no capacity change logged: $(dmesg | grep rnvme0n1 | tail -3)"
dmesg | grep -q "rnvme: namespace 1: unsupported format (512 byte blocks, 8 bytes of metadata" ||
	fail "no warning for the format: $(dmesg | grep 'namespace 1' | tail -3)"
[ "$(dd if=/dev/rnvme0n1 bs=512 count=1 2> /dev/null | wc -c)" = 0 ] ||
	fail "read data from a disk without capacity"
format /dev/$c 1
echo "8 bytes of metadata: no capacity (C nvme: $(cat /sys/block/$cdisk/size) sectors)"

# Back to 512-byte blocks: the capacity again, zeroes, verified I/O.
format $ctl 0
expect /sys/block/rnvme0n1/size "$sectors"
expect $q/logical_block_size 512
dmesg | grep -q "rnvme0n1: detected capacity change from 0 to $sectors" ||
	fail "no capacity change logged: $(dmesg | grep rnvme0n1 | tail -3)"
[ "$(dd if=/dev/rnvme0n1 bs=1M count=8 iflag=direct 2> /dev/null | tr -d '\0' | wc -c)" = 0 ] ||
	fail "no zeroes after the format"
fio_verify /dev/rnvme0n1 8M --bsrange=512-64k || fail "verify with 512-byte blocks"
format /dev/$c 0
wait_value /sys/block/$cdisk/queue/logical_block_size 512
echo "512-byte blocks again: $sectors sectors, zeroes, verified"

touch /tmp/busy.stop
wait $reader
wait $busy || fail "I/O on rnvme0n2 failed during the formats: $(tail -3 /tmp/busy.out)"
n=$(cat /tmp/busy.rc)
[ "$n" -ge 1 ] || fail "no verified I/O on rnvme0n2 during the formats"
fio_check /dev/rnvme0n2 0 || fail "rnvme0n2 lost data"
echo "rnvme0n2: $n verified fio runs during the formats, earlier data intact"

# nvme ns-rescan reads the formats again; not without CAP_SYS_ADMIN.
nvme ns-rescan $ctl || fail "nvme ns-rescan $ctl"
expect /sys/block/rnvme0n1/size "$sectors"
# (nvme-cli 2.3 does not print the errno of a failed rescan.)
/usr/bin/setpriv --inh-caps=-sys_admin --bounding-set=-sys_admin nvme ns-rescan $ctl \
	> /tmp/p.out 2>&1 && fail "ns-rescan without CAP_SYS_ADMIN succeeded"
echo "ns-rescan: the formats read again; refused without CAP_SYS_ADMIN"
rmmod rnvme_mod || fail "rmmod rnvme_mod"
true

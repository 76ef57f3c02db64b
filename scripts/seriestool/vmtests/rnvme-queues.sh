# SPDX-License-Identifier: GPL-2.0
# posting: pci-dma-rnvme (the posting whose tree this test needs; see README.md)
# rnvme on a controller that grants fewer I/O queues than asked (one, for
# two CPUs) and has a single MSI-X vector, which the admin queue and the I/O
# queue then share: the disk works with one hardware queue.
. /tests/lib.sh

rnvme_take
rnvme_wait 0
first=$bdf
nvme_to_rnvme rnvme1
one=$bdf
bdf=$first
echo "$one" > /sys/bus/pci/drivers/rnvme/bind || fail "bind $one to rnvme"
wait_dev /dev/rnvme1n1
readlink -f /sys/block/rnvme1n1 | grep -q "/$one/" || fail "rnvme1n1 is not under $one"
queues=$(ls /sys/block/rnvme1n1/mq | wc -l)
[ "$queues" = 1 ] || fail "rnvme1n1 has $queues hardware queues, expected 1"
vectors=$(ls /sys/bus/pci/devices/$one/msi_irqs | wc -l)
[ "$vectors" = 1 ] || fail "$one has $vectors MSI-X vectors, expected 1"
fio_verify /dev/rnvme1n1 16M --bsrange=512-256k || fail "fio verify on rnvme1n1"
fio_verify /dev/rnvme1n1 16M --iodepth=64 --offset=16M || fail "fio verify at depth 64 on rnvme1n1"
echo "rnvme1n1: 1 queue on 1 shared vector, fio verify passed"
# Back to the C driver, as the boot left it.
echo "$one" > /sys/bus/pci/drivers/rnvme/unbind || fail "unbind $one from rnvme"
echo > /sys/bus/pci/devices/$one/driver_override || fail "clear driver_override"
echo "$one" > /sys/bus/pci/drivers/nvme/bind || fail "bind $one to nvme again"

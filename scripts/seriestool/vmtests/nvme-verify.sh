# SPDX-License-Identifier: GPL-2.0
# posting: pci-dma-rnvme (the posting whose tree this test needs; see README.md)
# C nvme driver on QEMU's NVMe controller (serial rseries0; the VM has more,
# probed in any order): both namespaces appear and keep the data written to
# them.
. /tests/lib.sh

ctrl=$(nvme_ctrl rseries0)
[ -n "$ctrl" ] || fail "no C nvme controller with serial rseries0"
wait_dev /dev/${ctrl}n1
wait_dev /dev/${ctrl}n2
model=$(cat /sys/class/nvme/$ctrl/model)
echo "$ctrl: model '$model', namespaces: $(ls /sys/class/nvme/$ctrl | grep -c "^${ctrl}n")"
case $model in QEMU*) ;; *) fail "unexpected model '$model'" ;; esac
for ns in 1 2; do
	fio_verify /dev/${ctrl}n$ns 32M || fail "fio verify on ${ctrl}n$ns"
	echo "${ctrl}n$ns: fio verify passed"
done

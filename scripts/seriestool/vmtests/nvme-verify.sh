# SPDX-License-Identifier: GPL-2.0
# C nvme driver on QEMU's NVMe controller: both namespaces appear and keep
# the data written to them.
. /tests/lib.sh

wait_dev /dev/nvme0n1
wait_dev /dev/nvme0n2
model=$(cat /sys/class/nvme/nvme0/model)
echo "nvme0: model '$model', namespaces: $(ls /sys/class/nvme/nvme0 | grep -c '^nvme0n')"
case $model in QEMU*) ;; *) fail "unexpected model '$model'" ;; esac
for ns in 1 2; do
	fio_verify /dev/nvme0n$ns 32M || fail "fio verify on nvme0n$ns"
	echo "nvme0n$ns: fio verify of 32M passed"
done

# SPDX-License-Identifier: GPL-2.0
# `scripts/series run`: the block drivers of the VM side by side. C null_blk
# and rnull get the same module parameters; C nvme and rnvme drive two
# identical QEMU controllers (serials rseries0 and rnvme0).
# For each device: one DEMO-DEV line (what the block layer shows), one
# DEMO-VERIFY line (fio writes random blocks with crc32c headers and reads
# them back) and one DEMO-IOPS line (4k random reads, queue depth 32).
. /tests/lib.sh

VERIFY_SIZE=32M
RUNTIME=3
params="nr_devices=1 gb=1 memory_backed=1"
modprobe null_blk $params || fail "modprobe null_blk $params"
modprobe rnull_mod $params || fail "modprobe rnull_mod $params"
wait_dev /dev/nullb0
wait_dev /dev/rnullb0
ctrl=$(nvme_ctrl rseries0)
[ -n "$ctrl" ] || fail "no C nvme controller with serial rseries0"
wait_dev /dev/${ctrl}n1
rnvme_take
rnvme_wait 0
echo "DEMO-PARAMS $params"
# The C nvme disk's name depends on the order the controllers were probed
# in; its lines say "nvme".
echo "DEMO-NAME nvme ${ctrl}n1"
path() { if [ "$1" = nvme ]; then echo /dev/${ctrl}n1; else echo /dev/$1; fi; }
sysdir() { echo /sys/block/$(basename $(path $1)); }

for d in nullb0 rnullb0 nvme rnvme0n1; do
	q=$(sysdir $d)/queue
	sched=$(sed -n 's/.*\[\(.*\)\].*/\1/p' $q/scheduler)
	echo "DEMO-DEV $d $(($(cat $(sysdir $d)/size) * 512))" \
		"$(ls $(sysdir $d)/mq | wc -l) ${sched:-none}" \
		"$(cat $q/logical_block_size)"
done
for d in nullb0 rnullb0 nvme rnvme0n1; do
	if fio_verify $(path $d) $VERIFY_SIZE; then r=ok; else r=FAILED; fi
	echo "DEMO-VERIFY $d $r $VERIFY_SIZE"
done
for d in nullb0 rnullb0 nvme rnvme0n1; do
	iops=$(fio --name=demo --filename=$(path $d) --ioengine=io_uring --direct=1 \
		--rw=randread --bs=4k --iodepth=32 --time_based --runtime=$RUNTIME \
		--output-format=terse --terse-version=3 < /dev/null |
		awk -F';' '{ printf "%.0f", $8 }')
	[ -n "$iops" ] || fail "fio randread on $(path $d)"
	echo "DEMO-IOPS $d $iops $RUNTIME"
done
rmmod null_blk || fail "rmmod null_blk"
rmmod rnull_mod || fail "rmmod rnull_mod"
rmmod rnvme_mod || fail "rmmod rnvme_mod"

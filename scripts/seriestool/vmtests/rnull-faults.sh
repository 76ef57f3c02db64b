# SPDX-License-Identifier: GPL-2.0
# posting: block-rnull (the posting whose tree this test needs; see README.md)
# rnull fault injection, next to C null_blk: the module parameters timeout,
# requeue and init_hctx take "<interval>,<probability>,<space>,<times>"
# (Documentation/fault-injection/fault-injection.rst) and every device gets
# its own points, made from them. A configfs device shows its points as the
# configfs groups timeout_inject, requeue_inject and init_hctx_fault_inject,
# where user space arms them, as in C.
#   timeout: the request is neither served nor completed; the timeout
#            handler ends it with BLK_STS_TIMEOUT (ETIMEDOUT).
#   requeue: the request goes back to blk-mq, alternately as busy and
#            through blk_mq_requeue_request(); no data is lost.
#   init_hctx: setting up a hardware queue fails, so does the disk.
. /tests/lib.sh

both() {
	for drv in null_blk rnull_mod; do
		"$@" $drv
	done
}

dev_of() {
	case $1 in
	null_blk) echo nullb0 ;;
	rnull_mod) echo rnullb0 ;;
	esac
}

# Bad specs fail the load, as in C, and so does an overlong one (ENOSPC:
# C takes 79 bytes, rnull 127).
long=$(printf '1%.0s' $(seq 130))
for spec in "timeout=1,2" "requeue=one,100,0,1" "init_hctx=1,100,0" "timeout=$long"; do
	for drv in null_blk rnull_mod; do
		modprobe $drv nr_devices=0 "$spec" 2> /dev/null &&
			fail "$drv loaded with $spec"
	done
done
dmesg | grep -q "rnull_mod: timeout: expected <interval>,<probability>,<space>,<times>" ||
	fail "no message for a bad timeout spec"
dmesg | grep -q "too large for parameter .timeout" || fail "no message for an overlong spec"
echo "bad specs refused"

# two_timeouts DISK: with every 1000th request kept until it times out,
# twice, exactly two of 3000 reads fail, with ETIMEDOUT, after the queue's
# io_timeout.
two_timeouts() {
	disk=$1
	echo 1000 > /sys/block/$disk/queue/io_timeout || fail "$disk: io_timeout"
	start=$(date +%s)
	fio --name=to --filename=/dev/$disk --ioengine=psync --direct=1 --rw=randread \
		--bs=4k --size=64M --number_ios=3000 --continue_on_error=read --ignore_error=110 \
		--output-format=json > /tmp/fio.json 2> /tmp/fio.err
	secs=$(( $(date +%s) - start ))
	errs=$(grep '"total_err"' /tmp/fio.json | tr -dc 0-9)
	first=$(grep '"first_error"' /tmp/fio.json | tr -dc 0-9)
	[ "$errs" = 2 ] || fail "$disk: $errs reads failed, expected 2 timeouts"
	[ "$first" = 110 ] || fail "$disk: first error $first, not ETIMEDOUT (110)"
	[ $secs -ge 2 ] || fail "$disk: two timeouts of 1 s took $secs s"
	# The device works on; both timeouts were used up.
	fio_io /dev/$disk 4M || fail "$disk: I/O after the timeouts"
	echo "$disk: 2 of 3000 reads timed out (ETIMEDOUT) in $secs s"
}

timeouts() {
	drv=$1 disk=$(dev_of $1)
	modprobe $drv nr_devices=1 gb=1 timeout=1000,100,0,2 || fail "modprobe $drv timeout"
	wait_dev /dev/$disk
	two_timeouts $disk
	rmmod $drv || fail "rmmod $drv"
}
both timeouts
[ "$(dmesg | grep -c 'rnull_mod: request timed out')" -ge 2 ] || fail "rnull logged no timeouts"

# fail_io_timeout: the block layer's point, on a disk whose io-timeout-fail
# is set, keeps the requests it picks until they time out, as the timeout
# parameter does.
fail_io_timeouts() {
	drv=$1 disk=$(dev_of $1)
	modprobe $drv nr_devices=1 gb=1 || fail "modprobe $drv"
	wait_dev /dev/$disk
	arm_fail_io_timeout 1000 2
	echo 1 > /sys/block/$disk/io-timeout-fail || fail "$disk: io-timeout-fail"
	two_timeouts $disk
	echo 0 > /sys/block/$disk/io-timeout-fail
	rmmod $drv || fail "rmmod $drv"
}
both fail_io_timeouts

# requeue: half of the requests go back to blk-mq; the data survives.
requeues() {
	drv=$1 disk=$(dev_of $1)
	modprobe $drv nr_devices=1 gb=1 memory_backed=1 submit_queues=2 \
		requeue=1,50,0,-1 || fail "modprobe $drv requeue"
	wait_dev /dev/$disk
	fio_verify /dev/$disk 32M || fail "$disk: verify with requeues"
	fio_verify /dev/$disk 32M --rw=randrw --bs=16k --iodepth=64 ||
		fail "$disk: mixed verify with requeues"
	rmmod $drv || fail "rmmod $drv"
	echo "$disk: verify passed with requeue=1,50,0,-1"
}
both requeues

# init_hctx: the first hardware queue of each device fails to come up
# (EFAULT), so its disk is not made and, for a module parameter device, the
# load fails.
# A configfs device gets its own point at mkdir: power on fails once.
for drv in null_blk rnull_mod; do
	modprobe $drv nr_devices=1 init_hctx=1,100,0,1 2> /dev/null &&
		fail "$drv loaded although its hardware queue failed"
	modprobe $drv nr_devices=0 init_hctx=1,100,0,1 || fail "modprobe $drv init_hctx"
done
# fails_once CFG NAME: the first power on of the configfs device NAME fails
# in init_hctx, the second works and the device does I/O.
fails_once() {
	echo 1 > $1/$2/power 2> /dev/null && fail "$2 powered on although init_hctx failed"
	[ -b /dev/$2 ] && fail "/dev/$2 is there after a failed power on"
	echo 1 > $1/$2/power || fail "$2: second power on"
	wait_dev /dev/$2
	fio_io /dev/$2 4M || fail "$2: I/O"
}
for cfg in nullb rnull; do
	cfg=/sys/kernel/config/$cfg
	name=$(basename $cfg)h
	mkdir $cfg/$name || fail "mkdir $cfg/$name"
	# The group shows the point the parameter made.
	expect $cfg/$name/init_hctx_fault_inject/probability 100
	expect $cfg/$name/init_hctx_fault_inject/times 1
	fails_once $cfg $name
	expect $cfg/$name/init_hctx_fault_inject/times 0
	CFG=$cfg rmdev $name
	echo "$name: first power on failed in init_hctx, second worked"
done
rmmod null_blk || fail "rmmod null_blk"
rmmod rnull_mod || fail "rmmod rnull_mod"

# The configfs groups timeout_inject, requeue_inject and
# init_hctx_fault_inject of a configfs device, as C's: without a module
# parameter the points are off; user space arms them.
modprobe null_blk nr_devices=0 || fail "modprobe null_blk"
modprobe rnull_mod nr_devices=0 || fail "modprobe rnull_mod"
# arm DIR GROUP INTERVAL PROBABILITY TIMES: configures a point, quietly.
arm() {
	for a in "interval $3" "probability $4" "times $5" "verbose 0"; do
		echo ${a#* } > $1/$2/${a% *} || fail "$1/$2/${a% *}"
	done
}
for drv in nullb rnull; do
	cfg=/sys/kernel/config/$drv
	name=${drv}g
	mkdir $cfg/$name || fail "mkdir $cfg/$name"
	for g in timeout_inject requeue_inject init_hctx_fault_inject; do
		expect $cfg/$name/$g/probability 0
		expect $cfg/$name/$g/times 1
		rmdir $cfg/$name/$g 2> /dev/null && fail "$name: removed $g"
	done
	echo 1 > $cfg/$name/memory_backed || fail "$name: memory_backed"
	echo 1 > $cfg/$name/power || fail "power on $name"
	wait_dev /dev/$name
	# Armed while powered: every 1000th request times out, twice.
	arm $cfg/$name timeout_inject 1000 100 2
	two_timeouts $name
	expect $cfg/$name/timeout_inject/times 0
	# Half of the requests go back to blk-mq; the data survives.
	arm $cfg/$name requeue_inject 1 50 -1
	fio_verify /dev/$name 32M || fail "$name: verify with requeues"
	echo 0 > $cfg/$name/requeue_inject/probability || fail "$name: requeue off"
	echo "$name: timeout_inject and requeue_inject armed in configfs"
	# Armed while powered: a queue change sets up every hardware queue
	# again, and the first fails. blk-mq tries it once more, which works,
	# so the change goes through and the data stays.
	arm $cfg/$name init_hctx_fault_inject 1 100 1
	dmesg -c > /dev/null
	echo 2 > $cfg/$name/submit_queues || fail "$name: submit_queues 2 with init_hctx_fault_inject armed"
	expect $cfg/$name/init_hctx_fault_inject/times 0
	dmesg | grep -q "fallback to previous one" || fail "$name: blk-mq did not set up a failed queue again"
	[ "$(ls /sys/block/$name/mq | wc -l)" = 3 ] || fail "$name: $(ls /sys/block/$name/mq | wc -l) hardware queues after submit_queues 2"
	fio_verify /dev/$name 16M || fail "$name: verify after the queue change"
	echo "$name: queue change with init_hctx_fault_inject armed: blk-mq's fallback, data intact"
	# The first hardware queue of the next power on fails.
	arm $cfg/$name init_hctx_fault_inject 1 100 1
	echo 0 > $cfg/$name/power || fail "power off $name"
	fails_once $cfg $name
	CFG=$cfg rmdev $name
	echo "$name: init_hctx_fault_inject armed in configfs"
done
rmmod null_blk || fail "rmmod null_blk"
rmmod rnull_mod || fail "rmmod rnull_mod"

# SPDX-License-Identifier: GPL-2.0
# posting: block-rnull (the posting whose tree this test needs; see README.md)
# rnull's sysfs attributes in /sys/block/rnullbN/rnull/ (rust/kernel/sysfs.rs):
# typed values, modes from the callbacks, visibility, the errors of bad
# writes, and a file held open while its disk goes away.
. /tests/lib.sh

dir=/sys/block/rnullb0/rnull

modprobe rnull nr_devices=1 gb=1 irqmode=2 completion_nsec=20000 memory_backed=1 \
	timeout=100,100,0,2 requeue=3,100,0,-1 || fail "modprobe rnull"
wait_dev /dev/rnullb0

# The configuration, read-only for everyone (0444); the counts 0644.
expect $dir/irqmode 2
expect $dir/completion_nsec 20000
expect $dir/memory_backed 1
for f in irqmode completion_nsec memory_backed; do
	[ "$(stat -c %a $dir/$f)" = 444 ] || fail "$f: mode $(stat -c %a $dir/$f)"
	write_fails $dir/$f 1 "Permission denied"
done
for f in timeouts requeues; do
	[ "$(stat -c %a $dir/$f)" = 644 ] || fail "$f: mode $(stat -c %a $dir/$f)"
done
# No bandwidth limit: no mbps file.
[ -e $dir/mbps ] && fail "mbps shown without a limit"
echo "configuration: irqmode 2, completion_nsec 20000, memory_backed 1, no mbps"

# The counts follow the fault injection: 2 timeouts, every 3rd request
# requeued.
echo 1000 > /sys/block/rnullb0/queue/io_timeout || fail "io_timeout"
fio --name=to --filename=/dev/rnullb0 --ioengine=psync --direct=1 --rw=randread \
	--bs=4k --size=64M --number_ios=300 --continue_on_error=read --ignore_error=110 \
	--output-format=terse --terse-version=3 > /dev/null 2>&1
expect $dir/timeouts 2
requeues=$(cat $dir/requeues)
[ "$requeues" -ge 100 ] || fail "requeues: $requeues after 300 reads, expected >= 100"
echo "counts: 2 timeouts, $requeues requeues"

# Writing 0 resets a count; anything else is EINVAL and changes nothing:
# out of range, wrong type, negative, two numbers, overlong (8000 digits:
# sysfs passes the first page, which overflows).
echo 0 > $dir/timeouts || fail "reset timeouts"
expect $dir/timeouts 0
long=$(printf '1%.0s' $(seq 8000))
for bad in 5 18446744073709551616 abc -1 "1 2" "$long"; do
	write_fails $dir/requeues "$bad" "Invalid argument"
done
expect $dir/requeues $requeues
echo 0x0 > $dir/requeues || fail "reset requeues with 0x0"
expect $dir/requeues 0
echo "resets with 0 and 0x0; 6 bad writes refused with EINVAL"
rmmod rnull_mod || fail "rmmod rnull"

# Visibility: mbps only where there is a limit.
modprobe rnull nr_devices=0 || fail "modprobe rnull nr_devices=0"
mkdev rnullb0 mbps=10 size=64
expect $dir/mbps 10
expect $dir/irqmode 1
expect $dir/memory_backed 0

# A reader and a writer hold files open while the disk goes away, and two
# loops read and write while it does: later reads and writes fail with
# ENODEV, nothing crashes or leaks (the debug profile runs this under KASAN
# and lockdep).
exec 3< $dir/mbps 4> $dir/timeouts
(while cat $dir/mbps > /dev/null 2>&1; do :; done) &
reader=$!
(while echo 0 > $dir/timeouts; do :; done) 2> /dev/null &
writer=$!
sleep 1
echo 0 > /sys/kernel/config/rnull/rnullb0/power || fail "power off"
wait $reader $writer
[ -e $dir ] && fail "$dir is still there after power off"
gone_fd_read
gone_fd_write
exec 3<&- 4>&-
# Powered on again, the disk has its files back.
echo 1 > /sys/kernel/config/rnull/rnullb0/power || fail "power on again"
wait_dev /dev/rnullb0
expect $dir/mbps 10
rmdev rnullb0
rmmod rnull_mod || fail "rmmod rnull"
echo "open files fail with ENODEV after the disk is removed"

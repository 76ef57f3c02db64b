# SPDX-License-Identifier: GPL-2.0
# posting: block-rnull (the posting whose tree this test needs; see README.md)
# rnull completion modes: irqmode=2 completes every request no sooner than
# completion_nsec after it was queued (an hrtimer per request), as C
# null_blk does; irqmode 0 and 1 complete at once. Configfs devices take the
# mode and the delay from their attributes. A request that outlives the
# queue's io_timeout fails with ETIMEDOUT when its timer expires, on both.
. /tests/lib.sh

# clat_min_us DEV: the smallest completion latency, in microseconds, of 200
# queue depth 1 reads.
clat_min_us() {
	fio --name=lat --filename="$1" --ioengine=psync --direct=1 --rw=randread \
		--bs=4k --size=64M --number_ios=200 --output-format=terse \
		--terse-version=3 > /tmp/fio.out 2>&1 || { tail -5 /tmp/fio.out; return 1; }
	# Terse v3: field 14 is the minimum read completion latency (usec).
	awk -F';' '{print int($14)}' /tmp/fio.out
}

# Both drivers from the command line issue #3 names.
modprobe null_blk nr_devices=2 gb=1 irqmode=2 completion_nsec=2000000 ||
	fail "modprobe null_blk"
modprobe rnull_mod nr_devices=2 gb=1 irqmode=2 completion_nsec=2000000 ||
	fail "modprobe rnull_mod"
for d in nullb0 nullb1 rnullb0 rnullb1; do
	wait_dev /dev/$d
	[ "$(cat /sys/block/$d/size)" = 2097152 ] || fail "$d is not 1 GiB"
done
c=$(clat_min_us /dev/nullb0) || fail "fio on nullb0"
r=$(clat_min_us /dev/rnullb1) || fail "fio on rnullb1"
echo "irqmode=2 completion_nsec=2000000: min completion latency null_blk ${c} us, rnull ${r} us"
[ "$c" -ge 2000 ] || fail "null_blk completed in $c us, before completion_nsec"
[ "$r" -ge 2000 ] || fail "rnull completed in $r us, before completion_nsec"
fio_io /dev/rnullb0 16M || fail "mixed I/O with irqmode=2"
rmmod null_blk || fail "rmmod null_blk"
rmmod rnull_mod || fail "rmmod rnull_mod"

# The same disk with the other modes completes far sooner: the check above
# can fail.
for mode in 0 1; do
	modprobe rnull_mod nr_devices=1 gb=1 irqmode=$mode completion_nsec=2000000 ||
		fail "modprobe rnull_mod irqmode=$mode"
	wait_dev /dev/rnullb0
	r=$(clat_min_us /dev/rnullb0) || fail "fio on rnullb0"
	echo "irqmode=$mode: min completion latency ${r} us"
	[ "$r" -lt 2000 ] || fail "irqmode=$mode waited for completion_nsec ($r us)"
	rmmod rnull_mod || fail "rmmod rnull_mod"
done

# A configfs device with irqmode 2 and memory backing: data round-trips and
# reads wait for the timer.
modprobe rnull_mod nr_devices=0 || fail "modprobe rnull_mod nr_devices=0"
mkdev rnullt irqmode=2 completion_nsec=1000000 size=64 memory_backed=1
fio_verify /dev/rnullt 8M || fail "fio verify with irqmode=2"
r=$(clat_min_us /dev/rnullt) || fail "fio on rnullt"
echo "configfs irqmode=2 completion_nsec=1000000, memory backed: verify passed, min latency ${r} us"
[ "$r" -ge 1000 ] || fail "rnullt completed in $r us, before completion_nsec"
rmdev rnullt
rmmod rnull_mod || fail "rmmod rnull_mod"

# timed_read DEV: reads one block and prints how long it took (ms) and how
# it ended.
timed_read() {
	t0=$(uptime_ms)
	err=$(dd if=$1 of=/dev/null bs=4k count=1 iflag=direct 2>&1) && err=ok
	echo "$(( $(uptime_ms) - t0 )) ms: $err"
}

# uptime_ms: time since boot in milliseconds (10 ms resolution).
uptime_ms() {
	awk '{ printf "%d", $1 * 1000 }' /proc/uptime
}

# Timeouts: completion after 3 s, io_timeout 500 ms. The block layer's
# timeout handler runs after 0.5 to 1.5 s; the driver marks the request and
# it fails with ETIMEDOUT when its timer expires. With io_timeout 30 s the
# same read succeeds: the check can fail. Both start with null_blk's 5 s.
modprobe null_blk nr_devices=0 || fail "modprobe null_blk nr_devices=0"
modprobe rnull_mod nr_devices=0 || fail "modprobe rnull_mod nr_devices=0"
for drv in nullb rnull; do
	name=${drv}to
	case $drv in nullb) mod=null_blk ;; rnull) mod=rnull_mod ;; esac
	CFG=/sys/kernel/config/$drv mkdev $name irqmode=2 completion_nsec=3000000000 size=16
	dmesg -c > /dev/null
	t=$(cat /sys/block/$name/queue/io_timeout)
	[ "$t" = 5000 ] || fail "$drv: io_timeout is $t ms, expected null_blk's 5000"
	echo 500 > /sys/block/$name/queue/io_timeout || fail "setting io_timeout"
	res=$(timed_read /dev/$name)
	echo "$drv, io_timeout 500 ms, completion after 3 s: $res"
	echo "$res" | grep -q "Connection timed out" || fail "$drv: no ETIMEDOUT: $res"
	[ "${res%% ms*}" -ge 3000 ] || fail "$drv: failed before the completion came: $res"
	dmesg | grep -q "$mod: .*timed out" || fail "$drv: no message about the timeout"
	echo 30000 > /sys/block/$name/queue/io_timeout || fail "setting io_timeout"
	res=$(timed_read /dev/$name)
	echo "$drv, io_timeout 30 s: $res"
	[ "${res#*: }" = ok ] || fail "$drv: read failed without a timeout: $res"
	CFG=/sys/kernel/config/$drv rmdev $name
done
rmmod rnull_mod || fail "rmmod rnull_mod"
rmmod null_blk || fail "rmmod null_blk"

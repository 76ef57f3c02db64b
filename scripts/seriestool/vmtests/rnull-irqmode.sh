# SPDX-License-Identifier: GPL-2.0
# rnull completion modes: irqmode=2 completes every request no sooner than
# completion_nsec after it was queued (an hrtimer per request), as C
# null_blk does; irqmode 0 and 1 complete at once. Configfs devices take the
# mode and the delay from their attributes.
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
modprobe null_blk nr_devices=2 gb=1 irqmode=2 completion_nsec=2000000 poll_queues=0 ||
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

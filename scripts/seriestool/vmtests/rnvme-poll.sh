# SPDX-License-Identifier: GPL-2.0
# rnvme with poll_queues=1: the disk gets a poll queue after its interrupt-
# driven ones, io_uring's polled I/O (hipri) goes there and completes with
# no interrupt, and the data verifies; interrupt-driven I/O still works.
. /tests/lib.sh

rnvme_take
# The asynchronous probe holds the module until it is done.
rnvme_wait 0
rmmod rnvme_mod || fail "rmmod rnvme_mod"
modprobe rnvme_mod poll_queues=1 || fail "modprobe rnvme_mod poll_queues=1"
rnvme_wait 0
d=rnvme0n1
queues=$(ls /sys/block/$d/mq | wc -l)
[ "$queues" = 3 ] || fail "$d has $queues hardware queues, expected 2 and a poll queue"
expect /sys/block/$d/queue/io_poll 1
# irqs: the interrupts of the controller so far.
irqs() {
	awk '/rnvme/ { for (i = 2; i <= NF; i++) if ($i ~ /^[0-9]+$/) n += $i } END { print n + 0 }' \
		/proc/interrupts
}
before=$(irqs)
fio_verify /dev/$d 16M --hipri || fail "polled fio verify on $d"
after=$(irqs)
# A few interrupts may come from the page cache or other processes'
# I/O; polled I/O of 16 MiB in 4k blocks would cause thousands.
[ $((after - before)) -lt 100 ] ||
	fail "polled I/O caused $((after - before)) interrupts"
echo "$d: polled verify passed with $((after - before)) interrupts"
fio_verify /dev/$d 16M --offset=16M || fail "interrupt-driven fio verify on $d"
[ "$(irqs)" -gt "$after" ] || fail "interrupt-driven I/O caused no interrupts"
echo "$d: interrupt-driven verify passed"
rmmod rnvme_mod || fail "rmmod rnvme_mod"
modprobe rnvme_mod || fail "modprobe rnvme_mod"
rnvme_wait 0

# SPDX-License-Identifier: GPL-2.0
# posting: pci-dma-rnvme (the posting whose tree this test needs; see README.md)
# rnvme with poll_queues=1: the disk gets a poll queue after its interrupt-
# driven ones, which are mapped by their vectors' affinity, io_uring's
# polled I/O (hipri) goes there and completes with no interrupt, and the
# data verifies; interrupt-driven I/O still works.
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
# The interrupt-driven queues have the CPUs their vectors are affine to
# (vector 0 is the admin queue's), as C nvme maps them. /proc/interrupts
# names each MSI-X vector by its device's domain and its index
# ("PCI-MSIX-<bdf> <index>-edge"); C's IRQ names (nvme<N>q<vector>) show
# that this finds the right one. The IRQ numbers themselves need not be in
# vector order. (On two CPUs an even spread is the same map; an offset
# wrong by one is not.)
vector_irq() {
	awk -v chip="PCI-MSIX-$1" -v hw="$2-edge" '{
		for (i = 2; i < NF; i++)
			if ($i == chip && $(i + 1) == hw) { sub(":", "", $1); print $1 }
	}' /proc/interrupts
}
c=$(nvme_ctrl rseries0)
cbdf=$(basename "$(readlink -f /sys/class/nvme/$c/device)")
irq=$(vector_irq $cbdf 1)
grep -q "^ *$irq:.* ${c}q1\$" /proc/interrupts || {
	grep "$cbdf" /proc/interrupts
	fail "IRQ '$irq' of vector 1 of $cbdf is not ${c}q1"
}
for q in 0 1; do
	irq=$(vector_irq $bdf $((q + 1)))
	[ -n "$irq" ] || fail "no IRQ in /proc/interrupts for vector $((q + 1)) of $bdf"
	expect /sys/block/$d/mq/$q/cpu_list "$(cat /proc/irq/$irq/smp_affinity_list)"
done
echo "$d: the interrupt-driven queues have the CPUs of their vectors"
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

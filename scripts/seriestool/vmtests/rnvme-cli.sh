# SPDX-License-Identifier: GPL-2.0
# posting: pci-dma-rnvme (the posting whose tree this test needs; see README.md)
# nvme-cli on rnvme: the controller's character device /dev/rnvme<N> takes
# the admin passthrough ioctls, so that `nvme id-ctrl`, `nvme id-ns` and
# `nvme smart-log` work, and show what they show for the same kind of QEMU
# controller under C nvme; the disks take the namespace ID and admin
# ioctls as C's do. The device's sysfs files show the controller's
# identity and state as C's do, and the disks have C's queue limits but a
# few listed ones. The controller and its subsystem are in the classes
# rnvme and rnvme-subsystem, as C's in nvme and nvme-subsystem (rnvme-list
# runs nvme list with C's names). Bad passthrough commands fail with EINVAL,
# callers without CAP_SYS_ADMIN get EACCES, and `nvme reset` resets the
# controller, whose I/O goes on.
. /tests/lib.sh

rnvme_take
rnvme_wait 0
dev=/dev/rnvme0
wait_dev $dev -c
sys=/sys/class/rnvme/rnvme0
readlink -f $sys | grep -q "/$bdf/rnvme/rnvme0$" || fail "$sys is not under $bdf: $(readlink -f $sys)"
readlink -f /sys/block/rnvme0n1 | grep -q "/rnvme/rnvme0/rnvme0n1$" ||
	fail "rnvme0n1 is not under rnvme0: $(readlink -f /sys/block/rnvme0n1)"
# Its subsystem, as C's: the NQN, the identity, a link to the controller.
subsys=/sys/class/rnvme-subsystem/rnvme-subsys0
[ "$(readlink -f $subsys/rnvme0)" = "$(readlink -f $sys)" ] || fail "$subsys/rnvme0 is no link to rnvme0"
for f in subsysnqn model serial firmware_rev; do
	expect $subsys/$f "$(cat $sys/$f)"
done
expect $subsys/subsystype nvm
c=$(nvme_ctrl rseries0)
[ -n "$c" ] || fail "no C nvme controller to compare with"
csys=/sys/class/nvme/$c

# The serial as C nvme shows a serial: padded to 20 characters.
# norm: a text about the C controller as it would be about rnvme0's.
norm() { sed -e 's/rseries0  /rnvme0    /g' -e 's/rseries0/rnvme0/g'; }

# The identity: as C's for the same kind of controller, but the serial.
expect $sys/serial "$(norm < $csys/serial)"
for f in model firmware_rev transport cntlid sqsize queue_count numa_node state; do
	expect $sys/$f "$(cat $csys/$f)"
done
expect $sys/address $bdf
expect $sys/subsysnqn "$(norm < $csys/subsysnqn)"
echo "sysfs: $(cat $sys/model) $(cat $sys/serial), as C shows its controller"

# The queue limits of the disks: as C's, but those rnvme does not have
# yet, C's value first: integrity segments (rnvme takes no metadata).
known="max_integrity_segments=1/0"
for f in /sys/block/${c}n1/queue/*; do
	[ -f $f ] || continue
	n=$(basename $f)
	cv=$(cat $f | tr '\n' ' ')
	rv=$(cat /sys/block/rnvme0n1/queue/$n | tr '\n' ' ')
	[ "$cv" = "$rv" ] && continue
	echo "$known" | tr ' ' '\n' | grep -qx "$n=${cv% }/${rv% }" ||
		fail "queue/$n: '$rv', C nvme's '$cv'"
done
echo "queue limits: as C's but $(echo $known | wc -w) known ones"

# nvme-cli: the same output as for the C controller, but the serial.
nvme id-ctrl $dev > /tmp/r.txt || fail "nvme id-ctrl $dev"
nvme id-ctrl /dev/$c | norm > /tmp/c.txt || fail "nvme id-ctrl /dev/$c"
grep -q "^sn *: rnvme0" /tmp/r.txt || fail "id-ctrl: no serial rnvme0"
diff /tmp/c.txt /tmp/r.txt || fail "id-ctrl differs from C's"
nvme id-ns $dev -n 1 > /tmp/r.txt || fail "nvme id-ns $dev -n 1"
nvme id-ns /dev/$c -n 1 > /tmp/c.txt || fail "nvme id-ns /dev/$c -n 1"
diff /tmp/c.txt /tmp/r.txt || fail "id-ns differs from C's"
nsze=$(awk '/^nsze/ { print $3 }' /tmp/r.txt)
[ $((nsze * 512)) = $(( $(cat /sys/block/rnvme0n1/size) * 512 )) ] ||
	fail "id-ns nsze $nsze does not match the disk"
nvme smart-log $dev > /tmp/r.txt || fail "nvme smart-log $dev"
grep -q "^temperature" /tmp/r.txt || fail "smart-log: $(head -3 /tmp/r.txt)"
nvme smart-log $dev -o json | grep -q '"critical_warning"' || fail "smart-log -o json"
echo "nvme-cli: id-ctrl and id-ns as for C's controller, smart-log works"

# The disks take nvme-cli's ioctls as C's disks do: the namespace ID, and
# admin commands, which go to the controller; others are not theirs.
nvme get-ns-id /dev/rnvme0n2 > /tmp/r.txt || fail "nvme get-ns-id /dev/rnvme0n2"
grep -q "namespace-id:2$" /tmp/r.txt || fail "get-ns-id: $(cat /tmp/r.txt)"
nvme id-ns /dev/rnvme0n1 > /tmp/r.txt || fail "nvme id-ns /dev/rnvme0n1"
# (C names its disks by namespace head, not ID: ask its controller.)
nvme id-ns /dev/$c -n 1 > /tmp/c.txt || fail "nvme id-ns /dev/$c -n 1"
diff /tmp/c.txt /tmp/r.txt || fail "id-ns on the disk differs from C's"
nvme id-ctrl /dev/rnvme0n2 > /tmp/r.txt || fail "nvme id-ctrl /dev/rnvme0n2"
nvme id-ctrl /dev/${c}n1 | norm > /tmp/c.txt || fail "nvme id-ctrl /dev/${c}n1"
diff /tmp/c.txt /tmp/r.txt || fail "id-ctrl on the disk differs from C's"
nvme io-passthru /dev/rnvme0n1 --opcode=0x02 --namespace-id=1 --data-len=4096 -r \
	> /tmp/p.out 2>&1 && fail "I/O passthrough on the disk succeeded"
grep -q "Inappropriate ioctl" /tmp/p.out || fail "I/O passthrough: $(cat /tmp/p.out)"
/usr/bin/setpriv --inh-caps=-sys_admin --bounding-set=-sys_admin nvme id-ns /dev/rnvme0n1 \
	> /tmp/p.out 2>&1 && fail "id-ns on the disk without CAP_SYS_ADMIN succeeded"
grep -q "Permission denied" /tmp/p.out || fail "id-ns without CAP_SYS_ADMIN: $(cat /tmp/p.out)"
/usr/bin/setpriv --inh-caps=-sys_admin --bounding-set=-sys_admin nvme get-ns-id /dev/rnvme0n1 \
	> /tmp/r.txt || fail "get-ns-id without CAP_SYS_ADMIN"
echo "disk ioctls: namespace ID, id-ns and id-ctrl as on C's disks; no I/O passthrough"

# A command the controller fails comes back with its status.
nvme admin-passthru $dev --opcode=0x06 --cdw10=0x7f --data-len=4096 -r > /tmp/p.out 2>&1 &&
	fail "identify with a reserved CNS succeeded"
grep -qi "invalid.field" /tmp/p.out || fail "no NVMe status: $(cat /tmp/p.out)"

# Bad commands: EINVAL, checked before the controller sees them.
bad() {
	what=$1
	shift
	nvme admin-passthru $dev "$@" > /tmp/p.out 2>&1 && fail "passthru with $what succeeded"
	grep -q "Invalid argument" /tmp/p.out || fail "passthru with $what: $(cat /tmp/p.out)"
}
bad "too much data" --opcode=0x06 --cdw10=1 --data-len=16384 -r
bad "metadata" --opcode=0x06 --cdw10=1 --data-len=4096 --metadata-len=64 -r
bad "flags" --opcode=0x06 --cdw10=1 --data-len=4096 --flags=1 -r
bad "Create I/O SQ" --opcode=0x01 --cdw10=0x1f0005 --cdw11=0x10001
bad "Asynchronous Event Request" --opcode=0x0c
bad "data for an opcode without data" --opcode=0x10 --data-len=512 -r
# Without CAP_SYS_ADMIN: EACCES.
/usr/bin/setpriv --inh-caps=-sys_admin --bounding-set=-sys_admin nvme id-ctrl $dev > /tmp/p.out 2>&1 &&
	fail "id-ctrl without CAP_SYS_ADMIN succeeded"
grep -q "Permission denied" /tmp/p.out || fail "id-ctrl without CAP_SYS_ADMIN: $(cat /tmp/p.out)"
echo "passthrough: bad commands EINVAL, unprivileged EACCES"

# nvme reset: the controller comes back, and the data with it.
fio_write /dev/rnvme0n1 0 || fail "write"
nvme reset $dev || fail "nvme reset $dev"
expect $sys/state live
dmesg | grep -q "rnvme: controller reset" || fail "no reset logged"
fio_check /dev/rnvme0n1 0 || fail "data lost across the reset"
fio_verify /dev/rnvme0n2 8M || fail "verify after the reset"
echo "nvme reset: the controller is live again, data intact"
rmmod rnvme_mod || fail "rmmod rnvme_mod"
[ -e $dev ] && fail "$dev is still there after rmmod"
true

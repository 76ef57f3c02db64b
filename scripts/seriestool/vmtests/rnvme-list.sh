# SPDX-License-Identifier: GPL-2.0
# posting: pci-dma-rnvme (the posting whose tree this test needs; see README.md)
# series-append: initcall_blacklist=nvme_core_init,nvme_init
# nvme-cli's `nvme list` on rnvme, in a boot where C nvme did not start (its
# initcalls are blacklisted): loaded with nvme_names=1, rnvme takes C nvme's
# classes and names, binds the VM's three controllers, and `nvme list`
# shows each namespace with what the controller reports through identify.
# Without the parameter the names are rnvme's own, which nvme-cli does not
# list.
. /tests/lib.sh

[ -e /sys/class/nvme ] && fail "C nvme started: /sys/class/nvme exists"
modprobe rnvme_mod nvme_names=1 || fail "modprobe rnvme_mod nvme_names=1"
# rseries0 and rnvme0 have two namespaces, rnvme1 one; the controllers
# are numbered as they come up.
for _ in $(seq 100); do
	[ "$(ls /sys/class/nvme | wc -l)" = 3 ] && [ "$(ls /sys/block | grep -c '^nvme[0-9]n')" = 5 ] && break
	sleep 0.1
done
[ "$(ls /sys/class/nvme | wc -l)" = 3 ] || fail "controllers: $(ls /sys/class/nvme)"
[ "$(ls /sys/block | grep -c '^nvme[0-9]n')" = 5 ] || fail "disks: $(ls /sys/block)"
disks=$(ls /sys/block | grep '^nvme[0-9]n')
for d in $disks; do
	wait_dev /dev/$d
done

# The layout nvme-cli reads, as C nvme's: each controller in the nvme
# class under its PCI device, its disks under it, a subsystem in the
# nvme-subsystem class linking to it.
for c in nvme0 nvme1 nvme2; do
	sys=/sys/class/nvme/$c
	bdf=$(cat $sys/address)
	readlink -f $sys | grep -q "/$bdf/nvme/$c$" || fail "$c is not under $bdf: $(readlink -f $sys)"
	[ -c /dev/$c ] || fail "/dev/$c is not a character device"
	s=/sys/class/nvme-subsystem/nvme-subsys${c#nvme}
	expect $s/subsysnqn "$(cat $sys/subsysnqn)"
	expect $s/subsystype nvm
	[ "$(readlink -f $s/$c)" = "$(readlink -f $sys)" ] || fail "$s/$c does not link to $c"
	for f in model serial firmware_rev; do
		expect $s/$f "$(cat $sys/$f)"
	done
done
for d in $disks; do
	readlink -f /sys/block/$d | grep -q "/nvme/${d%n*}/$d$" ||
		fail "$d is not under ${d%n*}: $(readlink -f /sys/block/$d)"
done
echo "sysfs: 3 controllers, 3 subsystems, 5 disks, as C nvme lays them out"

# nvme list: one line per namespace, as identify reports it.
nvme list > /tmp/list.txt || fail "nvme list"
cat /tmp/list.txt
[ "$(grep -c '^/dev/nvme[0-9]n[0-9]' /tmp/list.txt)" = 5 ] || fail "nvme list: not 5 namespaces"
nvme list -o json | tr -d ' \n' | sed 's/},{/}\n{/g' > /tmp/list.json || fail "nvme list -o json"
for d in $disks; do
	c=${d%n*}
	nsid=${d#*n}
	nsid=${nsid#*n}
	line=$(grep "\"DevicePath\":\"/dev/$d\"" /tmp/list.json) || fail "nvme list -o json has no /dev/$d"
	nvme id-ctrl /dev/$c > /tmp/id.txt || fail "nvme id-ctrl /dev/$c"
	sn=$(awk '/^sn / { print $3 }' /tmp/id.txt)
	mn=$(sed -n 's/^mn *: *//p' /tmp/id.txt | tr -d ' ')
	fr=$(awk '/^fr / { print $3 }' /tmp/id.txt)
	nvme id-ns /dev/$c -n $nsid > /tmp/id.txt || fail "nvme id-ns /dev/$c -n $nsid"
	nsze=$(awk '/^nsze/ { print $3 }' /tmp/id.txt)
	nuse=$(awk '/^nuse/ { print $3 }' /tmp/id.txt)
	bytes=$(( $(cat /sys/block/$d/size) * 512 ))
	for field in "\"NameSpace\":$nsid" "\"SerialNumber\":\"$sn\"" "\"ModelNumber\":\"$mn\"" \
		"\"Firmware\":\"$fr\"" "\"MaximumLBA\":$((nsze))" "\"UsedBytes\":$((nuse * 512))" \
		"\"PhysicalSize\":$bytes" "\"SectorSize\":512"; do
		echo "$line" | grep -q "$field" || fail "nvme list: /dev/$d has no $field: $line"
	done
	grep "^/dev/$d " /tmp/list.txt | grep -q " $sn " || fail "nvme list: /dev/$d has no serial $sn"
done
echo "nvme list: 5 namespaces, each with its controller's serial, model and firmware and its size"

# Without nvme_names, rnvme's own classes and names, which nvme-cli does
# not list.
rmmod rnvme_mod || fail "rmmod rnvme_mod"
[ -e /sys/class/nvme ] && fail "/sys/class/nvme is still there after rmmod"
modprobe rnvme_mod || fail "modprobe rnvme_mod"
wait_dev /dev/rnvme0n1
[ -d /sys/class/rnvme-subsystem/rnvme-subsys0 ] || fail "no rnvme-subsys0"
[ "$(nvme list | grep -c '^/dev/')" = 0 ] || fail "nvme list lists rnvme's own names"
rmmod rnvme_mod || fail "rmmod rnvme_mod"
true

# SPDX-License-Identifier: GPL-2.0
# Helpers sourced by the VM tests. A test fails by exiting non-zero.

fail() {
	echo "FAIL: $*"
	exit 1
}

# wait_dev DEV [-c]: waits up to 10 s for a block device node (with -c, a
# character device node).
wait_dev() {
	for _ in $(seq 100); do
		[ "${2:--b}" "$1" ] && return 0
		sleep 0.1
	done
	fail "$1 did not appear"
}

# wait_value FILE VALUE: waits up to 10 s until FILE reads VALUE.
wait_value() {
	for _ in $(seq 100); do
		[ "$(cat "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	expect "$1" "$2"
}

# debug_kernel: true on the debug kernel (KASAN, lockdep, UBSAN), where
# every I/O costs several times what it costs on vm.
debug_kernel() {
	grep -q "series.kernel=debug " "${CMDLINE:-/proc/cmdline}"
}

# scaled SIZE: SIZE (64M, 512K) on vm; on the debug kernel a quarter of it,
# but not below 1M (or SIZE): the same requests through the same code,
# fewer of them.
scaled() {
	debug_kernel || { echo "$1"; return; }
	all=$(numfmt_k "$1")
	k=$((all / 4))
	[ $k -ge 1024 ] || k=$((all < 1024 ? all : 1024))
	echo "${k}K"
}

# fio_verify DEV SIZE [fio options...]: writes SIZE bytes (scaled) of random
# blocks with checksummed headers through io_uring and O_DIRECT, reads them
# back and verifies every block. Returns fio's exit code.
fio_verify() {
	dev=$1 size=$(scaled "$2")
	shift 2
	fio --name=verify --filename="$dev" --ioengine=io_uring --direct=1 \
		--rw=randwrite --bs=4k --iodepth=16 --size="$size" --verify=crc32c \
		--do_verify=1 --verify_fatal=1 --randrepeat=0 --norandommap=0 \
		--output-format=terse --terse-version=3 "$@" > /tmp/fio.out 2>&1
	rc=$?
	[ $rc -ne 0 ] && grep -v "^3;" /tmp/fio.out | head -4
	return $rc
}

# fio_io DEV SIZE: random mixed I/O with no data check; fails on any I/O error
# or when fewer than SIZE bytes (scaled) were transferred.
fio_io() {
	dev=$1 size=$(scaled "$2")
	fio --name=io --filename="$dev" --ioengine=io_uring --direct=1 --rw=randrw \
		--bs=4k --iodepth=16 --size="$size" --io_size="$size" \
		--output-format=terse --terse-version=3 > /tmp/fio.out 2>&1 ||
		{ tail -5 /tmp/fio.out; return 1; }
	# Terse v3: field 6 is read KiB, field 47 write KiB.
	kib=$(awk -F';' '{print $6 + $47}' /tmp/fio.out)
	[ "$kib" -ge $(( $(numfmt_k "$size") )) ] ||
		{ echo "fio moved ${kib} KiB, expected $size"; return 1; }
}

# numfmt_k 64M -> 65536 (KiB)
numfmt_k() {
	case $1 in
	*G) echo $(( ${1%G} * 1024 * 1024 )) ;;
	*M) echo $(( ${1%M} * 1024 )) ;;
	*K) echo "${1%K}" ;;
	esac
}

# mkcfg NAME ATTR=VALUE...: makes the rnull configfs device NAME with those
# attributes (in order), not powered. With CFG=/sys/kernel/config/nullb in
# the environment, a C null_blk device.
mkcfg() {
	name=$1 cfg=${CFG:-/sys/kernel/config/rnull}
	shift
	mkdir $cfg/$name || fail "mkdir $cfg/$name"
	for kv in "$@"; do
		echo "${kv#*=}" > $cfg/$name/${kv%%=*} || fail "setting $kv on $name"
	done
}

# mkdev NAME ATTR=VALUE...: mkcfg, then powers the device on and waits for
# /dev/NAME.
mkdev() {
	mkcfg "$@"
	echo 1 > $cfg/$name/power || fail "power on $name"
	wait_dev /dev/$name
}

# rmdev NAME: powers the configfs device NAME off and removes it.
rmdev() {
	cfg=${CFG:-/sys/kernel/config/rnull}
	echo 0 > $cfg/$1/power || fail "power off $1"
	rmdir $cfg/$1 || fail "rmdir $cfg/$1"
	[ -b /dev/$1 ] && fail "/dev/$1 still there after power off"
	true
}

# powercycle NAME: powers the configfs device NAME off and on again.
powercycle() {
	cfg=${CFG:-/sys/kernel/config/rnull}
	echo 0 > $cfg/$1/power || fail "power off $1"
	[ -b /dev/$1 ] && fail "/dev/$1 still there after power off"
	echo 1 > $cfg/$1/power || fail "power on $1"
	wait_dev /dev/$1
}

# power_on_refused NAME ATTR=VALUE...: mkcfg, then checks that powering the
# device on fails with EINVAL, and removes it.
power_on_refused() {
	mkcfg "$@"
	shift
	err=$( (echo 1 > $cfg/$name/power) 2>&1) && fail "power on of $name with $* succeeded"
	echo "$err" | grep -q "Invalid argument" || fail "power on of $name with $*: $err"
	rmdir $cfg/$name || fail "rmdir $cfg/$name"
}

# expect FILE VALUE
expect() {
	got=$(cat "$1") || fail "read $1"
	[ "$got" = "$2" ] || fail "$1: '$got', expected '$2'"
}

# write_fails FILE TEXT ERRNO-TEXT: a write of TEXT fails with that error.
write_fails() {
	printf '%s' "$2" > /tmp/w.txt
	if dd if=/tmp/w.txt of="$1" bs=8192 conv=notrunc 2> /tmp/w.err; then
		fail "$1 took '$(head -c 40 /tmp/w.txt)'"
	fi
	grep -q "$3" /tmp/w.err || fail "$1: '$(head -c 40 /tmp/w.txt)': $(cat /tmp/w.err)"
}

# gone_fd_read: a read from fd 3, a file of a removed device, fails with
# ENODEV.
gone_fd_read() {
	if dd bs=64 count=1 <&3 > /dev/null 2> /tmp/r.err; then fail "read after removal"; fi
	grep -q "No such device" /tmp/r.err || fail "read after removal: $(cat /tmp/r.err)"
}

# gone_fd_write: a write to fd 4, a file of a removed device, fails with
# ENODEV.
gone_fd_write() {
	if echo 0 >&4 2> /tmp/w.err; then fail "write after removal"; fi
	grep -q "No such device" /tmp/w.err || fail "write after removal: $(cat /tmp/w.err)"
}

# nvme_ctrl SERIAL: prints the C nvme controller (nvmeN) of the QEMU NVMe
# controller with serial SERIAL, waiting up to 10 s for the C driver to
# probe it; prints nothing if there is none.
nvme_ctrl() {
	for _ in $(seq 100); do
		for c in /sys/class/nvme/nvme*; do
			read -r serial < $c/serial 2> /dev/null
			[ "$serial" = "$1" ] && { basename $c; return 0; }
		done
		sleep 0.1
	done
}

# nvme_to_rnvme SERIAL: moves the QEMU NVMe controller with serial SERIAL
# from the C nvme driver to rnvme's driver_override (rnvme binds it when it
# loads or is told to bind it); sets bdf to its PCI address.
nvme_to_rnvme() {
	ctrl=$(nvme_ctrl $1)
	[ -n "$ctrl" ] || fail "no C nvme controller with serial $1"
	bdf=$(basename "$(readlink -f /sys/class/nvme/$ctrl/device)")
	echo "$bdf" > /sys/bus/pci/drivers/nvme/unbind || fail "unbind $bdf from nvme"
	echo rnvme > /sys/bus/pci/devices/$bdf/driver_override || fail "driver_override"
}

# rnvme_take [PARAM...]: gives rnvme, freshly loaded (its first controller is
# instance 0), the QEMU NVMe controller with serial rnvme0: the first time
# by unbinding it from the C nvme driver and pointing its driver_override
# at rnvme. PARAMs are rnvme's module parameters. Sets bdf to its PCI
# address.
rnvme_take() {
	bdf=
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat $d/driver_override)" = rnvme ] && bdf=$(basename $d)
	done
	[ -n "$bdf" ] || nvme_to_rnvme rnvme0
	if grep -q '^rnvme_mod ' /proc/modules; then
		rmmod rnvme_mod || fail "rmmod rnvme_mod (loaded by an earlier test)"
	fi
	modprobe rnvme_mod "$@" || fail "modprobe rnvme_mod $*"
}

# rnvme_wait INSTANCE: waits for both disks of rnvme instance INSTANCE and
# checks that they are under the controller's PCI device.
rnvme_wait() {
	wait_dev /dev/rnvme$1n1
	wait_dev /dev/rnvme$1n2
	readlink -f /sys/block/rnvme$1n1 | grep -q "/$bdf/" ||
		fail "rnvme$1n1 is not under $bdf: $(readlink -f /sys/block/rnvme$1n1)"
}

# fio_write DEV OFFSET / fio_check DEV OFFSET: writes 8 MiB of checksummed
# 64 KiB blocks at OFFSET, and checks them.
fio_write() {
	fio --name=w --filename="$1" --ioengine=io_uring --direct=1 --rw=write \
		--bs=64k --size=8M --offset=$2 --verify=crc32c --do_verify=0 \
		--output-format=terse > /tmp/fio.out 2>&1 || { tail -3 /tmp/fio.out; return 1; }
}
fio_check() {
	fio --name=w --filename="$1" --ioengine=io_uring --direct=1 --rw=write \
		--bs=64k --size=8M --offset=$2 --verify=crc32c --verify_only=1 \
		--verify_fatal=1 --output-format=terse > /tmp/fio.out 2>&1 ||
		{ tail -3 /tmp/fio.out; return 1; }
}

# arm_fail_io_timeout INTERVAL TIMES: the block layer's fail_io_timeout
# point picks every INTERVALth request of the disks whose io-timeout-fail
# is 1, TIMES times (-1: no limit), with one line in the log for each.
arm_fail_io_timeout() {
	fi=/sys/kernel/debug/fail_io_timeout
	[ -d $fi ] || fail "no $fi (CONFIG_FAIL_IO_TIMEOUT, CONFIG_FAULT_INJECTION_DEBUG_FS)"
	echo 1 > $fi/verbose && echo 0 > $fi/space && echo 100 > $fi/probability &&
		echo $1 > $fi/interval && echo $2 > $fi/times || fail "arming $fi"
}

# bench_order REP SIDE...: the sides in the order repetition REP of a
# benchmark runs them: as given in even repetitions, reversed in odd ones,
# so that neither side always runs first.
bench_order() {
	if [ $(($1 % 2)) -eq 0 ]; then
		shift
		echo "$@"
	else
		shift
		echo "$@" | awk '{ for (i = NF; i > 0; i--) printf "%s%s", $i, (i > 1 ? " " : "\n") }'
	fi
}

# karg NAME: the number series.NAME=N on the kernel command line, or nothing.
karg() {
	sed -n "s/.*series\.$1=\([0-9]*\).*/\1/p" /proc/cmdline
}

# bench_args: a benchmark's repetitions (series.reps, default 5), seconds
# per timed run (series.runtime, default 3) and, with `bench --icount` or
# `--profile`, operations per counted run (series.profile) into reps,
# runtime and ios.
bench_args() {
	reps=$(karg reps)
	reps=${reps:-5}
	runtime=$(karg runtime)
	runtime=${runtime:-3}
	ios=$(karg profile)
}

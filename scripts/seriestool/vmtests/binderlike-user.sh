# SPDX-License-Identifier: GPL-2.0
# posting: binderlike (the posting whose tree this test needs; see README.md)
# Existing binder user space runs unchanged on binderlike: rsbinder's
# service manager (rsb_hub, an AOSP servicemanager port) and a service and
# client of ours built on rsbinder's libbinder-compatible library
# (scripts/seriestool/binder-user). They run first on C binder through
# binderfs, the reference, then on binderlike, with the same checks: the
# service registers with the context manager and is found by name, strings,
# byte arrays up to 128 KiB, a file descriptor, a nested call back into the
# client, the client's own binder handed back as the local object, 1000
# oneway calls, and after the service is killed the death notification, a
# DeadObject error and the service manager dropping the dead service.
. /tests/lib.sh

# stacks: the kernel stacks of the user-space binder processes' threads.
stacks() {
	for p in $(pidof rsb_hub binder-user); do
		for t in /proc/$p/task/*; do
			echo "--- $(cat "$t/comm") ${t#/proc/}"
			cat "$t/stack"
		done
	done
}

# stop PID NAME: stops a process with SIGTERM, or SIGKILL after 10 s.
stop() {
	kill "$1" 2> /dev/null
	for _ in $(seq 100); do
		kill -0 "$1" 2> /dev/null || { wait "$1" 2> /dev/null; return 0; }
		sleep 0.1
	done
	echo "$2 did not stop on SIGTERM within 10 s:"
	stacks
	kill -9 "$1"
	wait "$1" 2> /dev/null
	return 1
}

# user DEVICE_NAME: the service manager, the service and the client on
# /dev/binderfs/DEVICE_NAME (rsbinder's tools name devices there).
user() {
	echo "rsbinder on /dev/binderfs/$1 -> $(readlink -f "/dev/binderfs/$1")"
	rc=0
	rsb_hub --device "$1" --insecure-allow-all 2> /tmp/hub.err &
	hub=$!
	for _ in $(seq 100); do
		timeout 10 binder-user ready "/dev/binderfs/$1" && break
		sleep 0.1
	done
	if ! timeout 10 binder-user ready "/dev/binderfs/$1"; then
		cat /tmp/hub.err
		echo "rsb_hub did not become the context manager"
		stop $hub rsb_hub
		return 1
	fi
	binder-user service "/dev/binderfs/$1" > /tmp/service.out 2>&1 &
	service=$!
	if ! timeout 180 binder-user client "/dev/binderfs/$1"; then
		stacks
		cat /tmp/hub.err /tmp/service.out
		rc=1
	fi
	# The client killed the service (or failed before): reap it either way.
	kill -9 $service 2> /dev/null
	wait $service 2> /dev/null
	stop $hub rsb_hub || rc=1
	return $rc
}

mkdir -p /dev/binderfs
mount -t binder binder /dev/binderfs || fail "mount binderfs"
trap 'umount /dev/binderfs 2> /dev/null; rm -f /dev/binderfs/binderlike; rmmod binderlike 2> /dev/null' EXIT
user binder || fail "rsbinder does not run on C binder: the reference and the test disagree"
umount /dev/binderfs || fail "umount binderfs"

modprobe binderlike || fail "modprobe binderlike"
wait_dev /dev/binderlike -c
ln -s /dev/binderlike /dev/binderfs/binderlike
user binderlike || fail "rsbinder does not run on binderlike"
rm /dev/binderfs/binderlike
rmmod binderlike || fail "rmmod binderlike: a file or a reference was left"
exit 0

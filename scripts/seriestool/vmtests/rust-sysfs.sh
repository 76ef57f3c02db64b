# SPDX-License-Identifier: GPL-2.0
# posting: sysfs-misc (the posting whose tree this test needs; see README.md)
# samples/rust/rust_sysfs.rs: a misc device's sysfs attributes through
# MiscDeviceRegistration::register_with_groups(): read-only, read-write,
# write-only and conditionally visible files, the errors of bad writes, and
# files held open while the module is removed. Also loads rust_misc_device,
# whose registration now carries (empty) data.
. /tests/lib.sh

dir=/sys/class/misc/rust-sysfs

# mode FILE OCTAL
mode() {
	[ "$(stat -c %a "$1")" = "$2" ] || fail "$1: mode $(stat -c %a "$1"), expected $2"
}

modprobe rust_misc_device || fail "modprobe rust_misc_device"
[ -c /dev/rust-misc-device ] || fail "no /dev/rust-misc-device"
rmmod rust_misc_device || fail "rmmod rust_misc_device"

modprobe rust_sysfs || fail "modprobe rust_sysfs"
[ -c /dev/rust-sysfs ] || fail "no /dev/rust-sysfs"
: < /dev/rust-sysfs || fail "open /dev/rust-sysfs"
mode $dir/label 444
mode $dir/level 644
mode $dir/stats/stores 444
mode $dir/stats/reset 200
[ -e $dir/max_level ] && fail "max_level shown without a limit"
expect $dir/label "Rust sysfs sample"
expect $dir/level 0
expect $dir/stats/stores 0
write_fails $dir/label x "Permission denied"
cat $dir/stats/reset > /dev/null 2>&1 && fail "read of the write-only reset"
echo "modes 444/644/444/200, no max_level"

# Stores: a value with or without a newline; bad ones get EINVAL and
# change nothing.
echo 7 > $dir/level || fail "store 7"
printf 4000000000 > $dir/level || fail "store 4000000000 without a newline"
expect $dir/level 4000000000
expect $dir/stats/stores 2
long=$(printf '1%.0s' $(seq 8000))
for bad in abc -1 4294967296 "1 2" "7 " "$long"; do
	write_fails $dir/level "$bad" "Invalid argument"
done
expect $dir/level 4000000000
expect $dir/stats/stores 2
write_fails $dir/stats/reset 0 "Invalid argument"
write_fails $dir/stats/reset maybe "Invalid argument"
echo 1 > $dir/stats/reset || fail "reset"
expect $dir/level 0
expect $dir/stats/stores 0
echo "2 stores, 8 bad writes refused with EINVAL, reset"
rmmod rust_sysfs || fail "rmmod rust_sysfs"

# With a limit, max_level is there and bounds level.
modprobe rust_sysfs max_level=10 || fail "modprobe rust_sysfs max_level=10"
mode $dir/max_level 444
expect $dir/max_level 10
echo 10 > $dir/level || fail "store 10"
write_fails $dir/level 11 "Invalid argument"
expect $dir/level 10
echo "max_level=10: shown, 11 refused"

# Files held open, a reader and a writer loop, while the module goes away:
# later reads and writes get ENODEV (the debug profile runs this under
# KASAN and lockdep).
exec 3< $dir/level 4> $dir/level
(while cat $dir/level > /dev/null 2>&1; do :; done) &
reader=$!
(while echo 3 > $dir/level; do :; done) 2> /dev/null &
writer=$!
sleep 1
rmmod rust_sysfs || fail "rmmod rust_sysfs with open files"
wait $reader $writer
[ -e $dir ] && fail "$dir is still there after rmmod"
gone_fd_read
gone_fd_write
exec 3<&- 4>&-
modprobe rust_sysfs || fail "modprobe rust_sysfs again"
expect $dir/level 0
rmmod rust_sysfs || fail "rmmod rust_sysfs"
echo "open files fail with ENODEV after rmmod"

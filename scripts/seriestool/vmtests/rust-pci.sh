# SPDX-License-Identifier: GPL-2.0
# posting: sysfs-misc (the posting whose tree this test needs; see README.md)
# samples/rust/rust_driver_pci.rs on QEMU's pci-testdev: the driver's
# dev_groups (pci::Driver::DEV_GROUPS) appear when it binds, reach the
# device's registers through the driver data, and go away when it unbinds,
# with files held open and a reader loop running.
. /tests/lib.sh

drv=/sys/bus/pci/drivers/rust_driver_pci

modprobe rust_driver_pci || fail "modprobe rust_driver_pci"
bdf=$(basename "$(ls -d $drv/0000:* 2> /dev/null | head -1)")
[ -n "$bdf" ] || fail "rust_driver_pci did not bind pci-testdev"
dir=/sys/bus/pci/devices/$bdf
[ "$(stat -c %a $dir/test_index)" = 444 ] || fail "test_index: mode $(stat -c %a $dir/test_index)"
[ "$(stat -c %a $dir/count)" = 444 ] || fail "count: mode $(stat -c %a $dir/count)"
[ "$(stat -c %a $dir/run)" = 200 ] || fail "run: mode $(stat -c %a $dir/run)"
expect $dir/test_index 0
# probe ran the test: one access counted. Writing 0 to run restarts the
# test (count 0), 1 runs it again (count 1).
expect $dir/count 1
echo 0 > $dir/run || fail "run 0"
expect $dir/count 0
echo y > $dir/run || fail "run y"
expect $dir/count 1
echo 0 > $dir/run || fail "run 0"
echo 1 > $dir/run || fail "run 1"
expect $dir/count 1
write_fails $dir/run 2 "Invalid argument"
write_fails $dir/run maybe "Invalid argument"
echo 0 > $dir/run || fail "run 0"
write_fails $dir/count 5 "Permission denied"
expect $dir/count 0
echo "$bdf: count 1 after probe, 0 after a restart, 1 after a run; bad writes refused"

# Unbind with files open and a reader loop: the files go, later reads get
# ENODEV; bound again, they are back.
exec 3< $dir/count
(while cat $dir/count > /dev/null 2>&1; do :; done) &
reader=$!
sleep 1
echo "$bdf" > $drv/unbind || fail "unbind"
wait $reader
[ -e $dir/count ] && fail "count is still there after unbind"
gone_fd_read
exec 3<&-
echo "$bdf" > $drv/bind || fail "bind"
expect $dir/test_index 0
rmmod rust_driver_pci || fail "rmmod rust_driver_pci"
[ -e $dir/count ] && fail "count is still there after rmmod"
echo "unbind with an open file: ENODEV; bind and rmmod"

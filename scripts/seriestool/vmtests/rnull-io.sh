# SPDX-License-Identifier: GPL-2.0
# rnull: a device made through configfs appears as /dev/rnullb0, serves I/O
# without errors and goes away on power-off and rmdir.
# (Mainline rnull keeps no data yet; when memory_backed lands, a data verify
# replaces the negative check below.)
. /tests/lib.sh

modprobe rnull_mod || fail "modprobe rnull_mod"
cfg=/sys/kernel/config/rnull
[ -d $cfg ] || fail "no $cfg"
mkdir $cfg/rnullb0 || fail "mkdir $cfg/rnullb0"
echo 1024 > $cfg/rnullb0/size || fail "set size"
echo 4096 > $cfg/rnullb0/blocksize || fail "set blocksize"
echo 1 > $cfg/rnullb0/power || fail "power on"
wait_dev /dev/rnullb0
[ "$(cat /sys/block/rnullb0/size)" = $((1024 * 2048)) ] ||
	fail "capacity $(cat /sys/block/rnullb0/size) sectors, expected $((1024 * 2048))"
[ "$(cat /sys/block/rnullb0/queue/logical_block_size)" = 4096 ] || fail "block size"
fio_io /dev/rnullb0 64M || fail "fio I/O on rnull"
echo "rnull: 64M of random I/O completed"
fio_verify /dev/rnullb0 16M && fail "fio verify passed although rnull keeps no data"
echo "rnull keeps no data: fio verify failed as it must"
echo 0 > $cfg/rnullb0/power || fail "power off"
rmdir $cfg/rnullb0 || fail "rmdir"
[ -b /dev/rnullb0 ] && fail "/dev/rnullb0 still there after power off"
rmmod rnull_mod || fail "rmmod rnull_mod"

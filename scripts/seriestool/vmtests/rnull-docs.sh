# SPDX-License-Identifier: GPL-2.0
# posting: block-rnull (the posting whose tree this test needs; see README.md)
# The parity table of Documentation/block/rnull.rst says, for each null_blk
# parameter and attribute, whether rnull has it: the module parameters of
# rnull_mod and the attributes and groups of a configfs device must be
# exactly those the table marks "yes".
. /tests/lib.sh

doc=/tests/docs/rnull.rst
[ -f $doc ] || fail "$doc is missing"

# The rows of the table: name (one or two, "a / b"), param, configfs.
awk '
	/^Parity with null_blk/ { in_section = 1 }
	in_section && /^=+ =+ =+ =+$/ { borders++; next }
	in_section && borders == 2 && /^[a-z]/ {
		name = substr($0, 1, 24); param = substr($0, 26, 7); cfs = substr($0, 34, 8)
		gsub(/ +$/, "", name); gsub(/ /, "", param); gsub(/ /, "", cfs)
		print name ";" param ";" cfs
	}
' $doc > /tmp/table.txt
rows=$(wc -l < /tmp/table.txt)
[ "$rows" -ge 40 ] || fail "found $rows rows in the parity table of $doc"

# wanted COLUMN: the names the table marks "yes" in that column (2 param,
# 3 configfs); a row "a / b" names the configfs attribute a and the
# parameter b.
wanted() {
	awk -F';' -v col=$1 '$col == "yes" {
		n = split($1, names, " / ")
		print (col == 2 ? names[n] : names[1])
	}' /tmp/table.txt | sort
}

modprobe rnull_mod nr_devices=0 || fail "modprobe rnull_mod"
modinfo -F parm rnull_mod | sed 's/:.*//' | sort > /tmp/params.txt
[ -s /tmp/params.txt ] || fail "modinfo lists no parameters of rnull_mod"
wanted 2 > /tmp/want-params.txt
cmp -s /tmp/want-params.txt /tmp/params.txt || {
	echo "parameters: table (<) vs rnull_mod (>)"
	diff /tmp/want-params.txt /tmp/params.txt
	fail "the parity table and the module parameters differ"
}

cfg=/sys/kernel/config/rnull
mkdir $cfg/rnulld || fail "mkdir rnulld"
{
	tr ',' '\n' < $cfg/features
	for g in $cfg/rnulld/*/; do
		g=${g%/}
		echo "${g##*/}"
	done
} | sed '/^$/d' | sort > /tmp/attrs.txt
rmdir $cfg/rnulld
wanted 3 > /tmp/want-attrs.txt
cmp -s /tmp/want-attrs.txt /tmp/attrs.txt || {
	echo "configfs: table (<) vs rnull's attributes and groups (>)"
	diff /tmp/want-attrs.txt /tmp/attrs.txt
	fail "the parity table and the configfs attributes differ"
}
rmmod rnull_mod || fail "rmmod rnull_mod"
echo "parity table: $(wc -l < /tmp/params.txt) parameters and $(wc -l < /tmp/attrs.txt) configfs attributes and groups, as the table says"

# SPDX-License-Identifier: GPL-2.0
"""`run`'s demo: boots the vm kernel and shows its block drivers side by
side (scripts/seriestool/demo/drivers.sh): the devices each created, a
fio data verify and a throughput line for each."""

import re

from . import vm
from .common import SeriesError

# Each device of the demo: (device, driver, language).
# "nvme" stands for the C nvme disk, whose name a DEMO-NAME line gives.
DEVICES = (("nullb0", "null_blk", "C"), ("rnullb0", "rnull", "Rust"),
           ("nvme", "nvme", "C"), ("rnvme0n1", "rnvme", "Rust"))
LINE_RE = re.compile(r"^DEMO-(DEV|VERIFY|IOPS|PARAMS|NAME) (.*)$")


def parse(console):
    """{device: {"dev": [...], "verify": [...], "iops": [...]}} and the
    parameter line, from the DEMO lines of a console."""
    found, params = {}, None
    for line in console.splitlines():
        m = LINE_RE.match(line.strip())
        if not m:
            continue
        if m.group(1) == "PARAMS":
            params = m.group(2)
            continue
        if m.group(1) == "NAME":
            label, name = m.group(2).split()
            found.setdefault(label, {})["name"] = name
            continue
        dev, *fields = m.group(2).split()
        found.setdefault(dev, {})[m.group(1).lower()] = fields
    return found, params


def size(nbytes):
    for unit, shift in (("GiB", 30), ("MiB", 20)):
        if nbytes >= 1 << shift:
            return f"{nbytes / (1 << shift):.0f} {unit}"
    return f"{nbytes} B"


def table(found, params):
    """The demo's report; raises if a device is missing a line or failed."""
    missing = [f"{d} {k}" for d, _, _ in DEVICES for k in ("dev", "verify", "iops")
               if k not in found.get(d, {})]
    if missing:
        raise SeriesError(f"the demo did not report: {', '.join(missing)}")
    rows = [f"{'device':<13} {'driver':<9} {'lang':<5} {'size':>8} {'queues':>6}  "
            f"{'scheduler':<10} {'block':>5}  {'fio verify':<12} {'4k randread qd32':>17}"]
    failed = []
    for dev, driver, lang in DEVICES:
        nbytes, queues, sched, bs = found[dev]["dev"]
        verdict, vsize = found[dev]["verify"]
        iops, secs = found[dev]["iops"]
        if verdict != "ok":
            failed.append(dev)
        name = found[dev].get("name", dev)
        rows.append(f"{'/dev/' + name:<13} {driver:<9} {lang:<5} {size(int(nbytes)):>8} "
                    f"{queues:>6}  {sched:<10} {bs:>5}  {verdict + ' ' + vsize:<12} "
                    f"{int(iops) / 1000:>11.1f}k IOPS")
    if failed:
        raise SeriesError("fio found bad data on " + ", ".join(failed) + "\n" + "\n".join(rows))
    c, rust = int(found["nullb0"]["iops"][0]), int(found["rnullb0"]["iops"][0])
    cv, rv = int(found["nvme"]["iops"][0]), int(found["rnvme0n1"]["iops"][0])
    rows += ["",
             f"null_blk and rnull were loaded with the same parameters: {params}.",
             "fio verify: random 4k writes with crc32c headers, read back and checked.",
             f"rnull / null_blk: {rust / c:.2f}, rnvme / nvme: {rv / cv:.2f} (one "
             f"{found['nullb0']['iops'][1]} s run each, wall clock under QEMU TCG on this host).",
             "Measured A/Bs with confidence intervals: scripts/series bench rnull --icount,",
             "scripts/series bench rnvme --icount"]
    return "\n".join(rows)


def run(tree, profile):
    """Boots `profile`'s kernel, runs the demo and returns its report."""
    console, _, log = vm.boot(tree, profile, kind="demo", tests=["demo:drivers"], timeout=300)
    results = {name: ok for name, ok, _ in vm.parse_results(console)}
    if results.get("demo:drivers") is not True:
        raise SeriesError(f"the demo failed in the VM; console in {log}:\n"
                          + vm.test_output(console, "demo:drivers"))
    return table(*parse(console))

# SPDX-License-Identifier: GPL-2.0
"""`bench --profile` and `bench --icount`: the instructions of an I/O on
both sides of a benchmark, in total and by function.

The VM runs with the QEMU plugin profile/tbcount.c, which counts the
instructions of every translation block it runs, on every vCPU. The guest
script runs each workload for a fixed number of I/Os per side and
repetition, each run after a `sync`; the plugin writes and resets its
counts whenever `__x64_sys_sync` runs, so each run is one phase of the
counts. The blocks are then attributed to functions with System.map (the
kernel is built without KASLR) and the modules' symbols, which the guest
prints as

    PROFILE-SYM <address> <type> <name> [<module>]

and each run is announced after it ends as

    PROFILE-RUN <workload> <side> <I/Os> [<repetition>]

Instructions per I/O include fio's own (start-up too, spread over the
I/Os), the system calls and the block layer: the same on both sides,
except where the drivers make them differ. On the instruction clock (one
instruction a nanosecond) a run's rate is 10^9 over its instructions per
I/O: `bench --icount` compares those rates like timed IOPS.

Why count rather than run QEMU with -icount: -icount needs one vCPU
thread, and single-threaded TCG in QEMU 7.2 leaves out the guest's memory
barriers. Device models run in QEMU's I/O thread meanwhile, so a protocol
that needs a barrier on both sides races: with NVMe shadow doorbells the
guest's tail store and its event-index load pass each other, the
controller misses a doorbell, and C nvme times a batch out within seconds.
Multi-threaded TCG keeps the barriers, and the plugin counts atomically.
"""

import bisect
import collections
import os
import re
import shutil
import subprocess
import tempfile

from . import vm
from .common import CACHE, TOOL, SeriesError, info

PLUGIN_SRC = os.path.join(TOOL, "profile", "tbcount.c")
TRIGGER = "__x64_sys_sync"
SYM_RE = re.compile(r"PROFILE-SYM ([0-9a-f]+) (\S) (\S+)(?:\s+\[(\S+)\])?")
RUN_RE = re.compile(r"^PROFILE-RUN (\S+) (\S+) (\d+)(?: (\d+))?\s*$")


def plugin(dest=CACHE):
    """Builds the plugin into `dest` (again if its source changed)."""
    so = os.path.join(dest, "tbcount.so")
    if os.path.exists(so) and os.path.getmtime(so) >= os.path.getmtime(PLUGIN_SRC):
        return so
    if not shutil.which("gcc"):
        raise SeriesError("bench --profile builds a QEMU plugin with gcc, which is missing: "
                          "run `scripts/series setup`")
    os.makedirs(dest, exist_ok=True)
    res = subprocess.run(["gcc", "-O2", "-Wall", "-shared", "-fPIC", "-fvisibility=hidden",
                          "-o", so, PLUGIN_SRC], capture_output=True, text=True)
    if res.returncode != 0:
        raise SeriesError(f"could not build the QEMU plugin {PLUGIN_SRC}:\n{res.stderr}")
    return so


def text_symbols(system_map):
    """[(address, name)] of the kernel's text symbols, from System.map text."""
    syms = []
    for line in system_map.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] in "tTwW":
            syms.append((int(parts[0], 16), parts[2]))
    return syms


def module_symbols(console):
    """[(address, "module:name")] of the text symbols the guest printed."""
    syms = []
    for line in console.splitlines():
        m = SYM_RE.search(line)
        if m and m.group(2) in "tTwW":
            name = m.group(3) if not m.group(4) else f"{m.group(4)}:{m.group(3)}"
            syms.append((int(m.group(1), 16), name))
    return syms


def runs(console):
    """[(workload, side, repetition, I/Os)] in the order the guest ran them."""
    return [(m.group(1), m.group(2), int(m.group(4) or 0), int(m.group(3)))
            for m in map(RUN_RE.search, console.splitlines()) if m]


def phases(dump):
    """The plugin's output as a list of {block address: instructions}."""
    out = []
    for line in dump.splitlines():
        if line.startswith("P "):
            out.append(collections.Counter())
            continue
        if not out:
            raise SeriesError("profile dump does not start with a phase line")
        addr, insns, count = line.split()
        out[-1][int(addr, 16)] += int(insns) * int(count)
    return out


class Symbolizer:
    """Maps an address to the function it is in; user space is one bucket."""

    def __init__(self, syms):
        self.syms = sorted(syms)
        self.addrs = [a for a, _ in self.syms]

    def __call__(self, addr):
        if addr < 1 << 63:
            return "(user space)"
        i = bisect.bisect_right(self.addrs, addr) - 1
        return self.syms[i][1] if i >= 0 else "(unknown)"


def by_function(phase, symbolize):
    counts = collections.Counter()
    for addr, n in phase.items():
        counts[symbolize(addr)] += n
    return counts


def report(console, dump, system_map, side_a="C", side_b="Rust"):
    """({"workloads": [{name, A, B, ratio, functions: {name: [A, B]}}]},
    {workload: {side: {repetition: rate}}}): the instructions per I/O of
    both sides, averaged over the repetitions (ratio A/B, so that larger is
    better for B as in the timed benchmark), and those of each function;
    then each run's rate on the instruction clock (10^9 / instructions per
    I/O), in the shape bench.summarize() takes."""
    done = runs(console)
    if not done:
        raise SeriesError("no PROFILE-RUN lines: the benchmark script has no profile mode")
    counts = phases(dump)
    # Phase 0 is the boot; phase i + 1 is run i, up to the next sync. The
    # script syncs once more after its last run, so a missing sync before a
    # run shows as a phase too few.
    if len(counts) < len(done) + 2:
        raise SeriesError(f"{len(done)} runs but {len(counts)} phases in the profile: "
                          f"the guest must call sync before each run and after the last")
    symbolize = Symbolizer(text_symbols(system_map) + module_symbols(console))
    per_run = collections.defaultdict(list)
    rates = {}
    for (wl, side, rep, ios), phase in zip(done, counts[1:]):
        if ios <= 0:
            raise SeriesError(f"run {wl} {side} repetition {rep} did no I/O")
        reps = rates.setdefault(wl, {}).setdefault(side, {})
        if rep in reps:
            raise SeriesError(f"run {wl} {side} repetition {rep} was counted twice")
        funcs = {f: n / ios for f, n in by_function(phase, symbolize).items()}
        reps[rep] = 1e9 / sum(funcs.values())
        per_run[(wl, side)].append(funcs)
    workloads = []
    for wl in dict.fromkeys(wl for wl, _, _, _ in done):
        if (wl, side_a) not in per_run or (wl, side_b) not in per_run:
            raise SeriesError(f"workload {wl}: missing side {side_a!r} or {side_b!r}")
        a, b = mean_functions(per_run[(wl, side_a)]), mean_functions(per_run[(wl, side_b)])
        total_a, total_b = sum(a.values()), sum(b.values())
        workloads.append({"name": wl, side_a: total_a, side_b: total_b,
                          "ratio": total_a / total_b,
                          "functions": {f: [a.get(f, 0.0), b.get(f, 0.0)]
                                        for f in set(a) | set(b)}})
    return ({"a": side_a, "b": side_b, "unit": "instructions per I/O", "workloads": workloads},
            rates)


def mean_functions(runs_):
    """{function: mean instructions per I/O} over the runs of one side."""
    total = collections.Counter()
    for funcs in runs_:
        total.update(funcs)
    return {f: n / len(runs_) for f, n in total.items()}


def demangle(names):
    """Rust symbols readable, with LLVM's demangler when there is one."""
    tool = shutil.which("llvm-cxxfilt-22") or shutil.which("llvm-cxxfilt")
    if not tool or not names:
        return {n: n for n in names}
    res = subprocess.run([tool], input="\n".join(names), capture_output=True, text=True)
    out = res.stdout.splitlines()
    if res.returncode != 0 or len(out) != len(names):
        return {n: n for n in names}
    return dict(zip(names, out))


def table(rep, top=12):
    """Totals per workload, then the functions whose instructions per I/O
    differ most between the sides, averaged over the workloads."""
    a, b = rep["a"], rep["b"]
    rows = [f"instructions per I/O ({a}/{b} > 1: {b} runs fewer)",
            f"{'workload':<28} {a:>10} {b:>10} {a + '/' + b:>8}"]
    for w in rep["workloads"]:
        rows.append(f"{w['name']:<28} {w[a]:>10.1f} {w[b]:>10.1f} {w['ratio']:>8.4f}")
    n = len(rep["workloads"])
    mean = collections.defaultdict(lambda: [0.0, 0.0])
    for w in rep["workloads"]:
        for f, (x, y) in w["functions"].items():
            mean[f][0] += x / n
            mean[f][1] += y / n
    worst = sorted(mean.items(), key=lambda kv: -abs(kv[1][1] - kv[1][0]))[:top]
    names = demangle([f for f, _ in worst])
    rows.append(f"\nfunctions that differ most (instructions per I/O, mean over {n} workloads)")
    rows.append(f"{b + ' - ' + a:>9} {a:>9} {b:>9}  function")
    for f, (x, y) in worst:
        rows.append(f"{y - x:>+9.1f} {x:>9.1f} {y:>9.1f}  {names[f][:110]}")
    return "\n".join(rows)


def run(tree, vm_profile, name, ios, timeout, reps=1):
    """Boots the kernel of `vm_profile` with the plugin, runs the benchmark
    `name` in profile mode, `reps` repetitions of each side, and returns
    (report, rates, console) as report() does."""
    so = plugin()
    bdir = vm_profile.build_dir()
    with open(os.path.join(bdir, "System.map")) as f:
        system_map = f.read()
    trigger = next((a for a, n in text_symbols(system_map) if n == TRIGGER), None)
    if trigger is None:
        raise SeriesError(f"{TRIGGER} is not in {bdir}/System.map")
    with open(os.path.join(bdir, ".config")) as f:
        kaslr = "CONFIG_RANDOMIZE_BASE=y" in f.read().splitlines()
    if kaslr:
        raise SeriesError("bench --profile needs a kernel without KASLR "
                          "(CONFIG_RANDOMIZE_BASE=n), as the vm profile builds it")
    info(f"    instructions counted by {so}: {ios} I/Os per job, side and repetition, "
         f"{reps} repetition(s)")
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        dump_path = os.path.join(tmp, "tbcount")
        console, _, log = vm.boot(tree, vm_profile, kind=f"bench-{name}-profile",
                                  tests=[f"bench:{name}"],
                                  extra_append=f"series.profile={ios} series.reps={reps}",
                                  timeout=timeout,
                                  plugin=f"{so},trigger={trigger:x},out={dump_path}")
        info(f"    console: {log}")
        with open(dump_path) as f:
            dump = f.read()
    ran = {t: ok for t, ok, _ in vm.parse_results(console)}
    if ran.get(f"bench:{name}") is not True:
        tail = "\n".join(console.splitlines()[-15:])
        raise SeriesError(f"benchmark {name} failed in the VM; last lines:\n{tail}")
    return (*report(console, dump, system_map), console)

# SPDX-License-Identifier: GPL-2.0
"""`bench`: A/B benchmarks in one boot, sides alternating, reported as ratios
(B over A) with 95 % confidence intervals, as a table and as JSON.

A benchmark is a VM script (scripts/seriestool/bench/<name>.sh) that prints
one line per measurement:

    BENCH <workload> <side> <repetition> <value>

where a larger value is better (IOPS), after one line

    BENCH-PLAN <workload>,<workload>,...

that names every workload it will measure. The runner pairs the sides of
each repetition, so slow drift of the VM cancels out. A report with less
than was asked (a workload, side or repetition missing, a value measured
twice, a script that failed) is an error, never a table.

`--icount` measures on the instruction clock: one instruction is one
nanosecond. A QEMU plugin counts the guest's instructions (see profile.py
for how, and why not QEMU's -icount); each side runs each workload for a
fixed number of I/Os per repetition, alternating as in the timed runs,
and a run's rate is 10^9 over its instructions per I/O. That is the cost
under TCG that host noise hides; wall-clock mode stays the default, as
the benchmark the goal is stated in. The same runs give the instructions
per I/O by function.

`--profile` is one repetition of that, for the functions table alone.

`--compare-inline-helpers` compares two kernels instead of two drivers:
the series built with and without CONFIG_RUST_INLINE_HELPERS. A boot runs
one kernel, so each repetition boots both, in alternating order, and the
script runs its Rust side only (series.sides=Rust).
"""

import json
import math
import os
import re
import statistics

from . import build, profile, profiles, vm
from .common import TOOL, SeriesError, info

BENCH_DIR = os.path.join(TOOL, "bench")
LINE_RE = re.compile(r"^BENCH (\S+) (\S+) (\d+) ([0-9.]+)\s*$")
PLAN_RE = re.compile(r"^BENCH-PLAN (\S+)\s*$")
# A benchmark's latency percentiles of one run, in ns of guest time (which
# under TCG follows the host, also with --icount), for the workloads its
# BENCH-LAT-PLAN names.
LAT_RE = re.compile(r"^BENCH-LAT (\S+) (\S+) (\d+) (\d+) (\d+)\s*$")
LAT_PLAN_RE = re.compile(r"^BENCH-LAT-PLAN (\S+)\s*$")

# Two-sided 95 % Student t quantiles by degrees of freedom (1..30); 1.96 beyond.
T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
       2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
       2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def t95(df):
    return T95[df - 1] if 1 <= df <= len(T95) else 1.96


def parse(console):
    """{workload: {side: {rep: value}}} from the BENCH lines of a console.
    A value measured twice means two runs wrote one console: an error."""
    data = {}
    for line in console.splitlines():
        m = LINE_RE.search(line)
        if m:
            wl, side, rep, value = m.group(1), m.group(2), int(m.group(3)), float(m.group(4))
            reps = data.setdefault(wl, {}).setdefault(side, {})
            if rep in reps:
                raise SeriesError(f"{wl} {side} repetition {rep} was measured twice: "
                                  "the console mixes two runs")
            reps[rep] = value
    return data


def plan(console):
    """The workloads the script's BENCH-PLAN line announced."""
    plans = [m.group(1).split(",") for m in map(PLAN_RE.search, console.splitlines()) if m]
    if len(plans) != 1:
        raise SeriesError(f"expected one BENCH-PLAN line in the console, found {len(plans)}")
    return plans[0]


def latencies(console, sides, reps):
    """{workload: {side: {rep: (p50, p99)}}} from the BENCH-LAT lines, for
    the workloads of the BENCH-LAT-PLAN line (none without one); raises if
    a run's percentiles are missing or measured twice."""
    plans = [m.group(1).split(",") for m in map(LAT_PLAN_RE.search, console.splitlines()) if m]
    if len(plans) > 1:
        raise SeriesError(f"expected at most one BENCH-LAT-PLAN line, found {len(plans)}")
    data = {}
    for m in map(LAT_RE.search, console.splitlines()):
        if m:
            reps_of = data.setdefault(m.group(1), {}).setdefault(m.group(2), {})
            if int(m.group(3)) in reps_of:
                raise SeriesError(f"latencies of {m.group(1)} {m.group(2)} repetition "
                                  f"{m.group(3)} given twice")
            reps_of[int(m.group(3))] = (int(m.group(4)), int(m.group(5)))
    check_complete(data, plans[0] if plans else [], sides, reps)
    return data


def latency_table(data, side_a, side_b):
    """The median over the repetitions of each side's p50 and p99."""
    rows = [f"{'workload':<28} {side_a + ' p50':>10} {side_b + ' p50':>10} "
            f"{side_a + ' p99':>10} {side_b + ' p99':>10}"]
    for wl in sorted(data):
        med = {side: [statistics.median(v[i] for v in data[wl][side].values())
                      for i in (0, 1)] for side in (side_a, side_b)}
        rows.append(f"{wl:<28} {med[side_a][0]:>10.0f} {med[side_b][0]:>10.0f} "
                    f"{med[side_a][1]:>10.0f} {med[side_b][1]:>10.0f}")
    return "\n".join(rows)


def check_complete(data, workloads, sides, reps):
    """Raises unless `data` has every workload, side and repetition 0..reps-1,
    and nothing else."""
    problems = [f"{wl}: not in the plan" for wl in sorted(set(data) - set(workloads))]
    for wl in workloads:
        for side in sides:
            got = data.get(wl, {}).get(side, {})
            missing = sorted(set(range(reps)) - set(got))
            extra = sorted(set(got) - set(range(reps)))
            if missing:
                problems.append(f"{wl} {side}: repetitions {missing} missing")
            if extra:
                problems.append(f"{wl} {side}: repetitions {extra} not asked for")
    if problems:
        raise SeriesError(f"the benchmark measured less than asked ({len(workloads)} "
                          f"workloads x {len(sides)} sides x {reps} repetitions):\n  "
                          + "\n  ".join(problems[:20])
                          + (f"\n  ... {len(problems) - 20} more" if len(problems) > 20 else ""))


def results(console, name, sides, reps):
    """The complete measurements of one boot that ran benchmark `name`."""
    ran = {t: ok for t, ok, _ in vm.parse_results(console)}
    if ran.get(f"bench:{name}") is not True:
        tail = "\n".join(console.splitlines()[-15:])
        raise SeriesError(f"benchmark {name} {'failed' if ran else 'did not finish'} in the "
                          f"VM; last lines:\n{tail}")
    data = parse(console)
    check_complete(data, plan(console), sides, reps)
    return data


def ratio_ci(a, b):
    """Mean of the paired ratios b/a with a 95 % CI: (mean, low, high, n)."""
    ratios = [y / x for x, y in zip(a, b) if x > 0]
    n = len(ratios)
    if n == 0:
        raise SeriesError("no paired measurements to compare")
    mean = statistics.fmean(ratios)
    if n == 1:
        return mean, float("nan"), float("nan"), 1
    half = t95(n - 1) * statistics.stdev(ratios) / math.sqrt(n)
    return mean, mean - half, mean + half, n


def summarize(data, side_a, side_b):
    """The JSON report: per workload ratio B/A with its CI, and the mean ratio."""
    workloads = []
    for wl in sorted(data):
        sides = data[wl]
        if side_a not in sides or side_b not in sides:
            raise SeriesError(f"workload {wl}: missing side {side_a!r} or {side_b!r}")
        reps = sorted(set(sides[side_a]) & set(sides[side_b]))
        a = [sides[side_a][r] for r in reps]
        b = [sides[side_b][r] for r in reps]
        mean, low, high, n = ratio_ci(a, b)
        workloads.append({"name": wl, "ratio": mean, "ci_low": low, "ci_high": high,
                          "runs": n, side_a: statistics.fmean(a), side_b: statistics.fmean(b)})
    mean_ratio = statistics.fmean(w["ratio"] for w in workloads) if workloads else None
    return {"a": side_a, "b": side_b, "workloads": workloads, "mean_ratio": mean_ratio}


def merge_boot(data, console, name, side, rep):
    """Adds the Rust side of one complete boot's console to `data` as
    `side`, repetition `rep`."""
    for wl, sides in results(console, name, ["Rust"], 1).items():
        data.setdefault(wl, {}).setdefault(side, {})[rep] = sides["Rust"][0]
    return data


def table(report):
    a, b = report["a"], report["b"]
    rows = [f"{'workload':<28} {a:>12} {b:>12} {b + '/' + a:>9}  95% CI            change"]
    for w in report["workloads"]:
        rows.append(f"{w['name']:<28} {w[a]:>12.0f} {w[b]:>12.0f} {w['ratio']:>9.3f}  "
                    f"[{w['ci_low']:.3f}, {w['ci_high']:.3f}]  {100 * (w['ratio'] - 1):+6.1f}%")
    if report["mean_ratio"] is not None:
        rows.append(f"{'mean ratio':<28} {'':>12} {'':>12} {report['mean_ratio']:>9.3f}")
    return "\n".join(rows)


def available():
    if not os.path.isdir(BENCH_DIR):
        return []
    return sorted(f[:-3] for f in os.listdir(BENCH_DIR) if f.endswith(".sh"))


def add_arguments(sp):
    sp.add_argument("name", nargs="?", help=f"benchmark: {', '.join(available()) or 'none yet'}")
    sp.add_argument("--json", help="also write the report as JSON to this file")
    sp.add_argument("--reps", type=int, default=5, help="repetitions per side (default 5)")
    sp.add_argument("--runtime", type=int, default=3, help="seconds per fio run (default 3)")
    sp.add_argument("--timeout", type=int, default=3600)
    sp.add_argument("--icount", action="store_true",
                    help="measure on the instruction clock (a QEMU plugin counts the "
                    "instructions; one is a nanosecond): each side runs each workload "
                    "for --ios I/Os per repetition; the rates compare instructions per I/O, "
                    "not host time, and are far less noisy under TCG")
    sp.add_argument("--ios", type=int, default=20000,
                    help="with --icount: I/Os per job, side and repetition (default 20000)")
    sp.add_argument("--profile", type=int, nargs="?", const=50000, metavar="IOS",
                    help="count the instructions of each function per I/O on both sides "
                    "(QEMU plugin), each workload once for IOS I/Os per job "
                    "(default 50000), without --reps and --runtime; --json gets them all")
    sp.add_argument("--top", type=int, default=12,
                    help="with --profile: how many functions to list (default 12)")
    sp.add_argument("--compare-inline-helpers", action="store_true",
                    help="compare rnull on kernels built with and without "
                    "CONFIG_RUST_INLINE_HELPERS (one boot per kernel and repetition)")


def boot_bench(tree, profile, args, append):
    console, _, log = vm.boot(tree, profile, kind=f"bench-{args.name}",
                              tests=[f"bench:{args.name}"],
                              extra_append=f"series.runtime={args.runtime} {append}",
                              timeout=args.timeout)
    info(f"    console: {log}")
    return console


def compare_inline_helpers(tree, args):
    """{workload: {"noinline"|"inline": {rep: value}}}, alternating kernels."""
    kernels = {"inline": profiles.VM, "noinline": profiles.VM_NOINLINE}
    for profile in kernels.values():
        build.build(tree, profile)
    data = {}
    for rep in range(args.reps):
        order = ["noinline", "inline"] if rep % 2 == 0 else ["inline", "noinline"]
        for side in order:
            info(f"    repetition {rep + 1}/{args.reps}: {side} kernel")
            console = boot_bench(tree, kernels[side], args, "series.reps=1 series.sides=Rust")
            merge_boot(data, console, args.name, side, rep)
    return data


# A benchmark that compares a driver with what a kernel has runs in each of
# its kernels, which differ only there: `bench binder` compares binderlike
# with C binder (vm) and with Rust Binder (vm-rustbinder). Its control
# workload runs no driver: its rates show how the kernels compare alone.
KERNELS = {"binder": (profiles.VM, profiles.VM_RUSTBINDER)}
CONTROL = {"binder": "pipe"}


def control_line(name, reports):
    """How the control workload compares across the kernels (both sides'
    mean rate; 1.0 when the kernels run it alike)."""
    wl = CONTROL.get(name)
    if not wl or len(reports) < 2:
        return None
    rates = {}
    for kernel, rep in reports.items():
        found = [w for w in rep["workloads"] if w["name"] == wl]
        if not found:
            raise SeriesError(f"the control workload {wl} is missing from the {kernel} report")
        rates[kernel] = (found[0][rep["a"]] + found[0][rep["b"]]) / 2
    (k1, r1), (k2, r2) = list(rates.items())[:2]
    return f"control ({wl}, no binder): {k2}/{k1} = {r2 / r1:.3f} ({r1:.0f} vs {r2:.0f})"


def main(tree, args):
    kernels = KERNELS.get(args.name, (profiles.VM,))
    if len(kernels) == 1:
        main_one(tree, args, kernels[0])
        return 0
    reports = {}
    json_path, args.json = args.json, None
    for kernel in kernels:
        info(f"== {args.name} on the {kernel.name} kernel ({kernel.description})")
        reports[kernel.name] = main_one(tree, args, kernel)
    # Rates (timed, or on the instruction clock), not --profile's counts.
    rates = {k: r.get("instruction_clock", r) for k, r in reports.items()}
    line = control_line(args.name, {k: r for k, r in rates.items() if "unit" not in r})
    if line:
        info(line)
    write_json(json_path, reports)
    return 0


def main_one(tree, args, kernel):
    """One kernel's run of the benchmark; returns its report."""
    if not args.name or args.name not in available():
        raise SeriesError(f"name a benchmark: {', '.join(available()) or 'none yet'}")
    if args.reps < 2 and args.profile is None:
        raise SeriesError("--reps must be at least 2: a confidence interval needs two")
    counted = args.icount or args.profile is not None
    if counted and args.compare_inline_helpers:
        raise SeriesError("--icount and --profile compare the drivers of one kernel; "
                          "drop --compare-inline-helpers")
    if args.icount and args.profile is not None:
        raise SeriesError("--icount already gives the functions table; drop --profile")
    if counted:
        ios = args.profile if args.profile is not None else args.ios
        if ios <= 0:
            raise SeriesError("--ios and --profile need a positive number of I/Os")
        reps = args.reps if args.icount else 1
        build.build(tree, kernel)
        funcs, rates, console = profile.run(tree, kernel, args.name, ios, args.timeout,
                                            reps)
        print_config(console)
        # A run the plan names but the count lacks is an error, in both modes.
        check_complete(rates, plan(console), ["C", "Rust"], reps)
        info(profile.table(funcs, args.top))
        report = {"profile": funcs}
        if args.icount:
            info("\nrates on the instruction clock (I/Os per 10^9 instructions)")
            report["instruction_clock"] = summarize(rates, "C", "Rust")
            info(table(report["instruction_clock"]))
            lat = latencies(console, ["C", "Rust"], reps)
            if lat:
                info("\nlatency percentiles (ns of guest time: host-dependent under TCG), "
                     "median of the repetitions")
                info(latency_table(lat, "C", "Rust"))
                report["latency"] = lat
        write_json(args.json, report if args.icount else funcs)
        return report if args.icount else funcs
    lat = {}
    if args.compare_inline_helpers:
        report = summarize(compare_inline_helpers(tree, args), "noinline", "inline")
    else:
        build.build(tree, kernel)
        console = boot_bench(tree, kernel, args, f"series.reps={args.reps}")
        print_config(console)
        report = summarize(results(console, args.name, ["C", "Rust"], args.reps), "C", "Rust")
        lat = latencies(console, ["C", "Rust"], args.reps)
    info(table(report))
    if lat:
        info("\nlatency percentiles (ns of guest time: host-dependent under TCG), median "
             "of the repetitions")
        info(latency_table(lat, "C", "Rust"))
        report["latency"] = lat
    write_json(args.json, report)
    return report


def print_config(console):
    for line in console.splitlines():
        if line.startswith("BENCH-CONFIG "):
            info("    " + line[len("BENCH-CONFIG "):])


def write_json(path, report):
    if path:
        with open(path, "w") as f:
            json.dump(report, f, indent=2)

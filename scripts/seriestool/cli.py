# SPDX-License-Identifier: GPL-2.0
"""scripts/series: apply, build, boot, test, benchmark and mail the patch series."""

import argparse
import os
import re
import subprocess
import sys
import time

from . import apply as apply_mod
from . import bench as bench_mod
from . import build as build_mod
from . import check as check_mod
from . import importer
from . import kunit as kunit_mod
from . import mail as mail_mod
from . import setup as setup_mod
from . import tree as tree_mod
from . import vm
from .common import CACHE, REPO, TOOL, SeriesError, fmt_secs, info, step


def do_setup(args):
    done = step("setup")
    ok = setup_mod.setup()
    done()
    return 0 if ok or args.allow_no_inline else 1


def do_tree(args):
    done = step("tree")
    checkout, base = tree_mod.tree(args.tree)
    done()
    info(f"base {base} in {checkout}")
    return 0


def applied():
    """Applies the series onto the recorded tree; returns (tree, base, series, commits)."""
    checkout, base = tree_mod.current()
    series, commits = apply_mod.apply(checkout, base)
    return checkout, base, series, commits


def do_apply(args):
    done = step("apply")
    checkout, base, series, commits = applied()
    for p, c in zip(series.patches, commits):
        info(f"    {c[:12]} {p.subject}")
    done(f"({len(commits)} patches on {base[:12]})")
    print(checkout)
    return 0


def do_import(args):
    done = step("import")
    checkout, base = tree_mod.current()
    n = importer.import_branch(checkout, base, args.branch)
    apply_mod.mark_applied(checkout, args.branch)
    done(f"({n} patches from {args.branch} in {checkout})")
    return 0


def do_build(args):
    checkout, _, _, _ = applied()
    done = step(f"build {args.profile}" + ("" if args.inline_helpers else " (no inline helpers)"))
    bdir = build_mod.build(checkout, args.profile, args.inline_helpers)
    done()
    info(f"kernel: {build_mod.image(bdir)}")
    return 0


def do_kunit(args):
    checkout, _, _, _ = applied()
    if args.profile == "kunit":
        done = step("kunit (kunit.py run, kunit profile)")
        passed, failed = kunit_mod.kunit_py(checkout)
    else:
        build_mod.build(checkout, args.profile)
        done = step(f"kunit (suites at boot of the {args.profile} kernel)")
        passed, failed = kunit_mod.kunit_vm(checkout, args.profile)
    done()
    return 1 if failed else 0


def do_vmtest(args):
    checkout, _, _, _ = applied()
    build_mod.build(checkout, args.profile)
    done = step(f"vmtest {args.profile}")
    passed, failed = vm.vmtest(checkout, args.profile, args.tests, timeout=args.timeout)
    done()
    return 1 if failed else 0


def do_mail(args):
    checkout, base, series, _ = applied()
    out = args.out or os.path.join(CACHE, "mails")
    mails = mail_mod.mail(checkout, base, series, out)
    for m in mails:
        info(f"    {m}")
    info(f"{len(mails)} mails in {out} (nothing was sent; see README.md for b4)")
    return 0


def static_checks(checkout, base, series, *, clippy=True):
    """The checks of `check`; returns (passed, failed)."""
    results = []
    bdir = build_mod.build_dir("vm")

    def fmt():
        ok, out = check_mod.rustfmtcheck(checkout, bdir)
        return [] if ok else ["make rustfmtcheck reported:\n" + out]

    def unsafe():
        changed, hits = check_mod.zero_unsafe(checkout, base)
        info(f"    {len(changed)} drivers/ file(s) added or changed by the series")
        return hits

    def mails():
        out = os.path.join(CACHE, "mails-check")
        files = mail_mod.mail(checkout, base, series, out)
        n = mail_mod.am_roundtrip(checkout, base, files)
        info(f"    git am of {n} mail(s) onto the untouched base gives the series' tree")
        errors, warnings = mail_mod.checkpatch(checkout, files)
        for w in warnings:
            info(f"    checkpatch: {w}")
        return errors

    results.append(check_mod.run_check("rustfmtcheck", fmt))
    results.append(check_mod.run_check("zero-unsafe in drivers", unsafe))
    results.append(check_mod.run_check("mail: format-patch, git am, checkpatch --strict", mails))
    if clippy:
        holder = {}

        def clip():
            warnings, cdir = check_mod.clippy(checkout, base)
            holder["bdir"] = cdir
            return warnings
        results.append(check_mod.run_check("CLIPPY=1 build without warnings", clip))
        results.append(check_mod.run_check(
            "make rustdoc without warnings",
            lambda: check_mod.rustdoc(checkout, holder.get("bdir", bdir))))
    return results.count(True), results.count(False)


def do_check(args):
    checkout, base, series, commits = applied()
    build_mod.build(checkout, "vm")
    done = step("check")
    passed, failed = static_checks(checkout, base, series)
    if args.bisect:
        built = check_mod.bisect_range(commits, args.first)
        failures = check_mod.bisect(checkout, base, commits, first=args.first)
        passed, failed = passed + len(built) - len(failures), failed + len(failures)
    done()
    info(f"check: {passed} passed, {failed} failed")
    return 1 if failed else 0


def tool_tests():
    """The tool's own unit tests; returns (passed, failed)."""
    res = subprocess.run([sys.executable, "-m", "unittest", "discover", "-s",
                          os.path.join(TOOL, "tests"), "-t", os.path.dirname(TOOL)],
                         capture_output=True, text=True)
    out = res.stderr
    m = re.search(r"Ran (\d+) tests?", out)
    ran = int(m.group(1)) if m else 0
    fm = re.search(r"FAILED \((?:failures=(\d+))?(?:, )?(?:errors=(\d+))?", out)
    failed = (int(fm.group(1) or 0) + int(fm.group(2) or 0)) if fm else 0
    if res.returncode != 0 and failed == 0:
        failed = 1
    if failed:
        info(out[-3000:])
    info(f"{'PASS' if not failed else 'FAIL'} tool self-tests: {ran - failed} passed, "
         f"{failed} failed")
    return ran - failed, failed


def do_test(args):
    """What CI runs. Prints a closing line `N passed, N failed`."""
    start = time.monotonic()
    total_p = total_f = 0
    timings = []

    def add(name, fn):
        nonlocal total_p, total_f
        t0 = time.monotonic()
        try:
            p, f = fn()
        except SeriesError as e:
            info(f"FAIL {name}: {e}")
            p, f = 0, 1
        total_p += p
        total_f += f
        timings.append((name, time.monotonic() - t0))
        return f == 0

    add("tool self-tests", tool_tests)
    if not add("setup", lambda: (1, 0) if setup_mod.setup() else (0, 1)):
        info("setup failed: nothing else can run")
    else:
        state = {}

        def tree_step():
            state["tree"], state["base"] = tree_mod.tree(args.tree) if args.tree \
                else tree_mod.current()
            return 1, 0

        def apply_step():
            state["series"], state["commits"] = apply_mod.apply(state["tree"], state["base"])
            info(f"    {len(state['commits'])} patch(es) applied: {state['tree']}")
            return 1, 0

        def build_step():
            build_mod.build(state["tree"], "vm")
            return 1, 0
        ok = add("tree", tree_step) and add("apply", apply_step) and add("build vm", build_step)
        if ok:
            if not os.environ.get("SERIES_SUBMITTER") and not _has_identity():
                os.environ["SERIES_SUBMITTER"] = "CI Submitter <ci@localhost>"
            add("static checks", lambda: static_checks(
                state["tree"], state["base"], state["series"], clippy=not args.quick))
            add("kunit", lambda: kunit_mod.kunit_vm(state["tree"], "vm"))
            add("vmtest", lambda: vm.vmtest(state["tree"], "vm", timeout=vm.BOOT_TIMEOUT))
    info("timings: " + ", ".join(f"{n} {fmt_secs(t)}" for n, t in timings)
         + f"; total {fmt_secs(time.monotonic() - start)}")
    print(f"{total_p} passed, {total_f} failed", flush=True)
    return 1 if total_f else 0


def _has_identity():
    res = subprocess.run(["git", "-C", REPO, "config", "user.email"], capture_output=True,
                         text=True)
    return bool(res.stdout.strip())


def do_run(args):
    """For a new user: everything up to a booted kernel with the drivers working."""
    done = step("setup")
    setup_mod.setup()
    done()
    done = step("tree")
    checkout, base = tree_mod.tree(args.tree) if args.tree else tree_mod.current()
    done()
    done = step("apply")
    series, commits = apply_mod.apply(checkout, base)
    done(f"({len(commits)} patches)")
    done = step("build vm")
    bdir = build_mod.build(checkout, "vm")
    done()
    done = step("boot the vm kernel and show the drivers (null_blk, rnull, nvme)")
    passed, failed = vm.vmtest(checkout, "vm", None)
    done()
    out = os.path.join(CACHE, "mails")
    try:
        mails = mail_mod.mail(checkout, base, series, out)
        mail_line = f"{len(mails)} mails in {out}"
    except SeriesError as e:
        mail_line = f"not written: {e}"
    info("")
    info(f"branch:  'series' in {checkout} ({len(commits)} commits on {base[:12]})")
    info(f"build:   {bdir} (kernel {build_mod.image(bdir)})")
    info(f"mails:   {mail_line}")
    info(f"console: {os.path.join(bdir, 'vmtest-console.log')}")
    return 1 if failed else 0


def do_bench(args):
    checkout, _, _, _ = applied()
    return bench_mod.main(checkout, args)


def parser():
    p = argparse.ArgumentParser(
        prog="scripts/series",
        description="Apply the Rust patch series onto Linux 7.3, build, boot, test, "
                    "benchmark and export it as mails. Caches live in " + CACHE + ".")
    sub = p.add_subparsers(dest="cmd", metavar="SUBCOMMAND")

    def add(name, fn, help_):
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.set_defaults(fn=fn)
        return sp

    sp = add("setup", do_setup, "check for and install the toolchain, QEMU, fio, b4 ...")
    sp.add_argument("--allow-no-inline", action="store_true",
                    help="succeed even when CONFIG_RUST_INLINE_HELPERS is impossible")
    sp = add("tree", do_tree, "get the base tree (Debian's linux-source-7.3 by default)")
    sp.add_argument("--tree", help="use your own mainline git checkout (7.3 or later)")
    add("apply", do_apply, "turn `series` into one commit per patch; prints the tree path")
    sp = add("import", do_import, "write the applied tree's commits back into `series`")
    sp.add_argument("--branch", default="series", help="branch of the applied tree")
    sp = add("build", do_build, "build a profile (kunit, vm, debug)")
    sp.add_argument("--profile", default="vm", choices=sorted(build_mod.PROFILES))
    sp.add_argument("--no-inline-helpers", dest="inline_helpers", action="store_false",
                    help="build without CONFIG_RUST_INLINE_HELPERS (own build dir)")
    sp = add("kunit", do_kunit, "run the KUnit suites and the Rust doctests")
    sp.add_argument("--profile", default="vm", choices=["vm", "debug", "kunit"],
                    help="vm/debug: boot that kernel with kunit.enable=1 (no extra build); "
                         "kunit: tools/testing/kunit/kunit.py run")
    sp = add("vmtest", do_vmtest, "boot the kernel in QEMU and run the in-VM tests")
    sp.add_argument("--profile", default="vm", choices=["vm", "debug"])
    sp.add_argument("--timeout", type=int, default=vm.BOOT_TIMEOUT)
    sp.add_argument("tests", nargs="*", help=f"tests to run (default: all): "
                                             f"{', '.join(vm.available_tests())}")
    sp = add("bench", do_bench, "A/B benchmarks (see `bench --help`)")
    bench_mod.add_arguments(sp)
    sp = add("check", do_check, "rustfmtcheck, clippy, rustdoc, checkpatch, zero-unsafe")
    sp.add_argument("--bisect", action="store_true", help="also build every commit (slow)")
    sp.add_argument("--from", dest="first", type=int, default=1, metavar="N",
                    help="with --bisect: build patch N (1-based) and those after it only")
    sp = add("mail", do_mail, "export the series as numbered mails (never sends)")
    sp.add_argument("--out", help=f"output directory (default {CACHE}/mails)")
    sp = add("run", do_run, "set up, build, boot and show the drivers working")
    sp.add_argument("--tree", help="use your own mainline git checkout (7.3 or later)")
    sp = add("test", do_test, "what CI runs; ends with `N passed, N failed`")
    sp.add_argument("--tree", help="use your own mainline git checkout (7.3 or later)")
    sp.add_argument("--quick", action="store_true", help="skip the CLIPPY=1 and rustdoc builds")
    add("help", None, "list the subcommands")
    return p


def main(argv):
    p = parser()
    args = p.parse_args(argv)
    if not getattr(args, "fn", None):
        p.print_help()
        return 0 if args.cmd == "help" else 2
    try:
        return args.fn(args)
    except SeriesError as e:
        print(f"series: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("series: interrupted", file=sys.stderr)
        return 130

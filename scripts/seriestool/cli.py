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
from . import demo
from . import importer
from . import kunit as kunit_mod
from . import mail as mail_mod
from . import prep as prep_mod
from . import profiles
from . import setup as setup_mod
from . import tree as tree_mod
from . import vm
from .common import CACHE, REPO, TOOL, SeriesError, fmt_secs, git, info, step


class Pipeline:
    """setup -> tree -> apply -> build, the steps every subcommand shares.
    Each step runs once, when first needed, as a `==>` step line; `tree`
    takes --tree when the subcommand has it, and `setup` runs only where
    asked (run, test)."""

    def __init__(self, args, with_setup=False):
        self.tree_arg = getattr(args, "tree", None)
        self.posting = getattr(args, "posting_tree", None)
        self.with_setup = with_setup
        self._tree = self._applied = self._chains = None
        self._built = {}

    def setup(self):
        done = step("setup")
        ok = setup_mod.setup()
        done()
        return ok

    def tree(self):
        """(checkout, base)."""
        if self._tree is None:
            if self.with_setup:
                self.setup()
            done = step("tree")
            self._tree = tree_mod.tree(self.tree_arg) if self.tree_arg else tree_mod.current()
            done(f"(base {self._tree[1][:12]} in {self._tree[0]})")
        return self._tree

    def applied(self):
        """(checkout, base, series, commits) with the series applied."""
        if self._applied is None:
            checkout, base = self.tree()
            done = step("apply")
            series, commits = apply_mod.apply(checkout, base)
            done(f"({len(commits)} patches on {base[:12]})")
            self._applied = (checkout, base, series, commits)
            if self.posting:
                self._applied = (self.posting_tree(checkout, base, series, commits),
                                 base, series, commits)
        return self._applied

    def posting_tree(self, checkout, base, series, commits):
        """For --posting: the applied tree checked out at the tree of one
        posting (base, what it requires, it), branch posting/<name>, built
        in the profiles' own build directories (the next build of the
        whole series rebuilds what differs; `apply` checks `series` out
        again)."""
        names = [p.name for p in series.postings]
        if self.posting not in names:
            raise SeriesError(f"--posting {self.posting}: the postings are {', '.join(names)}")
        done = step(f"posting {self.posting}")
        self._chains = apply_mod.posting_chains(checkout, base, series, commits)
        git(["checkout", "-q", "-f", "--detach", f"posting/{self.posting}"], checkout)
        need = [q.name for q in series.closure(self.posting)]
        done(f"({checkout} at posting/{self.posting}: {', '.join(need)})")
        return checkout

    def alone(self, name):
        """A pipeline for the tree of posting `name` alone, on this one's
        applied series."""
        other = Pipeline.__new__(Pipeline)
        other.tree_arg, other.with_setup, other.posting = self.tree_arg, False, name
        other._tree, other._chains, other._built = self._tree, None, {}
        checkout, base, series, commits = self.applied()
        other._applied = (other.posting_tree(checkout, base, series, commits), base, series,
                          commits)
        return other

    def profile(self, profile):
        """`profile`, for the tree of --posting if given."""
        return profile.for_posting(self.posting) if self.posting else profile

    def vm_tests(self, tests):
        """The VM tests to run: those asked for, or all (with --posting, those
        of the postings its tree has)."""
        if tests or not self.posting:
            return tests
        series = self.applied()[2]
        return vm.tests_for([q.name for q in series.closure(self.posting)])

    @property
    def checkout(self):
        return self.applied()[0]

    def chains(self):
        """{posting: its commits on the base}, with branches posting/<name>."""
        if self._chains is None:
            checkout, base, series, commits = self.applied()
            done = step("postings")
            self._chains = apply_mod.posting_chains(checkout, base, series, commits)
            done(f"({len(series.postings)} postings, branches posting/<name>)")
        return self._chains

    def built(self, profile):
        """The build directory of `profile`, built. A build that failed is
        not tried again: the steps that need it fail with its error."""
        profile = self.profile(profile)
        if profile.name not in self._built:
            checkout = self.checkout
            done = step(f"build {profile.name}"
                        + (f" (posting {self.posting})" if self.posting else ""))
            try:
                self._built[profile.name] = build_mod.build(checkout, profile)
            except SeriesError as e:
                self._built[profile.name] = e
                raise
            done()
        result = self._built[profile.name]
        if isinstance(result, SeriesError):
            raise SeriesError(f"the {profile.name} build failed earlier in this run: "
                              f"{str(result).splitlines()[0]}")
        return result


def do_setup(args):
    ok = Pipeline(args).setup()
    return 0 if ok or args.allow_no_inline else 1


def do_tree(args):
    Pipeline(args).tree()
    return 0


def do_apply(args):
    pipe = Pipeline(args)
    checkout, _, series, commits = pipe.applied()
    of = dict(zip((p.number for p in series.patches), commits))
    chains = pipe.chains()
    for posting in series.postings:
        need = [q.name for q in series.closure(posting.name)][:-1]
        info(f"  posting {posting.name} ({len(posting.patches)} patches"
             + (f"; requires {', '.join(need)}" if need else "")
             + f"): branch posting/{posting.name} at {chains[posting.name][-1][:12]}")
        for p in posting.patches:
            info(f"    {of[p.number][:12]} {p.number:3d} {p.subject}")
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
    bdir = Pipeline(args).built(profiles.get(args.profile))
    info(f"kernel: {build_mod.image(bdir)}")
    return 0


def kunit_step(pipe, profile):
    """KUnit the way `profile` runs it; returns (passed, failed)."""
    if profile.kunit == profiles.KUNIT_AT_BOOT:
        pipe.built(profile)
    done = step(f"kunit {profile.name} ({profile.kunit})")
    result = kunit_mod.run(pipe.checkout, pipe.profile(profile))
    done()
    return result


def vmtest_step(pipe, profile, tests=None, append=""):
    pipe.built(profile)
    done = step(f"vmtest {profile.name}")
    result = vm.vmtest(pipe.checkout, pipe.profile(profile), pipe.vm_tests(tests),
                       append=append)
    done()
    return result


def do_kunit(args):
    _, failed = kunit_step(Pipeline(args), profiles.get(args.profile))
    return 1 if failed else 0


def do_vmtest(args):
    _, failed = vmtest_step(Pipeline(args), profiles.get(args.profile), args.tests,
                            " ".join(args.append))
    return 1 if failed else 0


def do_mail(args):
    pipe = Pipeline(args)
    checkout, base, series, _ = pipe.applied()
    out = args.out or os.path.join(CACHE, "mails")
    posted = mail_mod.mail(checkout, base, series, pipe.chains(), out)
    for p in posted:
        need = [q.name for q in series.closure(p.posting.name)][:-1]
        info(f"  {p.directory}: {len(p.mails)} mails"
             + (f" (requires {', '.join(need)})" if need else ""))
        info(f"      To: {', '.join(p.to)}")
        info(f"      Cc: {', '.join(p.cc)}")
    info(f"{sum(len(p.mails) for p in posted)} mails in {len(posted)} postings in {out} "
         "(nothing was sent; see README.md for b4)")
    return 0


def b4_check(pipe):
    """The b4 route of README.md, run for the two smallest postings: the
    submitter's branch enrolled, `b4 prep --check` without errors (its
    checkpatch run finds an author without their Signed-off-by), and `b4
    send -o` writing a mail per patch and the cover letter."""
    checkout, base, series, _ = pipe.applied()
    chains = pipe.chains()
    problems = []
    for posting in sorted(series.postings, key=lambda p: len(p.patches))[:2]:
        wt, who = prep_mod.prep(checkout, base, series, chains, posting.name)
        summary, errors = prep_mod.check(wt, who)
        info(f"    b4 prep --check of {posting.name}: {summary}")
        problems += [f"{posting.name}: {e}" for e in errors]
        out = os.path.join(CACHE, "b4", f"{posting.name}-sent")
        sent = prep_mod.send(wt, who, out)
        want = len(posting.patches) + (1 if len(posting.patches) > 1 else 0)
        if len(sent) != want:
            problems.append(f"{posting.name}: b4 send -o wrote {len(sent)} mails, not {want}")
        for name in sent:
            with open(os.path.join(out, name)) as f:
                text = f.read()
            if name.startswith("0000"):
                continue
            author = re.search(r"^From: (.*)$", text, re.M).group(1)
            if f"Signed-off-by: {who[0]} <{who[1]}>" not in text or who[1] not in author:
                problems.append(f"{posting.name}: {name} is not from and signed off by "
                                f"the submitter {who[0]} <{who[1]}>")
    return problems


def do_prep(args):
    pipe = Pipeline(args)
    checkout, base, series, _ = pipe.applied()
    if args.posting not in [p.name for p in series.postings]:
        raise SeriesError(f"no posting {args.posting}; the postings are: "
                          + ", ".join(p.name for p in series.postings))
    done = step(f"prep {args.posting}")
    wt, _ = prep_mod.prep(checkout, base, series, pipe.chains(), args.posting)
    done()
    info(f"b4 branch b4/{args.posting} in {wt}; next, there:")
    info(f"    {prep_mod.setup_mod.b4_path()} prep --check")
    info(f"    {prep_mod.setup_mod.b4_path()} --offline-mode send -o /tmp/outgoing --no-sign")
    print(wt)
    return 0


def static_checks(pipe, *, clippy=True):
    """The checks of `check`; returns (passed, failed)."""
    checkout, base, series, _ = pipe.applied()
    bdir = pipe.built(profiles.VM)
    done = step("static checks")
    results = []

    def fmt():
        ok, out = check_mod.rustfmtcheck(checkout, bdir)
        return [] if ok else ["make rustfmtcheck reported:\n" + out]

    def unsafe():
        changed, hits = check_mod.zero_unsafe(checkout, base)
        info(f"    {len(changed)} drivers/ file(s) added or changed by the series")
        return hits

    def mails():
        out = os.path.join(CACHE, "mails-check")
        chains = pipe.chains()
        posted = mail_mod.mail(checkout, base, series, chains, out)
        for line in mail_mod.am_postings(checkout, base, series, chains, posted,
                                         pipe.applied()[3][-1]):
            info(f"    {line}")
        errors, warnings = mail_mod.checkpatch(checkout, [m for p in posted for m in p.patches])
        for w in warnings:
            info(f"    checkpatch: {w}")
        return errors

    results.append(check_mod.run_check("rustfmtcheck", fmt))
    results.append(check_mod.run_check("zero-unsafe in drivers", unsafe))
    results.append(check_mod.run_check(
        "mail: a directory per posting, git am of each onto the base with what it requires, "
        "checkpatch --strict (with spdxcheck and codespell)", mails))
    results.append(check_mod.run_check(
        "b4: the prep route (scripts/series prep) of the smallest postings, b4 prep --check "
        "without errors", lambda: b4_check(pipe)))
    if clippy:
        results.append(check_mod.run_check(
            "clippy: the CLIPPY=1 build of vm without warnings (Rust lints, objtool)",
            lambda: check_mod.clippy(checkout, base, profiles.VM)))
        results.append(check_mod.run_check(
            "make rustdoc without warnings", lambda: check_mod.rustdoc(checkout, bdir)))
    done()
    return results.count(True), results.count(False)


def config_checks(pipe):
    """check --configs: every config variant builds without errors or
    warnings; returns (passed, failed)."""
    checkout, base, _, _ = pipe.applied()
    variants = profiles.CONFIG_VARIANTS
    done = step(f"configs ({len(variants)} variants)")
    failures = check_mod.configs(checkout, base, variants)
    done()
    return len(variants) - len(failures), len(failures)


def do_check(args):
    pipe = Pipeline(args)
    if args.bisect_only and not args.bisect:
        raise SeriesError("--bisect-only goes with --bisect")
    if args.configs:
        passed, failed = config_checks(pipe)
    elif args.bisect_only:
        passed = failed = 0
    else:
        passed, failed = static_checks(pipe)
    if args.bisect:
        checkout, base, series, commits = pipe.applied()
        check_mod.bisect_range(commits, args.first)
        names = [p.name for p in series.postings]
        unknown = [n for n in args.posting or [] if n not in names]
        if unknown:
            raise SeriesError(f"--posting {', '.join(unknown)}: the postings are "
                              + ", ".join(names))
        chains = pipe.chains()
        chosen = [p for p in series.postings if not args.posting or p.name in args.posting]
        if not any(p.number >= args.first for q in chosen for p in q.patches):
            raise SeriesError(f"--bisect: no patch of {', '.join(q.name for q in chosen)} "
                              f"is at or after --from {args.first}: nothing would be built")
        for posting in series.postings:
            if args.posting and posting.name not in args.posting:
                continue
            own = chains[posting.name][-len(posting.patches):]
            first = posting.patches[0].number
            wanted = [(p.number, c) for p, c in zip(posting.patches, own)
                      if p.number >= args.first]
            if not wanted:
                continue
            done = step(f"bisect posting {posting.name} ({len(wanted)} of its "
                        f"{len(own)} commits)")
            # A posting with exactly what comes before it shares the commits of
            # the applied series; any other's are on the base with only what
            # it requires (its branch posting/<name>).
            failures = check_mod.bisect(checkout, base, [c for _, c in wanted], profiles.VM,
                                        numbers=[n for n, _ in wanted],
                                        total=len(series.patches))
            done()
            passed, failed = passed + len(wanted) - len(failures), failed + len(failures)
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

    pipe = Pipeline(args)
    add("tool self-tests", tool_tests)
    if not add("setup", lambda: (1, 0) if pipe.setup() else (0, 1)):
        info("setup failed: nothing else can run")
    elif add("tree, apply, build vm", lambda: (1, 0) if pipe.built(profiles.VM) else (0, 1)):
        if not os.environ.get("SERIES_SUBMITTER") and not _has_identity():
            os.environ["SERIES_SUBMITTER"] = "CI Submitter <ci@localhost>"
        if not pipe.posting:
            add("static checks", lambda: static_checks(pipe, clippy=not args.quick))
        for profile in TEST_PROFILES if not args.quick else TEST_PROFILES[:1]:
            if profile.kunit:
                add(f"kunit {profile.name}", lambda p=profile: kunit_step(pipe, p))
            if profile.boots:
                add(f"vmtest {profile.name}", lambda p=profile: vmtest_step(pipe, p))
        if not pipe.posting:
            for name in ALONE:
                alone = {}

                def build_alone(name=name, alone=alone):
                    alone["pipe"] = pipe.alone(name)
                    return (1, 0) if alone["pipe"].built(profiles.VM) else (0, 1)
                if add(f"posting {name} alone: build vm", build_alone):
                    add(f"posting {name} alone: kunit vm",
                        lambda a=alone: kunit_step(a["pipe"], profiles.VM))
                    add(f"posting {name} alone: vmtest vm",
                        lambda a=alone: vmtest_step(a["pipe"], profiles.VM))
    info("timings: " + ", ".join(f"{n} {fmt_secs(t)}" for n, t in timings)
         + f"; total {fmt_secs(time.monotonic() - start)}")
    print(f"{total_p} passed, {total_f} failed", flush=True)
    return 1 if total_f else 0


# The profiles `test` runs KUnit and the VM tests on, in this order.
TEST_PROFILES = (profiles.VM, profiles.DEBUG, profiles.KUNIT)

# The postings `test` also builds and tests alone on the vm profile, on the
# base with only what they require: binderlike, which does not stack on the
# block postings (its tree holds rust-helpers and sysfs-misc too). Every
# posting's commits are built alone by `check --bisect`.
ALONE = ("binderlike",)


def _has_identity():
    res = subprocess.run(["git", "-C", REPO, "config", "user.email"], capture_output=True,
                         text=True)
    return bool(res.stdout.strip())


def do_run(args):
    """For a new user: the drivers of the series at work, side by side."""
    pipe = Pipeline(args, with_setup=True)
    checkout, base, series, commits = pipe.applied()
    bdir = pipe.built(profiles.VM)
    done = step("boot the vm kernel: the drivers side by side")
    shown = demo.run(checkout, profiles.VM)
    done()
    info("")
    info(shown)
    info("")
    info(f"branch:   'series' in {checkout} ({len(commits)} commits on {base[:12]})")
    info(f"kernel:   {build_mod.image(bdir)}")
    info(f"console:  {os.path.join(bdir, 'demo.log')}")
    info("next:     scripts/series test (what CI runs), scripts/series vmtest [TEST...],")
    info("          scripts/series bench rnull --icount, scripts/series mail; README.md")
    return 0


def do_bench(args):
    return bench_mod.main(Pipeline(args).checkout, args)


def profile_help():
    return "; ".join(f"{p.name}: {p.description}" for p in profiles.PROFILES.values())


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
    posting_help = ("build and test the tree of one posting alone: the base, the postings "
                    "it requires, it (a worktree and build directories of its own)")
    sp = add("build", do_build, "build a profile: " + profile_help())
    sp.add_argument("--profile", default="vm", choices=profiles.names())
    sp.add_argument("--posting", dest="posting_tree", metavar="NAME", help=posting_help)
    sp = add("kunit", do_kunit, "run the KUnit suites and the Rust doctests")
    sp.add_argument("--profile", default="vm", choices=profiles.names(lambda p: p.kunit),
                    help="vm, debug: boot that kernel with kunit.enable=1; "
                         "kunit: tools/testing/kunit/kunit.py run")
    sp.add_argument("--posting", dest="posting_tree", metavar="NAME", help=posting_help)
    sp = add("vmtest", do_vmtest, "boot the kernel in QEMU and run the in-VM tests")
    sp.add_argument("--profile", default="vm", choices=profiles.names(lambda p: p.boots))
    sp.add_argument("--posting", dest="posting_tree", metavar="NAME",
                    help=posting_help + "; the tests default to those of its postings")
    sp.add_argument("--append", action="append", default=[], metavar="ARG",
                    help="a kernel argument for the VM, e.g. series.binder_fuzz=1000000 "
                         "(the full binderlike-fuzz run); repeatable")
    sp.add_argument("tests", nargs="*", help=f"tests to run (default: all): "
                                             f"{', '.join(vm.available_tests())}")
    sp = add("bench", do_bench, "A/B benchmarks (see `bench --help`)")
    bench_mod.add_arguments(sp)
    sp = add("check", do_check, "rustfmtcheck, clippy, rustdoc, checkpatch, zero-unsafe")
    sp.add_argument("--configs", action="store_true",
                    help="instead, build the series in each config variant: "
                    + ", ".join(p.name for p in profiles.CONFIG_VARIANTS))
    sp.add_argument("--bisect", action="store_true", help="also build every commit (slow)")
    sp.add_argument("--from", dest="first", type=int, default=1, metavar="N",
                    help="with --bisect: build patch N (1-based) and those after it only")
    sp.add_argument("--posting", action="append", metavar="NAME",
                    help="with --bisect: only this posting (repeatable); each is built on "
                         "the base with only the postings it requires")
    sp.add_argument("--bisect-only", action="store_true",
                    help="with --bisect: only the builds, not the static checks")
    sp = add("mail", do_mail, "export each posting as numbered mails in a directory (never sends)")
    sp.add_argument("--out", help=f"output directory (default {CACHE}/mails)")
    sp = add("prep", do_prep, "a posting as a b4 branch authored and signed off by you, "
                              "in a worktree of its own, enrolled with b4 prep")
    sp.add_argument("posting", help="the posting's name (see `apply`)")
    sp = add("run", do_run, "set up, build, boot and show the drivers side by side")
    sp.add_argument("--tree", help="use your own mainline git checkout (7.3 or later)")
    sp = add("test", do_test, "what CI runs; ends with `N passed, N failed`")
    sp.add_argument("--tree", help="use your own mainline git checkout (7.3 or later)")
    sp.add_argument("--quick", action="store_true",
                    help="skip the CLIPPY=1 and rustdoc builds and all profiles but vm")
    sp.add_argument("--posting", dest="posting_tree", metavar="NAME",
                    help=posting_help + "; no static checks (they are of all postings)")
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

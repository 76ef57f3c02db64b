# SPDX-License-Identifier: GPL-2.0
"""`kunit`: runs the KUnit suites (ours and the Rust doctests) and counts them."""

import json
import os
import stat
import subprocess
import tempfile

from . import build, profiles, vm
from .common import CACHE, LLVM_SUFFIX, SeriesError, info, kernel_env, stream_with_progress, which

# The suites of the series; `kunit` fails if one of them did not run.
OUR_SUITES_FILE = os.path.join(os.path.dirname(__file__), "configs", "kunit-suites")


def our_suites(label):
    """The suites of the series that a run labelled `label` (a profile's
    name, or "kunit.py") must have run: a line of configs/kunit-suites is a
    suite, and after it the labels of the only runs that have it (a module's
    suites run only where the module is built in)."""
    suites = []
    with open(OUR_SUITES_FILE) as f:
        for line in f:
            words = line.split()
            if words and not words[0].startswith("#") and (len(words) == 1
                                                         or label in words[1:]):
                suites.append(words[0])
    return suites


def count(results_json):
    """(passed, failed, skipped, per-suite) from kunit.py's --json output."""
    passed = failed = skipped = 0
    suites = {}

    def walk(group, top):
        nonlocal passed, failed, skipped
        for case in group.get("test_cases", []):
            st = case.get("status")
            if st == "PASS":
                passed += 1
            elif st == "SKIP":
                skipped += 1
            else:
                failed += 1
            suites.setdefault(top, [0, 0])[0 if st in ("PASS", "SKIP") else 1] += 1
        for sub in group.get("sub_groups", []):
            walk(sub, sub.get("name") if top is None else top)
    walk(results_json, None)
    return passed, failed, skipped, suites


def parse_log(tree, log, out_json):
    kunit_py = os.path.join(tree, "tools", "testing", "kunit", "kunit.py")
    res = subprocess.run(["python3", kunit_py, "parse", f"--json={out_json}", log],
                         capture_output=True, text=True)
    summary = [l for l in res.stdout.splitlines() if "Testing complete" in l]
    return res.returncode, summary[-1] if summary else res.stdout[-2000:]


def present(tree, suites):
    """The suites whose `kunit_tests(<suite>)` is in `tree` (the doctests
    always are): what the tree of one posting must run."""
    out = []
    for s in suites:
        res = subprocess.run(["git", "-C", tree, "grep", "-q", "-F", f"kunit_tests({s})", "--",
                              "rust", "drivers", "samples"], capture_output=True)
        if s.startswith("rust_doctests") or res.returncode == 0:
            out.append(s)
    return out


def report(tree, log, label, only_present=False):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "kunit.json")
        rc, summary = parse_log(tree, log, out)
        info(f"    kunit.py parse: {summary.strip()}")
        if not os.path.exists(out):
            raise SeriesError(f"kunit.py parse wrote no results from {log}")
        with open(out) as f:
            data = json.load(f)
    passed, failed, skipped, suites = count(data)
    for name, (ok, bad) in sorted(suites.items()):
        info(f"    {'PASS' if bad == 0 else 'FAIL'} suite {name}: {ok} passed, {bad} failed")
    ours = our_suites(label)
    if only_present:
        ours = present(tree, ours)
    missing = [s for s in ours if s not in suites]
    if missing:
        info(f"    FAIL: suites of the series that did not run: {', '.join(missing)}")
        failed += len(missing)
    if passed + failed == 0:
        info("    FAIL: no KUnit test ran")
        failed += 1
    if rc != 0 and failed == 0:
        info(f"    FAIL: kunit.py parse exited {rc} (crash or parse error; see {log})")
        failed += 1
    info(f"kunit[{label}]: {passed} passed, {failed} failed"
         + (f", {skipped} skipped" if skipped else ""))
    return passed, failed


def run(tree, profile):
    """Runs the KUnit suites the way `profile` runs them; returns (passed, failed)."""
    if profile.kunit == profiles.KUNIT_AT_BOOT:
        return kunit_at_boot(tree, profile)
    if profile.kunit == profiles.KUNIT_PY:
        return kunit_py(tree, profile)
    raise SeriesError(f"profile {profile.name} runs no KUnit suites; profiles that do: "
                      f"{', '.join(profiles.names(lambda p: p.kunit))}")


def kunit_at_boot(tree, profile):
    """Boots the profile's kernel with kunit.enable=1: the suites run before init."""
    console, _, log = vm.boot(tree, profile, kind="kunit", extra_append="kunit.enable=1",
                              devices=())
    passed, failed = report(tree, log, profile.name, only_present=bool(profile.posting))
    found = vm.splats(console)
    if found:
        info(f"    FAIL: {len(found)} kernel splat line(s) while KUnit ran, e.g. {found[0]}")
        failed += 1
    return passed, failed


def qemu_wrapper(dirname):
    """A qemu-system-x86_64 first in PATH that drops `-accel kvm` (the KVM here
    cannot run guests; kunit.py hard-codes it) and execs the real one."""
    real = which(vm.QEMU)
    if not real:
        raise SeriesError("qemu-system-x86_64 is missing: run `scripts/series setup`")
    path = os.path.join(dirname, vm.QEMU)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n# Drop '-accel kvm' (see scripts/seriestool/kunit.py).\n"
                "n=$#; i=0\nwhile [ $i -lt $n ]; do\n  a=$1; shift; i=$((i+1))\n"
                "  if [ \"$a\" = -accel ] && [ \"$1\" = kvm ]; then shift; i=$((i+1)); "
                "continue; fi\n  set -- \"$@\" \"$a\"\ndone\n"
                f"exec {real} \"$@\"\n")
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


def kunit_py(tree, profile, timeout=1200):
    """kunit.py run --arch=x86_64 with the profile's config lines as its
    kunitconfig, in a build directory of its own (kunit.py configures it its
    own way, from defaults rather than tinyconfig)."""
    bdir = profile.build_dir("kunitpy")
    os.makedirs(bdir, exist_ok=True)
    kconf = os.path.join(bdir, "series.kunitconfig")
    lines = [l for l in profile.config_lines() if not l.startswith("CONFIG_64BIT")]
    if profile.posting:
        # kunit.py refuses options its tree does not define: the tree of one
        # posting lacks those of the postings it does not require.
        defined = build.kconfig_symbols(tree)
        lines = [l for l in lines if profiles.option_name(l) in defined]
    with open(kconf, "w") as f:
        f.write("\n".join(lines) + "\n")
    log = os.path.join(bdir, "kunit-run.log")
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        qemu_wrapper(tmp)
        env = kernel_env()
        env["PATH"] = tmp + ":" + env["PATH"]
        cmd = ["python3", os.path.join(tree, "tools", "testing", "kunit", "kunit.py"), "run",
               "--arch=x86_64", f"--build_dir={bdir}", f"--kunitconfig={kconf}",
               f"--make_options=LLVM={LLVM_SUFFIX}",
               f"--make_options=CC=ccache clang{LLVM_SUFFIX}", f"--jobs={os.cpu_count() or 2}",
               f"--timeout={profile.timeout(timeout)}", "--raw_output=all"]
        info("    $ " + " ".join(cmd))
        with build.locked(bdir):
            rc = stream_with_progress(cmd, cwd=tree, env=env, log_path=log, label="kunit.py",
                                      match=build.MAKE_STEP.match)
    if rc != 0:
        with open(log, errors="replace") as f:
            text = f.read()
        if "Testing complete" not in text:
            errors = [l for l in text.splitlines() if "error" in l.lower()]
            raise SeriesError(f"kunit.py run failed (exit {rc}) before testing; see {log}:\n"
                              + "\n".join(errors[-20:] or text.splitlines()[-20:]))
    return report(tree, log, "kunit.py", only_present=bool(profile.posting))

# SPDX-License-Identifier: GPL-2.0
"""`check`: the static checks a reviewer expects to pass on every posting."""

import os
import re
import subprocess
import time

from . import build
from .common import SeriesError, fmt_secs, git, info, kernel_env, stream_with_progress, tail

UNSAFE_RE = re.compile(r"\bunsafe\b|\bbindings::")
RUST_WARNING_RE = re.compile(r"^(warning|error)(\[\w+\])?: ")


def strip_comment(line):
    """The code part of a Rust line (drops `//` comments outside strings)."""
    in_str = False
    for i, ch in enumerate(line):
        if ch == '"' and (i == 0 or line[i - 1] != "\\"):
            in_str = not in_str
        elif not in_str and line.startswith("//", i):
            return line[:i]
    return line


def unsafe_hits(path, text):
    hits = []
    for n, line in enumerate(text.splitlines(), 1):
        if UNSAFE_RE.search(strip_comment(line)):
            hits.append(f"{path}:{n}: {line.strip()}")
    return hits


def zero_unsafe(tree, base, branch="series"):
    """No `unsafe` and no `bindings::` in any drivers/ file the series adds or
    changes (whole files at the tip, not only the changed lines)."""
    changed = git(["diff", "--name-only", "--diff-filter=AM", f"{base}..{branch}", "--",
                   "drivers/"], tree).split()
    hits = []
    for path in changed:
        if path.endswith(".rs"):
            hits += unsafe_hits(path, git(["show", f"{branch}:{path}"], tree))
    return changed, hits


def rustfmtcheck(tree, bdir):
    res = subprocess.run(build.make_cmd(tree, bdir, "rustfmtcheck"), cwd=tree,
                         env=kernel_env(), capture_output=True, text=True)
    return res.returncode == 0, (res.stdout + res.stderr)[-3000:]


def rust_warnings(log):
    with open(log, errors="replace") as f:
        text = f.read().splitlines()
    out = []
    for i, line in enumerate(text):
        if RUST_WARNING_RE.match(line) and not line.startswith("warning: unused manifest"):
            out.append("\n".join(text[i:i + 3]))
    return out


# objtool's warning about an object, e.g. "rust/kernel.o: warning: objtool:
# f() falls through to next function g()".
OBJTOOL_RE = re.compile(r"^(\S+\.o): warning: objtool: (.*)$")
# objtool warnings that Linux 7.3 gives without the series: objtool's list of
# Rust functions that do not return has core's panic_const_* functions only
# with names of 24 characters, so a division or remainder by a value the
# compiler cannot prove non-zero in the doctests of kernel::num::bounded
# "falls through to next function".
UPSTREAM_OBJTOOL = (re.compile(r"^\S*kernel3num7bounded"),)


def objtool_warnings(log):
    """objtool's warnings in a build log but those of Linux 7.3 itself."""
    out = []
    with open(log, errors="replace") as f:
        for line in f:
            m = OBJTOOL_RE.match(line)
            if m and not any(p.search(m.group(2)) for p in UPSTREAM_OBJTOOL):
                out.append(line.rstrip())
    return out


# Kbuild's line for a Rust crate it compiles, e.g. "  CLIPPY L rust/kernel.o".
CRATE_RE = re.compile(r"^\s+(?:RUSTC|CLIPPY)(?: L| P| \[M\])?\s+(\S+\.(?:o|so))\s*$", re.M)
# The crates of rust/ by the directory of their sources.
RUST_CRATES = {"rust/kernel/": ["rust/kernel.o", "rust/doctests_kernel_generated.o"],
               "rust/bindings/": ["rust/bindings.o"], "rust/uapi/": ["rust/uapi.o"],
               "rust/macros/": ["rust/libmacros.so"], "rust/pin-init/": ["rust/pin_init.o"]}


def our_crates(tree, base, bdir, branch="series"):
    """The objects (relative to `bdir`) of the Rust crates the series adds or
    changes: those of rust/ by directory, and in drivers/ and samples/ each
    .rs file that is a crate root (its object exists in bdir)."""
    objs = set()
    for path in git(["diff", "--name-only", f"{base}..{branch}"], tree).split():
        if not path.endswith(".rs"):
            continue
        for prefix, crates in RUST_CRATES.items():
            if path.startswith(prefix):
                objs.update(c for c in crates if os.path.exists(os.path.join(bdir, c)))
        if path.startswith(("drivers/", "samples/")):
            obj = path[:-3] + ".o"
            if os.path.exists(os.path.join(bdir, obj)):
                objs.add(obj)
    return sorted(objs)


def clippy(tree, base, profile):
    """The Rust lints and objtool's warnings of the series' crates. The
    profile builds with CLIPPY=1, so its build log has the lints of each
    crate it compiled and objtool's warnings about its object; a crate of
    the series it did not compile (up to date from an earlier build) is
    compiled again, so that none is missed. Returns them."""
    if not profile.clippy:
        raise SeriesError(f"profile {profile.name} does not build with CLIPPY=1")
    bdir = profile.build_dir()
    log = os.path.join(bdir, "build.log")
    with open(log, errors="replace") as f:
        compiled = set(CRATE_RE.findall(f.read()))
    warnings = rust_warnings(log) + objtool_warnings(log)
    stale = [c for c in our_crates(tree, base, bdir) if c not in compiled]
    if stale:
        info(f"    compiling again for their lints: {', '.join(stale)}")
        for c in stale:
            os.remove(os.path.join(bdir, c))
        build.build(tree, profile, label="clippy")
        warnings += rust_warnings(log) + objtool_warnings(log)
    return warnings


def rustdoc(tree, bdir):
    log = os.path.join(bdir, "rustdoc.log")
    rc = stream_with_progress(build.make_cmd(tree, bdir, "rustdoc"), cwd=tree,
                              env=kernel_env(), log_path=log, label="rustdoc")
    warnings = rust_warnings(log)
    if rc != 0:
        warnings.append(f"make rustdoc failed (exit {rc}); see {log}:\n{tail(log, 15)}")
    return warnings


def bisect_range(commits, first):
    """The commits that `check --bisect --from FIRST` builds: patch FIRST
    (1-based) and those after it."""
    if not 1 <= first <= len(commits):
        raise SeriesError(f"--from {first}: the series has patches 1 to {len(commits)}")
    return commits[first - 1:]


def bisect(tree, base, commits, profile, *, numbers, total):
    """Builds each of `commits` (patches `numbers` of `total`) in one worktree
    and one build dir for every posting: going from one posting's commits to
    another's only rebuilds what differs. Returns the failures."""
    bdir = profile.build_dir("bisect")
    wt = os.path.join(os.path.dirname(bdir), "bisect-src")
    if not os.path.exists(wt):
        git(["worktree", "add", "-q", "--detach", wt, base], tree)
    failures = []
    for n, commit in zip(numbers, commits):
        git(["checkout", "-q", "-f", "--detach", commit], wt)
        subject = git(["log", "-1", "--format=%s", commit], wt)
        try:
            build.build(wt, profile, label=f"bisect {n}/{total}", bdir=bdir,
                        early=True)
        except SeriesError as e:
            failures.append(f"patch {n} ({subject}): {str(e).splitlines()[0]}")
            info(f"FAIL bisect {n}/{total}: {subject}")
            continue
        info(f"PASS bisect {n}/{total}: {subject}")
    return failures


C_WARNING_RE = re.compile(r"^(\S+?):\d+:\d+: (warning|error): ")


def build_warnings(log, ours, tree=""):
    """The warnings and errors of a build log that matter: every Rust one
    (warnings in any Rust code fail the kernel's -Dwarnings-free builds) and
    the C ones in files the series adds or changes (`ours`, relative to the
    tree; an out-of-tree build names sources by their path in `tree`)."""
    found = rust_warnings(log)
    with open(log, errors="replace") as f:
        for line in f:
            m = C_WARNING_RE.match(line)
            path = os.path.normpath(m.group(1)) if m else ""
            if tree and os.path.isabs(path):
                path = os.path.relpath(path, tree)
            if m and path in ours:
                found.append(line.rstrip())
    return found


def configs(tree, base, variants, branch="series"):
    """Builds the series in each config variant (a profiles.Profile), each in
    a build directory of its own; returns the failures."""
    ours = set(git(["diff", "--name-only", f"{base}..{branch}"], tree).split())
    failures = []
    for n, variant in enumerate(variants, 1):
        label = f"configs {n}/{len(variants)} {variant.name}"
        t0 = time.monotonic()
        try:
            bdir = build.build(tree, variant, label=label)
            problems = build_warnings(os.path.join(bdir, "build.log"), ours, tree)
        except SeriesError as e:
            problems = [str(e)]
        took = fmt_secs(time.monotonic() - t0)
        if problems:
            failures.append(variant.name)
            info(f"FAIL {label} ({variant.description}; {took}):")
            for p in problems[:20]:
                info("    " + p.replace("\n", "\n    "))
        else:
            info(f"PASS {label} ({variant.description}; {took})")
    return failures


def run_check(name, fn):
    """Runs one check; prints PASS/FAIL and returns True on pass."""
    try:
        problems = fn()
    except SeriesError as e:
        problems = [str(e)]
    if problems:
        info(f"FAIL {name}")
        for p in problems[:30]:
            info("    " + p.replace("\n", "\n    "))
        return False
    info(f"PASS {name}")
    return True

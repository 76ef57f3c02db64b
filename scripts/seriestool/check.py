# SPDX-License-Identifier: GPL-2.0
"""`check`: the static checks a reviewer expects to pass on every posting."""

import os
import re
import subprocess

from . import build
from .common import SeriesError, git, info, kernel_env, stream_with_progress, tail

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


def rust_dirs(tree, base, branch="series"):
    """The directories with Rust code the series touches, plus the Rust core."""
    dirs = {"rust/", "drivers/block/rnull/"}
    changed = git(["diff", "--name-only", f"{base}..{branch}"], tree).split()
    for path in changed:
        if path.endswith(".rs") and path.startswith(("drivers/", "samples/")):
            dirs.add(os.path.dirname(path) + "/")
    return sorted(dirs)


def clippy(tree, base, profile="vm"):
    """A CLIPPY=1 build of the Rust directories in a build dir of its own (so
    the normal build stays incremental); returns the Rust warnings."""
    bdir = build.build_dir(profile) + "-clippy"
    build.configure(tree, bdir, profile)
    log = os.path.join(bdir, "clippy.log")
    targets = rust_dirs(tree, base)
    info(f"    make CLIPPY=1 {' '.join(targets)} in {bdir}")
    rc = stream_with_progress(build.make_cmd(tree, bdir, *targets, extra=("CLIPPY=1",)),
                              cwd=tree, env=kernel_env(), log_path=log, label="clippy",
                              match=build.MAKE_STEP.match)
    warnings = rust_warnings(log)
    if rc != 0:
        warnings.append(f"CLIPPY=1 build failed (exit {rc}); see {log}:\n{tail(log, 15)}")
    return warnings, bdir


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


def bisect(tree, base, commits, profile="vm", first=1):
    """Builds every commit of the series from patch `first` on (in a worktree,
    reusing one build dir)."""
    total = len(commits)
    commits = bisect_range(commits, first)
    bdir = build.build_dir(profile) + "-bisect"
    wt = os.path.join(os.path.dirname(bdir), "bisect-src")
    if not os.path.exists(wt):
        git(["worktree", "add", "-q", "--detach", wt, base], tree)
    failures = []
    for n, commit in enumerate(commits, first):
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

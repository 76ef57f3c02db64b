# SPDX-License-Identifier: GPL-2.0
"""`mail`: exports the applied series as numbered mails, offline. Never sends."""

import glob
import os
import re
import shutil
import subprocess
import tempfile

from .common import CACHE, REPO, SeriesError, git


def submitter():
    """(name, email) of the person mailing the series: $SERIES_SUBMITTER
    ("Name <email>") or the git identity of the project checkout."""
    env = os.environ.get("SERIES_SUBMITTER")
    if env:
        m = re.match(r"^(.+?)\s*<([^>]+)>$", env.strip())
        if not m:
            raise SeriesError("SERIES_SUBMITTER must look like 'Name <email>'")
        return m.group(1), m.group(2)

    def get(key):
        return subprocess.run(["git", "-C", REPO, "config", key], capture_output=True,
                              text=True).stdout.strip()
    name, email = get("user.name"), get("user.email")
    if not name or not email:
        raise SeriesError("no submitter identity: the mail step adds your Signed-off-by. "
                          "Run `git config user.name 'Your Name'` and `git config user.email "
                          "you@example.org` (or set SERIES_SUBMITTER='Name <email>')")
    return name, email


def mail(tree, base, series, out, branch="series", version=None):
    """Writes 0000-cover-letter.patch and one mail per patch into `out`."""
    name, email = submitter()
    if os.path.isdir(out):
        for old in glob.glob(os.path.join(out, "*.patch")):
            os.remove(old)
    os.makedirs(out, exist_ok=True)
    description = series.cover_subject + "\n\n" + series.cover_body + "\n"
    git(["config", f"branch.{branch}.description", description], tree)
    env = dict(os.environ, GIT_COMMITTER_NAME=name, GIT_COMMITTER_EMAIL=email)
    args = ["format-patch", "-q", "--cover-letter", "--cover-from-description=subject",
            f"--base={base}", "--signoff", "--thread=shallow", "-o", out,
            f"--from={name} <{email}>"]
    if version:
        args.append(f"-v{version}")
    git(args + [f"{base}..{branch}"], tree, env=env)
    mails = sorted(glob.glob(os.path.join(out, "*.patch")))
    if len(mails) != len(series.patches) + 1:
        raise SeriesError(f"format-patch wrote {len(mails)} mails for "
                          f"{len(series.patches)} patches")
    return mails


def am_roundtrip(tree, base, mails, branch="series"):
    """Applies the patch mails with `git am` onto an untouched checkout of the
    base and checks the result is the applied series' tree."""
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        wt = os.path.join(tmp, "am")
        git(["worktree", "add", "-q", "--detach", wt, base], tree)
        try:
            env = dict(os.environ, GIT_COMMITTER_NAME="am", GIT_COMMITTER_EMAIL="am@localhost")
            res = subprocess.run(["git", "-C", wt, "am", "-q"] + mails[1:], env=env,
                                 capture_output=True, text=True)
            if res.returncode != 0:
                raise SeriesError(f"git am of the mails onto the base failed:\n{res.stderr}")
            got = git(["rev-parse", "HEAD^{tree}"], wt)
            want = git(["rev-parse", f"{branch}^{{tree}}"], tree)
            if got != want:
                raise SeriesError("the mails applied with git am do not give the series' tree")
            count = git(["rev-list", "--count", f"{base}..HEAD"], wt)
        finally:
            git(["worktree", "remove", "--force", wt], tree, check=False)
            shutil.rmtree(wt, ignore_errors=True)
    return int(count)


# checkpatch.pl's --codespell dictionary, as Debian's codespell installs it.
CODESPELL_DICTIONARY = "/usr/lib/python3/dist-packages/codespell_lib/data/dictionary.txt"


def checkpatch_env():
    """The environment checkpatch.pl and its helpers run in: the system's
    python3 first in PATH, the one Debian's python3-ply and python3-git
    are for (scripts/spdxcheck.py runs `python3`)."""
    env = dict(os.environ)
    env["PATH"] = "/usr/bin:" + env.get("PATH", "")
    return env


def checkpatch_cmd(tree):
    if not os.path.exists(CODESPELL_DICTIONARY):
        raise SeriesError(f"{CODESPELL_DICTIONARY} is missing (checkpatch's spelling check "
                          "needs it): run `scripts/series setup`")
    return ["perl", os.path.join(tree, "scripts", "checkpatch.pl"), "--strict", "--terse",
            "--showfile", "--no-summary", "--codespell",
            f"--codespellfile={CODESPELL_DICTIONARY}"]


def checkpatch_result(returncode, stdout, stderr):
    """(errors, warnings) from a checkpatch.pl run. Anything on stderr is a
    helper that failed (spdxcheck.py, codespell) and fails the run: with it,
    checkpatch silently skips a check."""
    if stderr.strip():
        raise SeriesError("checkpatch.pl ran with a failing helper (run `scripts/series "
                          f"setup`):\n{stderr.strip()[-2000:]}")
    lines = stdout.splitlines()
    errors = [l for l in lines if ": ERROR:" in l]
    warnings = [l for l in lines if ": WARNING:" in l or ": CHECK:" in l]
    if returncode != 0 and not errors and not warnings:
        raise SeriesError(f"checkpatch.pl exited {returncode} without a finding:\n"
                          + stdout[-2000:])
    return errors, warnings


def checkpatch_parts(patches, jobs):
    """`patches` cut into at most `jobs` parts of about the same size (what
    checkpatch's time follows), each in the series' order."""
    jobs = max(1, min(jobs, len(patches)))
    parts, sizes = [[] for _ in range(jobs)], [0] * jobs
    for m in sorted(patches, key=os.path.getsize, reverse=True):
        i = sizes.index(min(sizes))
        parts[i].append(m)
        sizes[i] += os.path.getsize(m)
    order = {m: n for n, m in enumerate(patches)}
    return [sorted(p, key=order.get) for p in parts if p]


def checkpatch(tree, mails, jobs=None):
    """Runs checkpatch --strict on the patch mails, one process per CPU (it
    takes minutes for a hundred patches); returns (errors, warnings) lines."""
    parts = checkpatch_parts(mails[1:], jobs or os.cpu_count() or 1)
    procs = [subprocess.Popen(checkpatch_cmd(tree) + part, cwd=tree, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=checkpatch_env())
             for part in parts]
    errors, warnings = [], []
    for p in procs:
        out, err = p.communicate()
        e, w = checkpatch_result(p.returncode, out, err)
        errors += e
        warnings += w
    return errors, warnings

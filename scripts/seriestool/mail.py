# SPDX-License-Identifier: GPL-2.0
"""`mail`: exports the applied series as numbered mails, offline. Never sends."""

import glob
import os
import re
import shutil
import subprocess
import tempfile

from . import apply as apply_mod
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


def posting_dir(out, index, posting):
    return os.path.join(out, f"{index:02d}-{posting.name}")


def recipients(tree, diff):
    """(to, cc) for a diff by scripts/get_maintainer.pl: the maintainers of
    what it touches, then its reviewers and lists."""
    with tempfile.NamedTemporaryFile("w", suffix=".patch") as f:
        f.write(diff)
        f.flush()

        def ask(*roles):
            out = subprocess.run(["perl", "scripts/get_maintainer.pl", "--no-git",
                                  "--no-git-fallback", "--no-rolestats", *roles, f.name],
                                 cwd=tree, capture_output=True, text=True)
            if out.returncode != 0:
                raise SeriesError(f"scripts/get_maintainer.pl failed:\n{out.stderr.strip()}")
            return [l.strip() for l in out.stdout.splitlines() if l.strip()]
        to = ask("--m", "--nor", "--nol")
        return to, [a for a in ask("--nom", "--r", "--l") if a not in to]


def trailer_cc(tree, commits):
    """The addresses of the `Cc:` trailers of `commits` (a range), in order
    and once each: a patch names a list that get_maintainer.pl does not know
    it belongs to (the NVMe list for a driver under drivers/block/), and
    `Cc: stable@vger.kernel.org` for a fix."""
    out = git(["log", "--reverse", "--format=%(trailers:key=Cc,valueonly,separator=%x0a)",
               commits], tree)
    seen = []
    for line in out.splitlines():
        addr = line.split("#")[0].strip()
        if addr and addr not in seen:
            seen.append(addr)
    return seen


class Posted:
    """What `mail` wrote for one posting."""

    def __init__(self, posting, directory, mails, to, cc):
        self.posting, self.directory, self.mails = posting, directory, mails
        self.to, self.cc = to, cc

    @property
    def patches(self):
        """The mails of the patches (not the cover letter)."""
        return [m for m in self.mails if not os.path.basename(m).startswith("0000-")]


def fill_cover(path, subject, body):
    """Puts the cover letter's subject and text where format-patch left its
    placeholders."""
    with open(path) as f:
        text = f.read()
    for mark in ("*** SUBJECT HERE ***", "*** BLURB HERE ***"):
        if text.count(mark) != 1:
            raise SeriesError(f"{path}: format-patch's cover letter lacks {mark!r}")
    text = text.replace("*** SUBJECT HERE ***", subject).replace("*** BLURB HERE ***", body)
    with open(path, "w") as f:
        f.write(text)


def mail(tree, base, series, chains, out, version=None):
    """Writes one directory per posting into `out`, NN-<name>, with its
    cover letter (0000-cover-letter.patch) and one mail per patch, To and
    Cc from get_maintainer.pl and the patches' `Cc:` trailers,
    `base-commit:` and, for the patches of the
    postings it requires, `prerequisite-patch-id:`. The commits are made
    anew with the submitter as author and their Signed-off-by."""
    who = submitter()
    name, email = who
    if os.path.exists(out) and not os.path.isdir(out):
        raise SeriesError(f"{out} exists and is not a directory: give `--out` a directory")
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    git(["config", "--unset-all", "branch.series.description"], tree, check=False)
    env = dict(os.environ, GIT_COMMITTER_NAME=name, GIT_COMMITTER_EMAIL=email)
    posted = []
    for index, posting in enumerate(series.postings, 1):
        chain = apply_mod.as_submitter(tree, base, chains[posting.name], who)
        own = len(posting.patches)
        start = f"{chain[-own]}^"
        branch = f"mail/{posting.name}"
        git(["branch", "-f", branch, chain[-1]], tree)
        to, cc = recipients(tree, git(["diff", start, chain[-1]], tree))
        cc += [a for a in trailer_cc(tree, f"{start}..{chain[-1]}") if a not in to + cc]
        directory = posting_dir(out, index, posting)
        args = ["format-patch", "-q", f"--base={base}", "--thread=shallow", "-o", directory,
                f"--from={name} <{email}>"] + [f"--to={a}" for a in to] + \
            [f"--cc={a}" for a in cc]
        # Earlier versions kept the cover letter as a branch description: a
        # value of many lines in the repository's config, which b4's
        # git-filter-repo cannot read. The cover is filled in below instead.
        git(["config", "--unset-all", f"branch.{branch}.description"], tree, check=False)
        if posting.cover_subject:
            args += ["--cover-letter", "--cover-from-description=none"]
        if version:
            args.append(f"-v{version}")
        git(args + [f"{start}..{branch}"], tree, env=env)
        mails = sorted(glob.glob(os.path.join(directory, "*.patch")))
        if posting.cover_subject:
            fill_cover(mails[0], posting.cover_subject, posting.cover_body)
        want = own + (1 if posting.cover_subject else 0)
        if len(mails) != want:
            raise SeriesError(f"posting {posting.name}: format-patch wrote {len(mails)} mails "
                              f"for {own} patches")
        posted.append(Posted(posting, directory, mails, to, cc))
    return posted


def am(wt, base, mails, want_tree, what):
    """Applies the patch mails with `git am` in worktree `wt` reset to the
    untouched base and checks the result is `want_tree`. Returns the
    commit count."""
    git(["checkout", "-q", "-f", "--detach", base], wt)
    git(["clean", "-q", "-f", "-d", "-x"], wt)
    env = dict(os.environ, GIT_COMMITTER_NAME="am", GIT_COMMITTER_EMAIL="am@localhost")
    res = subprocess.run(["git", "-C", wt, "am", "-q"] + mails, env=env,
                         capture_output=True, text=True)
    if res.returncode != 0:
        subprocess.run(["git", "-C", wt, "am", "--abort"], capture_output=True)
        raise SeriesError(f"{what}: git am onto the base failed:\n{res.stderr}")
    if git(["rev-parse", "HEAD^{tree}"], wt) != want_tree:
        raise SeriesError(f"{what}: the mails applied with git am do not give the tree of "
                          "its branch")
    return int(git(["rev-list", "--count", f"{base}..HEAD"], wt))


def am_postings(tree, base, series, chains, posted, tip):
    """Each posting's mails with those of the postings it requires, in order,
    applied with git am onto the untouched base give its branch's tree, and
    all postings' mails in order give the whole series (`tip`). Returns a
    line per posting. One worktree serves every run."""
    by_name = {p.posting.name: p for p in posted}
    report = []
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        wt = os.path.join(tmp, "am")
        git(["worktree", "add", "-q", "--detach", wt, base], tree)
        try:
            for p in posted:
                mails = [m for q in series.closure(p.posting.name)
                         for m in by_name[q.name].patches]
                want = git(["rev-parse", f"{chains[p.posting.name][-1]}^{{tree}}"], tree)
                n = am(wt, base, mails, want, f"posting {p.posting.name}")
                prereq = n - len(p.patches)
                report.append(f"{p.posting.name}: {len(p.patches)} patch(es) apply with git am "
                              "onto the base" + (f" after the {prereq} of the postings it "
                                                 "requires" if prereq else ""))
            if len(series.postings) > 1:
                mails = [m for p in posted for m in p.patches]
                n = am(wt, base, mails, git(["rev-parse", f"{tip}^{{tree}}"], tree),
                       "all postings in order")
                report.append(f"all {len(series.postings)} postings in order: {n} patches "
                              "apply with git am onto the base and give the series' tree")
        finally:
            git(["worktree", "remove", "--force", wt], tree, check=False)
            shutil.rmtree(wt, ignore_errors=True)
    return report


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
    parts = checkpatch_parts(mails, jobs or os.cpu_count() or 1)
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

# SPDX-License-Identifier: GPL-2.0
"""`prep`: one posting as a b4 branch in a worktree of its own, authored and
signed off by the submitter, enrolled with `b4 prep`, its cover letter and
prerequisites set, ready for `b4 prep --check` and `b4 send`."""

import os
import re
import shutil
import subprocess
import tempfile

from . import apply as apply_mod
from . import mail as mail_mod
from . import setup as setup_mod
from .common import CACHE, SeriesError, git, info


def b4_env(who, extra=()):
    """The environment for b4: the submitter as git identity (b4 finds its
    cover commit by committer), and `extra` (key, value) git settings."""
    name, email = who
    settings = [("user.name", name), ("user.email", email),
                ("sendemail.smtpserver", "localhost")] + list(extra)
    # checkpatch, which b4 runs, runs scripts/spdxcheck.py with the system's
    # python3 (where python3-ply is), not the one of b4's venv.
    env = dict(mail_mod.checkpatch_env(), GIT_CONFIG_COUNT=str(len(settings)))
    for i, (k, v) in enumerate(settings):
        env[f"GIT_CONFIG_KEY_{i}"], env[f"GIT_CONFIG_VALUE_{i}"] = k, v
    return env


def b4(wt, who, args, extra=()):
    b4_bin = setup_mod.b4_path()
    if not os.path.exists(b4_bin):
        raise SeriesError(f"{b4_bin} is missing: run `scripts/series setup`")
    res = subprocess.run([b4_bin] + args, cwd=wt, env=b4_env(who, extra), text=True,
                         capture_output=True, stdin=subprocess.DEVNULL)
    out = re.sub(r"\x1b\[[0-9;]*m", "", res.stdout + res.stderr)
    if res.returncode != 0:
        raise SeriesError(f"b4 {' '.join(args)} failed in {wt}:\n{out[-3000:]}")
    return out


def cover_text(posting):
    """The cover letter b4 gets: the posting's, or for a posting of one patch
    without one, the patch's subject and first paragraph."""
    if posting.cover_subject:
        return f"{posting.cover_subject}\n\n{posting.cover_body}\n"
    p = posting.patches[0]
    return f"{p.subject}\n\n{p.body.split(chr(10) * 2)[0]}\n"


def prep(checkout, base, series, chains, name):
    """Makes branch b4/<name> in a worktree CACHE/b4/<name> and enrolls it with
    b4 onto the tip of the postings it requires. Returns the worktree."""
    posting = series.posting(name)
    who = mail_mod.submitter()
    mine = apply_mod.as_submitter(checkout, base, chains[name], who)
    own = len(posting.patches)
    below = mine[-own - 1] if len(mine) > own else base
    wt = os.path.join(CACHE, "b4", name)
    branch = f"b4/{name}"
    for key in ("b4-prep-cover-strategy", "b4-tracking", "description"):
        git(["config", "--unset-all", f"branch.{branch}.{key}"], checkout, check=False)
    info(f"    worktree {wt} on {branch} ({own} patches on {below[:12]})")
    if os.path.exists(os.path.join(wt, ".git")):
        # Reused: only the files that differ are written.
        git(["checkout", "-q", "-f", "-B", branch, mine[-1]], wt)
        git(["clean", "-q", "-f", "-d", "-x"], wt)
    else:
        shutil.rmtree(wt, ignore_errors=True)
        git(["worktree", "prune"], checkout)
        git(["branch", "-f", branch, mine[-1]], checkout)
        git(["worktree", "add", "-q", wt, branch], checkout)
    b4(wt, who, ["prep", "-e", below])
    with tempfile.TemporaryDirectory() as tmp:
        cover = os.path.join(tmp, "cover")
        with open(cover, "w") as f:
            f.write(cover_text(posting))
        b4(wt, who, ["prep", "--edit-cover"], [("core.editor", f"cp {cover}")])
        if len(mine) > own:
            deps = os.path.join(tmp, "deps")
            with open(deps, "w") as f:
                for c in mine[:-own]:
                    pid = subprocess.run(f"git -C {wt} show {c} | git patch-id --stable",
                                         shell=True, capture_output=True, text=True,
                                         check=True).stdout.split()[0]
                    f.write(f"patch-id: {pid}\n")
                f.write(f"base-commit: {base}\n")
            b4(wt, who, ["prep", "--edit-deps"], [("core.editor", f"cp {deps}")])
    # To and Cc from scripts/get_maintainer.pl of the worktree (offline).
    b4(wt, who, ["--offline-mode", "prep", "--auto-to-cc"])
    return wt, who


def check(wt, who):
    """`b4 prep --check` (checkpatch on every patch, by b4); returns its
    summary and the lines b4 marks as errors. b4 exits 0 with errors, so
    its summary line is read."""
    out = b4(wt, who, ["--offline-mode", "prep", "--check", "-C"])
    m = re.search(r"Success: (\d+), Warning: (\d+), Error: (\d+)", out)
    if not m:
        raise SeriesError(f"b4 prep --check printed no summary:\n{out[-2000:]}")
    errors = [l for l in out.splitlines() if "ERROR:" in l or "Missing Signed-off-by" in l]
    if int(m.group(3)) and not errors:
        errors = [out[-2000:]]
    return m.group(0), errors


def send(wt, who, out):
    """`b4 send -o OUT`: the mails as files, offline. Nothing is sent."""
    if os.path.isdir(out):
        shutil.rmtree(out)
    b4(wt, who, ["--offline-mode", "send", "-o", out, "--no-sign"])
    return sorted(f for f in os.listdir(out) if f.endswith(".eml"))

# SPDX-License-Identifier: GPL-2.0
"""The way back from `apply`: writes the commits of the applied tree's branch
into `series` and the project's kernel files.

Work on the series as git commits in the applied tree (commit, `git rebase -i`,
`git commit --fixup`), then `scripts/series import` turns base..branch back
into the project's form: each commit becomes a patch; the first time a file is
touched it goes under `Files:` (whole if the series adds it, as `<path>.patch`
against the base if it exists upstream); later changes go under `Diff:`. The
postings of the existing `series` are kept: a commit goes to the posting of
the patch with its subject, a commit with a new subject to the posting of the
commit before it (move the `Posting:` lines by hand to cut differently). The result is checked by
rebuilding the commits from it and comparing trees.
"""

import os
import subprocess

from . import apply as apply_mod
from . import seriesfile
from .common import REPO, SeriesError, git

DIFF_OPTS = ["-c", "diff.noprefix=false", "-c", "diff.mnemonicPrefix=false"]


def _git_raw(repo, args):
    res = subprocess.run(["git"] + DIFF_OPTS + ["-C", repo] + args, capture_output=True)
    if res.returncode != 0:
        raise SeriesError(f"git {' '.join(args)} failed in {repo}:\n"
                          f"{res.stderr.decode(errors='replace').strip()}")
    return res.stdout


def _diff(repo, a, b, paths):
    return _git_raw(repo, ["diff", "--no-color", "--no-ext-diff", "--no-renames",
                           a, b, "--"] + paths).decode()


def commit_patches(repo, base, branch):
    """[(commit, subject, body, [(status, path)])] for base..branch, oldest first."""
    revs = git(["rev-list", "--reverse", "--topo-order", f"{base}..{branch}"], repo).split()
    out = []
    for c in revs:
        if len(git(["rev-list", "--parents", "-n1", c], repo).split()) != 2:
            raise SeriesError(f"commit {c[:12]} is a merge; the series is linear")
        msg = git(["log", "-1", "--format=%B", c], repo).strip("\n")
        subject, _, body = msg.partition("\n")
        changes = []
        for line in git(["diff-tree", "--no-commit-id", "--no-renames", "-r",
                         "--name-status", f"{c}^", c], repo).splitlines():
            status, path = line.split("\t", 1)
            changes.append((status, path))
        out.append((c, subject.strip(), body.strip("\n"), changes))
    return out


def render(postings):
    """The text of `series` for the postings (seriesfile.Posting objects)."""
    parts = []
    for posting in postings:
        head = f"Posting: {posting.name}\n"
        if posting.requires:
            head += f"Requires: {' '.join(posting.requires)}\n"
        if posting.cover_subject:
            head += f"Cover: {posting.cover_subject}\n\n{posting.cover_body}\n"
        parts.append(head)
        for p in posting.patches:
            text = f"Patch: {p.subject}\n\n{p.body}\n\nFiles:\n"
            text += "".join(f"    {f}\n" for f in p.files) if p.files else ""
            if p.diff:
                text += "Diff:\n" + p.diff
            parts.append(text)
    return "\n".join(parts)


def regroup(old, patches):
    """The postings of `old` holding `patches`: each patch goes to the posting
    of the old patch with its subject, a new subject to the posting of the
    patch before it. A posting that ends up empty is dropped; one whose
    patches are no longer together is an error."""
    home = {p.subject: posting.name for posting in old.postings for p in posting.patches}
    order = [posting.name for posting in old.postings]
    current = order[0]
    groups = {name: [] for name in order}
    sequence = []
    for p in patches:
        current = home.get(p.subject, current)
        if not sequence or sequence[-1] != current:
            if current in sequence:
                raise SeriesError(f"'{p.subject}' of posting {current} comes after patches "
                                  f"of posting {sequence[-1]}: keep each posting's patches "
                                  "together, or move the 'Posting:' lines in `series`")
            sequence.append(current)
        groups[current].append(p)
    if sequence != [n for n in order if groups[n]]:
        raise SeriesError("the commits put the postings in a new order ("
                          + ", ".join(sequence) + "): reorder the 'Posting:' sections of "
                          "`series` to match")
    out = []
    for posting in old.postings:
        if groups[posting.name]:
            posting.patches = groups[posting.name]
            out.append(posting)
    return out


def import_branch(repo, base, branch="series", dst=REPO):
    """Writes base..branch of `repo` into `dst`; returns the number of patches."""
    old = apply_mod.load(dst)
    commits = commit_patches(repo, base, branch)
    if not commits:
        raise SeriesError(f"{branch} has no commits on top of the base")
    tip = git(["rev-parse", branch], repo)
    seen, patches, kernel_files = set(), [], {}
    for n, (c, subject, body, changes) in enumerate(commits, 1):
        files, again = [], []
        for status, path in changes:
            if status.startswith("D"):
                raise SeriesError(f"{c[:12]} ({subject}) deletes {path}; the series format "
                                  "has no deletions (drop the file from the patch instead)")
            if path in seen:
                again.append(path)
                continue
            seen.add(path)
            upstream = apply_mod.base_entry(repo, base, path) is not None
            entry = path + ".patch" if upstream else path
            files.append(entry)
            kernel_files[entry] = (path, upstream)
        diff = _diff(repo, f"{c}^", c, again) if again else ""
        patches.append(seriesfile.Patch(n, subject, body, files, diff))

    text = render(regroup(old, patches))
    try:
        seriesfile.parse(text)
    except seriesfile.FormatError as e:
        raise SeriesError(f"the commits do not make a valid series: {e}")

    for f in apply_mod.project_files(dst):
        if f not in kernel_files:
            os.remove(os.path.join(dst, f))
    for entry, (path, upstream) in kernel_files.items():
        out = os.path.join(dst, entry)
        os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
        if upstream:
            data = _diff(repo, base, tip, [path]).encode()
            mode = 0o644
        else:
            data = _git_raw(repo, ["show", f"{tip}:{path}"])
            ls = git(["ls-tree", tip, "--", path], repo).split()
            mode = 0o755 if ls and ls[0] == "100755" else 0o644
        with open(out, "wb") as fh:
            fh.write(data)
        os.chmod(out, mode)
    with open(os.path.join(dst, "series"), "w") as fh:
        fh.write(text)

    # Check: the series rebuilt from what we wrote gives the same trees.
    rebuilt = apply_mod.build_commits(repo, base, apply_mod.load(dst), dst)
    for (c, subject, _, _), r in zip(commits, rebuilt):
        if git(["rev-parse", f"{c}^{{tree}}"], repo) != git(["rev-parse", f"{r}^{{tree}}"],
                                                            repo):
            raise SeriesError(f"rebuilding '{subject}' from the imported series gives a "
                              "different tree (a bug in import; please report it)")
    return len(commits)

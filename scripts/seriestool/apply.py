# SPDX-License-Identifier: GPL-2.0
"""Turns `series` into one git commit per patch on top of the base tree.

The commits are made with git plumbing in a private index, so the work tree of
the kernel checkout is touched once, at the end, and only where files differ:
build directories stay incremental across `apply` runs.
"""

import os
import subprocess
import tempfile

from . import seriesfile
from .common import REPO, SeriesError, git

# Files of the project that are not part of the kernel tree.
TOOLING = ("series", "README.md", ".gitignore", "scripts/series")
TOOLING_DIRS = (".ci/", "scripts/seriestool/", ".github/")


def is_tooling(path):
    return path in TOOLING or path.startswith(TOOLING_DIRS)


def project_files(src):
    """Every kernel-tree file the project holds (tracked or new, not ignored)."""
    if os.path.isdir(os.path.join(src, ".git")):
        out = subprocess.run(["git", "-C", src, "ls-files", "--cached", "--others",
                              "--exclude-standard"], text=True, capture_output=True,
                             check=True).stdout
        files = [f for f in out.splitlines() if os.path.exists(os.path.join(src, f))]
    else:
        files = []
        for root, _, names in os.walk(src):
            for n in names:
                files.append(os.path.relpath(os.path.join(root, n), src))
    return sorted(f for f in files if not is_tooling(f))


def load(src=REPO):
    path = os.path.join(src, "series")
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        raise SeriesError(f"{path} does not exist")
    try:
        return seriesfile.parse(text)
    except seriesfile.FormatError as e:
        raise SeriesError(str(e))


class Index:
    """A private git index in `repo`."""

    def __init__(self, repo, path):
        self.repo = repo
        self.env = dict(os.environ, GIT_INDEX_FILE=path)

    def git(self, args, input=None, check=True):
        return git(args, self.repo, env=self.env, input=input, check=check)

    def apply(self, diff, reverse=False):
        args = ["apply", "--cached", "--whitespace=nowarn"] + (["-R"] if reverse else [])
        res = subprocess.run(["git", "-C", self.repo] + args, env=self.env, input=diff,
                             text=True, capture_output=True)
        return res.returncode == 0, res.stderr.strip()


def base_entry(repo, base, path):
    """(mode, blob) of `path` in the base commit, or None."""
    out = git(["ls-tree", base, "--", path], repo)
    if not out:
        return None
    meta, _ = out.split("\t", 1)
    mode, _, blob = meta.split()
    return mode, blob


def build_commits(repo, base, series, src, *, author=None, date=None):
    """Creates the commits of `series` on `base` in the git repo `repo`, taking
    file contents from the project checkout `src`. Returns the commit ids."""
    first = seriesfile.first_mentions(series)
    files = project_files(src)
    named = set()
    for p in series.patches:
        named.update(p.files)
    stray = [f for f in files if f not in named]
    if stray:
        raise SeriesError("files in the repository that no patch names under 'Files:': "
                          + ", ".join(stray) + " (add them to a patch in `series`)")
    for f in sorted(named):
        if not os.path.isfile(os.path.join(src, f)):
            raise SeriesError(f"`series` names {f}, which is not in the repository")

    with tempfile.TemporaryDirectory() as tmp:
        idx = Index(repo, os.path.join(tmp, "index"))
        idx.git(["read-tree", base])
        base_tree = idx.git(["write-tree"])
        new_files = set()
        # The final state: every file in its final form.
        for p in series.patches:
            for f in p.files:
                path = os.path.join(src, f)
                target = seriesfile.target_of(f)
                if f.endswith(".patch"):
                    with open(path) as fh:
                        diff = fh.read()
                    touched = seriesfile.diff_paths(diff)
                    if touched != [target]:
                        raise SeriesError(f"{f} must be a diff of {target} alone; it touches "
                                          f"{', '.join(touched) or 'nothing'}")
                    if base_entry(repo, base, target) is None:
                        raise SeriesError(f"{f}: {target} does not exist in the base tree; "
                                          "a file the series adds is kept whole at its path")
                    ok, err = idx.apply(diff)
                    if not ok:
                        raise SeriesError(f"{p.label()}: {f} does not apply to the base "
                                          f"tree:\n{err}")
                else:
                    if base_entry(repo, base, target) is not None:
                        raise SeriesError(f"{f} exists in the base tree: keep the change as "
                                          f"{f}.patch, a diff against the base")
                    blob = idx.git(["hash-object", "-w", "--", path])
                    mode = "100755" if os.access(path, os.X_OK) else "100644"
                    idx.git(["update-index", "--add", "--cacheinfo", f"{mode},{blob},{target}"])
                    new_files.add(target)
        trees = [idx.git(["write-tree"])]
        # Walk back: undo each patch's diffs and remove what it brought in.
        for p in reversed(series.patches):
            if p.diff:
                ok, err = idx.apply(p.diff, reverse=True)
                if not ok:
                    raise SeriesError(f"{p.label()}: its Diff: does not match the files as "
                                      f"later patches leave them (fix the diff in `series`):"
                                      f"\n{err}")
            for target, n in first.items():
                if n != p.number:
                    continue
                if target in new_files:
                    idx.git(["update-index", "--force-remove", "--", target])
                else:
                    mode, blob = base_entry(repo, base, target)
                    idx.git(["update-index", "--cacheinfo", f"{mode},{blob},{target}"])
            trees.append(idx.git(["write-tree"]))
        trees.reverse()
        if trees[0] != base_tree:
            diff = git(["diff", "--stat", base_tree, trees[0]], repo)
            raise SeriesError("undoing every patch does not give the base tree back; "
                              f"`series` and the files disagree:\n{diff}")
        for p, before, after in zip(series.patches, trees, trees[1:]):
            if before == after:
                raise SeriesError(f"{p.label()} changes nothing")

    env = dict(os.environ)
    if author:
        env.update(GIT_AUTHOR_NAME=author[0], GIT_AUTHOR_EMAIL=author[1],
                   GIT_COMMITTER_NAME=author[0], GIT_COMMITTER_EMAIL=author[1])
    if date:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    commits, parent = [], base
    for p, tree in zip(series.patches, trees[1:]):
        parent = git(["commit-tree", tree, "-p", parent, "-F", "-"], repo, env=env,
                     input=p.message)
        commits.append(parent)
    return commits


def project_identity(src=REPO):
    """Author for the commits: the git identity, else a neutral placeholder."""
    def get(key):
        res = subprocess.run(["git", "-C", src, "config", key], text=True,
                             capture_output=True)
        return res.stdout.strip()
    return (get("user.name") or "Rust series", get("user.email") or "rust-series@localhost")


def project_date(src=REPO):
    """The date of the project's HEAD, so the same checkout gives the same commits."""
    res = subprocess.run(["git", "-C", src, "log", "-1", "--format=%cI"], text=True,
                         capture_output=True)
    return res.stdout.strip() or None


APPLIED_REF = "refs/rust-series/applied"


def guard_work(tree, branch):
    """Refuses to overwrite work done in the applied tree that `series` lacks."""
    current = git(["rev-parse", "-q", "--verify", f"refs/heads/{branch}"], tree, check=False)
    last = git(["rev-parse", "-q", "--verify", APPLIED_REF], tree, check=False)
    if current and last and current != last:
        raise SeriesError(f"branch {branch} in {tree} has commits that `series` does not "
                          "have: run `scripts/series import` to bring them into the "
                          f"project, or `git -C {tree} branch -f {branch} {APPLIED_REF}` "
                          "to drop them")
    dirty = git(["status", "--porcelain", "--untracked-files=no"], tree)
    if dirty:
        raise SeriesError(f"{tree} has uncommitted changes: commit them (then "
                          "`scripts/series import`) or `git stash` them:\n" + dirty)


def mark_applied(tree, branch):
    """Records the branch tip as what `series` holds (after an import)."""
    git(["update-ref", APPLIED_REF, git(["rev-parse", branch], tree)], tree)


def apply(tree, base, src=REPO, branch="series"):
    series = load(src)
    guard_work(tree, branch)
    commits = build_commits(tree, base, series, src, author=project_identity(src),
                            date=project_date(src))
    tip = commits[-1] if commits else base
    git(["checkout", "-q", "-f", "-B", branch, tip], tree)
    git(["update-ref", APPLIED_REF, tip], tree)
    return series, commits


def commit_meta(repo, commit):
    """The environment that recreates `commit`'s author and committer."""
    an, ae, ad, cn, ce, cd = git(["log", "-1", "--format=%an%n%ae%n%aI%n%cn%n%ce%n%cI",
                                  commit], repo).split("\n")
    return dict(os.environ, GIT_AUTHOR_NAME=an, GIT_AUTHOR_EMAIL=ae, GIT_AUTHOR_DATE=ad,
                GIT_COMMITTER_NAME=cn, GIT_COMMITTER_EMAIL=ce, GIT_COMMITTER_DATE=cd)


def pick(repo, parent, commit, label):
    """`commit` applied onto `parent` as a new commit (same message, author and
    dates), made with a three-way merge of trees: no work tree is touched."""
    res = subprocess.run(["git", "-C", repo, "merge-tree", "--write-tree", "--no-messages",
                          f"--merge-base={commit}^", parent, commit], text=True,
                         capture_output=True)
    if res.returncode != 0:
        files = [l.split("\t", 1)[-1] for l in res.stdout.splitlines()[1:] if "\t" in l]
        raise SeriesError(f"{label} does not apply without the patches of the postings it "
                          f"does not require (conflicts in {', '.join(sorted(set(files))) or '?'}"
                          "): add the posting it needs to its 'Requires:' line in `series`, "
                          "or move the patch it needs into a posting it requires")
    tree = res.stdout.split()[0]
    msg = git(["log", "-1", "--format=%B", commit], repo)
    return git(["commit-tree", tree, "-p", parent, "-F", "-"], repo,
               env=commit_meta(repo, commit), input=msg + "\n")


def posting_chains(repo, base, series, commits):
    """For each posting, the commits of its own tree: base, then the patches
    of the postings it requires, then its own, in the order of `series`.
    A posting whose closure is every posting up to it shares the applied
    commits; any other gets its patches picked onto base anew, which fails
    if one needs a patch of a posting it does not require. Sets the
    branches posting/<name> to the tips. Returns {name: [commit, ...]}."""
    of = {p.number: c for p, c in zip(series.patches, commits)}
    chains = {}
    for posting in series.postings:
        patches = [p for q in series.closure(posting.name) for p in q.patches]
        if series.is_prefix(posting.name):
            chain = [of[p.number] for p in patches]
        else:
            chain, parent = [], base
            for p in patches:
                parent = pick(repo, parent, of[p.number],
                              f"posting {posting.name}: {p.label()}")
                chain.append(parent)
        git(["branch", "-f", f"posting/{posting.name}", chain[-1]], repo)
        chains[posting.name] = chain
    return chains


def as_submitter(repo, base, chain, who):
    """`chain` (commits on `base`) made anew with `who` = (name, email) as
    author and committer and their Signed-off-by as the last trailer, as
    the submitter of patches they wrote with an assistant sends them
    (Documentation/process/coding-assistants.rst). Returns the commits."""
    name, email = who
    signoff = f"Signed-off-by: {name} <{email}>"
    out, parent = [], base
    for c in chain:
        env = dict(commit_meta(repo, c), GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=email,
                   GIT_COMMITTER_NAME=name, GIT_COMMITTER_EMAIL=email)
        msg = git(["log", "-1", "--format=%B", c], repo).rstrip("\n")
        if signoff not in msg.splitlines():
            msg += "\n" + signoff
        parent = git(["commit-tree", f"{c}^{{tree}}", "-p", parent, "-F", "-"], repo,
                     env=env, input=msg + "\n")
        out.append(parent)
    return out

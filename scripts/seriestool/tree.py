# SPDX-License-Identifier: GPL-2.0
"""`tree`: the base kernel tree the series applies to, as a git repository."""

import os
import re
import shutil
import tempfile

from . import setup
from .common import (CACHE, LINUX_SOURCE_DEB, SeriesError, git, info, load_state, run,
                     save_state)

DEBIAN_TREE = os.path.join(CACHE, "linux")
USER_WORKTREE = os.path.join(CACHE, "linux-user")


def kernel_version(makefile_text):
    v = {}
    for key in ("VERSION", "PATCHLEVEL", "SUBLEVEL"):
        m = re.search(rf"^{key} = (\d+)$", makefile_text, re.M)
        v[key] = int(m.group(1)) if m else None
    return v["VERSION"], v["PATCHLEVEL"], v["SUBLEVEL"]


def debian_tree():
    """Debian's linux-source-7.3, unpacked once and committed as the base."""
    marker = os.path.join(DEBIAN_TREE, ".git", "rust-series-base.txt")
    if os.path.exists(marker):
        with open(marker) as f:
            return DEBIAN_TREE, f.read().strip()
    deb = setup.apt_download(LINUX_SOURCE_DEB, os.path.join(CACHE, "debs"))
    if os.path.exists(DEBIAN_TREE):
        shutil.rmtree(DEBIAN_TREE)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        info("    unpacking linux-source-7.3 (about 15 s)")
        run(["dpkg", "-x", deb, tmp], capture=True)
        tarballs = [f for f in os.listdir(os.path.join(tmp, "usr", "src"))
                    if f.endswith(".tar.xz")]
        if len(tarballs) != 1:
            raise SeriesError(f"{deb}: expected one tarball in /usr/src, got {tarballs}")
        run(["tar", "xf", os.path.join(tmp, "usr", "src", tarballs[0]), "-C", tmp],
            capture=True)
        top = [d for d in os.listdir(tmp) if d.startswith("linux-source")]
        os.rename(os.path.join(tmp, top[0]), DEBIAN_TREE)
    info("    committing the base tree (about 30 s)")
    git(["init", "-q", "-b", "base"], DEBIAN_TREE)
    # Debian's top-level .gitignore ignores everything ('/*'): add with -f.
    git(["add", "-f", "-A", "."], DEBIAN_TREE)
    env = dict(os.environ, GIT_AUTHOR_DATE="2026-01-01T00:00:00Z",
               GIT_COMMITTER_DATE="2026-01-01T00:00:00Z", GIT_AUTHOR_NAME="Debian",
               GIT_AUTHOR_EMAIL="debian-kernel@lists.debian.org",
               GIT_COMMITTER_NAME="Debian", GIT_COMMITTER_EMAIL="debian-kernel@lists.debian.org")
    version = LINUX_SOURCE_DEB.split("=")[1]
    git(["commit", "-q", "-m", f"Linux 7.3.4 (Debian linux-source-7.3 {version})"],
        DEBIAN_TREE, env=env)
    base = git(["rev-parse", "HEAD"], DEBIAN_TREE)
    git(["tag", "-f", "series-base", base], DEBIAN_TREE)
    with open(marker, "w") as f:
        f.write(base + "\n")
    return DEBIAN_TREE, base


def user_tree(path):
    """The user's own mainline checkout (7.3 or later), used through a worktree."""
    path = os.path.abspath(path)
    if not os.path.isdir(os.path.join(path, ".git")) and not os.path.isfile(
            os.path.join(path, ".git")):
        raise SeriesError(f"--tree {path}: not a git checkout of Linux")
    base = git(["rev-parse", "HEAD"], path)
    makefile = git(["show", "HEAD:Makefile"], path)
    ver = kernel_version(makefile)
    if None in ver[:2] or ver[:2] < (7, 3):
        raise SeriesError(f"--tree {path}: HEAD is Linux {ver[0]}.{ver[1]}; need 7.3 or later")
    if os.path.exists(USER_WORKTREE):
        git(["worktree", "remove", "--force", USER_WORKTREE], path, check=False)
        shutil.rmtree(USER_WORKTREE, ignore_errors=True)
    git(["worktree", "add", "-q", "--detach", USER_WORKTREE, base], path)
    return USER_WORKTREE, base


def tree(path=None):
    """Gets the base tree and records it; returns (checkout, base commit)."""
    checkout, base = user_tree(path) if path else debian_tree()
    state = load_state()
    if state.get("tree") != checkout or state.get("base") != base:
        state.update(tree=checkout, base=base)
        save_state(state)
    return checkout, base


def current():
    """The recorded tree, fetching the default one if there is none yet."""
    state = load_state()
    if "tree" in state and os.path.isdir(state["tree"]):
        return state["tree"], state["base"]
    return tree()

# SPDX-License-Identifier: GPL-2.0
"""`build`: configures and builds a profile in a build directory of its own."""

import contextlib
import fcntl
import hashlib
import os
import re
import subprocess

from .common import LLVM_SUFFIX, SeriesError, info, kernel_env, run, stream_with_progress, tail
from .profiles import option_name

MAKE_STEP = re.compile(r"^\s+(CC|RUSTC|CLIPPY|LD|AR|AS|BINDGEN|EXPORTS|GEN|HOSTCC|MODPOST|OBJCOPY)\b")


def make_cmd(tree, bdir, *targets, extra=()):
    """make for the tree in `bdir`. C goes through ccache (its cache is in
    CACHE/ccache, see common.kernel_env): the profiles, the config variants
    and the commits of check --bisect share most of their C objects."""
    return (["make", "-C", tree, f"O={bdir}", "ARCH=x86_64", f"LLVM={LLVM_SUFFIX}",
             f"CC=ccache clang{LLVM_SUFFIX}", "-j", str(os.cpu_count() or 2)]
            + list(extra) + list(targets))


def unmet(config_text, lines):
    """Fragment lines that did not survive olddefconfig."""
    have = set(config_text.splitlines())
    missing = []
    for line in lines:
        if line.startswith("# CONFIG_"):
            name = line.split()[1]
            if any(h.startswith(name + "=") for h in have):
                missing.append(line)
        elif line not in have:
            missing.append(line)
    return missing


def kconfig_symbols(tree):
    """The names (CONFIG_X) of the symbols the Kconfig files of tree define."""
    names = set()
    pattern = re.compile(r"^\s*(?:menu)?config\s+([A-Za-z0-9_]+)\s*$")
    for root, dirs, files in os.walk(tree):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith("Kconfig"):
                with open(os.path.join(root, name), errors="replace") as f:
                    names.update("CONFIG_" + m.group(1) for m in map(pattern.match, f) if m)
    return names


def kconfig_fingerprint(tree):
    """What the Kconfig files of `tree` are: their blob ids, from git."""
    res = subprocess.run(["git", "-C", tree, "ls-files", "-s", "--", "*Kconfig*"],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise SeriesError(f"git ls-files failed in {tree}: {res.stderr.strip()}")
    changed = subprocess.run(["git", "-C", tree, "diff", "HEAD", "--",
                              "*Kconfig*"], capture_output=True, text=True).stdout
    return hashlib.sha256((res.stdout + changed).encode()).hexdigest()


def not_yet_defined(missing, defined):
    """The missing fragment lines whose option the tree does not define."""
    return [line for line in missing if option_name(line) not in defined]


def configure(tree, bdir, profile, early=False):
    """Writes .config for `profile` unless it is already up to date.

    With early (a commit early in the series, for check --bisect), options
    that the tree does not define yet may be missing; the directory is then
    configured again for the next commit."""
    lines = profile.config_lines()
    # The Kconfig files are in the digest too: a tree whose Kconfig differs
    # (another commit of check --bisect, another posting's tree) is
    # configured anew. Otherwise make's syncconfig would drop an option a
    # tree lacks, and it would stay off in a later tree that has it.
    digest = hashlib.sha256("\n".join(lines + [kconfig_fingerprint(tree)]).encode()).hexdigest()
    stamp = os.path.join(bdir, ".series-config")
    config = os.path.join(bdir, ".config")
    if os.path.exists(config) and os.path.exists(stamp):
        with open(stamp) as f:
            if f.read().strip() == digest:
                return False
    os.makedirs(bdir, exist_ok=True)
    env = kernel_env()
    run(make_cmd(tree, bdir, "tinyconfig"), env=env, capture=True)
    with open(config, "a") as f:
        f.write("\n".join(lines) + "\n")
    run(make_cmd(tree, bdir, "olddefconfig"), env=env, capture=True)
    with open(config) as f:
        text = f.read()
    missing = unmet(text, profile.required_lines())
    if missing and early and len(not_yet_defined(missing, kconfig_symbols(tree))) == len(missing):
        info(f"    not defined before a later patch: {', '.join(map(option_name, missing))}")
        if os.path.exists(stamp):
            os.remove(stamp)
        return True
    if missing:
        raise SeriesError(
            f"profile {profile.name}: these options did not end up in {config}: "
            f"{', '.join(missing)}. For Rust options this usually means the toolchain is not "
            "usable (run `scripts/series setup`); otherwise a dependency is missing in "
            f"scripts/seriestool/configs/ or scripts/seriestool/profiles.py")
    went_off = unmet(text, lines)
    if went_off:
        info(f"    off in {profile.name} with {', '.join(map(option_name, profile.overrides))}:"
             f" {', '.join(map(option_name, went_off))}")
    with open(stamp, "w") as f:
        f.write(digest + "\n")
    return True


@contextlib.contextmanager
def locked(bdir, shared=False):
    """Holds the lock of a build directory: exclusive while it is built,
    shared while a VM boots its kernel. A second scripts/series that needs
    it the other way waits, and says so."""
    os.makedirs(bdir, exist_ok=True)
    with open(os.path.join(bdir, ".series-lock"), "a+") as f:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        try:
            fcntl.flock(f, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            info(f"    waiting for another scripts/series that is "
                 f"{'building in' if shared else 'using'} {bdir}")
            fcntl.flock(f, mode)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def build(tree, profile, extra=(), targets=("all",), label=None, bdir=None, early=False):
    """Builds `profile` (a profiles.Profile); returns the build directory.
    early: see configure()."""
    bdir = bdir or profile.build_dir()
    # The tree of one posting lacks the options of the postings it does not
    # require: those may be missing from its config.
    early = early or bool(profile.posting)
    extra = (("CLIPPY=1",) if profile.clippy else ()) + tuple(extra)
    log = os.path.join(bdir, "build.log")
    label = label or f"build {profile.name}"
    with locked(bdir):
        if configure(tree, bdir, profile, early):
            info(f"    configured {bdir}: {profile.description}")
        info(f"    make {' '.join(list(extra) + list(targets))} in {bdir} (log: {log})")
        rc = stream_with_progress(make_cmd(tree, bdir, *targets, extra=extra), cwd=tree,
                                  env=kernel_env(), log_path=log, label=label,
                                  match=MAKE_STEP.match)
    if rc != 0:
        errors = [l for l in tail(log, 400).splitlines() if "error" in l.lower()]
        raise SeriesError(f"{label} failed (make exit {rc}); see {log}. Last errors:\n"
                          + "\n".join(errors[-25:] or tail(log, 25).splitlines()))
    return bdir


def modules_install(tree, bdir, dest):
    run(make_cmd(tree, bdir, "modules_install", extra=(f"INSTALL_MOD_PATH={dest}",
                                                      "INSTALL_MOD_STRIP=1")),
        env=kernel_env(), capture=True)


def image(bdir):
    path = os.path.join(bdir, "arch", "x86", "boot", "bzImage")
    if not os.path.exists(path):
        raise SeriesError(f"{path} is missing: run `scripts/series build` first")
    return path

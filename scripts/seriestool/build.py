# SPDX-License-Identifier: GPL-2.0
"""`build`: configures and builds a profile in a build directory of its own."""

import hashlib
import os
import re

from .common import (CACHE, LLVM_SUFFIX, TOOL, SeriesError, info, kernel_env, run,
                     stream_with_progress, tail)

# Each profile: the fragments (scripts/seriestool/configs/*.config), on top of tinyconfig.
PROFILES = {
    "kunit": ["rust", "kunit"],
    "vm": ["rust", "vm"],
    "debug": ["rust", "vm", "debug"],
}
MAKE_STEP = re.compile(r"^\s+(CC|RUSTC|LD|AR|AS|BINDGEN|EXPORTS|GEN|HOSTCC|MODPOST|OBJCOPY)\b")


def build_dir(profile, inline_helpers=True):
    return os.path.join(CACHE, "build", profile + ("" if inline_helpers else "-noinline"))


def fragment_lines(profile, inline_helpers=True):
    if profile not in PROFILES:
        raise SeriesError(f"unknown profile {profile!r}; profiles: {', '.join(PROFILES)}")
    lines = []
    for name in PROFILES[profile]:
        with open(os.path.join(TOOL, "configs", name + ".config")) as f:
            for line in f:
                line = line.strip()
                if not line or (line.startswith("#") and "is not set" not in line):
                    continue
                if not inline_helpers and line.startswith("CONFIG_RUST_INLINE_HELPERS="):
                    line = "# CONFIG_RUST_INLINE_HELPERS is not set"
                lines.append(line)
    return lines


def make_cmd(tree, bdir, *targets, extra=()):
    return (["make", "-C", tree, f"O={bdir}", "ARCH=x86_64", f"LLVM={LLVM_SUFFIX}", "-j",
             str(os.cpu_count() or 2)] + list(extra) + list(targets))


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


def option_name(line):
    """CONFIG_X for "CONFIG_X=y" and "# CONFIG_X is not set"."""
    return line.split()[1] if line.startswith("# ") else line.split("=", 1)[0]


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


def not_yet_defined(missing, defined):
    """The missing fragment lines whose option the tree does not define."""
    return [line for line in missing if option_name(line) not in defined]


def configure(tree, bdir, profile, inline_helpers=True, early=False):
    """Writes .config from the fragments unless it is already up to date.

    With early (a commit early in the series, for check --bisect), options
    that the tree does not define yet may be missing; the directory is then
    configured again for the next commit."""
    lines = fragment_lines(profile, inline_helpers)
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
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
        missing = unmet(f.read(), lines)
    if missing and early and len(not_yet_defined(missing, kconfig_symbols(tree))) == len(missing):
        info(f"    not defined before a later patch: {', '.join(map(option_name, missing))}")
        if os.path.exists(stamp):
            os.remove(stamp)
        return True
    if missing:
        raise SeriesError(
            f"profile {profile}: these options did not end up in {config}: "
            f"{', '.join(missing)}. For Rust options this usually means the toolchain is not "
            "usable (run `scripts/series setup`); otherwise a dependency is missing in "
            f"scripts/seriestool/configs/")
    with open(stamp, "w") as f:
        f.write(digest + "\n")
    return True


def build(tree, profile="vm", inline_helpers=True, extra=(), targets=("all",), label=None,
          bdir=None, early=False):
    """Builds the profile; returns the build directory. early: see configure()."""
    bdir = bdir or build_dir(profile, inline_helpers)
    if configure(tree, bdir, profile, inline_helpers, early):
        info(f"    configured {bdir} from {' + '.join(PROFILES[profile])} fragments")
    log = os.path.join(bdir, "build.log")
    label = label or f"build {profile}"
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

# SPDX-License-Identifier: GPL-2.0
"""Paths, process helpers and progress output shared by the subcommands."""

import json
import os
import selectors
import shutil
import subprocess
import time

# The project checkout (this file is scripts/seriestool/common.py).
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(REPO, "scripts", "seriestool")

# Everything downloaded or built lives here, outside the repository.
CACHE = os.environ.get("SERIES_CACHE") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "rust-series")

LLVM_SUFFIX = "-22"
RUST_SRC_DEB = "rust-src=1.95.0+dfsg1-2~bpo13+1"
LINUX_SOURCE_DEB = "linux-source-7.3=7.3.4-1~bpo13+1"
BINDGEN_VERSION = "0.72.1"


class SeriesError(Exception):
    """A failure the user can act on; the message says what to do."""


def info(msg):
    print(msg, flush=True)


def step(name):
    """Prints a step header and returns a function that prints its duration."""
    start = time.monotonic()
    info(f"==> {name}")

    def done(extra=""):
        took = time.monotonic() - start
        info(f"<== {name}: done in {fmt_secs(took)}{(' ' + extra) if extra else ''}")
        return took
    return done


def fmt_secs(secs):
    secs = int(secs)
    return f"{secs // 60}m{secs % 60:02d}s" if secs >= 60 else f"{secs}s"


def run(cmd, *, cwd=None, env=None, check=True, capture=False, input=None, quiet=False):
    """Runs a command. With capture, returns its stdout as text."""
    if not quiet:
        info("    $ " + " ".join(cmd))
    res = subprocess.run(cmd, cwd=cwd, env=env, input=input, text=True,
                         stdout=subprocess.PIPE if capture else None,
                         stderr=subprocess.PIPE if capture else None)
    if check and res.returncode != 0:
        err = (res.stderr or "").strip()
        raise SeriesError(f"command failed ({res.returncode}): {' '.join(cmd)}"
                          + (f"\n{err}" if err else ""))
    return res.stdout if capture else res


def git(args, repo, *, env=None, input=None, check=True):
    """Runs git in `repo` and returns stdout without the trailing newline."""
    res = subprocess.run(["git", "-C", repo] + args, env=env, input=input, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and res.returncode != 0:
        raise SeriesError(f"git {' '.join(args)} failed in {repo}:\n{res.stderr.strip()}")
    return res.stdout.rstrip("\n")


def which(name):
    return shutil.which(name)


def kernel_env():
    """The environment the kernel's Rust build needs (see shared/toolchain.md)."""
    env = dict(os.environ)
    cargo_bin = os.path.expanduser("~/.cargo/bin")
    if cargo_bin not in env.get("PATH", "").split(":"):
        env["PATH"] = cargo_bin + ":" + env.get("PATH", "")
    env["RUST_LIB_SRC"] = rust_lib_src()
    env["LIBCLANG_PATH"] = f"/usr/lib/llvm{LLVM_SUFFIX}/lib"
    env.setdefault("CCACHE_DIR", os.path.join(CACHE, "ccache"))
    env.setdefault("CCACHE_MAXSIZE", "8G")
    return env


def rust_lib_src():
    return os.path.join(CACHE, "rust-src", "usr", "lib", "rustlib", "src", "rust", "library")


def state_path():
    return os.path.join(CACHE, "state.json")


def load_state():
    try:
        with open(state_path()) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def save_state(state):
    os.makedirs(CACHE, exist_ok=True)
    tmp = state_path() + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f, indent=2)
    os.replace(tmp, state_path())


def stream_with_progress(cmd, *, cwd, env, log_path, label, every=20.0, match=None):
    """Runs a long command with its output in `log_path`, printing a progress
    line every `every` seconds, also while the command prints nothing.
    Returns the exit code."""
    start = last = time.monotonic()
    lines = 0
    latest = ""
    pending = b""
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        while True:
            ready = sel.select(timeout=every)
            chunk = os.read(proc.stdout.fileno(), 65536) if ready else None
            if chunk == b"":
                break
            if chunk:
                *done, pending = (pending + chunk).split(b"\n")
                for raw in done:
                    line = raw.decode(errors="replace") + "\n"
                    log.write(line)
                    if match is None or match(line):
                        lines += 1
                        latest = line.strip()
            now = time.monotonic()
            if now - last >= every:
                last = now
                info(f"    [{label}] {fmt_secs(now - start)}, {lines} steps, at: {latest[:90]}")
        log.write(pending.decode(errors="replace"))
        return proc.wait()


def tail(path, n=40):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except FileNotFoundError:
        return ""

# SPDX-License-Identifier: GPL-2.0
"""`setup`: checks for and installs the toolchain, idempotently."""

import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import urllib.request

from .common import (BINDGEN_VERSION, CACHE, LLVM_SUFFIX, RUST_SRC_DEB, SeriesError, info,
                     kernel_env, run, rust_lib_src, which)

APT_PACKAGES = [
    f"clang{LLVM_SUFFIX}", f"lld{LLVM_SUFFIX}", f"llvm{LLVM_SUFFIX}", f"libclang{LLVM_SUFFIX}-dev",
    "qemu-system-x86", "busybox-static", "cpio", "bc", "flex", "bison", "libelf-dev",
    "libssl-dev", "coccinelle", "kmod", "make", "gcc", "git", "xz-utils",
    "rsync", "util-linux", "ccache",
    # nvme-cli, which the rnvme-cli VM test runs against rnvme.
    "nvme-cli",
    # The binder test programs, static C against the binder UAPI header;
    # libaio for fio's libaio engine (fio is built static: FIO_SOURCE).
    "libc6-dev", "linux-libc-dev", "libaio-dev",
    # What checkpatch.pl's helpers need: scripts/spdxcheck.py (ply, git)
    # and the --codespell dictionary.
    "python3-ply", "python3-git", "codespell",
]
# Commands that prove the packages above are there.
APT_COMMANDS = {
    f"clang{LLVM_SUFFIX}": f"clang{LLVM_SUFFIX}", f"ld.lld{LLVM_SUFFIX}": f"lld{LLVM_SUFFIX}",
    f"llvm-ar{LLVM_SUFFIX}": f"llvm{LLVM_SUFFIX}", "qemu-system-x86_64": "qemu-system-x86",
    "busybox": "busybox-static", "cpio": "cpio", "bc": "bc", "flex": "flex",
    "bison": "bison", "spatch": "coccinelle", "depmod": "kmod", "make": "make", "gcc": "gcc",
    "xz": "xz-utils", "rsync": "rsync", "blkzone": "util-linux", "ccache": "ccache",
    "nvme": "nvme-cli",
}
APT_FILES = {
    f"/usr/lib/llvm{LLVM_SUFFIX}/lib/libclang.so": f"libclang{LLVM_SUFFIX}-dev",
    "/usr/include/libelf.h": "libelf-dev", "/usr/include/openssl/ssl.h": "libssl-dev",
    "/usr/share/qemu/qboot.rom": "qemu-system-x86",
    "/usr/lib/x86_64-linux-gnu/libc.a": "libc6-dev",
    "/usr/include/linux/android/binder.h": "linux-libc-dev",
    "/usr/lib/x86_64-linux-gnu/libaio.a": "libaio-dev",
    "/usr/lib/python3/dist-packages/ply/__init__.py": "python3-ply",
    "/usr/lib/python3/dist-packages/git/__init__.py": "python3-git",
    "/usr/lib/python3/dist-packages/codespell_lib/data/dictionary.txt": "codespell",
}

BACKPORTS_SOURCES = "/etc/apt/sources.list.d/rust-series-trixie-backports.sources"
BACKPORTS_PIN = "/etc/apt/preferences.d/rust-series-trixie-backports"


def missing_apt():
    miss = {pkg for cmd, pkg in APT_COMMANDS.items() if not which(cmd)}
    miss |= {pkg for path, pkg in APT_FILES.items() if not os.path.exists(path)}
    return sorted(miss)


def sudo():
    return [] if os.geteuid() == 0 else ["sudo"]


def ensure_backports():
    """trixie-backports, pinned at priority 1 so nothing is upgraded from it."""
    if os.path.exists(BACKPORTS_SOURCES):
        return False
    info("    adding trixie-backports (Pin-Priority 1: only packages named with =VERSION)")
    src = ("Types: deb\nURIs: http://deb.debian.org/debian\nSuites: trixie-backports\n"
           "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n")
    pin = "Package: *\nPin: release n=trixie-backports\nPin-Priority: 1\n"
    for path, text in ((BACKPORTS_SOURCES, src), (BACKPORTS_PIN, pin)):
        run(sudo() + ["tee", path], input=text, capture=True, quiet=True)
    return True


_apt_updated = False


def apt_update():
    global _apt_updated
    if not _apt_updated:
        run(sudo() + ["apt-get", "update", "-q"], capture=True)
        _apt_updated = True


def apt_download(spec, dest):
    """Downloads one .deb into `dest` once; returns its path."""
    name, version = spec.split("=")
    pattern = os.path.join(dest, f"{name}_{version.replace(':', '%3a')}_*.deb")
    found = glob.glob(pattern)
    if found:
        return found[0]
    os.makedirs(dest, exist_ok=True)
    if ensure_backports():
        global _apt_updated
        _apt_updated = False
    apt_update()
    info(f"    downloading {spec}")
    run(["apt-get", "download", "-q", spec], cwd=dest, capture=True)
    found = glob.glob(pattern)
    if not found:
        raise SeriesError(f"apt-get download {spec} left no {pattern}")
    return found[0]


# fio for the VM, built static from Debian's source: Debian's fio links 63
# shared libraries (ceph, gluster, ICU, ...), whose loading made each fio
# start take 2-4 s on the debug kernel, 4 s of a 4 KiB read (most of the
# debug VM tests' time). The static one has the engines the tests use.
FIO_VERSION = "3.33"
FIO_SOURCE = f"http://deb.debian.org/debian/pool/main/f/fio/fio_{FIO_VERSION}.orig.tar.gz"
FIO_SHA256 = "d2410e13e0f379d061d077cc5ae325835bb7c6186aa7bafc1df954cbc9b014fc"
FIO_ENGINES = ("psync", "libaio", "io_uring")
FIO_CONFIGURE = ["--build-static", "--disable-native", "--disable-numa", "--disable-rdma",
                 "--disable-rados", "--disable-rbd", "--disable-http", "--disable-gfapi",
                 "--disable-libnfs", "--disable-pmem", "--disable-xnvme", "--disable-libzbc",
                 "--disable-tcmalloc", "--disable-dfs"]


def fio_path():
    return os.path.join(CACHE, "fio", f"fio-{FIO_VERSION}")


def fio_engines_missing(fio):
    """The engines of FIO_ENGINES that `fio` lacks."""
    out = subprocess.run([fio, "--enghelp"], capture_output=True, text=True).stdout
    have = set(out.split())
    return [e for e in FIO_ENGINES if e not in have]


def ensure_fio():
    """The static fio the VM runs, downloaded (checksum checked) and built
    into the cache once; returns its path."""
    out = fio_path()
    if os.path.exists(out):
        return out
    src_dir = os.path.join(CACHE, "fio", "src")
    tarball = os.path.join(CACHE, "debs", os.path.basename(FIO_SOURCE))
    os.makedirs(os.path.dirname(tarball), exist_ok=True)
    if not os.path.exists(tarball):
        info(f"    downloading {FIO_SOURCE}")
        try:
            with urllib.request.urlopen(FIO_SOURCE, timeout=120) as r:
                data = r.read()
        except OSError as e:
            raise SeriesError(f"downloading {FIO_SOURCE} failed: {e}; fetch it into "
                              f"{tarball} by hand, or check the network") from e
        digest = hashlib.sha256(data).hexdigest()
        if digest != FIO_SHA256:
            raise SeriesError(f"{FIO_SOURCE}: sha256 {digest}, expected {FIO_SHA256}")
        with open(tarball + ".tmp", "wb") as f:
            f.write(data)
        os.rename(tarball + ".tmp", tarball)
    shutil.rmtree(src_dir, ignore_errors=True)
    os.makedirs(src_dir)
    with tarfile.open(tarball) as t:
        # The "data" filter where this Python has it (3.11.4 and later).
        t.extractall(src_dir, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    tree = os.path.join(src_dir, f"fio-{FIO_VERSION}")
    info(f"    building fio {FIO_VERSION} static (about 30 s)")
    log = os.path.join(CACHE, "fio", "build.log")
    with open(log, "w") as f:
        for cmd in (["./configure"] + FIO_CONFIGURE, ["make", "-j2", "fio"]):
            if subprocess.run(cmd, cwd=tree, stdout=f, stderr=subprocess.STDOUT).returncode:
                raise SeriesError(f"building fio failed at `{' '.join(cmd)}`; see {log} "
                                  "(gcc, make, libc6-dev and libaio-dev: `scripts/series setup`)")
    built = os.path.join(tree, "fio")
    missing = fio_engines_missing(built)
    if missing:
        raise SeriesError(f"the fio built lacks the engines {', '.join(missing)}; see {log} "
                          "(libaio needs libaio-dev: `scripts/series setup`)")
    run(["strip", "-o", out + ".tmp", built], capture=True, quiet=True)
    os.rename(out + ".tmp", out)
    shutil.rmtree(src_dir, ignore_errors=True)
    return out


BINDER_USER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "binder-user")
BINDER_USER_BINS = ("binder-user", "rsb_hub")


def binder_user_paths():
    """The binaries of ensure_binder_user(), by name."""
    target = os.path.join(CACHE, "binder-user", "target", "release")
    return {name: os.path.join(target, name) for name in BINDER_USER_BINS}


def ensure_binder_user():
    """Existing binder user space for the VM: rsbinder's service manager
    (rsb_hub, from rsbinder-tools) and our service/client on rsbinder
    (scripts/seriestool/binder-user), built from crates.io at the versions
    in its Cargo.lock when its sources are newer; returns {name: path}."""
    paths = binder_user_paths()
    sources = [os.path.join(BINDER_USER, f) for f in ("Cargo.toml", "Cargo.lock", "src/main.rs")]
    newest = max(os.path.getmtime(f) for f in sources)
    if all(os.path.exists(p) and os.path.getmtime(p) >= newest for p in paths.values()):
        return paths
    info("    building rsbinder's rsb_hub and binder-user (cargo, about 100 s)")
    env = dict(kernel_env(), CARGO_TARGET_DIR=os.path.join(CACHE, "binder-user", "target"))
    manifest = os.path.join(BINDER_USER, "Cargo.toml")
    for cmd in (["cargo", "build", "--locked", "--release", "--manifest-path", manifest,
                 "--bin", "binder-user"],
                ["cargo", "build", "--locked", "--release", "--manifest-path", manifest,
                 "-p", "rsbinder-tools", "--bin", "rsb_hub"]):
        res = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if res.returncode != 0:
            raise SeriesError(f"`{' '.join(cmd)}` failed:\n{res.stderr[-3000:]}\n"
                              "It needs crates.io (or the crates in ~/.cargo/registry).")
    for p in paths.values():
        os.utime(p)
    return paths


def ensure_rust_src():
    if os.path.isdir(os.path.join(rust_lib_src(), "core")):
        return "present"
    deb = apt_download(RUST_SRC_DEB, os.path.join(CACHE, "debs"))
    run(["dpkg", "-x", deb, os.path.join(CACHE, "rust-src")], capture=True)
    if not os.path.isdir(os.path.join(rust_lib_src(), "core")):
        raise SeriesError(f"{deb} did not contain {rust_lib_src()}/core")
    return "installed"


def ensure_bindgen():
    env = kernel_env()
    out = subprocess.run(["bindgen", "--version"], env=env, capture_output=True, text=True) \
        if which_env("bindgen", env) else None
    if out and BINDGEN_VERSION in out.stdout:
        return "present"
    info(f"    cargo install bindgen-cli {BINDGEN_VERSION} (about 2 minutes)")
    run(["cargo", "install", "--locked", "bindgen-cli", "--version", BINDGEN_VERSION], env=env)
    return "installed"


def which_env(cmd, env):
    return shutil.which(cmd, path=env["PATH"])


def b4_path():
    return os.path.join(CACHE, "b4-venv", "bin", "b4")


def ensure_b4():
    """b4 0.14.2 from PyPI in a venv of its own (bookworm's 0.12 lacks `prep --check`)."""
    if os.path.exists(b4_path()):
        out = subprocess.run([b4_path(), "--version"], capture_output=True, text=True)
        m = re.search(r"(\d+)\.(\d+)", out.stdout + out.stderr)
        if m and (int(m.group(1)), int(m.group(2))) >= (0, 14):
            return "present"
    venv = os.path.dirname(os.path.dirname(b4_path()))
    info(f"    pip install b4==0.14.2 into {venv}")
    run([sys.executable, "-m", "venv", venv], capture=True)
    run([os.path.join(venv, "bin", "pip"), "install", "-q", "b4==0.14.2"], capture=True)
    return "installed"


def llvm_major(cmd, env):
    out = subprocess.run(cmd, env=env, capture_output=True, text=True).stdout
    m = re.search(r"LLVM version:? (\d+)", out) or re.search(r"clang version (\d+)", out)
    return int(m.group(1)) if m else None


def inline_helpers_report():
    env = kernel_env()
    rust = llvm_major(["rustc", "--version", "--verbose"], env)
    clang = llvm_major([f"clang{LLVM_SUFFIX}", "--version"], env)
    if rust and rust == clang:
        return True, f"CONFIG_RUST_INLINE_HELPERS possible: rustc and clang both use LLVM {rust}"
    return False, (f"CONFIG_RUST_INLINE_HELPERS NOT possible: rustc uses LLVM {rust}, "
                   f"clang{LLVM_SUFFIX} uses LLVM {clang}; they must be equal")


def setup():
    """Installs what is missing and says what it did. Raises naming a missing piece."""
    if not which_env("rustc", kernel_env()):
        raise SeriesError("rustc is missing: install rustup's Rust 1.95 (rustc, cargo, "
                          "clippy, rustfmt) first")
    miss = missing_apt()
    if miss:
        info(f"    apt-get install {' '.join(APT_PACKAGES)} (missing: {', '.join(miss)})")
        apt_update()
        run(sudo() + ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y",
                      "-q", "--no-install-recommends"] + APT_PACKAGES, capture=True)
        still = missing_apt()
        if still:
            raise SeriesError(f"still missing after apt-get install: {', '.join(still)}")
    else:
        info("    apt packages: present")
    info(f"    rust-src {RUST_SRC_DEB.split('=')[1]}: {ensure_rust_src()}")
    info(f"    bindgen-cli {BINDGEN_VERSION}: {ensure_bindgen()}")
    info(f"    b4 >= 0.14: {ensure_b4()}")
    info(f"    fio {FIO_VERSION} (static, for the VM): {ensure_fio()}")
    info(f"    rsbinder user space (for the VM): {ensure_binder_user()['rsb_hub']}")
    ok, why = inline_helpers_report()
    info("    " + why)
    return ok

# SPDX-License-Identifier: GPL-2.0
"""Boots a built kernel under QEMU (TCG) with a busybox initramfs and runs the
in-VM tests; results come back over the serial console."""

import os
import re
import selectors
import shutil
import subprocess
import tempfile
import time

from . import build, setup
from .common import CACHE, TOOL, SeriesError, fmt_secs, info

VMTESTS = os.path.join(TOOL, "vmtests")
QEMU = "qemu-system-x86_64"
# A VM run's timeout for the vm kernel on an idle host, where all the VM
# tests take about 4 minutes; Profile.timeout() scales it (debug: x3).
BOOT_TIMEOUT = 900
KEEP_LOGS = 10

# Console lines that mean the kernel complained: any of them fails the run.
SPLAT_PATTERNS = [
    r"\bBUG: ", r"\bWARNING: ", r"------------\[ cut here \]------------", r"\bOops\b",
    r"Kernel panic", r"general protection fault", r"KASAN: ", r"UBSAN: ",
    r"possible circular locking dependency", r"possible recursive locking",
    r"inconsistent lock state", r"suspicious RCU usage", r"rcu: INFO: .*detected stalls",
    r"RCU Stall", r"INFO: task .* blocked for more than", r"Call Trace:",
    r"unreferenced object", r"kernel BUG at", r"\bpanicked at\b",
]
SPLAT_RE = re.compile("|".join(SPLAT_PATTERNS))
BEGIN_RE = re.compile(r"^SERIES-TEST-BEGIN (\S+)")
END_RE = re.compile(r"^SERIES-TEST-END (\S+) (-?\d+) (\d+)")


def splats(console):
    """Console lines that are kernel splats."""
    return [l for l in console.splitlines() if SPLAT_RE.search(l)]


def parse_results(console):
    """[(test, passed, seconds)] from the markers the VM's init prints."""
    results = []
    for line in console.splitlines():
        m = END_RE.search(line)
        if m:
            results.append((m.group(1), m.group(2) == "0", int(m.group(3))))
    return results


def available_tests():
    return sorted(f[:-3] for f in os.listdir(VMTESTS)
                  if f.endswith(".sh") and not f.startswith("lib"))


POSTING_RE = re.compile(r"^# posting: ([a-z0-9-]+)", re.M)


def test_posting(name):
    """The posting whose tree a VM test needs: its `# posting:` line."""
    with open(os.path.join(VMTESTS, name + ".sh")) as f:
        m = POSTING_RE.search(f.read())
    if not m:
        raise SeriesError(f"vmtests/{name}.sh has no '# posting: <name>' line")
    return m.group(1)


def tests_for(postings):
    """The VM tests whose posting is one of `postings`."""
    return [t for t in available_tests() if test_posting(t) in postings]


def copy_with_libs(binary, root, bindir="bin"):
    """Copies a dynamically linked binary to `bindir` and the libraries ldd
    lists."""
    shutil.copy2(binary, os.path.join(root, bindir, os.path.basename(binary)))
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    for line in out.splitlines():
        m = re.search(r"(/\S+) \(0x", line)
        if not m:
            continue
        lib = m.group(1)
        dest = os.path.join(root, lib.lstrip("/"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy(os.path.realpath(lib), dest)


BINDER_SRC = os.path.join(TOOL, "binder")


def binder_abi():
    """The binder test program (scripts/seriestool/binder), a static binary
    built into the cache when its sources are newer; returns its path."""
    out = os.path.join(CACHE, "binder-abi", "binder-abi")
    sources = [os.path.join(BINDER_SRC, f) for f in os.listdir(BINDER_SRC)
               if f.endswith((".c", ".h"))]
    if os.path.exists(out) and all(os.path.getmtime(f) <= os.path.getmtime(out)
                                   for f in sources):
        return out
    os.makedirs(os.path.dirname(out), exist_ok=True)
    cmd = ["gcc", "-static", "-O2", "-Wall", "-Wextra", "-Werror", "-pthread", "-o", out,
           *sorted(f for f in sources if f.endswith(".c"))]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise SeriesError(f"building the binder test program failed ({' '.join(cmd)}):\n"
                          + res.stderr[-3000:] + "\nIs libc6-dev installed? Run"
                          " `scripts/series setup`.")
    return out


def make_initramfs(tree, bdir, out):
    """Writes a newc cpio with busybox, fio, the modules, the VM tests and the
    documentation they check."""
    with tempfile.TemporaryDirectory(dir=CACHE) as root:
        for d in ("bin", "sbin", "dev", "proc", "sys", "tmp", "etc", "lib", "lib64", "mnt",
                  "tests", "usr/bin", "usr/sbin"):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        busybox = shutil.which("busybox")
        if not busybox:
            raise SeriesError("busybox is missing: run `scripts/series setup`")
        shutil.copy2(busybox, os.path.join(root, "bin", "busybox"))
        # fio: the static build (setup.ensure_fio), called through a script
        # that turns its disk statistics off: their thread costs about a
        # second per fio run on the debug kernel, and no test reads them.
        shutil.copy2(setup.ensure_fio(), os.path.join(root, "usr", "bin", "fio-static"))
        with open(os.path.join(root, "usr", "bin", "fio"), "w") as f:
            f.write('#!/bin/sh\nexec /usr/bin/fio-static --disk_util=0 "$@"\n')
        os.chmod(os.path.join(root, "usr", "bin", "fio"), 0o755)
        # util-linux: zone reports, discard and zeroout by byte range (in
        # /usr/sbin: busybox's blkdiscard, without -z, takes /bin), and
        # setpriv to drop capabilities; nvme-cli.
        for tool, bindir in (("blkzone", "bin"), ("blkdiscard", "usr/sbin"),
                             ("setpriv", "usr/bin"), ("nvme", "usr/sbin")):
            path = shutil.which(tool) or f"/sbin/{tool}"
            if not os.path.exists(path):
                raise SeriesError(f"{tool} is missing: run `scripts/series setup`")
            copy_with_libs(path, root, bindir)
        shutil.copy2(binder_abi(), os.path.join(root, "usr", "bin", "binder-abi"))
        for path in setup.ensure_binder_user().values():
            copy_with_libs(path, root, "usr/bin")
        shutil.copy2(os.path.join(TOOL, "vm", "init"), os.path.join(root, "init"))
        os.chmod(os.path.join(root, "init"), 0o755)
        for src, dest in ((VMTESTS, "tests"), (os.path.join(TOOL, "bench"), "bench"),
                          (os.path.join(TOOL, "demo"), "demo")):
            os.makedirs(os.path.join(root, dest), exist_ok=True)
            for f in os.listdir(src):
                shutil.copy2(os.path.join(src, f), os.path.join(root, dest, f))
        # The documentation the VM tests check the drivers against (the tree
        # of a posting without rnull, `--posting`, has none).
        os.makedirs(os.path.join(root, "tests", "docs"), exist_ok=True)
        doc = os.path.join(tree, "Documentation", "block", "rnull.rst")
        if os.path.exists(doc):
            shutil.copy2(doc, os.path.join(root, "tests", "docs", "rnull.rst"))
        build.modules_install(tree, bdir, root)
        with open(out, "wb") as f:
            files = subprocess.run(["find", "."], cwd=root, capture_output=True,
                                   check=True).stdout
            subprocess.run(["cpio", "--quiet", "-o", "-H", "newc"], cwd=root, input=files,
                           stdout=f, check=True)
    return out


def qemu_cmd(kernel, initrd, append, device_args=(), smp=2, mem=2048, plugin=None):
    """`device_args` are the QEMU arguments of the profile's devices;
    `plugin` is a TCG plugin with its arguments, as `-plugin` takes it.
    TCG runs a thread per vCPU: with one thread for all, QEMU 7.2 drops the
    guest's memory barriers, and device models in the I/O thread race with
    the guest (see profile.py)."""
    cmd = [QEMU, "-nodefaults", "-nographic", "-no-reboot", "-machine", "pc",
           "-accel", "tcg,thread=multi",
           "-smp", str(smp), "-m", str(mem),
           "-bios", "/usr/share/qemu/qboot.rom", "-serial", "stdio", "-monitor", "none",
           "-kernel", kernel, "-initrd", initrd, "-append", append, *device_args]
    if plugin:
        cmd += ["-plugin", plugin]
    return cmd


def console_log(bdir, kind):
    """A console log of its own for one VM run: <bdir>/logs/<kind>-<time>-<pid>.log,
    so that two runs never write the same file; <bdir>/<kind>.log links to
    the latest. Keeps the newest KEEP_LOGS logs of each kind."""
    logs = os.path.join(bdir, "logs")
    os.makedirs(logs, exist_ok=True)
    name = f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    old = sorted(f for f in os.listdir(logs) if f.startswith(kind + "-2"))
    for f in old[:max(0, len(old) - KEEP_LOGS + 1)]:
        os.remove(os.path.join(logs, f))
    path = os.path.join(logs, name)
    link = os.path.join(bdir, kind + ".log")
    tmp = f"{link}.{os.getpid()}"
    os.symlink(os.path.join("logs", name), tmp)
    os.replace(tmp, link)
    return path


def boot(tree, profile, *, kind, tests=(), extra_append="", timeout=BOOT_TIMEOUT,
         devices=None, echo=False, plugin=None, bdir=None):
    """Boots the kernel of `profile` (built in `bdir`, by default its build
    directory), runs `tests` in it and returns (console, seconds, log path).
    `timeout` is stated for the vm kernel on an idle host and scales with the
    profile; `devices` defaults to the profile's. The console goes to a log
    of its own (see console_log). QEMU is always terminated, on timeout too."""
    bdir = bdir or profile.build_dir()
    if not profile.boots:
        raise SeriesError(f"profile {profile.name} does not boot the test VM")
    kernel = build.image(bdir)
    limit = profile.timeout(timeout)
    log_path = console_log(bdir, kind)
    with build.locked(bdir, shared=True), tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        initrd = make_initramfs(tree, bdir, os.path.join(tmp, "initramfs.cpio"))
        device_args = [a for d in (profile.devices if devices is None else devices)
                       for a in d.qemu_args(tmp)]
        # series.kernel: the profile, for tests that do less on slow ones.
        append = ("console=ttyS0 panic=-1 rdinit=/init loglevel=7 "
                  f"series.kernel={profile.name} "
                  f"series.tests={','.join(tests) or 'none'} {extra_append}").strip()
        cmd = qemu_cmd(kernel, initrd, append, device_args, plugin=plugin)
        start = time.monotonic()
        timed_out = False
        with open(log_path, "w") as log:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
            try:
                timed_out = _pump(proc, log, start, limit, echo)
            finally:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
        with open(log_path, errors="replace") as f:
            console = f.read()
    took = time.monotonic() - start
    if timed_out:
        raise SeriesError(f"the {profile.name} VM did not finish within {limit}s "
                          f"({timeout}s x {profile.slowdown:g} for {profile.name}; killed);"
                          f" console in {log_path}. Last lines:\n"
                          + "\n".join(console.splitlines()[-15:]))
    if "SERIES-DONE" not in console:
        raise SeriesError(f"the VM stopped before its tests finished (after {fmt_secs(took)});"
                          f" console in {log_path}. Last lines:\n"
                          + "\n".join(console.splitlines()[-20:]))
    return console, took, log_path


def _pump(proc, log, start, timeout, echo):
    """Copies QEMU's console to `log` until it exits; True on timeout."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    pending = ""
    while True:
        left = timeout - (time.monotonic() - start)
        if left <= 0:
            return True
        if not sel.select(timeout=min(left, 5)):
            continue
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            return False
        text = chunk.decode(errors="replace").replace("\r", "")
        log.write(text)
        log.flush()
        *lines, pending = (pending + text).split("\n")
        for line in lines:
            m = BEGIN_RE.search(line)
            if m:
                info(f"    [vm {fmt_secs(time.monotonic() - start)}] running {m.group(1)}")
            elif echo:
                info("    " + line)


# A VM test that needs a boot of its own says so on a line of its header:
# "# series-append: ARGS", the kernel arguments added to that boot's.
APPEND_RE = re.compile(r"^# series-append: (.+)$", re.M)


def test_append(name):
    """The kernel arguments that VM test `name` adds to its boot ("" for
    the shared boot)."""
    with open(os.path.join(VMTESTS, name + ".sh")) as f:
        m = APPEND_RE.search(f.read())
    return m.group(1).strip() if m else ""


def boot_groups(names):
    """[(append, [test, ...])]: the tests that share a boot, in the order
    of `names`; the shared boot ("") first."""
    groups = {}
    for name in names:
        groups.setdefault(test_append(name), []).append(name)
    return sorted(groups.items(), key=lambda g: g[0] != "")


def vmtest(tree, profile, tests=None, timeout=BOOT_TIMEOUT, append=""):
    """Runs the VM tests, one boot for those that share one, with the
    kernel arguments `append` added to each; returns (passed, failed) after
    printing a line per test and per boot's splat check."""
    names = tests or available_tests()
    unknown = [t for t in names if t not in available_tests()]
    if unknown:
        raise SeriesError(f"unknown VM tests: {', '.join(unknown)}; known: "
                          f"{', '.join(available_tests())}")
    passed = failed = 0
    for group_append, group in boot_groups(names):
        kind = "vmtest" + (f"-{group[0]}" if group_append else "")
        if group_append:
            info(f"booting again for {', '.join(group)} ({group_append})")
        console, took, log_path = boot(tree, profile, kind=kind, tests=group,
                                       extra_append=f"{group_append} {append}".strip(),
                                       timeout=timeout)
        results = {name: (ok, secs) for name, ok, secs in parse_results(console)}
        for name in group:
            if name not in results:
                info(f"FAIL {name}: no result (see {log_path})")
                failed += 1
                continue
            ok, secs = results[name]
            info(f"{'PASS' if ok else 'FAIL'} {name} ({secs}s)")
            if ok:
                passed += 1
            else:
                failed += 1
                info(test_output(console, name))
        found = splats(console)
        check = "kernel-splats" + (f" ({kind})" if group_append else "")
        if found:
            failed += 1
            info(f"FAIL {check}: {len(found)} splat line(s) in {log_path}:")
            for l in found[:20]:
                info("    " + l)
        else:
            passed += 1
            info(f"PASS {check} (no BUG/WARNING/KASAN/lockdep/RCU stall in the console)")
        info(f"vmtest[{profile.name}]: {kind}: VM ran {fmt_secs(took)}")
    info(f"vmtest[{profile.name}]: {passed} passed, {failed} failed")
    return passed, failed


def test_output(console, name):
    lines, inside = [], False
    for line in console.splitlines():
        if BEGIN_RE.search(line) and name in line:
            inside = True
        elif END_RE.search(line) and name in line:
            break
        elif inside:
            lines.append("    | " + line)
    return "\n".join(lines[-40:])

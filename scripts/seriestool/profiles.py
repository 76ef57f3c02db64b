# SPDX-License-Identifier: GPL-2.0
"""The profiles: every kernel the workshop builds, declared once.

A profile is a name, the config fragments (scripts/seriestool/configs/) on
top of tinyconfig, lines that override them, whether the kernel boots the
test VM (and with which QEMU devices), how its KUnit suites run, how much
slower than the vm kernel it runs (its timeouts scale with that) and
whether it builds with CLIPPY=1 (clippy-driver compiles the same code as
rustc and lints it on the way, so that build is also `check`'s lint). The
subcommands take a profile and ask it; none of them knows a profile by name.
The config variants of `check --configs` are profiles derived from vm.
"""

import dataclasses
import os

from .common import CACHE, TOOL, SeriesError

# How the KUnit suites of a profile run.
KUNIT_AT_BOOT = "boot"          # the profile's kernel, booted with kunit.enable=1
KUNIT_PY = "kunit.py"           # tools/testing/kunit/kunit.py run


@dataclasses.dataclass(frozen=True)
class PciTestdev:
    """QEMU's pci-testdev, for samples/rust/rust_driver_pci.rs (VM test rust-pci)."""

    def qemu_args(self, tmpdir):
        return ["-device", "pci-testdev"]


@dataclasses.dataclass(frozen=True)
class NvmeController:
    """An emulated NVMe controller with `namespaces` namespaces of `mib` MiB,
    each backed by a sparse image in the VM's temporary directory."""
    id: str = "nvme0"
    serial: str = "rseries0"
    namespaces: int = 2
    mib: int = 128
    # More properties of the controller, e.g. "max_ioqpairs=1,msix_qsize=1".
    options: str = ""

    def qemu_args(self, tmpdir):
        options = f",{self.options}" if self.options else ""
        args = ["-device", f"nvme,id={self.id},serial={self.serial}{options}"]
        for i in range(self.namespaces):
            img = os.path.join(tmpdir, f"{self.id}n{i + 1}.img")
            with open(img, "wb") as f:
                f.truncate(self.mib << 20)
            drive = f"{self.id}d{i}"
            args += ["-drive", f"file={img},if=none,id={drive},format=raw,discard=unmap",
                     "-device", f"nvme-ns,drive={drive},bus={self.id},nsid={i + 1}"]
        return args


# The devices of the test VM: pci-testdev, a controller for the C nvme
# driver and two that the rnvme tests take over with driver_override, one
# like the first and one that grants a single I/O queue and MSI-X vector.
VM_DEVICES = (PciTestdev(), NvmeController(),
              NvmeController(id="nvme1", serial="rnvme0"),
              NvmeController(id="nvme2", serial="rnvme1", namespaces=1, mib=64,
                             options="max_ioqpairs=1,msix_qsize=1"))


@dataclasses.dataclass(frozen=True)
class Profile:
    """One kernel the workshop builds.

    name: also names its build directory. description: one line for --help.
    fragments: scripts/seriestool/configs/<fragment>.config, in order, on top
    of tinyconfig. overrides: config lines after them (a variant's changes).
    boots: boots the test VM (initramfs, VM tests, bench, demo). kunit: how
    its KUnit suites run (KUNIT_AT_BOOT, KUNIT_PY or None). devices: the QEMU
    devices of its VM. slowdown: how many times slower than vm it runs, for
    its timeouts. clippy: built with CLIPPY=1. base: the profile a variant
    was derived from."""
    name: str
    description: str
    fragments: tuple
    overrides: tuple = ()
    boots: bool = False
    kunit: str = None
    devices: tuple = ()
    slowdown: float = 1.0
    clippy: bool = False
    base: str = None
    posting: str = None

    def build_dir(self, purpose=""):
        """The profile's build directory; `purpose` names another one for the
        same profile (bisect, kunitpy), so that the main build stays
        incremental."""
        return os.path.join(CACHE, "build", self.name + (f"-{purpose}" if purpose else ""))

    def for_posting(self, posting):
        """This profile for the tree of one posting (`--posting`): options of
        postings the tree lacks may be missing from its config, and its
        KUnit run needs only the suites in its tree."""
        return dataclasses.replace(self, posting=posting)

    def config_lines(self):
        """The fragments' lines, then the overrides; a later line for an
        option replaces an earlier one."""
        lines = {}
        for name in self.fragments:
            path = os.path.join(TOOL, "configs", name + ".config")
            with open(path) as f:
                for line in f:
                    _set(lines, line)
        for line in self.overrides:
            _set(lines, line)
        return list(lines.values())

    def required_lines(self):
        """The lines that must end up in .config. A variant requires only its
        overrides: what its base turns on may go off with them."""
        return list(self.overrides) if self.base else self.config_lines()

    def timeout(self, seconds):
        """A timeout stated for the vm kernel on an idle host, for this one."""
        return int(seconds * self.slowdown)

    def variant(self, name, description, *overrides, boots=False, kunit=None):
        """A profile that is this one with config lines changed."""
        return dataclasses.replace(self, name=name, description=description,
                                   overrides=self.overrides + overrides, boots=boots,
                                   kunit=kunit, devices=self.devices if boots else (),
                                   base=self.name)


def option_name(line):
    """CONFIG_X for "CONFIG_X=y" and "# CONFIG_X is not set"."""
    return line.split()[1] if line.startswith("# ") else line.split("=", 1)[0]


def _set(lines, line):
    line = line.strip()
    if not line or (line.startswith("#") and "is not set" not in line):
        return
    lines[option_name(line)] = line


VM = Profile(
    "vm", "bootable x86_64 kernel for the VM tests: null_blk, rnull, nvme, "
    "the Rust samples, KUnit built in (off unless kunit.enable=1)",
    ("rust", "vm"), boots=True, kunit=KUNIT_AT_BOOT, devices=VM_DEVICES, clippy=True)
DEBUG = Profile(
    "debug", "the vm kernel with KASAN, lockdep, UBSAN and DEBUG_ATOMIC_SLEEP",
    ("rust", "vm", "debug"), boots=True, kunit=KUNIT_AT_BOOT, devices=VM_DEVICES,
    # KASAN and lockdep under TCG: 11 min where vm takes 4 (idle host).
    slowdown=3.0)
KUNIT = Profile(
    "kunit", "the KUnit suites and Rust doctests as tools/testing/kunit/kunit.py runs them",
    ("rust", "kunit"), kunit=KUNIT_PY)
VM_NOINLINE = VM.variant(
    "vm-noinline", "the vm kernel without CONFIG_RUST_INLINE_HELPERS",
    "# CONFIG_RUST_INLINE_HELPERS is not set", boots=True, kunit=KUNIT_AT_BOOT)

# `bench binder` compares binderlike with the kernel's binder in two
# kernels that differ only there: C binder (vm) and Rust Binder, which
# cannot be built beside C binder.
VM_RUSTBINDER = VM.variant(
    "vm-rustbinder", "the vm kernel with Rust Binder instead of C binder (bench binder)",
    "# CONFIG_ANDROID_BINDER_IPC is not set", "# CONFIG_ANDROID_BINDERFS is not set",
    "CONFIG_ANDROID_BINDER_IPC_RUST=y", boots=True)

PROFILES = {p.name: p for p in (VM, DEBUG, KUNIT, VM_NOINLINE, VM_RUSTBINDER)}

# `check --configs`: the configurations the kernel test robot and users will
# build, each without errors or warnings.
CONFIG_VARIANTS = (
    VM.variant("cfg-no-zoned", "no zoned block devices",
               "# CONFIG_BLK_DEV_ZONED is not set"),
    VM.variant("cfg-no-fault-injection", "no fault injection",
               "# CONFIG_FAULT_INJECTION is not set"),
    VM.variant("cfg-no-configfs", "no configfs (so no rnull, no null_blk)",
               "# CONFIG_CONFIGFS_FS is not set", "# CONFIG_BLK_DEV_NULL_BLK is not set",
               "# CONFIG_FAULT_INJECTION_CONFIGFS is not set"),
    VM.variant("cfg-no-pci", "no PCI", "# CONFIG_PCI is not set"),
    VM.variant("cfg-no-kunit", "no KUnit", "# CONFIG_KUNIT is not set"),
    VM.variant("cfg-no-thp", "no transparent huge pages",
               "# CONFIG_TRANSPARENT_HUGEPAGE is not set"),
    VM_NOINLINE,
    KUNIT,
)


def get(name):
    """The profile called `name`, config variants included."""
    for p in list(PROFILES.values()) + list(CONFIG_VARIANTS):
        if p.name == name:
            return p
    raise SeriesError(f"unknown profile {name!r}; profiles: {', '.join(PROFILES)}")


def names(pred=lambda p: True):
    return [n for n, p in PROFILES.items() if pred(p)]

# SPDX-License-Identifier: GPL-2.0
"""Tests of the profiles, the loud failures of bench and checkpatch, the
per-run console logs and build directory locks, `check --configs` and the
demo of `run`."""

import fcntl
import os
import subprocess
import tempfile
import unittest
from unittest import mock

from seriestool import bench, build, check, cli, demo, mail, profiles, vm
from seriestool.common import SeriesError


class ProfilesTest(unittest.TestCase):
    def test_names_and_build_dirs_are_unique(self):
        every = list(profiles.PROFILES.values()) + list(profiles.CONFIG_VARIANTS)
        by_name = {}
        for p in every:
            self.assertIs(by_name.setdefault(p.name, p), p, p.name)
        dirs = {p.build_dir() for p in by_name.values()}
        self.assertEqual(len(dirs), len(by_name))
        self.assertNotEqual(profiles.VM.build_dir("clippy"), profiles.VM.build_dir())

    def test_a_variant_requires_only_its_overrides(self):
        v = profiles.get("cfg-no-pci")
        self.assertEqual(v.required_lines(), ["# CONFIG_PCI is not set"])
        self.assertIn("# CONFIG_PCI is not set", v.config_lines())
        self.assertNotIn("CONFIG_PCI=y", v.config_lines())
        self.assertFalse(v.boots)
        self.assertEqual(v.devices, ())
        # The base profile still requires every line of its fragments.
        self.assertIn("CONFIG_PCI=y", profiles.VM.required_lines())

    def test_config_variants_cover_what_the_robot_builds(self):
        names = {p.name for p in profiles.CONFIG_VARIANTS}
        for want in ("cfg-no-zoned", "cfg-no-fault-injection", "cfg-no-configfs", "cfg-no-pci",
                     "cfg-no-kunit", "cfg-no-thp", "vm-noinline", "kunit"):
            self.assertIn(want, names)
        for p in profiles.CONFIG_VARIANTS:
            for line in p.overrides:
                self.assertTrue(line.startswith("# CONFIG_") and line.endswith(" is not set"))

    def test_unknown_profile_is_an_error(self):
        with self.assertRaises(SeriesError):
            profiles.get("nope")

    def test_timeouts_scale_with_the_profile(self):
        self.assertEqual(profiles.VM.timeout(900), 900)
        self.assertEqual(profiles.DEBUG.timeout(900), 2700)

    def test_test_runs_every_booting_profile_and_the_kunit_py_route(self):
        self.assertIn(profiles.DEBUG, cli.TEST_PROFILES)
        self.assertIn(profiles.KUNIT, cli.TEST_PROFILES)
        self.assertEqual(profiles.KUNIT.kunit, profiles.KUNIT_PY)

    def test_a_profile_that_does_not_boot_is_refused(self):
        with self.assertRaises(SeriesError):
            vm.boot("/nonexistent", profiles.KUNIT, kind="x")


class ConsoleLogTest(unittest.TestCase):
    def test_each_run_has_its_own_log_and_the_link_follows(self):
        with tempfile.TemporaryDirectory() as bdir:
            first = vm.console_log(bdir, "vmtest")
            with mock.patch("os.getpid", return_value=os.getpid() + 1):
                second = vm.console_log(bdir, "vmtest")
            self.assertNotEqual(first, second)
            self.assertEqual(os.path.realpath(os.path.join(bdir, "vmtest.log")),
                             os.path.realpath(second))

    def test_old_logs_are_pruned(self):
        with tempfile.TemporaryDirectory() as bdir:
            for pid in range(vm.KEEP_LOGS + 5):
                with mock.patch("os.getpid", return_value=100000 + pid):
                    open(vm.console_log(bdir, "kunit"), "w").close()
            logs = os.listdir(os.path.join(bdir, "logs"))
            self.assertEqual(len(logs), vm.KEEP_LOGS)


class BootGroupsTest(unittest.TestCase):
    def test_tests_with_kernel_arguments_boot_on_their_own(self):
        with tempfile.TemporaryDirectory() as d:
            for name, header in (("a", ""), ("b", "# series-append: x=1 y\n"),
                                 ("c", ""), ("d", "# series-append: x=1 y\n")):
                with open(os.path.join(d, name + ".sh"), "w") as f:
                    f.write("# SPDX-License-Identifier: GPL-2.0\n" + header + "true\n")
            with mock.patch.object(vm, "VMTESTS", d):
                self.assertEqual(vm.boot_groups(["b", "a", "d", "c"]),
                                 [("", ["a", "c"]), ("x=1 y", ["b", "d"])])

    def test_the_real_tests_parse(self):
        groups = vm.boot_groups(vm.available_tests())
        self.assertEqual(groups[0][0], "")
        self.assertEqual(sum(len(g) for _, g in groups), len(vm.available_tests()))


class BuildLockTest(unittest.TestCase):
    def try_lock(self, bdir, mode):
        with open(os.path.join(bdir, ".series-lock"), "a+") as f:
            try:
                fcntl.flock(f, mode | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            fcntl.flock(f, fcntl.LOCK_UN)
            return True

    def test_a_build_excludes_a_vm_and_vms_share(self):
        with tempfile.TemporaryDirectory() as bdir:
            with build.locked(bdir):
                self.assertFalse(self.try_lock(bdir, fcntl.LOCK_SH))
            with build.locked(bdir, shared=True):
                self.assertTrue(self.try_lock(bdir, fcntl.LOCK_SH))
                self.assertFalse(self.try_lock(bdir, fcntl.LOCK_EX))
            self.assertTrue(self.try_lock(bdir, fcntl.LOCK_EX))


class BenchLoudTest(unittest.TestCase):
    @staticmethod
    def console(reps, workloads=("w1", "w2"), skip=(), plan=True, rc=0):
        lines = ["SERIES-TEST-BEGIN bench:rnull"]
        if plan:
            lines.append("BENCH-PLAN " + ",".join(workloads))
        for wl in workloads:
            for rep in range(reps):
                for side in ("C", "Rust"):
                    if (wl, side, rep) not in skip:
                        lines.append(f"BENCH {wl} {side} {rep} {1000 + rep}")
        lines += [f"SERIES-TEST-END bench:rnull {rc} 9", "SERIES-DONE"]
        return "\n".join(lines)

    def test_complete_report(self):
        data = bench.results(self.console(3), "rnull", ["C", "Rust"], 3)
        report = bench.summarize(data, "C", "Rust")
        self.assertEqual([w["runs"] for w in report["workloads"]], [3, 3])

    def test_missing_workload_is_an_error(self):
        console = self.console(3, skip={("w2", s, r) for s in ("C", "Rust") for r in range(3)})
        with self.assertRaisesRegex(SeriesError, "w2 C: repetitions"):
            bench.results(console, "rnull", ["C", "Rust"], 3)

    def test_missing_repetition_or_side_is_an_error(self):
        for skip in ({("w1", "Rust", 2)}, {("w1", "C", 0)}):
            with self.assertRaises(SeriesError):
                bench.results(self.console(3, skip=skip), "rnull", ["C", "Rust"], 3)

    def test_fewer_repetitions_than_asked_is_an_error(self):
        with self.assertRaisesRegex(SeriesError, "missing"):
            bench.results(self.console(1), "rnull", ["C", "Rust"], 3)

    def test_two_runs_in_one_console_are_an_error(self):
        mixed = self.console(2) + "\n" + self.console(2)
        with self.assertRaises(SeriesError):
            bench.results(mixed, "rnull", ["C", "Rust"], 2)

    def test_no_plan_or_a_failed_script_is_an_error(self):
        with self.assertRaisesRegex(SeriesError, "BENCH-PLAN"):
            bench.results(self.console(2, plan=False), "rnull", ["C", "Rust"], 2)
        with self.assertRaisesRegex(SeriesError, "failed"):
            bench.results(self.console(2, rc=1), "rnull", ["C", "Rust"], 2)

    def test_one_repetition_is_refused(self):
        args = mock.Mock(name="rnull", reps=1, profile=None, compare_inline_helpers=False)
        args.name = "rnull"
        with self.assertRaisesRegex(SeriesError, "--reps"):
            bench.main("/nonexistent", args)

    def test_the_benchmark_scripts_announce_every_workload(self):
        # The scripts' own lines that make the workloads and print the plan,
        # run by the host's shell and awk: one name per workload, none empty.
        # (An awk `printf ..., NR > 1 ? ...` redirects to a file named 1
        # instead: the plan came out empty once.)
        for script in ("rnull.sh", "rnvme.sh"):
            with self.subTest(script=script):
                with open(os.path.join(bench.BENCH_DIR, script)) as f:
                    lines = f.read().splitlines()
                first = next(i for i, l in enumerate(lines) if l.startswith("workloads=$("))
                plan = next(i for i, l in enumerate(lines) if l.startswith('echo "BENCH-PLAN '))
                last = next(i for i in range(plan, len(lines)) if lines[i].endswith(')"'))
                snippet = "\n".join(lines[first:last + 1] + ['echo "$workloads" | wc -l'])
                with tempfile.TemporaryDirectory() as tmp:
                    out = subprocess.run(["sh", "-c", snippet], cwd=tmp, capture_output=True,
                                         text=True, check=True).stdout.splitlines()
                    self.assertEqual(os.listdir(tmp), [])
                self.assertEqual(len(out), 2, out)
                self.assertTrue(out[0].startswith("BENCH-PLAN "), out)
                names = out[0][len("BENCH-PLAN "):].split(",")
                self.assertEqual(len(names), int(out[1]))
                self.assertEqual(len(set(names)), len(names))
                self.assertTrue(all(names), names)


class CheckpatchTest(unittest.TestCase):
    def test_a_failing_helper_fails_the_check(self):
        stderr = ("Traceback (most recent call last):\n  File \"scripts/spdxcheck.py\"\n"
                  "ModuleNotFoundError: No module named 'ply'\n")
        with self.assertRaisesRegex(SeriesError, "failing helper"):
            mail.checkpatch_result(0, "", stderr)
        with self.assertRaises(SeriesError):
            mail.checkpatch_result(1, "", "No codespell typos will be found\n")

    def test_findings_are_sorted(self):
        out = ("a.patch:1: ERROR: trailing whitespace\n"
               "a.patch:2: WARNING: line length\nb.patch:3: CHECK: alignment\n")
        errors, warnings = mail.checkpatch_result(1, out, "")
        self.assertEqual(len(errors), 1)
        self.assertEqual(len(warnings), 2)

    def test_exit_without_finding_is_an_error(self):
        with self.assertRaises(SeriesError):
            mail.checkpatch_result(2, "", "")

    def test_runs_with_spelling_and_the_system_python(self):
        with mock.patch("os.path.exists", return_value=True):
            cmd = mail.checkpatch_cmd("/tree")
        self.assertIn("--codespell", cmd)
        self.assertIn(f"--codespellfile={mail.CODESPELL_DICTIONARY}", cmd)
        self.assertTrue(mail.checkpatch_env()["PATH"].startswith("/usr/bin:"))
        with mock.patch("os.path.exists", return_value=False):
            with self.assertRaisesRegex(SeriesError, "setup"):
                mail.checkpatch_cmd("/tree")


    def test_parts_cover_every_patch_in_order_and_balance(self):
        with tempfile.TemporaryDirectory() as d:
            sizes = [900, 100, 100, 100, 500, 400]
            patches = []
            for n, size in enumerate(sizes):
                path = os.path.join(d, f"{n:04d}.patch")
                with open(path, "w") as f:
                    f.write("x" * size)
                patches.append(path)
            parts = mail.checkpatch_parts(patches, 2)
            self.assertEqual(len(parts), 2)
            self.assertEqual(sorted(sum(parts, [])), patches)
            for part in parts:
                self.assertEqual(part, sorted(part))
            self.assertEqual(sorted(sum(os.path.getsize(p) for p in part) for part in parts),
                             [1000, 1100])
            self.assertEqual(mail.checkpatch_parts(patches[:1], 8), [patches[:1]])


class ConfigWarningsTest(unittest.TestCase):
    def test_rust_warnings_and_our_c_warnings(self):
        log = ("  RUSTC L rust/kernel.o\n"
               "warning: unused variable: `x`\n --> rust/kernel/block/zoned.rs:3:9\n\n"
               "drivers/block/null_blk/main.c:10:5: warning: unused function 'f'\n"
               "rust/helpers/blk.c:4:1: warning: no previous prototype\n"
               "/src/linux/rust/helpers/mq.c:7:2: warning: unused variable 'q'\n"
               "/src/linux/kernel/fork.c:9:1: warning: upstream's\n")
        with tempfile.NamedTemporaryFile("w", suffix=".log") as f:
            f.write(log)
            f.flush()
            found = check.build_warnings(f.name, {"rust/helpers/blk.c", "rust/helpers/mq.c"},
                                         "/src/linux")
        self.assertEqual(len(found), 3)
        self.assertIn("unused variable", found[0])
        self.assertIn("rust/helpers/blk.c", found[1])
        # An out-of-tree build names the source by its path in the tree.
        self.assertIn("rust/helpers/mq.c", found[2])


class ObjtoolWarningsTest(unittest.TestCase):
    def test_all_but_those_of_linux_itself(self):
        log = ("  RUSTC L rust/kernel.o\n"
               "rust/doctests_kernel_generated.o: warning: objtool: _RNvXsd_NtNtCs1EKtw_6kernel3num"
               "7boundedINtB5_7BoundedmKm4_E3rem() falls through to next function _RNvXsf()\n"
               "rust/kernel.o: warning: objtool: _RNvMs_NtNtNtCs1_6kernel5block2mq8gen_disk"
               "NtB4_14GenDiskBuilder12queue_limits() falls through to next function x()\n"
               "drivers/block/rnvme/rnvme_mod.o: warning: objtool: f(): unreachable instruction\n"
               "rust/kernel.o: warning: unused\n")
        with tempfile.NamedTemporaryFile("w", suffix=".log") as f:
            f.write(log)
            f.flush()
            found = check.objtool_warnings(f.name)
        self.assertEqual(len(found), 2)
        self.assertIn("queue_limits", found[0])
        self.assertIn("rnvme_mod.o", found[1])


class ClippyCratesTest(unittest.TestCase):
    def test_crates_a_build_compiled(self):
        log = ("  CLIPPY L rust/kernel.o\n  CLIPPY     rust/doctests_kernel_generated.o\n"
               "  CLIPPY P rust/libmacros.so\n  RUSTC L rust/core.o\n"
               "  CLIPPY [M] drivers/block/rnull/rnull.o\n  CC      kernel/fork.o\n")
        self.assertEqual(check.CRATE_RE.findall(log),
                         ["rust/kernel.o", "rust/doctests_kernel_generated.o",
                          "rust/libmacros.so", "rust/core.o", "drivers/block/rnull/rnull.o"])

    def test_a_profile_without_clippy_is_refused(self):
        with self.assertRaises(SeriesError):
            check.clippy("/nonexistent", "base", profiles.DEBUG)


class DemoTest(unittest.TestCase):
    CONSOLE = "\n".join([
        "DEMO-PARAMS nr_devices=1 gb=1 memory_backed=1",
        "DEMO-NAME nvme nvme1n1",
        "DEMO-DEV nullb0 1073741824 2 none 512",
        "DEMO-DEV rnullb0 1073741824 2 none 512",
        "DEMO-DEV nvme 134217728 2 none 512",
        "DEMO-DEV rnvme0n1 134217728 2 none 512",
        "DEMO-VERIFY nullb0 ok 32M", "DEMO-VERIFY rnullb0 ok 32M",
        "DEMO-VERIFY nvme ok 32M", "DEMO-VERIFY rnvme0n1 ok 32M",
        "DEMO-IOPS nullb0 40000 3", "DEMO-IOPS rnullb0 42000 3", "DEMO-IOPS nvme 9000 3",
        "DEMO-IOPS rnvme0n1 9900 3",
    ])

    def test_table_side_by_side(self):
        text = demo.table(*demo.parse(self.CONSOLE))
        self.assertIn("/dev/rnullb0", text)
        self.assertIn("1 GiB", text)
        self.assertIn("rnull / null_blk: 1.05", text)
        self.assertIn("rnvme / nvme: 1.10", text)
        self.assertIn("/dev/nvme1n1", text)

    def test_missing_or_bad_device_is_an_error(self):
        short = "\n".join(l for l in self.CONSOLE.splitlines() if "rnvme0n1" not in l)
        with self.assertRaisesRegex(SeriesError, "rnvme0n1"):
            demo.table(*demo.parse(short))
        bad = self.CONSOLE.replace("DEMO-VERIFY rnullb0 ok", "DEMO-VERIFY rnullb0 FAILED")
        with self.assertRaisesRegex(SeriesError, "bad data on rnullb0"):
            demo.table(*demo.parse(bad))


if __name__ == "__main__":
    unittest.main()

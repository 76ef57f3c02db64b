# SPDX-License-Identifier: GPL-2.0
"""Tests of the parsing and statistics the subcommands rely on."""

import os
import shutil
import subprocess
import tempfile
import unittest
from unittest import mock

from seriestool import bench, build, check, kunit, mail, profile, profiles, vm
from seriestool.common import SeriesError


class VmConsoleTest(unittest.TestCase):
    def test_splats_are_found(self):
        console = "\n".join([
            "[    1.0] null_blk: module loaded",
            "[    2.0] WARNING: CPU: 1 PID: 80 at block/blk-mq.c:123 foo+0x1/0x2",
            "[    2.1] BUG: KASAN: slab-use-after-free in bar",
            "[    3.0] ======================================================",
            "[    3.1] WARNING: possible circular locking dependency detected",
            "[    4.0] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:",
            "[    5.0] rust_kernel: panicked at rust/kernel/lib.rs:1:1:",
            "memory-backed null_blk: fio verify of 64M passed",
        ])
        found = vm.splats(console)
        self.assertEqual(len(found), 5)
        self.assertNotIn("fio verify", " ".join(found))

    def test_clean_console_has_no_splats(self):
        self.assertEqual(vm.splats("[ 0.1] Linux version 7.3.4\nSERIES-DONE\n"), [])

    def test_results_from_markers(self):
        console = ("SERIES-TEST-BEGIN a\nout\nSERIES-TEST-END a 0 3\n"
                   "[ 1.0] kernel line\nSERIES-TEST-BEGIN b\nSERIES-TEST-END b 1 7\n")
        self.assertEqual(vm.parse_results(console), [("a", True, 3), ("b", False, 7)])
        self.assertIn("out", vm.test_output(console, "a"))

    def test_qemu_always_gets_timeout_free_flags_and_nvme_namespaces(self):
        with tempfile.TemporaryDirectory() as tmp:
            args = [a for d in profiles.VM.devices for a in d.qemu_args(tmp)]
            # Two namespaces each on the controllers for C nvme and rnvme,
            # one on the controller with a single queue and vector.
            self.assertEqual(len([f for f in os.listdir(tmp) if f.endswith(".img")]), 5)
        cmd = vm.qemu_cmd("bz", "rd", "console=ttyS0", args)
        self.assertIn("tcg,thread=multi", cmd)
        self.assertNotIn("kvm", " ".join(cmd))
        self.assertEqual(sum(1 for a in cmd if a.startswith("nvme-ns,")), 5)
        self.assertIn("nvme,id=nvme2,serial=rnvme1,max_ioqpairs=1,msix_qsize=1", cmd)
        # The drives discard, so that a deallocated range reads zeroes.
        self.assertTrue(all("discard=unmap" in a for a in cmd if a.startswith("file=")))
        self.assertEqual(cmd[cmd.index("pci-testdev") - 1], "-device")

    def test_plugin_runs_on_multi_threaded_tcg(self):
        # Single-threaded TCG (and so -icount) drops the guest's barriers in
        # QEMU 7.2, which loses NVMe shadow doorbells: never use it.
        cmd = vm.qemu_cmd("bz", "rd", "console=ttyS0", plugin="tb.so,out=x")
        self.assertIn("tcg,thread=multi", cmd)
        self.assertNotIn("-icount", cmd)
        self.assertEqual(cmd[cmd.index("-plugin") + 1], "tb.so,out=x")


class KunitCountTest(unittest.TestCase):
    def test_counts_nested_cases(self):
        data = {"name": "main", "sub_groups": [
            {"name": "suite_a", "test_cases": [{"status": "PASS"}, {"status": "FAIL"}]},
            {"name": "suite_b", "test_cases": [{"status": "SKIP"}, {"status": "CRASHED"}],
             "sub_groups": [{"name": "param", "test_cases": [{"status": "PASS"}]}]},
        ]}
        passed, failed, skipped, suites = kunit.count(data)
        self.assertEqual((passed, failed, skipped), (2, 2, 1))
        self.assertEqual(suites["suite_a"], [1, 1])
        self.assertEqual(suites["suite_b"], [2, 1])

    def test_our_suites_are_listed(self):
        self.assertIn("rust_doctests_kernel", kunit.our_suites("vm"))
        # A module's suites run only where it is built in.
        self.assertIn("binderlike_node", kunit.our_suites("kunit.py"))
        self.assertNotIn("binderlike_node", kunit.our_suites("vm"))


class BenchTest(unittest.TestCase):
    def test_control_compares_kernels(self):
        rep = lambda c, r: {"a": "C", "b": "Rust", "workloads": [
            {"name": "pipe", "C": c, "Rust": r}, {"name": "ping-0", "C": 1, "Rust": 2}]}
        line = bench.control_line("binder", {"vm": rep(100, 100), "vm-rustbinder": rep(99, 101)})
        self.assertIn("vm-rustbinder/vm = 1.000", line)
        self.assertIsNone(bench.control_line("rnull", {"vm": rep(1, 1), "x": rep(1, 1)}))
        with self.assertRaises(SeriesError):
            bench.control_line("binder", {"vm": rep(1, 1), "x": {"a": "C", "b": "Rust",
                                                                 "workloads": []}})

    def test_parse_and_summarize(self):
        lines = []
        for rep in range(5):
            lines.append(f"BENCH randread-4k C {rep} {1000 + rep}")
            lines.append(f"BENCH randread-4k Rust {rep} {1100 + rep * 1.1}")
        report = bench.summarize(bench.parse("\n".join(lines)), "C", "Rust")
        (w,) = report["workloads"]
        self.assertAlmostEqual(w["ratio"], 1.1, places=6)
        self.assertLess(w["ci_low"], w["ratio"] + 1e-12)
        self.assertGreater(w["ci_high"], w["ratio"] - 1e-12)
        self.assertAlmostEqual(report["mean_ratio"], 1.1, places=6)
        self.assertIn("randread-4k", bench.table(report))

    def test_confidence_interval_widens_with_noise(self):
        tight = bench.ratio_ci([100] * 6, [101, 99, 100, 100, 101, 99])
        noisy = bench.ratio_ci([100] * 6, [120, 80, 100, 110, 90, 100])
        self.assertLess(tight[2] - tight[1], noisy[2] - noisy[1])
        self.assertEqual(bench.t95(4), 2.776)

    def test_missing_side_is_an_error(self):
        with self.assertRaises(SeriesError):
            bench.summarize(bench.parse("BENCH w C 0 1\n"), "C", "Rust")

    def test_latency_percentiles_are_complete_or_an_error(self):
        lines = ["BENCH-LAT-PLAN ping-0"]
        for rep in range(3):
            lines.append(f"BENCH-LAT ping-0 C {rep} {1000 + rep} {2000 + rep}")
            lines.append(f"BENCH-LAT ping-0 Rust {rep} {900 + rep * 10} {1800}")
        lat = bench.latencies("\n".join(lines), ["C", "Rust"], 3)
        self.assertEqual(lat["ping-0"]["Rust"][2], (920, 1800))
        row = bench.latency_table(lat, "C", "Rust").splitlines()[1].split()
        self.assertEqual(row, ["ping-0", "1001", "910", "2001", "1800"])
        self.assertEqual(bench.latencies("BENCH w C 0 1\n", ["C", "Rust"], 3), {})
        with self.assertRaisesRegex(SeriesError, "missing"):
            bench.latencies("\n".join(lines[:-1]), ["C", "Rust"], 3)
        with self.assertRaisesRegex(SeriesError, "twice"):
            bench.latencies("\n".join(lines + lines[-1:]), ["C", "Rust"], 3)

    @staticmethod
    def boot(value):
        return (f"SERIES-TEST-BEGIN bench:rnull\nBENCH-PLAN w\nBENCH w Rust 0 {value}\n"
                "SERIES-TEST-END bench:rnull 0 5\nSERIES-DONE\n")

    def test_boots_merge_into_kernel_sides(self):
        data = {}
        for rep in range(3):
            bench.merge_boot(data, self.boot(100 + rep), "rnull", "noinline", rep)
            bench.merge_boot(data, self.boot(110 + rep), "rnull", "inline", rep)
        self.assertEqual(data["w"]["inline"], {0: 110, 1: 111, 2: 112})
        report = bench.summarize(data, "noinline", "inline")
        self.assertAlmostEqual(report["workloads"][0]["ratio"],
                               (110 / 100 + 111 / 101 + 112 / 102) / 3, places=9)
        with self.assertRaises(SeriesError):
            bench.merge_boot(data, "no bench output", "rnull", "inline", 3)


class ProfileTest(unittest.TestCase):
    SYSTEM_MAP = ("ffffffff81000000 T _stext\n"
                  "ffffffff81001000 T blk_mq_end_request\n"
                  "ffffffff81002000 D some_data\n"
                  "ffffffff81003000 T __x64_sys_sync\n")
    CONSOLE = "\n".join([
        "PROFILE-SYM ffffffffa0000000 t null_queue_rq\t[null_blk]",
        "PROFILE-SYM ffffffffa0010000 t _RNvCs1_5rnull8queue_rq\t[rnull_mod]",
        "PROFILE-RUN randread-4k C 100",
        "PROFILE-RUN randread-4k Rust 200",
    ])
    # Phase 0 is the boot, then one phase per run, then what follows the last.
    DUMP = "\n".join([
        "P 0", "ffffffff81000010 5 1000",
        "P 1", "ffffffffa0000010 10 100", "ffffffff81001000 3 100", "401000 20 50",
        "P 2", "ffffffffa0010004 4 200", "ffffffffa0010040 2 200", "ffffffff81001000 3 200",
        "401000 20 100",
        "P 3", "ffffffff81003000 7 1",
    ])

    def test_instructions_per_io_by_function(self):
        rep, rates = profile.report(self.CONSOLE, self.DUMP, self.SYSTEM_MAP)
        self.assertEqual(rates, {"randread-4k": {"C": {0: 1e9 / 23.0},
                                                 "Rust": {0: 1e9 / 19.0}}})
        (w,) = rep["workloads"]
        self.assertEqual(w["name"], "randread-4k")
        # C: (10 * 100 + 3 * 100 + 20 * 50) / 100 I/Os; Rust: (800 + 400 + 600 + 2000) / 200.
        self.assertAlmostEqual(w["C"], 23.0)
        self.assertAlmostEqual(w["Rust"], 19.0)
        self.assertAlmostEqual(w["ratio"], 23.0 / 19.0)
        f = w["functions"]
        self.assertEqual(f["null_blk:null_queue_rq"], [10.0, 0.0])
        self.assertEqual(f["rnull_mod:_RNvCs1_5rnull8queue_rq"], [0.0, 6.0])
        self.assertEqual(f["blk_mq_end_request"], [3.0, 3.0])
        self.assertEqual(f["(user space)"], [10.0, 10.0])
        text = profile.table(rep, top=2)
        self.assertIn("randread-4k", text)
        self.assertIn("null_queue_rq", text)

    def test_repetitions_give_rates_and_mean_functions(self):
        console = self.CONSOLE.replace("C 100", "C 100 0").replace("Rust 200", "Rust 200 0")
        console += "\nPROFILE-RUN randread-4k Rust 100 1\nPROFILE-RUN randread-4k C 100 1"
        dump = self.DUMP.replace("P 3", "P 3\nffffffffa0010004 4 100\nP 4\n"
                                 "ffffffffa0000010 10 200\nP 5")
        rep, rates = profile.report(console, dump, self.SYSTEM_MAP)
        # Repetition 1: Rust 4 instructions per I/O, C 20.
        self.assertEqual(rates["randread-4k"]["Rust"], {0: 1e9 / 19.0, 1: 1e9 / 4.0})
        self.assertEqual(rates["randread-4k"]["C"], {0: 1e9 / 23.0, 1: 1e9 / 20.0})
        (w,) = rep["workloads"]
        self.assertAlmostEqual(w["C"], (23.0 + 20.0) / 2)
        self.assertEqual(w["functions"]["null_blk:null_queue_rq"], [15.0, 0.0])
        # A repetition counted twice is an error, not an average.
        with self.assertRaises(SeriesError):
            profile.report(console.replace("C 100 1", "C 100 0"), dump, self.SYSTEM_MAP)

    def test_missing_phases_and_runs_are_errors(self):
        with self.assertRaises(SeriesError):
            profile.report(self.CONSOLE, "P 0\nP 1\n", self.SYSTEM_MAP)
        with self.assertRaises(SeriesError):
            profile.report("no runs here", self.DUMP, self.SYSTEM_MAP)
        with self.assertRaises(SeriesError):
            profile.report(self.CONSOLE.replace("Rust 200", "Rust 0"), self.DUMP,
                           self.SYSTEM_MAP)

    @unittest.skipUnless(shutil.which("gcc") and shutil.which(vm.QEMU),
                         "needs gcc and QEMU (scripts/series setup installs them)")
    def test_plugin_builds_and_qemu_loads_it(self):
        # Without its arguments the plugin refuses to install, which QEMU
        # reports after loading it: the ABI and the version check agree.
        with tempfile.TemporaryDirectory() as tmp:
            so = profile.plugin(tmp)
            res = subprocess.run([vm.QEMU, "-nodefaults", "-display", "none",
                                  "-machine", "none", "-plugin", so],
                                 capture_output=True, text=True, timeout=60)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("tbcount: needs trigger", res.stderr)


class BuildConfigTest(unittest.TestCase):
    def test_unmet_options(self):
        config = "CONFIG_RUST=y\n# CONFIG_KUNIT_DEFAULT_ENABLED is not set\nCONFIG_PCI=y\n"
        self.assertEqual(build.unmet(config, ["CONFIG_RUST=y", "CONFIG_PCI=y"]), [])
        self.assertEqual(build.unmet(config, ["CONFIG_KASAN=y"]), ["CONFIG_KASAN=y"])
        self.assertEqual(build.unmet("CONFIG_X=y\n", ["# CONFIG_X is not set"]),
                         ["# CONFIG_X is not set"])

    def test_options_a_later_patch_defines(self):
        self.assertEqual(profiles.option_name("CONFIG_X=y"), "CONFIG_X")
        self.assertEqual(profiles.option_name("# CONFIG_Y is not set"), "CONFIG_Y")
        missing = ["CONFIG_NEW=y", "CONFIG_OLD=m"]
        self.assertEqual(build.not_yet_defined(missing, {"CONFIG_OLD"}), ["CONFIG_NEW=y"])
        with tempfile.TemporaryDirectory() as tree:
            os.makedirs(os.path.join(tree, "drivers", "x"))
            with open(os.path.join(tree, "drivers", "x", "Kconfig"), "w") as f:
                f.write("config OLD\n\ttristate \"old\"\nmenuconfig MENU\n\tbool\n"
                        "\tdepends on OLD\n")
            self.assertEqual(build.kconfig_symbols(tree), {"CONFIG_OLD", "CONFIG_MENU"})

    def test_profiles_include_inline_helpers_unless_asked(self):
        for p in profiles.PROFILES.values():
            lines = p.config_lines()
            want = "# CONFIG_RUST_INLINE_HELPERS is not set" if p is profiles.VM_NOINLINE \
                else "CONFIG_RUST_INLINE_HELPERS=y"
            self.assertIn(want, lines)
            # A later line replaces an earlier one for the same option.
            self.assertEqual(len(lines), len({profiles.option_name(l) for l in lines}))
        self.assertNotEqual(profiles.VM.build_dir(), profiles.VM_NOINLINE.build_dir())

    def test_debug_profile_adds_checkers(self):
        lines = profiles.DEBUG.config_lines()
        for opt in ("CONFIG_KASAN=y", "CONFIG_PROVE_LOCKING=y", "CONFIG_DEBUG_ATOMIC_SLEEP=y",
                    "CONFIG_UBSAN=y"):
            self.assertIn(opt, lines)
        self.assertGreater(profiles.DEBUG.timeout(vm.BOOT_TIMEOUT), vm.BOOT_TIMEOUT)


class VmTestLibTest(unittest.TestCase):
    LIB = os.path.join(os.path.dirname(vm.__file__), "vmtests", "lib.sh")

    def scaled(self, size, cmdline):
        with tempfile.NamedTemporaryFile("w") as f:
            f.write(cmdline + "\n")
            f.flush()
            res = subprocess.run(["bash", "-c", f". {self.LIB}; scaled {size}"],
                                 env={"CMDLINE": f.name, "PATH": os.environ["PATH"]},
                                 capture_output=True, text=True, check=True)
        return res.stdout

    def test_debug_kernel_moves_a_quarter_of_the_data(self):
        vm_line = "console=ttyS0 series.kernel=vm series.tests=a"
        debug_line = "console=ttyS0 series.kernel=debug series.tests=a"
        self.assertEqual(self.scaled("64M", vm_line), "64M\n")
        self.assertEqual(self.scaled("64M", debug_line), "16384K\n")
        self.assertEqual(self.scaled("2M", debug_line), "1024K\n")
        self.assertEqual(self.scaled("512K", debug_line), "512K\n")


class UnsafeScanTest(unittest.TestCase):
    def test_code_not_comments(self):
        text = ("// SAFETY: unsafe in a comment is fine\n"
                "let x = 1; // no bindings:: here either\n"
                "let s = \"// not a comment\"; unsafe { f() }\n"
                "use kernel::bindings::foo;\n")
        hits = check.unsafe_hits("drivers/x.rs", text)
        self.assertEqual([h.split(":")[1] for h in hits], ["3", "4"])


class SubmitterTest(unittest.TestCase):
    def test_from_environment(self):
        with mock.patch.dict(os.environ, {"SERIES_SUBMITTER": "Jane Doe <jane@example.org>"}):
            self.assertEqual(mail.submitter(), ("Jane Doe", "jane@example.org"))
        with mock.patch.dict(os.environ, {"SERIES_SUBMITTER": "no email"}):
            with self.assertRaises(SeriesError):
                mail.submitter()



class BisectRangeTest(unittest.TestCase):
    def test_from_picks_the_patch_and_those_after_it(self):
        commits = ["a", "b", "c"]
        self.assertEqual(check.bisect_range(commits, 1), commits)
        self.assertEqual(check.bisect_range(commits, 3), ["c"])

    def test_from_outside_the_series_fails(self):
        for first in (0, 4, -1):
            with self.assertRaises(SeriesError):
                check.bisect_range(["a", "b", "c"], first)


if __name__ == "__main__":
    unittest.main()

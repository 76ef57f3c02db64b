# SPDX-License-Identifier: GPL-2.0
"""Tests of the `series` format and of `apply` on a small git base tree."""

import os
import subprocess
import tempfile
import unittest

from seriestool import apply, importer, seriesfile, tree
from seriestool.common import SeriesError

BODY = "Explain the change.\n\nAssisted-by: LLM"


def sh(cmd, cwd, input=None):
    return subprocess.run(cmd, cwd=cwd, input=input, text=True, check=True,
                          capture_output=True).stdout


def write(root, path, text):
    full = os.path.join(root, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as f:
        f.write(text)


def udiff(path, old, new):
    """A unified diff of `path` from text `old` to text `new`, made by git."""
    with tempfile.TemporaryDirectory() as d:
        write(d, "a/" + path, old)
        write(d, "b/" + path, new)
        res = subprocess.run(["git", "diff", "--no-index", "--no-prefix", "a/" + path,
                              "b/" + path], cwd=d, text=True, capture_output=True)
    out = res.stdout.replace("--- a/a/", "--- a/").replace("+++ b/b/", "+++ b/")
    return out.replace(f"diff --git a/a/{path} b/b/{path}", f"diff --git a/{path} b/{path}")


class Fixture(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.base_dir = os.path.join(self.tmp.name, "linux")
        self.src = os.path.join(self.tmp.name, "project")
        os.makedirs(self.base_dir)
        os.makedirs(self.src)
        write(self.base_dir, "MAINTAINERS", "A\nB\nC\n")
        write(self.base_dir, "rust/helpers/helpers.c", "#include \"a.c\"\n#include \"c.c\"\n")
        sh(["git", "init", "-q", "-b", "base"], self.base_dir)
        sh(["git", "add", "-A"], self.base_dir)
        sh(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base"],
           self.base_dir)
        self.base = sh(["git", "rev-parse", "HEAD"], self.base_dir).strip()

    def tearDown(self):
        self.tmp.cleanup()

    def build(self, series):
        return apply.build_commits(self.base_dir, self.base, series, self.src,
                                   author=("T", "t@t"), date="2026-01-01T00:00:00Z")

    def show(self, commit, path):
        return sh(["git", "show", f"{commit}:{path}"], self.base_dir)


class ApplyTest(Fixture):
    def test_new_file_changed_again_and_upstream_file_twice(self):
        v1 = "fn a() {}\n"
        final = "fn a() {}\nfn b() {}\n"
        write(self.src, "rust/kernel/foo.rs", final)
        helpers_final = "#include \"a.c\"\n#include \"b.c\"\n#include \"c.c\"\n#include \"d.c\"\n"
        helpers_mid = "#include \"a.c\"\n#include \"b.c\"\n#include \"c.c\"\n"
        base_helpers = "#include \"a.c\"\n#include \"c.c\"\n"
        write(self.src, "rust/helpers/helpers.c.patch",
              udiff("rust/helpers/helpers.c", base_helpers, helpers_final))
        d2 = udiff("rust/kernel/foo.rs", v1, final) + udiff(
            "rust/helpers/helpers.c", helpers_mid, helpers_final)
        text = ("Cover: the cover\n\nCover text.\n\n"
                f"Patch: rust: foo: add a\n\n{BODY}\n\nFiles:\n"
                "    rust/kernel/foo.rs\n    rust/helpers/helpers.c.patch\n\n"
                f"Patch: rust: foo: add b\n\n{BODY}\n\nDiff:\n{d2}")
        write(self.src, "series", text)
        s = apply.load(self.src)
        c1, c2 = self.build(s)
        self.assertEqual(self.show(c1, "rust/kernel/foo.rs"), v1)
        self.assertEqual(self.show(c1, "rust/helpers/helpers.c"), helpers_mid)
        self.assertEqual(self.show(c2, "rust/kernel/foo.rs"), final)
        self.assertEqual(self.show(c2, "rust/helpers/helpers.c"), helpers_final)
        self.assertEqual(self.show(c2, "MAINTAINERS"), "A\nB\nC\n")
        msg = sh(["git", "log", "-1", "--format=%B", c1], self.base_dir)
        self.assertEqual(msg.strip(), "rust: foo: add a\n\n" + BODY)
        # The same inputs give the same commits (bisect and incremental builds rely on it).
        self.assertEqual(self.build(s), [c1, c2])

    def test_stray_file_is_an_error(self):
        write(self.src, "rust/kernel/foo.rs", "x\n")
        write(self.src, "rust/kernel/bar.rs", "y\n")
        write(self.src, "series", f"Cover: c\n\nPatch: rust: foo: add\n\n{BODY}\n\n"
                                  "Files:\n    rust/kernel/foo.rs\n")
        with self.assertRaisesRegex(SeriesError, "rust/kernel/bar.rs"):
            self.build(apply.load(self.src))

    def test_copy_of_upstream_file_is_an_error(self):
        write(self.src, "MAINTAINERS", "A\nB\nC\nD\n")
        write(self.src, "series", f"Cover: c\n\nPatch: rust: foo: add\n\n{BODY}\n\n"
                                  "Files:\n    MAINTAINERS\n")
        with self.assertRaisesRegex(SeriesError, "MAINTAINERS.patch"):
            self.build(apply.load(self.src))

    def test_patch_that_does_not_apply_names_patch_and_file(self):
        write(self.src, "MAINTAINERS.patch", udiff("MAINTAINERS", "X\nB\nC\n", "X\nB\nC\nD\n"))
        write(self.src, "series", f"Cover: c\n\nPatch: rust: foo: add\n\n{BODY}\n\n"
                                  "Files:\n    MAINTAINERS.patch\n")
        with self.assertRaisesRegex(SeriesError, r"patch 1 .*MAINTAINERS.patch does not apply"):
            self.build(apply.load(self.src))

    def test_stale_diff_is_reported(self):
        write(self.src, "rust/kernel/foo.rs", "final\n")
        stale = udiff("rust/kernel/foo.rs", "one\n", "two\n")
        write(self.src, "series", f"Cover: c\n\nPatch: rust: foo: add\n\n{BODY}\n\n"
                                  "Files:\n    rust/kernel/foo.rs\n\n"
                                  f"Patch: rust: foo: change\n\n{BODY}\n\nDiff:\n{stale}")
        with self.assertRaisesRegex(SeriesError, "patch 2 .*Diff: does not match"):
            self.build(apply.load(self.src))


class ImportTest(Fixture):
    def commit(self, files, message):
        for path, text in files.items():
            write(self.base_dir, path, text)
        sh(["git", "add", "-A"], self.base_dir)
        sh(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m",
            message], self.base_dir)
        return sh(["git", "rev-parse", "HEAD"], self.base_dir).strip()

    def test_commits_round_trip_through_series(self):
        write(self.src, "series", "Cover: the cover\n\nCover text.\n")
        write(self.src, "rust/kernel/old.rs", "dropped by import\n")
        sh(["git", "checkout", "-q", "-b", "series"], self.base_dir)
        c1 = self.commit({"rust/kernel/foo.rs": "fn a() {}\n", "MAINTAINERS": "A\nB\nC\nD\n"},
                         "rust: foo: add a\n\n" + BODY)
        c2 = self.commit({"rust/kernel/foo.rs": "fn a() {}\nfn b() {}\n",
                          "MAINTAINERS": "A\nB\nC\nD\nE\n",
                          "rust/helpers/helpers.c": "#include \"a.c\"\n"},
                         "rust: foo: add b\n\n" + BODY)
        self.assertEqual(importer.import_branch(self.base_dir, self.base, "series", self.src), 2)
        self.assertFalse(os.path.exists(os.path.join(self.src, "rust/kernel/old.rs")))
        s = apply.load(self.src)
        self.assertEqual(s.postings[0].cover_subject, "the cover")
        self.assertEqual(s.patches[0].files, ["MAINTAINERS.patch", "rust/kernel/foo.rs"])
        self.assertEqual(s.patches[1].files, ["rust/helpers/helpers.c.patch"])
        self.assertEqual(s.patches[1].diff_paths(), ["MAINTAINERS", "rust/kernel/foo.rs"])
        r1, r2 = self.build(s)
        for c, r in ((c1, r1), (c2, r2)):
            self.assertEqual(sh(["git", "rev-parse", c + "^{tree}"], self.base_dir),
                             sh(["git", "rev-parse", r + "^{tree}"], self.base_dir))

    def test_apply_refuses_to_drop_unimported_work(self):
        write(self.src, "rust/kernel/foo.rs", "x\n")
        write(self.src, "series", f"Cover: c\n\nPatch: rust: foo: add\n\n{BODY}\n\n"
                                  "Files:\n    rust/kernel/foo.rs\n")
        apply.apply(self.base_dir, self.base, self.src)
        self.commit({"rust/kernel/foo.rs": "y\n"}, "rust: foo: more\n\n" + BODY)
        with self.assertRaisesRegex(SeriesError, "scripts/series import"):
            apply.apply(self.base_dir, self.base, self.src)
        sh(["git", "reset", "-q", "--hard", "HEAD^"], self.base_dir)
        write(self.base_dir, "rust/kernel/foo.rs", "edited\n")
        with self.assertRaisesRegex(SeriesError, "uncommitted changes"):
            apply.apply(self.base_dir, self.base, self.src)


class UserTreeTest(unittest.TestCase):
    def make_repo(self, root, patchlevel):
        write(root, "Makefile", f"VERSION = 7\nPATCHLEVEL = {patchlevel}\nSUBLEVEL = 0\n")
        sh(["git", "init", "-q"], root)
        sh(["git", "add", "-A"], root)
        sh(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "v"],
           root)
        return sh(["git", "rev-parse", "HEAD"], root).strip()

    def test_version_gate_and_worktree(self):
        with tempfile.TemporaryDirectory() as d:
            old, new, wt = (os.path.join(d, n) for n in ("old", "new", "wt"))
            self.make_repo(old, 2)
            with self.assertRaisesRegex(SeriesError, "need 7.3 or later"):
                tree.user_tree(old)
            head = self.make_repo(new, 4)
            from unittest import mock
            with mock.patch.object(tree, "USER_WORKTREE", wt):
                checkout, base = tree.user_tree(new)
            self.assertEqual((checkout, base), (wt, head))
            self.assertTrue(os.path.exists(os.path.join(wt, "Makefile")))


class FormatTest(unittest.TestCase):
    def parse(self, text):
        return seriesfile.parse(text)

    def test_requires_assisted_by_and_no_signoff(self):
        with self.assertRaisesRegex(seriesfile.FormatError, "Assisted-by"):
            self.parse("Cover: c\n\nPatch: rust: a: b\n\nBody.\n\nFiles:\n    x.rs\n")
        with self.assertRaisesRegex(seriesfile.FormatError, "Signed-off-by"):
            self.parse("Cover: c\n\nPatch: rust: a: b\n\nBody.\n\nAssisted-by: LLM\n"
                       "Signed-off-by: A <a@b>\n\nFiles:\n    x.rs\n")

    def test_subject_and_diff_rules(self):
        with self.assertRaisesRegex(seriesfile.FormatError, "subsys: summary"):
            self.parse(f"Cover: c\n\nPatch: Add stuff\n\n{BODY}\n\nFiles:\n    x.rs\n")
        with self.assertRaisesRegex(seriesfile.FormatError, "no earlier patch"):
            self.parse(f"Cover: c\n\nPatch: rust: a: b\n\n{BODY}\n\nDiff:\n"
                       "--- a/x.rs\n+++ b/x.rs\n@@ -1 +1 @@\n-a\n+b\n")
        with self.assertRaisesRegex(seriesfile.FormatError, "already brought in"):
            self.parse(f"Cover: c\n\nPatch: rust: a: b\n\n{BODY}\n\nFiles:\n    x.rs\n\n"
                       f"Patch: rust: a: c\n\n{BODY}\n\nFiles:\n    x.rs\n")

    def test_parse_fields(self):
        s = self.parse(f"Cover: the title\n\nLine one.\n\nPatch: rust: a: b\n\n{BODY}\n\n"
                       "Files:\n    x.rs\n    MAINTAINERS.patch\n")
        self.assertEqual(s.postings[0].cover_subject, "the title")
        self.assertEqual(s.postings[0].cover_body, "Line one.")
        (p,) = s.patches
        self.assertEqual(p.files, ["x.rs", "MAINTAINERS.patch"])
        self.assertEqual(p.message, "rust: a: b\n\n" + BODY + "\n")



def posting_text(name, patches, requires="", cover=True):
    text = f"Posting: {name}\n"
    if requires:
        text += f"Requires: {requires}\n"
    if cover:
        text += f"Cover: {name} cover\n\nWhat {name} is.\n\n"
    for subject, path in patches:
        text += f"Patch: {subject}\n\n{BODY}\n\nFiles:\n    {path}\n\n"
    return text


class PostingsTest(Fixture):
    def three(self):
        return (posting_text("fix", [("blk-mq: fix it", "a.c")], cover=False)
                + posting_text("helpers", [("rust: a: add", "rust/a.rs"),
                                           ("rust: b: add", "rust/b.rs")])
                + posting_text("driver", [("block: rnull: add", "drivers/x.rs")],
                               requires="helpers"))

    def test_postings_number_patches_through_the_file(self):
        s = seriesfile.parse(self.three())
        self.assertEqual([p.name for p in s.postings], ["fix", "helpers", "driver"])
        self.assertEqual([p.number for p in s.patches], [1, 2, 3, 4])
        self.assertEqual(s.posting("driver").patches[0].number, 4)
        self.assertEqual([p.name for p in s.closure("driver")], ["helpers", "driver"])
        self.assertTrue(s.is_prefix("fix"))
        self.assertFalse(s.is_prefix("helpers"))
        self.assertFalse(s.is_prefix("driver"))

    def test_a_cover_only_file_is_one_posting(self):
        s = seriesfile.parse(f"Cover: c\n\nText.\n\nPatch: rust: a: b\n\n{BODY}\n\n"
                             "Files:\n    x.rs\n")
        self.assertEqual([p.name for p in s.postings], ["series"])
        self.assertTrue(s.is_prefix("series"))

    def test_bad_postings_are_refused(self):
        bad = {
            "requires a later posting": posting_text("a", [("rust: a: add", "a.rs")],
                                                     requires="b")
            + posting_text("b", [("rust: b: add", "b.rs")]),
            "needs a cover letter": posting_text("a", [("rust: a: add", "a.rs"),
                                                       ("rust: b: add", "b.rs")], cover=False),
            "comes earlier": posting_text("a", [("rust: a: add", "a.rs")])
            + posting_text("a", [("rust: b: add", "b.rs")]),
            "has no patches": "Posting: a\nCover: c\n\nText.\n\n"
            + posting_text("b", [("rust: b: add", "b.rs")]),
            "name": posting_text("Bad_Name", [("rust: a: add", "a.rs")]),
        }
        for why, text in bad.items():
            with self.subTest(why):
                with self.assertRaises(seriesfile.FormatError):
                    seriesfile.parse(text)

    def test_render_keeps_postings_and_regroup_follows_subjects(self):
        s = seriesfile.parse(self.three())
        again = seriesfile.parse(importer.render(s.postings))
        self.assertEqual([(p.name, p.requires, p.cover_subject, len(p.patches))
                          for p in again.postings],
                         [(p.name, p.requires, p.cover_subject, len(p.patches))
                          for p in s.postings])
        # A new patch joins the posting of the one before it; a reorder across
        # postings is refused.
        patches = s.patches
        new = seriesfile.Patch(9, "rust: c: add", BODY, ["rust/c.rs"])
        groups = importer.regroup(seriesfile.parse(self.three()),
                                  patches[:3] + [new] + patches[3:])
        self.assertEqual([p.subject for p in groups[1].patches],
                         ["rust: a: add", "rust: b: add", "rust: c: add"])
        with self.assertRaises(SeriesError):
            importer.regroup(seriesfile.parse(self.three()),
                             [patches[1], patches[0], patches[2], patches[3]])

    def make(self, files):
        """Commits on the base, one per (subject, path, text)."""
        commits, parent = [], self.base
        for subject, path, text in files:
            wt = self.base_dir
            sh(["git", "checkout", "-q", parent], wt)
            write(wt, path, text)
            sh(["git", "add", "-A"], wt)
            sh(["git", "-c", "user.name=P", "-c", "user.email=p@p", "commit", "-q", "-m",
                f"{subject}\n\n{BODY}"], wt)
            parent = sh(["git", "rev-parse", "HEAD"], wt).strip()
            commits.append(parent)
        return commits

    def test_chains_pick_a_posting_onto_its_prerequisites_only(self):
        s = seriesfile.parse(self.three())
        commits = self.make([("blk-mq: fix it", "a.c", "fix\n"),
                             ("rust: a: add", "rust/a.rs", "a\n"),
                             ("rust: b: add", "rust/b.rs", "b\n"),
                             ("block: rnull: add", "drivers/x.rs", "x\n")])
        chains = apply.posting_chains(self.base_dir, self.base, s, commits)
        self.assertEqual(chains["fix"], commits[:1])
        driver = chains["driver"]
        self.assertEqual(len(driver), 3)
        files = sh(["git", "ls-tree", "-r", "--name-only", driver[-1]], self.base_dir).split()
        self.assertIn("drivers/x.rs", files)
        self.assertNotIn("a.c", files)
        self.assertEqual(sh(["git", "log", "-1", "--format=%an %s", driver[-1]],
                            self.base_dir).strip(), "P block: rnull: add")
        self.assertEqual(sh(["git", "rev-parse", "posting/driver"], self.base_dir).strip(),
                         driver[-1])

    def test_mail_cc_follows_the_cc_trailers_once_each(self):
        from seriestool import mail
        wt = self.base_dir
        sh(["git", "checkout", "-q", self.base], wt)
        for n, trailers in enumerate(["Cc: list@example.org\nCc: stable@vger.kernel.org # 7.1",
                                      "Link: https://example.org/x\nCc: list@example.org",
                                      ""]):
            write(wt, f"f{n}", "x\n")
            sh(["git", "add", "-A"], wt)
            sh(["git", "-c", "user.name=P", "-c", "user.email=p@p", "commit", "-q", "-m",
                f"s{n}\n\nText.\n\n{trailers}\nAssisted-by: LLM".rstrip()], wt)
        self.assertEqual(mail.trailer_cc(wt, f"{self.base}..HEAD"),
                         ["list@example.org", "stable@vger.kernel.org"])
        self.assertEqual(mail.trailer_cc(wt, "HEAD^..HEAD"), [])

    def test_a_posting_that_needs_what_it_does_not_require_is_refused(self):
        s = seriesfile.parse(self.three())
        # The driver changes the file the fix brought in.
        commits = self.make([("blk-mq: fix it", "a.c", "fix\n"),
                             ("rust: a: add", "rust/a.rs", "a\n"),
                             ("rust: b: add", "rust/b.rs", "b\n"),
                             ("block: rnull: add", "a.c", "fix\nmore\n")])
        with self.assertRaises(SeriesError) as e:
            apply.posting_chains(self.base_dir, self.base, s, commits)
        self.assertIn("posting driver", str(e.exception))
        self.assertIn("Requires:", str(e.exception))

    def test_as_submitter_authors_and_signs_off(self):
        commits = self.make([("rust: a: add", "rust/a.rs", "a\n"),
                             ("rust: b: add", "rust/b.rs", "b\n")])
        mine = apply.as_submitter(self.base_dir, self.base, commits,
                                  ("Jane Doe", "jane@example.org"))
        for theirs, ours in zip(commits, mine):
            self.assertEqual(sh(["git", "rev-parse", f"{theirs}^{{tree}}"], self.base_dir),
                             sh(["git", "rev-parse", f"{ours}^{{tree}}"], self.base_dir))
            author = sh(["git", "log", "-1", "--format=%an <%ae>", ours], self.base_dir)
            self.assertEqual(author.strip(), "Jane Doe <jane@example.org>")
            trailers = sh(["git", "log", "-1", "--format=%(trailers:only,unfold)", ours],
                          self.base_dir).split("\n")
            # checkpatch's NO_AUTHOR_SIGN_OFF: the author's own Signed-off-by,
            # exactly, as the last trailer, after Assisted-by.
            self.assertEqual([t for t in trailers if t],
                             ["Assisted-by: LLM", "Signed-off-by: Jane Doe <jane@example.org>"])
        again = apply.as_submitter(self.base_dir, self.base, mine,
                                   ("Jane Doe", "jane@example.org"))
        msg = sh(["git", "log", "-1", "--format=%B", again[-1]], self.base_dir)
        self.assertEqual(msg.count("Signed-off-by:"), 1)


class PostingOfTestsTest(unittest.TestCase):
    def test_every_vm_test_names_a_posting_of_the_series(self):
        from seriestool import vm
        names = [p.name for p in apply.load().postings]
        for test in vm.available_tests():
            with self.subTest(test):
                self.assertIn(vm.test_posting(test), names)

    def test_a_posting_runs_the_tests_of_what_it_requires(self):
        from seriestool import vm
        s = apply.load()
        tests = vm.tests_for([q.name for q in s.closure("binderlike")])
        self.assertIn("binderlike-abi", tests)
        self.assertIn("rust-sysfs", tests)
        self.assertNotIn("rnull-io", tests)


if __name__ == "__main__":
    unittest.main()

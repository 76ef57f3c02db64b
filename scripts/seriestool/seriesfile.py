# SPDX-License-Identifier: GPL-2.0
"""The `series` file: postings, each a cover letter and its ordered patches.

    Posting: <name>
    Requires: <name of an earlier posting> ...   (optional)
    Cover: <subject of the cover letter>         (optional for one patch)

    <cover letter body>

    Patch: <subsys: summary>

    <commit message body, then its trailers>

    Files:
        <kernel path of a file the series adds, stored whole in the repo>
        <kernel path>.patch   (a unified diff against the base tree)
    Diff:
    <a unified diff of files that earlier patches brought in>

A line that starts with `Patch: ` at column 0 begins a patch. `Files:` names
each file the first time the series touches it; the repository holds every
such file in its final state (new files whole at their kernel path, changes
to upstream files as `<path>.patch`). When a later patch changes a file again,
that change is written out under its `Diff:`, and the earlier states are the
final state with the later diffs reversed. See README.md.

The postings are mailed each as a thread of its own. Applied, they stack in
the order of the file; a posting needs only those it `Requires:` (and what
they require) below it, which `check` verifies with `git am`. A file that
starts with `Cover:` is one posting named "series".
"""

import re
from dataclasses import dataclass, field

PATCH_PREFIX = "Patch: "
COVER_PREFIX = "Cover: "
POSTING_PREFIX = "Posting: "
REQUIRES_PREFIX = "Requires: "
POSTING_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
SUBJECT_RE = re.compile(r"^[A-Za-z0-9_/.-]+(: [a-zA-Z0-9_/.-]+)*: \S")
DIFF_FILE_RE = re.compile(r"^\+\+\+ b/(\S+)")
DIFF_OLD_RE = re.compile(r"^--- a/(\S+)")


class FormatError(Exception):
    """The `series` file does not follow the format; the message says where."""


@dataclass
class Patch:
    number: int
    subject: str
    body: str
    files: list = field(default_factory=list)
    diff: str = ""
    line: int = 0

    @property
    def message(self):
        return self.subject + ("\n\n" + self.body if self.body else "") + "\n"

    def diff_paths(self):
        return diff_paths(self.diff)

    def label(self):
        return f"patch {self.number} ({self.subject})"


@dataclass
class Posting:
    """One thread on the mailing list: a cover letter (none for a posting of
    one patch that needs no introduction) and its patches, numbered in the
    whole file; `requires` names the earlier postings it applies onto."""
    name: str
    cover_subject: str
    cover_body: str
    patches: list
    requires: list = field(default_factory=list)
    line: int = 0


@dataclass
class Series:
    postings: list

    @property
    def patches(self):
        return [p for posting in self.postings for p in posting.patches]

    def posting(self, name):
        for posting in self.postings:
            if posting.name == name:
                return posting
        raise KeyError(name)

    def posting_of(self, patch):
        for posting in self.postings:
            if patch in posting.patches:
                return posting
        raise KeyError(patch.number)

    def closure(self, name):
        """The postings `name` needs, itself last, in the order of the file."""
        need, todo = set(), [name]
        while todo:
            n = todo.pop()
            if n not in need:
                need.add(n)
                todo += self.posting(n).requires
        return [p for p in self.postings if p.name in need]

    def is_prefix(self, name):
        """Whether `name` and what it needs are all the postings up to it."""
        names = [p.name for p in self.postings]
        upto = names[:names.index(name) + 1]
        return [p.name for p in self.closure(name)] == upto


def diff_paths(diff):
    """The kernel paths a unified diff touches, in order."""
    paths = []
    for line in diff.splitlines():
        m = DIFF_FILE_RE.match(line) or DIFF_OLD_RE.match(line)
        if m and m.group(1) not in paths:
            paths.append(m.group(1))
    return paths


def target_of(path):
    """The kernel path a `Files:` entry stands for."""
    return path[:-len(".patch")] if path.endswith(".patch") else path


def parse(text):
    lines = text.split("\n")
    if not lines or not lines[0].startswith((COVER_PREFIX, POSTING_PREFIX)):
        raise FormatError("series:1: the file must start with 'Posting: <name>' (or "
                          "'Cover: <subject>' for one posting)")
    if lines[0].startswith(COVER_PREFIX):
        lines = ["Posting: series"] + lines
        shift = -1
    else:
        shift = 0
    heads = [i for i, l in enumerate(lines) if l.startswith(POSTING_PREFIX)]
    postings, number = [], 0
    for k, head in enumerate(heads):
        end = heads[k + 1] if k + 1 < len(heads) else len(lines)
        posting = _parse_posting(lines, head, end, number, shift)
        number += len(posting.patches)
        postings.append(posting)
    series = Series(postings)
    validate(series)
    return series


def _parse_posting(lines, head, end, number, shift):
    name = lines[head][len(POSTING_PREFIX):].strip()
    where = f"series:{head + 1 + shift}"
    if not POSTING_NAME_RE.match(name):
        raise FormatError(f"{where}: a posting's name is lower case letters, digits and "
                          f"'-'; got {name!r}")
    i, requires, cover_subject = head + 1, [], ""
    if i < end and lines[i].startswith(REQUIRES_PREFIX):
        requires = lines[i][len(REQUIRES_PREFIX):].replace(",", " ").split()
        i += 1
    if i < end and lines[i].startswith(COVER_PREFIX):
        cover_subject = lines[i][len(COVER_PREFIX):].strip()
        i += 1
    starts = [j for j in range(i, end) if lines[j].startswith(PATCH_PREFIX)]
    cover_end = starts[0] if starts else end
    cover_body = "\n".join(lines[i:cover_end]).strip("\n")
    if cover_body and not cover_subject:
        raise FormatError(f"{where}: posting {name} has text but no 'Cover: <subject>' "
                          "line before it")
    patches = []
    for n, start in enumerate(starts):
        stop = starts[n + 1] if n + 1 < len(starts) else end
        patches.append(_parse_patch(number + n + 1, lines, start, stop, shift))
    return Posting(name, cover_subject, cover_body, patches, requires, max(1, head + 1 + shift))


def _parse_patch(number, lines, start, end, shift=0):
    subject = lines[start][len(PATCH_PREFIX):].strip()
    body, files, diff = [], [], []
    section = "body"
    for i in range(start + 1, end):
        line = lines[i]
        if section != "diff" and line == "Files:":
            section = "files"
        elif section != "diff" and line == "Diff:":
            section = "diff"
        elif section == "body":
            body.append(line)
        elif section == "files":
            if line.strip():
                if not line.startswith((" ", "\t")):
                    raise FormatError(f"series:{i + 1 + shift}: file entries under 'Files:' are "
                                      f"indented; got {line!r}")
                files.append(line.strip())
        else:
            diff.append(line)
    text = "\n".join(diff).strip("\n")
    return Patch(number, subject, "\n".join(body).strip("\n"), files,
                 text + "\n" if text else "", start + 1 + shift)


def trailers(body):
    """The trailer lines of a commit message body (its last paragraph)."""
    paragraphs = body.strip().split("\n\n")
    last = paragraphs[-1].splitlines() if paragraphs else []
    if all(re.match(r"^[A-Za-z-]+: ", l) for l in last):
        return last
    return []


def validate_postings(series):
    """Each posting has a unique name, patches, a cover letter when it has more
    than one patch, and requires only postings before it."""
    names = []
    for posting in series.postings:
        where = f"series:{posting.line}: posting {posting.name}"
        if posting.name in names:
            raise FormatError(f"{where}: a posting of that name comes earlier")
        if not posting.patches and len(series.postings) > 1:
            raise FormatError(f"{where} has no patches")
        if len(posting.patches) > 1 and not posting.cover_subject:
            raise FormatError(f"{where} has {len(posting.patches)} patches and needs a "
                              "cover letter ('Cover: <subject>' and its text)")
        for r in posting.requires:
            if r not in names:
                raise FormatError(f"{where} requires {r!r}, which is not a posting before "
                                  "it (postings come in the order they apply)")
        names.append(posting.name)


def validate(series):
    """Checks the rules a reviewer and the kernel process expect of every patch."""
    validate_postings(series)
    seen = {}
    for p in series.patches:
        where = f"series:{p.line}: {p.label()}"
        if not SUBJECT_RE.match(p.subject):
            raise FormatError(f"{where}: subject must look like 'subsys: summary'")
        if len(p.subject) > 75:
            raise FormatError(f"{where}: subject is longer than 75 characters")
        if not p.body.strip():
            raise FormatError(f"{where}: the commit message has no body")
        tr = trailers(p.body)
        if not any(t.startswith("Assisted-by: ") for t in tr):
            raise FormatError(f"{where}: the trailers must include 'Assisted-by: LLM'")
        if any(t.lower().startswith("signed-off-by:") for t in p.body.splitlines()):
            raise FormatError(f"{where}: no Signed-off-by in the series; the mail step adds "
                              "the submitter's")
        for l in p.body.splitlines():
            if len(l) > 75 and not l.startswith(("Link: ", "Closes: ", "Fixes: ")) and "://" not in l:
                raise FormatError(f"{where}: body line longer than 75 columns: {l[:40]}...")
        if not p.files and not p.diff:
            raise FormatError(f"{where}: the patch changes nothing (no Files:, no Diff:)")
        for f in p.files:
            t = target_of(f)
            if t in seen:
                raise FormatError(f"{where}: {f} was already brought in by patch {seen[t]}; "
                                  "later changes go under 'Diff:'")
            seen[t] = p.number
        for t in p.diff_paths():
            if t not in seen or seen[t] == p.number:
                raise FormatError(f"{where}: its Diff: changes {t}, which no earlier patch "
                                  "names under 'Files:'")
    return seen


def first_mentions(series):
    """Maps each kernel path to the number of the patch that first names it."""
    return validate(series)

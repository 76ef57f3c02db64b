# SPDX-License-Identifier: GPL-2.0
"""The `series` file: a cover letter, then the ordered patches.

    Cover: <subject of the cover letter>

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
"""

import re
from dataclasses import dataclass, field

PATCH_PREFIX = "Patch: "
COVER_PREFIX = "Cover: "
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
class Series:
    cover_subject: str
    cover_body: str
    patches: list


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
    if not lines or not lines[0].startswith(COVER_PREFIX):
        raise FormatError("series:1: the file must start with 'Cover: <subject>'")
    starts = [i for i, l in enumerate(lines) if l.startswith(PATCH_PREFIX)]
    cover_end = starts[0] if starts else len(lines)
    cover_subject = lines[0][len(COVER_PREFIX):].strip()
    cover_body = "\n".join(lines[1:cover_end]).strip("\n")
    patches = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        patches.append(_parse_patch(n + 1, lines, start, end))
    series = Series(cover_subject, cover_body, patches)
    validate(series)
    return series


def _parse_patch(number, lines, start, end):
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
                    raise FormatError(f"series:{i + 1}: file entries under 'Files:' are "
                                      f"indented; got {line!r}")
                files.append(line.strip())
        else:
            diff.append(line)
    text = "\n".join(diff).strip("\n")
    return Patch(number, subject, "\n".join(body).strip("\n"), files,
                 text + "\n" if text else "", start + 1)


def trailers(body):
    """The trailer lines of a commit message body (its last paragraph)."""
    paragraphs = body.strip().split("\n\n")
    last = paragraphs[-1].splitlines() if paragraphs else []
    if all(re.match(r"^[A-Za-z-]+: ", l) for l in last):
        return last
    return []


def validate(series):
    """Checks the rules a reviewer and the kernel process expect of every patch."""
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
            if len(l) > 75 and not l.startswith(("Link: ", "Closes: ")) and "://" not in l:
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

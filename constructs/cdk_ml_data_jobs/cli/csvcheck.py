"""The local check of a user-ID CSV, with the deletion workflow's pre-flight rules.

The server-side pre-flight (``lambda/deletion_preflight.py``) reads the first
2 KiB of each file in S3. This module applies the same rules, in the same
order and with the same problem sentences (the local path in place of the S3
location), to the head of the local file, so a file the workflow would reject
is rejected here first and for the same reason:

1. not empty; 2. no UTF-8 byte-order mark; 3. UTF-8; 4. the first line is
exactly ``USER_ID`` (a header with more columns is named as such); 5. a user ID
on the line after the header; and the file is at most 100 MB (Personalize's
limit per job).

Because the whole file is at hand, the same rules then cover all of it: every
line is UTF-8 and has a single value, and the user IDs are counted (non-blank
lines after the header). A file over the size limit is judged by its head only.

Privacy: nothing here returns, prints or logs a user ID or any other content of
the file; problems name the file, line numbers, sizes and counts only.
The head rules are not a copy: they are ``jobkit/csv_rules.py`` of the Lambda
code this package ships, loaded from it by path (it is pure standard library),
and the CLI tier checks that both sides reject the same files with the same
sentences.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from .._assets import load_lambda_module

_RULES = load_lambda_module("jobkit/csv_rules.py")
#: Personalize's limit on the total size of a deletion job's input files (the pre-flight's own constant).
MAX_TOTAL_BYTES: int = _RULES.MAX_TOTAL_BYTES
HEADER: str = _RULES.HEADER
#: What the server-side pre-flight reads of each file.
HEAD_BYTES: int = _RULES.HEAD_BYTES
head_problems = _RULES.head_problems


@dataclass(frozen=True)
class CsvCheck:
    """The result of checking one file: its size, the number of user IDs, and the problems found."""

    path: str
    size: int
    user_ids: Optional[int]  # None when the file was not read to the end (over the size limit, unreadable)
    problems: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "bytes": self.size, "userIds": self.user_ids, "problems": list(self.problems)}


def check_file(path: Union[str, os.PathLike], label: Optional[str] = None) -> CsvCheck:
    """Check the user-ID CSV at ``path``; ``label`` names it in problems (default: the path)."""
    where = label or str(path)
    try:
        stat = Path(path).stat()
    except FileNotFoundError:
        return CsvCheck(where, 0, None, (f"{where} does not exist",))
    except OSError:
        return CsvCheck(where, 0, None, (f"{where} cannot be read",))
    if not Path(path).is_file():
        return CsvCheck(where, 0, None, (f"{where} is not a file",))
    size = stat.st_size
    problems: list[str] = []
    if size > MAX_TOTAL_BYTES:
        problems.append(_RULES.too_large(size, MAX_TOTAL_BYTES))
    if size == 0:
        return CsvCheck(where, size, 0, (_RULES.empty(where),))
    try:
        with open(path, "rb") as handle:
            head = handle.read(HEAD_BYTES)
            problems += head_problems(where, head, size)
            if problems:
                return CsvCheck(where, size, None, tuple(problems))
            handle.seek(0)
            count, body_problems = _scan(where, handle)
    except OSError:
        return CsvCheck(where, size, None, (f"{where} cannot be read",))
    return CsvCheck(where, size, count, tuple(body_problems))


def _scan(where: str, handle: Any) -> tuple[int, list[str]]:
    """Count the user IDs and apply the rules to every line (the head already passed)."""
    count = 0
    multi_first: Optional[int] = None
    multi_lines = 0
    first_row_blank = False
    for number, raw_line in enumerate(handle, 1):
        try:
            line = raw_line.decode("utf-8").rstrip("\n").rstrip("\r")
        except UnicodeDecodeError:
            return count, [_RULES.not_utf8(where, number)]
        if number == 1:
            continue  # the header, checked with the head
        if not line.strip():
            if number == 2:
                first_row_blank = True
            continue
        count += 1
        if "," in line and len(next(csv.reader([line]))) > 1:
            multi_lines += 1
            multi_first = multi_first or number
    problems = []
    if first_row_blank or count == 0:
        problems.append(_RULES.no_user_id(where))
    if multi_lines:
        problems.append(_RULES.single_column(
            where, f"{multi_lines} line(s) have more than one value, the first is line {multi_first}"))
    return count, problems

"""The rules a user-ID CSV must follow, on the first bytes of a file. Pure standard library.

Used by the deletion pre-flight (on the first 2 KiB read from S3) and by the
operator CLI (on the head of a local file), so both reject the same files with
the same sentences. No rule returns or quotes any content of the file.
"""

from __future__ import annotations

from typing import Iterable, Iterator

#: Personalize's limit on the total size of a deletion job's input files.
MAX_TOTAL_BYTES = 100 * 1024 * 1024
#: Enough for the header and a first USER_ID of up to 256 characters in UTF-8.
HEAD_BYTES = 2048
HEADER = "USER_ID"
_BOM = b"\xef\xbb\xbf"


# The problem sentences, one place for the pre-flight and the CLI. ``where`` names the file.
def empty(where: str) -> str:
    return f"{where} is empty; it needs a USER_ID header and at least one user ID"


def not_utf8(where: str, line: int | None = None) -> str:
    return f"{where} is not UTF-8 text" + (f" (line {line})" if line is not None else "")


def no_user_id(where: str) -> str:
    return f"{where} has no user ID after its USER_ID header"


def single_column(where: str, detail: str = "") -> str:
    return f"{where} must have a single USER_ID column" + (f" ({detail})" if detail else "")


def too_large(total_bytes: int, limit: int = MAX_TOTAL_BYTES) -> str:
    return f"the user-ID data is {total_bytes} bytes; Personalize accepts at most {limit} bytes per job"


def head_problems(where: str, raw: bytes, size: int) -> list[str]:
    """Problems with the first bytes ``raw`` of a file of ``size`` bytes named ``where`` (at most one)."""
    if size == 0:
        return [empty(where)]
    if raw.startswith(_BOM):
        return [f"{where} starts with a UTF-8 byte-order mark; save it as UTF-8 without BOM"]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        # Only a character cut at the end of a partial read is acceptable.
        if len(raw) >= size or error.reason != "unexpected end of data":
            return [not_utf8(where)]
        text = raw[: error.start].decode("utf-8")
    lines = text.split("\n")
    header = lines[0].rstrip("\r")
    if header != HEADER:
        if header.replace(" ", "").upper().startswith(HEADER + ","):
            return [single_column(where)]
        return [f"{where} must start with the header line USER_ID (its first line is {len(header)} characters "
                "of something else)"]
    complete = len(lines) > 2 or len(raw) >= size
    first = lines[1].rstrip("\r") if len(lines) > 1 else ""
    if not first.strip() and complete:
        return [no_user_id(where)]
    return []


# --------------------------------------------------------------------------- the whole file, streamed

#: Personalize's limit on one USER_ID value.
MAX_USER_ID_CHARS = 256


def id_too_long(where: str, line: int) -> str:
    return f"{where} line {line} holds a user ID longer than {MAX_USER_ID_CHARS} characters (Personalize's limit)"


def user_id_lines(chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """``(line number, bytes)`` of every non-blank line after the header of a file read in ``chunks``, without
    its line ending. Holds one line at a time: the file is never kept in memory."""
    pending = b""
    number = 0
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            number += 1
            line = line.rstrip(b"\r")
            if number > 1 and line.strip():
                yield number, line
    if pending:
        number += 1
        line = pending.rstrip(b"\r")
        if number > 1 and line.strip():
            yield number, line


def body_problems(where: str, chunks: Iterable[bytes]) -> tuple[int, list[str]]:
    """``(number of user IDs, problems)`` of a whole file whose head passed :func:`head_problems`: every line is
    UTF-8, a single column (no comma or quote) and at most 256 characters. Counts, never keeps, the IDs; the
    problem (at most one) names the line, not its content."""
    count = 0
    for number, line in user_id_lines(chunks):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            return count, [not_utf8(where, number)]
        if "," in text or '"' in text:
            return count, [single_column(where, f"line {number} has a comma or a quote")]
        if len(text) > MAX_USER_ID_CHARS:
            return count, [id_too_long(where, number)]
        count += 1
    if count == 0:
        return 0, [no_user_id(where)]
    return count, []

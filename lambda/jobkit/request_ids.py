"""Request IDs of the deletion request queue: the rule and the derivation from a key. Pure standard library.

Used by the intake function (through ``jobkit.requests``) and, loaded from the
shipped Lambda code, by the operator CLI's ``requests submit``, so both accept
the same IDs and derive the same ID from a key.
"""

from __future__ import annotations

import hashlib
import re

#: A request ID: 1–128 characters of letters, digits and ``. _ : -``.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
REQUEST_ID_RULE = "1 to 128 characters of A-Z, a-z, 0-9, '.', '_', ':' and '-'"
MAX_REQUEST_ID = 128
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9._:-]+")


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def request_id_problem(value: str) -> str | None:
    """Why ``value`` (the ``request-id`` metadata) is not a valid request ID, or None. Never quotes it."""
    if REQUEST_ID.fullmatch(value):
        return None
    return f"the request-id metadata ({len(value)} characters) must be {REQUEST_ID_RULE}"


def request_id_from_key(prefix: str, key: str) -> str:
    """The request ID of a file without ``request-id`` metadata, derived from its key.

    The key below ``prefix`` without ``.csv``; ``/`` becomes ``:``, every other
    run of characters outside the allowed set becomes ``-``. When that changed
    anything else or is longer than 128 characters, it is cut to 111 characters
    and suffixed with ``-`` and 16 hex characters of SHA-256 of the key, so two
    keys never share an ID by accident. ``deletions/requests/2026-12/ticket-42.csv``
    gives ``2026-12:ticket-42``.
    """
    relative = key[len(prefix):] if key.startswith(prefix) else key
    stem = relative.removesuffix(".csv")
    joined = stem.replace("/", ":")
    cleaned = _NOT_ALLOWED.sub("-", joined).strip("-") or "request"
    if cleaned == joined and len(cleaned) <= MAX_REQUEST_ID:
        return cleaned
    suffix = "-" + _digest(key, 16)
    return cleaned[: MAX_REQUEST_ID - len(suffix)].rstrip("-") + suffix

"""Make service responses safe to return to Step Functions.

boto3 parses timestamps into ``datetime`` objects; Lambda's JSON encoder cannot
serialise them, and Step Functions should see ISO-8601 strings anyway.
"""

from __future__ import annotations

from datetime import datetime, timezone


def iso(value: datetime | None) -> str | None:
    """ISO-8601 text of a timestamp in UTC (``2026-11-23T07:00:00Z``), or None."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    """Inverse of :func:`iso` (accepts a trailing ``Z`` or an explicit offset)."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


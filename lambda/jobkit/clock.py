"""The one place the functions read the time.

Every "now" the handlers use comes from :func:`now`, so a simulation can run
the real handlers on a virtual clock by replacing this single function.
"""

from __future__ import annotations

from datetime import datetime, timezone


def now() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)

"""The adaptive polling schedule: one small, pure function.

The wait before the next status check grows with the job's age as the service
reports it: ``growth × age``, never less than ``min_wait`` (a short job is seen
quickly) and never more than ``max_wait`` (a long job is seen at most that late),
and never past the job's deadline.

Why it is cheap: while ``growth × age`` lies between the bounds, every check
happens at ``(1 + growth)`` times the age of the previous one, so the number of
checks grows with the logarithm of the job's length; once the cap is reached a
day costs ``86 400 / max_wait`` checks. Why it is prompt: a job that finishes
at age ``T`` is seen at most ``max(min_wait, min(growth × T, max_wait))``
seconds later.
"""

from __future__ import annotations

import math


def next_wait_seconds(
    age_seconds: float,
    *,
    min_wait: int,
    max_wait: int,
    growth: float,
    remaining_seconds: float | None = None,
) -> int:
    """Whole seconds to wait before checking a job that is ``age_seconds`` old.

    ``remaining_seconds`` is the time left before the job's deadline; the wait
    never overshoots it by more than rounding (and is at least one second).
    """
    if min_wait < 1 or max_wait < min_wait:
        raise ValueError("need 1 <= min_wait <= max_wait")
    if growth <= 0:
        raise ValueError("growth must be positive")
    wait = growth * max(age_seconds, 0.0)
    wait = min(max(wait, float(min_wait)), float(max_wait))
    if remaining_seconds is not None:
        wait = min(wait, max(remaining_seconds, 1.0))
    return max(1, math.floor(wait))

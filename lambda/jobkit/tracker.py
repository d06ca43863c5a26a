"""The tracker: what the launch and poll functions hand to the state machine.

The state machine's wait-poll-decide loop is generic; it reads only these keys:

``phase``
    ``RUNNING`` (wait ``waitSeconds`` and poll again), ``SUCCEEDED`` (the
    execution succeeds with ``result`` as its output) or ``STOPPED`` (the
    execution fails with ``error`` and ``cause``).
``job``
    The service-specific reference to the job, passed back to the next poll.

Two more phases exist only in definitions that have the matching states:
``WAIT_TO_LAUNCH`` (wait ``waitSeconds``, then run the launch function again
with the tracker) and ``FOLLOW_THROUGH`` (wait ``waitSeconds``, then run the
follow-through function with the tracker).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from .contract import PHASE_RUNNING, PHASE_STOPPED, PHASE_SUCCEEDED, Env
from .schedule import next_wait_seconds


@dataclass(frozen=True)
class PollSettings:
    """Polling bounds, read from the function's environment (set by the construct)."""

    min_wait: int
    max_wait: int
    growth: float
    job_timeout: int

    @classmethod
    def from_env(cls) -> "PollSettings":
        return cls(
            min_wait=int(os.environ[Env.POLL_MIN_WAIT_SECONDS]),
            max_wait=int(os.environ[Env.POLL_MAX_WAIT_SECONDS]),
            growth=float(os.environ[Env.POLL_GROWTH]),
            job_timeout=int(os.environ[Env.JOB_TIMEOUT_SECONDS]),
        )

    def wait_for(self, age_seconds: float, schedule_age: float | None = None) -> int:
        """Seconds to wait before checking a job of this age again.

        ``schedule_age`` (default ``age_seconds``) is the age the wait grows with, when it is not the
        job's own: a step that continues a longer process (training after a day-long deletion) keeps that
        process's pace instead of starting again at ``min_wait``. The deadline stays ``job_timeout`` after
        ``age_seconds`` began.
        """
        return next_wait_seconds(
            age_seconds if schedule_age is None else schedule_age,
            min_wait=self.min_wait,
            max_wait=self.max_wait,
            growth=self.growth,
            remaining_seconds=self.job_timeout - age_seconds,
        )

    def timed_out(self, age_seconds: float) -> bool:
        return age_seconds >= self.job_timeout


def running(job: dict[str, Any], status: str, wait_seconds: int) -> dict[str, Any]:
    return {"phase": PHASE_RUNNING, "status": status, "waitSeconds": wait_seconds, "job": job}


def waiting(phase: str, job: dict[str, Any], status: str, wait_seconds: int) -> dict[str, Any]:
    """Wait ``wait_seconds``, then run the step ``phase`` names (``WAIT_TO_LAUNCH``, ``FOLLOW_THROUGH``)."""
    return {"phase": phase, "status": status, "waitSeconds": wait_seconds, "job": job}


def succeeded(job: dict[str, Any], status: str, result: dict[str, Any]) -> dict[str, Any]:
    return {"phase": PHASE_SUCCEEDED, "status": status, "job": job, "result": result}


def stopped(job: dict[str, Any], status: str, error: str, cause: dict[str, Any]) -> dict[str, Any]:
    """The job ended badly (or cannot be followed): fail the execution.

    ``cause`` becomes the execution's cause as compact JSON, so both people and
    programs can read it.
    """
    return {
        "phase": PHASE_STOPPED,
        "status": status,
        "job": job,
        "error": error,
        "cause": json.dumps(cause, separators=(",", ":"), sort_keys=True),
    }


def follow(job: dict[str, Any], status: str, age_seconds: float, settings: PollSettings, summary: dict[str, Any], *,
           running_statuses: tuple[str, ...], unexpected: tuple[str, str], timed_out: tuple[str, str]) -> dict[str, Any]:
    """What every poll does with a job that has neither succeeded nor failed.

    A status outside ``running_statuses`` stops the execution with
    ``unexpected`` (error name, message) instead of looping on a status nobody
    knows; a job still running ``job_timeout`` after its creation stops with
    ``timed_out``; otherwise the execution waits and polls again. Messages may
    use ``{status}``, ``{age}`` (seconds) and ``{timeout}`` (seconds).
    """
    values = {"status": status, "age": int(age_seconds), "timeout": settings.job_timeout}
    for (error, message), stops in ((unexpected, status not in running_statuses),
                                    (timed_out, settings.timed_out(age_seconds))):
        if stops:
            return stopped(job, status, error, {**summary, "message": message.format(**values)})
    return running(job, status, settings.wait_for(age_seconds))

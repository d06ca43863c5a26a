"""Follow an execution until it ends, reporting each change to a callback.

Ctrl-C (``KeyboardInterrupt``) propagates to the caller untouched: it stops the
following, never the execution.
"""

from __future__ import annotations

import time
from typing import Callable

from .._contract import AUDIENCE_EXPORT, DATA_DELETION
from .aws import Aws, ExecutionView

#: The sleep between two checks (a module attribute so that tests can replace it).
sleep: Callable[[float], None] = time.sleep


def follow(aws: Aws, execution_arn: str, poll_seconds: float,
           on_update: Callable[[ExecutionView], None]) -> ExecutionView:
    """Describe the execution every ``poll_seconds`` until it is final; returns its last view."""
    while True:
        view = aws.execution(execution_arn, progress=True)
        on_update(view)
        if view.finished:
            return view
        sleep(poll_seconds)


def label(view: ExecutionView) -> str:
    """Where the execution is, in a few words: ``Personalize job IN_PROGRESS`` or ``step Validate``."""
    if view.job_status:
        service = {DATA_DELETION: "Personalize", AUDIENCE_EXPORT: "Clean Rooms ML"}.get(view.workflow or "", "job")
        return f"{service} job {view.job_status}" if service != "job" else f"job {view.job_status}"
    if view.current_state:
        return f"step {view.current_state}"
    return "starting"

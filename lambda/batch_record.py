"""Record the outcome of one batch part's deletion on the requests it carried.

Event: ``{"batchId", "datasetGroupArn", "part": {"part", "dataLocation",
"executionName", "requests"}, "execution": ...}``, where ``execution`` is the
deletion workflow's result (``status``, ``output``, ``executionArn``) or the
error the RunDeletion step caught (``Error``, ``Cause``). When the workflow's
execution of this name already existed (a redriven batch run), it is adopted:
its outcome is read with ``DescribeExecution``.

A COMPLETED job completes the part's targets; any other outcome puts them back
in the queue with one more attempt and the reason, or fails them after
``MAX_ATTEMPTS`` jobs. Then each request's status and record are refreshed;
requests that became COMPLETED or FAILED are announced (an event; for FAILED
also an SNS message and the failed-requests metric).
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from jobkit import clients, ledger, requests
from jobkit.contract import REQUEST_COMPLETED, Env
from jobkit.errors import JobError, service_error

_THREADS = 8
_MAX_REASON = 1000


class ExecutionStillRunning(JobError):
    """The adopted execution has not ended yet (the state machine retries later)."""


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    group, batch, part = event["datasetGroupArn"], event["batchId"], event["part"]
    succeeded, job_arn, reason = outcome(event.get("execution") or {}, part["executionName"])
    part_id = requests.part_id(batch, group, int(part["part"]))
    claimed = ledger.claimed_targets(part_id)
    max_attempts = int(os.environ[Env.MAX_ATTEMPTS])
    statuses = [ledger.finish(t, part_id, succeeded=succeeded, job_arn=job_arn, reason=reason,
                              max_attempts=max_attempts) for t in claimed]
    with ThreadPoolExecutor(max_workers=max(1, min(_THREADS, len(claimed)))) as pool:
        refreshed = [r for r in pool.map(ledger.refresh, sorted({t["requestId"] for t in claimed})) if r]
    announced = ledger.announce_outcomes(refreshed)
    result: dict[str, Any] = {
        "part": int(part["part"]), "requests": int(part.get("requests", len(claimed))), "dataDeletionJobArn": job_arn,
        "status": REQUEST_COMPLETED if succeeded else "FAILED",
        "requeued": sum(1 for s in statuses if s == "QUEUED"), "failed": sum(1 for s in statuses if s == "FAILED"),
        "requestsCompleted": announced["completed"], "requestsFailed": announced["failed"],
    }
    if reason:
        result["reason"] = reason
    return result


def outcome(execution: dict[str, Any], name: str, adopted: bool = False) -> tuple[bool, str | None, str | None]:
    """``(succeeded, dataDeletionJobArn, failure reason)`` of the deletion workflow's execution."""
    error = execution.get("Error")
    if error == "StepFunctions.ExecutionAlreadyExistsException" and not adopted:
        return _adopt(name)
    if error:
        found = _failed(error, execution.get("Cause"))
        return _adopt(name) if found is None and not adopted else (found or (False, None, str(error)))
    output = execution.get("output") or {}
    if isinstance(output, str):
        output = _json(output) or {}
    if execution.get("status") == "SUCCEEDED" and not output and not adopted:
        return _adopt(name)  # a success without its output (seen in emulators): read the execution itself
    if execution.get("status") == "SUCCEEDED" and output.get("status") == REQUEST_COMPLETED:
        return True, output.get("dataDeletionJobArn"), None
    return False, output.get("dataDeletionJobArn"), f"the deletion ended {execution.get('status')} with job " \
                                                    f"status {output.get('status')}"


def _adopt(name: str) -> tuple[bool, str | None, str | None]:
    machine = os.environ[Env.STATE_MACHINE_ARN]
    arn = machine.replace(":stateMachine:", ":execution:", 1) + ":" + name
    try:
        described = clients.client("stepfunctions").describe_execution(executionArn=arn)
    except ClientError as error:
        raise service_error(error, "DescribeExecution") from None
    status = described["status"]
    if status == "RUNNING":
        raise ExecutionStillRunning(f"{name} is still running")
    if status == "SUCCEEDED":
        return outcome({"status": status, "output": described.get("output")}, name, adopted=True)
    return _failed(described.get("error") or status, described.get("cause")) or (False, None, status)


def _failed(error: str, cause: Any) -> tuple[bool, str | None, str | None] | None:
    """The reason of a failed deletion: Personalize's failureReason when the job FAILED, else the workflow's error
    and cause. A ``.sync`` task that failed carries the child execution's description as its cause; None when that
    description has no error yet (seen in emulators, which set the status first: the caller reads it again)."""
    details = _json(cause) if isinstance(cause, str) else None
    if isinstance(details, dict) and error == "States.TaskFailed":
        lowered = {k.lower(): v for k, v in details.items()}
        if not lowered.get("error") and lowered.get("status") == "FAILED":
            return None
        error = lowered.get("error") or lowered.get("status") or error
        cause = lowered.get("cause")
        details = _json(cause) if isinstance(cause, str) else None
    job = details if isinstance(details, dict) else {}
    reason = job.get("failureReason") or (f"{error}: {cause}" if cause else str(error))
    return False, job.get("dataDeletionJobArn"), str(reason)[:_MAX_REASON]


def _json(text: Any) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None

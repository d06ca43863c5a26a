"""Record the outcome of one batch part's deletion on the requests it carried.

Event: ``{"batchId", "datasetGroupArn", "part": {"part", "dataLocation",
"executionName", "requests"}, "execution": ...}``, where ``execution`` is the
deletion workflow's result (``status``, ``output``, ``executionArn``) or the
error the RunDeletion step caught (``Error``, ``Cause``). Then the execution is
read back with ``DescribeExecution`` (when the workflow's execution of this
name already existed because a redriven batch run started it, it is adopted
this way, never started twice).

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
from jobkit.contract import BATCH_COMPLETED, BATCH_FAILED, REQUEST_COMPLETED, REQUEST_FAILED, REQUEST_QUEUED, Env
from jobkit.errors import JobError, error_code, service_error

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
        "status": BATCH_COMPLETED if succeeded else BATCH_FAILED,
        "requeued": sum(1 for s in statuses if s == REQUEST_QUEUED),
        "failed": sum(1 for s in statuses if s == REQUEST_FAILED),
        "requestsCompleted": announced["completed"], "requestsFailed": announced["failed"],
    }
    if reason:
        result["reason"] = reason
    return result


def outcome(execution: dict[str, Any], name: str) -> tuple[bool, str | None, str | None]:
    """``(succeeded, dataDeletionJobArn, failure reason)`` of the deletion workflow's execution named ``name``.

    A success carries the workflow's output. When the RunDeletion step caught an error (the execution failed;
    it already existed because a redriven run started it; the task itself failed), or a success came without
    its output, the execution is read back: its own status, output, error and cause are authoritative."""
    output = _json(execution["output"]) if isinstance(execution.get("output"), str) else execution.get("output")
    if not execution.get("Error") and execution.get("status") == "SUCCEEDED" and isinstance(output, dict) and output:
        return _succeeded(output)
    described = _describe(name)
    if described is None:  # never started: the task's own error says why
        return False, None, _reason(str(execution.get("Error") or "StartExecutionFailed"), execution.get("Cause"))
    status = described["status"]
    if status == "RUNNING":
        raise ExecutionStillRunning(f"{name} is still running")
    if status == "SUCCEEDED":
        return _succeeded(_json(described.get("output")) or {})
    details = _json(described.get("cause"))
    job = details if isinstance(details, dict) else {}
    reason = job.get("failureReason") or _reason(described.get("error") or f"execution {status}",
                                                 described.get("cause"))
    return False, job.get("dataDeletionJobArn"), reason


def _succeeded(output: dict[str, Any]) -> tuple[bool, str | None, str | None]:
    if output.get("status") == REQUEST_COMPLETED:
        return True, output.get("dataDeletionJobArn"), None
    return False, output.get("dataDeletionJobArn"), f"the data deletion job ended {output.get('status')}"


def _describe(name: str) -> dict[str, Any] | None:
    machine = os.environ[Env.STATE_MACHINE_ARN]
    arn = machine.replace(":stateMachine:", ":execution:", 1) + ":" + name
    try:
        return clients.client("stepfunctions").describe_execution(executionArn=arn)
    except ClientError as error:
        if error_code(error) == "ExecutionDoesNotExist":
            return None
        raise service_error(error, "DescribeExecution") from None


def _reason(error: str, cause: Any) -> str:
    return (f"{error}: {cause}" if cause else error)[:_MAX_REASON]


def _json(text: Any) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None

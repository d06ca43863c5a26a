"""Record the outcome of a batch run's deletions on the requests they carried.

Event: ``{"groups": [...], "claimFailed"}`` (the requests the Claim step failed and announced, added to
``requestsFailed``), each dataset group's claim (``batchId``,
``datasetGroupArn``, ``parts``: ``{"part", "dataLocation", "executionName",
"requests"}``) with, where it had parts, ``results``: per part, in the order of
``parts``, the deletion workflow's execution (``status``, ``executionArn``) or
the error the RunDeletion step caught (``Error``, ``Cause``). Each execution is
read back with ``DescribeExecution`` for its output (and when the workflow's
execution of this name already existed because a redriven batch run started it,
it is adopted this way, never started twice). Every part's outcome
is known before anything is written: while one of them is still running
(``ExecutionStillRunning``), the state machine retries later.

A COMPLETED job (and, where configured, its follow-through) completes the part's
targets, copying the quiet period, the job ARNs, the solution versions trained,
the campaigns updated and ``modelsRetrainedAt``. ``DatasetGroupBusy`` (the quiet
period ran out, no job started) puts them back in the queue without counting an
attempt, saying what the group was busy with (ARNs and statuses).
``ModelRetrainingFailed`` fails them at once: the deletion COMPLETED, the
follow-through FAILED (a new deletion would not help). Any other outcome puts
them back in the queue with one more attempt and the reason, or fails them
after ``MAX_ATTEMPTS`` jobs. Then each request the run carried gets its status
and record refreshed once, with every dataset group's outcome in it; requests
that became COMPLETED or FAILED are announced (an event; for FAILED also an SNS
message and the failed-requests metric). A retried call finds the targets it
already recorded (they keep ``claimedPart``), refreshes their requests again and
announces what an earlier call stored but did not announce (``announcedStatus``).
"""

from __future__ import annotations

import json
import os
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from jobkit import clients, ledger, requests
from jobkit.contract import (BATCH_BUSY, BATCH_COMPLETED, BATCH_FAILED, ERROR_DATASET_GROUP_BUSY,
                             ERROR_MODEL_RETRAINING_FAILED, REQUEST_COMPLETED, REQUEST_FAILED, REQUEST_IN_PROGRESS,
                             REQUEST_QUEUED, Env)
from jobkit.errors import JobError, error_code, service_error

_MAX_REASON = 1000


class ExecutionStillRunning(JobError):
    """The adopted execution has not ended yet (the state machine retries later)."""


class Outcome(NamedTuple):
    """A part's outcome: ``kind`` is one of ``ledger.OUTCOME_*`` (COMPLETED, FAILED, BUSY, FOLLOW_THROUGH_FAILED);
    ``facts`` what the targets copy (the quiet period, the job ARNs, the follow-through; or what the group was
    busy with), ARNs and statuses only."""

    succeeded: bool
    job_arn: str | None
    reason: str | None
    kind: str = ledger.OUTCOME_FAILED
    facts: dict[str, Any] | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    max_attempts = int(os.environ[Env.MAX_ATTEMPTS])
    groups = [dict(g) for g in event.get("groups") or []]
    # Every part's outcome first (while one is still running, nothing is written). A group's results are its
    # parts' runs, in the order of its parts (the Map keeps it).
    found = [[(part, outcome(execution or {}, part["executionName"]))
              for part, execution in zip(group.get("parts") or [], group.get("results") or [])] for group in groups]
    carried: set[str] = set()
    for group, parts in zip(groups, found):
        if group.get("results"):
            group["results"] = [_record_part(group, part, part_outcome, max_attempts, carried)
                                for part, part_outcome in parts]
    announced = ledger.refresh_and_announce(carried)
    return {"groups": groups, "requestsCompleted": announced["completed"],
            "requestsFailed": announced["failed"] + int(event.get("claimFailed") or 0)}


def _record_part(group: dict[str, Any], part: dict[str, Any], found: "Outcome", max_attempts: int,
                 carried: set[str]) -> dict[str, Any]:
    """The part's outcome on each target it claimed that is still IN_PROGRESS; adds its requests to
    ``carried``."""
    part_id = requests.part_id(group["batchId"], group["datasetGroupArn"], int(part["part"]))
    targets = ledger.claimed_targets(part_id)
    running = [t for t in targets if t["status"] == REQUEST_IN_PROGRESS]
    recorded = iter(ledger.finish_all(running, part_id, succeeded=found.succeeded, job_arn=found.job_arn,
                                      reason=found.reason, max_attempts=max_attempts, kind=found.kind,
                                      facts=found.facts))
    carried.update(t["requestId"] for t in targets)
    return _part_result(part, found, [next(recorded) if t["status"] == REQUEST_IN_PROGRESS else t["status"]
                                      for t in targets])


def _part_result(part: dict[str, Any], found: "Outcome", statuses: list[str | None]) -> dict[str, Any]:
    """What the summary says of a part: its job, status, and how many of its requests went back to the queue or
    failed (counted from the targets' statuses, so a retried call counts the same)."""
    result: dict[str, Any] = {
        "part": int(part["part"]), "requests": int(part.get("requests", len(statuses))),
        "dataDeletionJobArn": found.job_arn,
        "status": (BATCH_COMPLETED if found.succeeded else BATCH_BUSY if found.kind == ledger.OUTCOME_BUSY
                   else BATCH_FAILED),
        "requeued": sum(1 for s in statuses if s == REQUEST_QUEUED),
        "failed": sum(1 for s in statuses if s == REQUEST_FAILED),
    }
    if found.reason:
        result["reason"] = found.reason
    return result


def outcome(execution: dict[str, Any], name: str) -> Outcome:
    """``(succeeded, dataDeletionJobArn, failure reason, kind, facts)`` of the deletion workflow's execution
    named ``name``.

    A success carries the workflow's output. When the RunDeletion step caught an error (the execution failed;
    it already existed because a redriven run started it; the task itself failed), or a success came without
    its output, the execution is read back: its own status, output, error and cause are authoritative."""
    output = _json(execution["output"]) if isinstance(execution.get("output"), str) else execution.get("output")
    if not execution.get("Error") and execution.get("status") == "SUCCEEDED" and isinstance(output, dict) and output:
        return _succeeded(output)
    described = _describe(name)
    if described is None:  # never started: the task's own error says why
        return Outcome(False, None, _reason(str(execution.get("Error") or "StartExecutionFailed"),
                                            execution.get("Cause")))
    status = described["status"]
    if status == "RUNNING":
        raise ExecutionStillRunning(f"{name} is still running")
    if status == "SUCCEEDED":
        return _succeeded(_json(described.get("output")) or {})
    details = _json(described.get("cause"))
    job = details if isinstance(details, dict) else {}
    error = described.get("error")
    if error == ERROR_DATASET_GROUP_BUSY and job:
        return _busy(job)
    if error == ERROR_MODEL_RETRAINING_FAILED and job:
        return _follow_through_failed(job)
    reason = job.get("failureReason") or _reason(error or f"execution {status}", described.get("cause"))
    return Outcome(False, job.get("dataDeletionJobArn"), reason)


def _succeeded(output: dict[str, Any]) -> Outcome:
    job_arn = output.get("dataDeletionJobArn")
    if output.get("status") != REQUEST_COMPLETED:
        return Outcome(False, job_arn, f"the data deletion job ended {output.get('status')}")
    facts = {"deletionStatus": REQUEST_COMPLETED, **_model_facts(output, job_arn)}
    return Outcome(True, job_arn, None, ledger.OUTCOME_COMPLETED, facts)


def _model_facts(found: dict[str, Any], job_arn: str | None) -> dict[str, Any]:
    """What a target copies from the workflow's output or ``ModelRetrainingFailed`` cause."""
    arns = found.get("dataDeletionJobArns") or ([job_arn] if job_arn else [])
    follow = found.get("followThrough")
    return {
        "quietPeriod": found.get("quietPeriod"),
        "dataDeletionJobArns": [str(a) for a in arns],
        "followThrough": follow if isinstance(follow, dict) else None,
        "solutionVersionArns": [str(a) for a in found.get("solutionVersionArns") or []],
        "campaignArns": [str(a) for a in found.get("campaignArns") or []],
        "modelsRetrainedAt": found.get("modelsRetrainedAt"),
    }


def _busy(cause: dict[str, Any]) -> Outcome:
    """``DatasetGroupBusy``: no job was started (after an overlap: no second one); the requests wait."""
    busy = [{"type": str(b.get("type")), "arn": str(b.get("arn")), "status": str(b.get("status"))}
            for b in cause.get("busyWith") or [] if isinstance(b, dict)]
    listed = ", ".join(f"{b['type']} {b['arn']} ({b['status']})" for b in busy) or "a job"
    reason = (f"DatasetGroupBusy: the dataset group was still running {listed} after "
              f"{cause.get('waitedSeconds')} s (quiet period timeout {cause.get('quietPeriodTimeoutSeconds')} s); "
              "the request waits for the next batch run")[:_MAX_REASON]
    facts = {"busyWith": busy, "waitedSeconds": cause.get("waitedSeconds"),
             "quietPeriodTimeoutSeconds": cause.get("quietPeriodTimeoutSeconds")}
    arns = cause.get("dataDeletionJobArns") or []
    return Outcome(False, arns[0] if arns else None, reason, ledger.OUTCOME_BUSY, facts)


def _follow_through_failed(cause: dict[str, Any]) -> Outcome:
    """``ModelRetrainingFailed``: the deletion COMPLETED, a training or campaign update did not."""
    arns = cause.get("dataDeletionJobArns") or []
    job_arn = arns[0] if arns else None
    follow = cause.get("followThrough") if isinstance(cause.get("followThrough"), dict) else {}
    reason = (f"{ERROR_MODEL_RETRAINING_FAILED}: the data deletion COMPLETED, but the follow-through failed at "
              f"{follow.get('stage')} ({follow.get('resourceArn')} {follow.get('resourceStatus')}): "
              f"{follow.get('reason')}")[:_MAX_REASON]
    facts = {"deletionStatus": REQUEST_COMPLETED, **_model_facts(cause, job_arn)}
    return Outcome(False, job_arn, reason, ledger.OUTCOME_FOLLOW_THROUGH_FAILED, facts)


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

"""The deletion request queue's pure rules. Pure standard library.

Request IDs (validated from metadata, or derived from the key), batch IDs and
the names derived from them, the packing of queued requests into batch parts,
a request's status from its targets, and the one rendering of a request's
record that every writer uses. Nothing here sees a user ID.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence

from .request_ids import REQUEST_ID, REQUEST_ID_RULE, request_id_from_key, request_id_problem  # noqa: F401
from .contract import (
    REQUEST_COMPLETED,
    REQUEST_FAILED,
    REQUEST_IN_PROGRESS,
    REQUEST_QUEUED,
    REQUEST_REJECTED,
)

#: Step Functions execution names: at most 80 characters.
MAX_EXECUTION_NAME = 80


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def object_identity(bucket: str, key: str, version: str | None, sequencer: str | None) -> str:
    """What makes one delivery the same object as another: bucket, key and version (or S3's sequencer when the
    bucket is not versioned)."""
    return f"s3://{bucket}/{key}#{version or ('seq-' + (sequencer or ''))}"


def batch_id(execution_name: str, start_time: str) -> str:
    """``b<yyyymmddThhmmss>-<8 hex>``: from the batch execution's start time and name, so a redriven (or
    retried) run keeps its batch ID and finds what it already claimed."""
    digits = re.sub(r"[^0-9T]", "", start_time.split(".")[0].replace("Z", ""))[:15]
    return f"b{digits}-{_digest(execution_name + '@' + start_time, 8)}"


def group_name(dataset_group_arn: str) -> str:
    """The dataset group's name (the last part of its ARN; unique in an account and Region)."""
    return dataset_group_arn.rsplit("/", 1)[-1]


def part_id(batch: str, dataset_group_arn: str, part: int) -> str:
    """``<batch ID>/<dataset group name>/<part number>``: the ledger's ``claimedPart``."""
    return f"{batch}/{group_name(dataset_group_arn)}/{part:04d}"


def part_key(batch_prefix: str, batch: str, dataset_group_arn: str, part: int) -> str:
    """Where a batch part's user-ID input lives: ``<batch prefix><batch ID>/<group>/part-0001.csv``."""
    return f"{batch_prefix}{batch}/{group_name(dataset_group_arn)}/part-{part:04d}.csv"


def execution_name(batch: str, dataset_group_arn: str, part: int) -> str:
    """The deletion workflow's execution name for a batch part (so a redriven run adopts instead of starting
    twice); the workflow derives the Personalize job name from it."""
    name = f"{batch}-{group_name(dataset_group_arn)}-{part:04d}"
    if len(name) <= MAX_EXECUTION_NAME:
        return name
    suffix = "-" + _digest(name, 8)
    return name[: MAX_EXECUTION_NAME - len(suffix)] + suffix


# --------------------------------------------------------------------------- packing a batch


@dataclass(frozen=True)
class Candidate:
    request_id: str
    bytes: int


def pack(candidates: Iterable[Candidate], *, max_bytes: int, max_parts: int) -> list[list[Candidate]]:
    """Queued requests (oldest first) in parts of at most ``max_bytes`` (the request files' sizes, whose own
    headers pay for the newline each line may need), at most ``max_parts`` parts. A request that does not fit
    in the last part starts a new one; packing stops when no part may be added (the rest stays queued, in
    order: a later request never overtakes an earlier one that did not fit)."""
    parts: list[list[Candidate]] = []
    used = 0
    if max_parts <= 0:
        return parts
    for candidate in candidates:
        if candidate.bytes > max_bytes:
            continue  # cannot happen for a registered request (the intake rejects it); never blocks the queue
        if parts and used + candidate.bytes <= max_bytes:
            parts[-1].append(candidate)
            used += candidate.bytes
            continue
        if len(parts) >= max_parts:
            break
        parts.append([candidate])
        used = candidate.bytes
    return parts


# --------------------------------------------------------------------------- a request's status and record


def request_status(current: str, target_statuses: Sequence[str]) -> str:
    """A request's status from its targets': ``COMPLETED`` when every target is, ``FAILED`` when any target
    used up its attempts, ``IN_PROGRESS`` while any job runs, else ``QUEUED``. ``REJECTED`` stays."""
    if current == REQUEST_REJECTED or not target_statuses:
        return current
    if all(s == REQUEST_COMPLETED for s in target_statuses):
        return REQUEST_COMPLETED
    if any(s == REQUEST_FAILED for s in target_statuses):
        return REQUEST_FAILED
    if any(s == REQUEST_IN_PROGRESS for s in target_statuses):
        return REQUEST_IN_PROGRESS
    return REQUEST_QUEUED


def failure_reason(targets: Sequence[Mapping[str, Any]]) -> str | None:
    """The reason of a FAILED request: each failed target, its last failure reason and attempts."""
    failed = [t for t in targets if t.get("status") == REQUEST_FAILED]
    if not failed:
        return None
    return "; ".join(f"{t['datasetGroupArn']}: {t.get('lastFailureReason') or 'failed'} "
                     f"(after {t.get('attempts', 0)} attempt(s))" for t in failed)


def latest(values: Iterable[str | None]) -> str | None:
    present = [v for v in values if v]
    return max(present) if present else None


def render_record(request: Mapping[str, Any], targets: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The record of one request (``audit/deletion-requests/<requestId>.json``), from its ledger items: the
    same facts, in the documented shape. Every writer (intake, claim, record) uses this function."""
    obj = {"bucket": request["bucket"], "key": request["key"]}
    if request.get("versionId"):
        obj["versionId"] = request["versionId"]
    record: dict[str, Any] = {
        "requestId": request["requestId"],
        "status": request["status"],
        "receivedAt": request["receivedAt"],
        "completedAt": request.get("completedAt"),
        "object": obj,
        "userIds": request.get("userIds"),
    }
    if request["status"] in (REQUEST_REJECTED, REQUEST_FAILED) and request.get("reason"):
        record["reason"] = request["reason"]
    rendered = []
    for target in sorted(targets, key=lambda t: t["datasetGroupArn"]):
        entry: dict[str, Any] = {
            "datasetGroupArn": target["datasetGroupArn"],
            "status": target["status"],
            "batchId": target.get("batchId"),
            "dataDeletionJobArn": target.get("dataDeletionJobArn"),
            "attempts": int(target.get("attempts", 0)),
            "completedAt": target.get("completedAt"),
        }
        entry.update(model_facts(target))
        for optional in ("deferredReason", "lastFailureReason"):
            if target.get(optional):
                entry[optional] = target[optional]
        rendered.append(entry)
    record["targets"] = rendered
    return record


#: What each target says about the models (issue "make the models forget too"), with its value until known.
MODEL_FIELDS: dict[str, Any] = {"quietPeriod": None, "dataDeletionJobArns": [], "followThrough": None,
                                "solutionVersionArns": [], "campaignArns": [], "modelsRetrainedAt": None}
#: Present only when known: the deletion's own status (COMPLETED also when the follow-through FAILED), and what a
#: busy dataset group was running when the quiet period ran out.
MODEL_OPTIONAL_FIELDS = ("deletionStatus", "busyWith", "waitedSeconds", "quietPeriodTimeoutSeconds")


def model_facts(target: Mapping[str, Any]) -> dict[str, Any]:
    """A target's quiet period, job ARNs, follow-through, solution versions, campaigns and ``modelsRetrainedAt``
    (from the ledger's ``modelFacts`` JSON, written from the deletion workflow's output or cause)."""
    try:
        facts = json.loads(target.get("modelFacts") or "{}")
    except ValueError:
        facts = {}
    facts = facts if isinstance(facts, dict) else {}
    out = {name: facts.get(name, default) for name, default in MODEL_FIELDS.items()}
    if not out["dataDeletionJobArns"] and target.get("dataDeletionJobArn") and target.get("status") == REQUEST_COMPLETED:
        out["dataDeletionJobArns"] = [target["dataDeletionJobArn"]]
    out.update({name: facts[name] for name in MODEL_OPTIONAL_FIELDS if facts.get(name) is not None})
    return out


def iso_seconds(when: datetime) -> str:
    """``2026-12-01T09:30:00Z`` (sortable; the ledger's and the records' timestamps)."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")

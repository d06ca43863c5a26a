"""Claim a dataset group's queued deletion requests for one batch run and write the batch's user-ID input.

Event: ``{"datasetGroupArn", "executionName", "startTime"}`` (the batch
execution's name and start time give the batch ID, so a retried or redriven
run finds what it already claimed). Steps:

1. parts this batch already claimed for the group are adopted;
2. the quota: ``ListDataDeletionJobs`` (no paginator: ``nextToken`` loop)
   counts the group's PENDING jobs; with ``PENDING_JOB_LIMIT`` of them, the
   group gets no job in this run and its queued requests say why;
3. queued targets, oldest first, are packed into parts of at most
   ``MAX_BATCH_BYTES`` (no more parts than free PENDING slots) and claimed
   with conditional writes;
4. each part's input, ``<batch prefix><batch>/<group>/part-0001.csv``, is
   written once (never rewritten: a running job's input is immutable) from
   the claimed request files (read in parallel, written in order, one
   header), through a temporary file;
5. the claimed requests' records are rewritten (IN_PROGRESS).

Returns the parts for the state machine: ``dataLocation``, ``executionName``,
number of requests. User IDs are only copied from the request files into the
batch input; none is logged, returned or written anywhere else.
"""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from jobkit import clients, csv_rules, ledger, requests
from jobkit.contract import Env
from jobkit.errors import error_code, service_error

_THREADS = 16
_READ_CHUNK = 64


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    group = event["datasetGroupArn"]
    batch = requests.batch_id(event["executionName"], event["startTime"])
    limit = int(os.environ[Env.PENDING_JOB_LIMIT])
    out: dict[str, Any] = {"batchId": batch, "datasetGroupArn": group, "deferred": False}

    parts = _adopted(batch, group)
    pending = _pending_jobs(group)
    free = limit - pending - len(parts)
    if not parts and free <= 0:
        reason = (f"the dataset group had {limit} or more PENDING data deletion jobs (pending_job_limit {limit}); "
                  "the request waits for the next batch run")
        queued = list(ledger.queued_targets(group))
        _refresh(t["requestId"] for t in queued if ledger.defer(t, reason))
        return {**out, "deferred": True, "reason": reason, "pendingJobs": pending, "queued": len(queued),
                "parts": []}

    candidates = {t["requestId"]: t for t in ledger.queued_targets(group)}
    packed = requests.pack((requests.Candidate(rid, int(t["bytes"])) for rid, t in candidates.items()),
                           max_bytes=int(os.environ[Env.MAX_BATCH_BYTES]), max_parts=max(free, 0))
    for number, members in enumerate(packed, start=len(parts) + 1):
        part = requests.part_id(batch, group, number)
        claimed = ledger.claim([candidates[m.request_id] for m in members], batch, part)
        if claimed:
            parts.append((number, claimed))
    written = [_write_part(batch, group, number, claimed) for number, claimed in parts]
    _refresh(t["requestId"] for _, claimed in parts for t in claimed)
    left = sum(1 for _ in ledger.queued_targets(group))
    return {**out, "pendingJobs": pending, "queued": left, "parts": [p for p in written if p["requests"]]}


def _adopted(batch: str, group: str) -> list[tuple[int, list[dict[str, Any]]]]:
    found = []
    number = 1
    while True:
        claimed = ledger.claimed_targets(requests.part_id(batch, group, number))
        if not claimed:
            return found
        found.append((number, claimed))
        number += 1


def _pending_jobs(group: str) -> int:
    personalize = clients.client("personalize")
    pending, token = 0, None
    while True:
        try:
            page = personalize.list_data_deletion_jobs(datasetGroupArn=group, maxResults=100,
                                                       **({"nextToken": token} if token else {}))
        except ClientError as error:
            raise service_error(error, "ListDataDeletionJobs") from None
        pending += sum(1 for job in page.get("dataDeletionJobs", []) if job.get("status") == "PENDING")
        token = page.get("nextToken")
        if not token:
            return pending


def _write_part(batch: str, group: str, number: int, claimed: list[dict[str, Any]]) -> dict[str, Any]:
    """The part's input file (written unless it exists), from the claimed request files; a request whose file is
    gone fails at once instead of failing the whole job."""
    bucket = os.environ[Env.DATA_BUCKET]
    key = requests.part_key(os.environ[Env.BATCH_PREFIX], batch, group, number)
    s3 = clients.client("s3")
    included = claimed
    if not _exists(bucket, key):
        included = []
        with tempfile.TemporaryFile() as merged, ThreadPoolExecutor(max_workers=_THREADS) as pool:
            merged.write(f"{csv_rules.HEADER}\n".encode())
            # Read the request files in parallel, write them in order. A part's files total at most
            # max_batch_bytes, so a chunk of them fits in memory; nothing is kept after the write.
            bodies = (body for start in range(0, len(claimed), _READ_CHUNK)
                      for body in pool.map(_read, claimed[start:start + _READ_CHUNK]))
            for target, body in zip(claimed, bodies):
                if body is not None:
                    for _, line in csv_rules.user_id_lines([body]):
                        merged.write(line + b"\n")
                    included.append(target)
                else:
                    ledger.finish(target, requests.part_id(batch, group, number), succeeded=False, job_arn=None,
                                  reason="the request file can no longer be read (deleted, or expired by the "
                                         "deletion prefix's lifecycle rule)", max_attempts=1)
            merged.seek(0)
            if included:
                try:
                    s3.upload_fileobj(merged, bucket, key, ExtraArgs={"ContentType": "text/csv"})
                except ClientError as error:
                    raise service_error(error, "PutObject") from None
    return {"part": number, "dataLocation": f"s3://{bucket}/{key}",
            "executionName": requests.execution_name(batch, group, number), "requests": len(included)}


def _exists(bucket: str, key: str) -> bool:
    try:
        clients.client("s3").head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as error:
        if error_code(error) in ("404", "NoSuchKey", "NotFound"):
            return False
        raise service_error(error, "HeadObject") from None


def _read(target: dict[str, Any]) -> bytes | None:
    """A claimed request's file (the registered version), or None when it can no longer be read."""
    version = {"VersionId": target["versionId"]} if target.get("versionId") else {}
    try:
        body = clients.client("s3").get_object(Bucket=target["bucket"], Key=target["key"], **version)["Body"]
    except ClientError as error:
        if error_code(error) in ("404", "NoSuchKey", "NoSuchVersion", "NotFound", "403", "AccessDenied"):
            return None
        raise service_error(error, "GetObject") from None
    try:
        return body.read()
    finally:
        body.close()


def _refresh(request_ids: Any) -> None:
    unique = sorted(set(request_ids))
    if not unique:
        return
    with ThreadPoolExecutor(max_workers=min(_THREADS, len(unique))) as pool:
        list(pool.map(ledger.refresh, unique))

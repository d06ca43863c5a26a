"""Claim every dataset group's queued deletion requests for one batch run and write the batch's user-ID inputs.

Event: ``{"datasetGroupArns", "executionName", "startTime"}`` (the batch
execution's name and start time give the batch ID, so a retried or redriven
run finds what it already claimed). Per dataset group, in order:

1. parts this batch already claimed for the group are adopted;
2. the quota: ``ListDataDeletionJobs`` (no paginator: ``nextToken`` loop)
   counts the group's PENDING jobs; with ``PENDING_JOB_LIMIT`` of them, the
   group gets no job in this run and its queued requests say why;
3. queued targets, oldest first, are packed into parts of at most
   ``MAX_BATCH_BYTES`` (no more parts than free PENDING slots) and claimed
   with conditional writes.

Then each part's input, ``<batch prefix><batch>/<group>/part-0001.csv``, is
written once (never rewritten: a running job's input is immutable) from the
claimed request files, each read once however many groups claimed it (in
parallel, written in order, one header per part), through temporary files.
Last, every request this run claimed or deferred gets its record rewritten
once, with all its dataset groups' claims in it (IN_PROGRESS).

Returns per dataset group the parts for the state machine: ``dataLocation``,
``executionName``, number of requests. User IDs are only copied from the
request files into the batch inputs; none is logged, returned or written
anywhere else.
"""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

from botocore.exceptions import ClientError

from jobkit import clients, csv_rules, ledger, requests
from jobkit.contract import REQUEST_IN_PROGRESS, Env
from jobkit.errors import JobError, error_code, service_error

_THREADS = 16
_READ_CHUNK = 64
#: the part inputs written at once, through temporary files: within Lambda's default 512 MB of /tmp
_WAVE_BYTES = 400 * 1024 * 1024
_GONE = ("the request file can no longer be read (deleted, or expired by the deletion prefix's lifecycle rule)")


class ClaimedPartsNotVisibleYet(JobError):
    """A part's input exists but the ``claimed`` index does not list its targets yet (an earlier attempt of this
    Claim wrote it moments ago; the index is eventually consistent): the state machine retries later, so no new
    request is claimed into a part whose input is already written."""


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    batch = requests.batch_id(event["executionName"], event["startTime"])
    limit = int(os.environ[Env.PENDING_JOB_LIMIT])
    touched: set[str] = set()
    failed = 0
    groups = []
    for group in event["datasetGroupArns"]:
        claimed = _claim_group(batch, group, limit, touched)
        if claimed["deferred"]:  # rewritten at once: a later group's failure must not lose the deferral's record
            failed += _refresh(touched)
            touched.clear()
        groups.append(claimed)
    _write_parts(batch, groups)
    failed += _refresh(touched)
    for group in groups:
        del group["_claimed"], group["_adopted"]
        group["queued"] = sum(1 for _ in ledger.queued_targets(group["datasetGroupArn"]))
        group["parts"] = [p for p in group["parts"] if p["requests"]]
    return {"batchId": batch, "groups": groups, "requestsFailed": failed}


def _claim_group(batch: str, group: str, limit: int, touched: set[str]) -> dict[str, Any]:
    """The group's claimed parts (adopted or new), or its deferral; adds the requests whose ledger items changed
    to ``touched``."""
    out: dict[str, Any] = {"batchId": batch, "datasetGroupArn": group, "deferred": False}
    parts = _adopted(batch, group, touched)
    adopted = len(parts)  # the first parts; the new ones were checked to have no input before their claim
    pending = _pending_jobs(group)
    free = limit - pending - len(parts)
    if not parts and free <= 0:
        reason = (f"the dataset group had {limit} or more PENDING data deletion jobs (pending_job_limit {limit}); "
                  "the request waits for the next batch run")
        queued = list(ledger.queued_targets(group))
        touched.update(t["requestId"] for t in queued if ledger.defer(t, reason))
        return {**out, "deferred": True, "reason": reason, "pendingJobs": pending, "parts": [], "_claimed": [],
                "_adopted": 0}
    candidates = {t["requestId"]: t for t in ledger.queued_targets(group)}
    packed = requests.pack((requests.Candidate(rid, int(t["bytes"])) for rid, t in candidates.items()),
                           max_bytes=int(os.environ[Env.MAX_BATCH_BYTES]), max_parts=max(free, 0))
    bucket, prefix = os.environ[Env.DATA_BUCKET], os.environ[Env.BATCH_PREFIX]
    number = len(parts) + 1  # a part number is used only by a claim that took something
    for members in packed:
        if _exists(bucket, requests.part_key(prefix, batch, group, number)):
            raise ClaimedPartsNotVisibleYet(f"part {number} of {requests.group_name(group)} in batch {batch} has "
                                            "its input but the ledger's claimed index does not list it yet")
        claimed = ledger.claim([candidates[m.request_id] for m in members], batch,
                               requests.part_id(batch, group, number))
        if claimed:
            parts.append((number, claimed))
            number += 1
    for _, claimed in parts:
        touched.update(t["requestId"] for t in claimed)
    return {**out, "pendingJobs": pending, "_claimed": parts, "_adopted": adopted, "parts": [
        {"part": number, "dataLocation": f"s3://{bucket}/{requests.part_key(prefix, batch, group, number)}",
         "executionName": requests.execution_name(batch, group, number),
         "requests": len(claimed)}
        for number, claimed in parts]}


def _adopted(batch: str, group: str, touched: set[str]) -> list[tuple[int, list[dict[str, Any]]]]:
    """The parts an earlier attempt of this batch claimed for the group, each with its targets still IN_PROGRESS
    (a target that failed when its file was gone stays listed under the part, and stays out of its input). Every
    request such a part carried goes to ``touched``: an attempt that failed a request and then failed before
    rewriting its record leaves that to this one."""
    found = []
    number = 1
    while True:
        claimed = ledger.claimed_targets(requests.part_id(batch, group, number))
        if not claimed:
            return found
        touched.update(t["requestId"] for t in claimed)
        found.append((number, [t for t in claimed if t["status"] == REQUEST_IN_PROGRESS]))
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


def _write_parts(batch: str, groups: list[dict[str, Any]]) -> None:
    """Every part input not written yet (a retried or redriven run adopts the ones that exist), from the claimed
    request files: each file is read once and its lines go to every part that claimed it. A request whose file
    is gone fails at once in that part instead of failing the whole job; a part left with no request gets no
    input (and no job)."""
    bucket, prefix = os.environ[Env.DATA_BUCKET], os.environ[Env.BATCH_PREFIX]
    todo: list[tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]] = []
    for group in groups:
        for index, ((number, claimed), part) in enumerate(zip(group["_claimed"], group["parts"])):
            if index >= group["_adopted"] or not _exists(
                    bucket, requests.part_key(prefix, batch, group["datasetGroupArn"], number)):
                todo.append((group, part, claimed))
    for wave in _waves(todo):
        _write_wave(batch, wave)


def _waves(todo: list[Any]) -> list[list[Any]]:
    """The parts to write, in waves whose inputs together fit ``_WAVE_BYTES`` of the function's temporary
    storage (a part is at most ``max_batch_bytes``, so a wave holds at least one): each wave reads its request
    files once."""
    waves: list[list[Any]] = []
    used = 0
    for item in todo:
        size = sum(int(t.get("bytes", 0)) for t in item[2])
        if not waves or used + size > _WAVE_BYTES:
            waves.append([])
            used = 0
        waves[-1].append(item)
        used += size
    return waves


def _write_wave(batch: str, todo: list[tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]]) -> None:
    bucket, prefix = os.environ[Env.DATA_BUCKET], os.environ[Env.BATCH_PREFIX]
    files: list[IO[bytes]] = []
    try:
        members: dict[tuple[str, str, str], list[tuple[int, dict[str, Any]]]] = {}  # object → (part, target)
        for index, (_, _, claimed) in enumerate(todo):
            files.append(tempfile.TemporaryFile())
            files[-1].write(f"{csv_rules.HEADER}\n".encode())
            for target in claimed:
                members.setdefault(_object(target), []).append((index, target))
        included = [0] * len(todo)
        objects = list(members)
        with ThreadPoolExecutor(max_workers=_THREADS) as pool:
            # Read the request files in parallel, write them in order; _READ_CHUNK files are in memory at a time.
            for start in range(0, len(objects), _READ_CHUNK):
                chunk = objects[start:start + _READ_CHUNK]
                for obj, body in zip(chunk, pool.map(lambda o: _read(members[o][0][1]), chunk)):
                    lines = None if body is None else [line for _, line in csv_rules.user_id_lines([body])]
                    for index, target in members[obj]:
                        if lines is None:
                            group, part, _ = todo[index]
                            ledger.finish(target, requests.part_id(batch, group["datasetGroupArn"], part["part"]),
                                          succeeded=False, job_arn=None, reason=_GONE, max_attempts=1)
                            continue
                        for line in lines:
                            files[index].write(line + b"\n")
                        included[index] += 1
        s3 = clients.client("s3")
        for index, (group, part, _) in enumerate(todo):
            part["requests"] = included[index]
            if included[index]:
                files[index].seek(0)
                key = requests.part_key(prefix, batch, group["datasetGroupArn"], part["part"])
                try:
                    s3.upload_fileobj(files[index], bucket, key, ExtraArgs={"ContentType": "text/csv"})
                except ClientError as error:
                    raise service_error(error, "PutObject") from None
    finally:
        for file in files:
            file.close()


def _object(target: dict[str, Any]) -> tuple[str, str, str]:
    return target["bucket"], target["key"], target.get("versionId") or ""


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


def _refresh(request_ids: set[str]) -> int:
    """Rewrite each request's record once; announce those that failed here (their file was gone). Returns how
    many were announced FAILED."""
    return ledger.refresh_and_announce(request_ids)["failed"] if request_ids else 0

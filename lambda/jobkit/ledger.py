"""The deletion request ledger (one DynamoDB table) and the per-request records.

Items (key ``pk`` = request ID, ``sk``):

- the request, ``sk = "REQUEST"``: ``requestId``, ``status``, ``receivedAt``,
  ``completedAt``, ``bucket``/``key``/``versionId``, ``objectIdentity``,
  ``userIds`` (a count), ``bytes``, ``reason``, ``targetGroups`` (the dataset
  groups it has a target in), ``revision``, ``announcedStatus``; ``openFlag``
  while QUEUED or IN_PROGRESS (the sparse ``open`` index, oldest first);
- one target per dataset group, ``sk = "TARGET#<arn>"``: ``status``,
  ``attempts``, ``batchId``, ``dataDeletionJobArn``, ``lastFailureReason``,
  ``deferredReason``, ``completedAt``, the request's ``bytes`` and object;
  ``queuedGroup`` while QUEUED (the sparse ``queued`` index, by dataset group,
  oldest first) and ``claimedPart``, the batch part that claimed it last (the
  ``claimed`` index: set by the claim, kept when the part's outcome is
  recorded, replaced by the next claim).

A claim is a conditional write (``status = QUEUED``), so two overlapping batch
runs never claim one target twice. A request's status and record are derived
from its targets by :func:`refresh_all`, under optimistic locking on
``revision``, so overlapping writers never publish a stale record. The batch
steps work in bulk: items read with ``BatchGetItem``, claims in transactions
of 100, outcomes and statuses as single-item updates 16 at a time
(:func:`conditional_writes`). No item holds a user ID.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator, Mapping

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from . import clients, clock, requests
from .contract import (
    EVENT_SOURCE,
    LEDGER_CLAIMED_INDEX,
    LEDGER_CLAIMED_PART,
    LEDGER_OPEN,
    LEDGER_OPEN_FLAG,
    LEDGER_QUEUED_GROUP,
    LEDGER_QUEUED_INDEX,
    LEDGER_REQUEST_ITEM,
    LEDGER_TARGET_GROUPS,
    LEDGER_TARGET_PREFIX,
    METRIC_DIMENSION_NAME,
    METRIC_FAILED_REQUESTS,
    METRIC_NAMESPACE,
    REQUEST_COMPLETED,
    REQUEST_COMPLETED_EVENT,
    REQUEST_FAILED,
    REQUEST_FAILED_EVENT,
    REQUEST_IN_PROGRESS,
    REQUEST_OPEN_STATUSES,
    REQUEST_QUEUED,
    Env,
)
from .errors import JobError, error_code, service_error

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()
#: TransactWriteItems takes at most 100 items.
TRANSACTION_ITEMS = 100
#: :func:`conditional_writes`: pauses in a row after a transaction cancelled by conflicts or throttling alone
#: (each up to _WRITE_PAUSE_SECONDS × 2^n, full jitter), and the cancellation codes worth a pause
_WRITE_ATTEMPTS = 5
_WRITE_PAUSE_SECONDS = 0.1
_TRANSIENT_CANCELLATIONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})
#: BatchGetItem takes at most 100 keys; its unprocessed keys are asked for again this many times
_BATCH_GET_KEYS = 100
_BATCH_GET_ATTEMPTS = 8
#: record PutObjects, or single-item conditional UpdateItems, in flight at once (:func:`_each`)
_THREADS = 16
_REFRESH_ATTEMPTS = 20
#: How a batch part ended, for :func:`finish`.
OUTCOME_COMPLETED = "COMPLETED"
OUTCOME_FAILED = "FAILED"
OUTCOME_BUSY = "BUSY"
OUTCOME_FOLLOW_THROUGH_FAILED = "FOLLOW_THROUGH_FAILED"
#: The target attribute holding what the workflow reported about the models (JSON: quiet period, job ARNs,
#: follow-through, solution versions, campaigns; or what the group was busy with). ARNs and statuses only.
MODEL_FACTS = "modelFacts"


def table() -> str:
    return os.environ[Env.LEDGER_TABLE]


def dynamodb() -> Any:
    return clients.client("dynamodb")


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _SERIALIZER.serialize(v) for k, v in values.items() if v is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: _DESERIALIZER.deserialize(v) for k, v in item.items()}
    return {k: (int(v) if isinstance(v, Decimal) else v) for k, v in out.items()}


def key(request_id: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": request_id}, "sk": {"S": sk}}


def target_sk(dataset_group_arn: str) -> str:
    return LEDGER_TARGET_PREFIX + dataset_group_arn


def cancelled_codes(error: ClientError) -> list[str]:
    return [str(r.get("Code", "")) for r in error.response.get("CancellationReasons", [])]


# --------------------------------------------------------------------------- reads


def items_of(request_id: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The request item and its target items (consistent reads)."""
    found: list[dict[str, Any]] = []
    pages = dynamodb().get_paginator("query").paginate(
        TableName=table(), KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": request_id}},
        ConsistentRead=True)
    try:
        for page in pages:
            found += [from_item(i) for i in page.get("Items", [])]
    except ClientError as error:
        raise service_error(error, "Query") from None
    request = next((i for i in found if i["sk"] == LEDGER_REQUEST_ITEM), None)
    return request, [i for i in found if i["sk"].startswith(LEDGER_TARGET_PREFIX)]


def queued_targets(dataset_group_arn: str) -> Iterator[dict[str, Any]]:
    """The dataset group's QUEUED targets, oldest request first (the sparse ``queued`` index)."""
    pages = dynamodb().get_paginator("query").paginate(
        TableName=table(), IndexName=LEDGER_QUEUED_INDEX, KeyConditionExpression="#g = :g",
        ExpressionAttributeNames={"#g": LEDGER_QUEUED_GROUP},
        ExpressionAttributeValues={":g": {"S": dataset_group_arn}}, ScanIndexForward=True)
    try:
        for page in pages:
            for item in page.get("Items", []):
                yield from_item(item)
    except ClientError as error:
        raise service_error(error, "Query") from None


def claimed_targets(part: str) -> list[dict[str, Any]]:
    """The targets a batch part claimed (the sparse ``claimed`` index)."""
    pages = dynamodb().get_paginator("query").paginate(
        TableName=table(), IndexName=LEDGER_CLAIMED_INDEX, KeyConditionExpression="#p = :p",
        ExpressionAttributeNames={"#p": LEDGER_CLAIMED_PART}, ExpressionAttributeValues={":p": {"S": part}})
    try:
        return [from_item(i) for page in pages for i in page.get("Items", [])]
    except ClientError as error:
        raise service_error(error, "Query") from None


def read_all(request_ids: Iterable[str]) -> dict[str, tuple[dict[str, Any], list[dict[str, Any]]]]:
    """:func:`items_of` for many requests: the request items, then their targets (named by the request's
    ``targetGroups``), with consistent ``BatchGetItem`` reads of up to 100 keys each. One request is read with
    one ``Query``, and so is a request registered without ``targetGroups``. Requests not in the ledger are
    left out."""
    ids = sorted(set(request_ids))
    if len(ids) <= 1:
        return {rid: (request, targets) for rid in ids for request, targets in [items_of(rid)] if request}
    found = {item["pk"]: item for item in _batch_get([key(rid, LEDGER_REQUEST_ITEM) for rid in ids])}
    by_key = [rid for rid, request in found.items() if isinstance(request.get(LEDGER_TARGET_GROUPS), list)]
    targets: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in _batch_get([key(rid, target_sk(g)) for rid in by_key for g in found[rid][LEDGER_TARGET_GROUPS]]):
        targets[item["pk"]].append(item)
    out = {rid: (found[rid], sorted(targets[rid], key=lambda t: t["sk"])) for rid in by_key}
    for rid in sorted(set(found) - set(by_key)):
        request, its_targets = items_of(rid)
        if request:
            out[rid] = (request, its_targets)
    return out


def _batch_get(keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consistent ``BatchGetItem`` reads of ``keys``, 100 at a time; unprocessed keys (throttling, or the 16 MB
    answer limit) are asked for again after a growing pause."""
    client, found = dynamodb(), []
    for start in range(0, len(keys), _BATCH_GET_KEYS):
        pending: dict[str, Any] = {table(): {"Keys": keys[start:start + _BATCH_GET_KEYS], "ConsistentRead": True}}
        for attempt in range(_BATCH_GET_ATTEMPTS):
            try:
                page = client.batch_get_item(RequestItems=pending)
            except ClientError as error:
                raise service_error(error, "BatchGetItem") from None
            found += [from_item(i) for i in page.get("Responses", {}).get(table(), [])]
            pending = {name: {**asked, "ConsistentRead": True}
                       for name, asked in (page.get("UnprocessedKeys") or {}).items()}
            if not pending:
                break
            _pause(0.05 * 2 ** attempt)
        else:
            raise LedgerContended(f"BatchGetItem left keys unprocessed after {_BATCH_GET_ATTEMPTS} attempts")
    return found


# --------------------------------------------------------------------------- claims


def _claim_update(target: Mapping[str, Any], batch: str, part: str, now: str) -> dict[str, Any]:
    return {
        "TableName": table(), "Key": key(target["pk"], target["sk"]),
        "UpdateExpression": "SET #s = :claimed, batchId = :b, #c = :part, claimedAt = :now "
                            f"REMOVE #q, deferredReason, {MODEL_FACTS}",
        "ConditionExpression": "#s = :queued AND attribute_exists(#q)",
        "ExpressionAttributeNames": {"#s": "status", "#c": LEDGER_CLAIMED_PART, "#q": LEDGER_QUEUED_GROUP},
        "ExpressionAttributeValues": {":claimed": {"S": REQUEST_IN_PROGRESS}, ":queued": {"S": REQUEST_QUEUED},
                                      ":b": {"S": batch}, ":part": {"S": part}, ":now": {"S": now}},
    }


def claim(targets: list[dict[str, Any]], batch: str, part: str) -> list[dict[str, Any]]:
    """Claim ``targets`` for ``part`` (QUEUED → IN_PROGRESS) with conditional writes (:func:`conditional_writes`,
    as transactions: a claim answered "not applied" after a lost response would leave its target in ``part``
    without its IDs in the part's input); returns the ones this call claimed: a target another run
    claimed first is skipped, the rest is still claimed."""
    now = requests.iso_seconds(clock.now())
    applied = conditional_writes([_claim_update(t, batch, part, now) for t in targets], transactions=True)
    return [t for t, ok in zip(targets, applied) if ok]


def defer(target: Mapping[str, Any], reason: str) -> bool:
    """Note on a QUEUED target why this run gave its dataset group no job; False when it is no longer queued or
    already says so."""
    try:
        dynamodb().update_item(
            TableName=table(), Key=key(target["pk"], target["sk"]), UpdateExpression="SET deferredReason = :r",
            ConditionExpression="#s = :queued AND (attribute_not_exists(deferredReason) OR deferredReason <> :r)",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":r": {"S": reason}, ":queued": {"S": REQUEST_QUEUED}})
        return True
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise service_error(error, "UpdateItem") from None


def finish(target: Mapping[str, Any], part: str, *, succeeded: bool, job_arn: str | None, reason: str | None,
           max_attempts: int, kind: str | None = None, facts: Mapping[str, Any] | None = None) -> str | None:
    """:func:`finish_all` for one target."""
    return finish_all([target], part, succeeded=succeeded, job_arn=job_arn, reason=reason,
                      max_attempts=max_attempts, kind=kind, facts=facts)[0]


def finish_all(targets: list[Mapping[str, Any]], part: str, *, succeeded: bool, job_arn: str | None,
               reason: str | None, max_attempts: int, kind: str | None = None,
               facts: Mapping[str, Any] | None = None) -> list[str | None]:
    """:func:`_finish_update` on each of ``targets``, through :func:`conditional_writes` (one ``UpdateItem``
    each: an outcome is one write unit, and a retried call finds what it recorded). Returns each target's new
    status, or None for the ones a previous call recorded."""
    updates = [_finish_update(t, part, succeeded=succeeded, job_arn=job_arn, reason=reason,
                              max_attempts=max_attempts, kind=kind, facts=facts) for t in targets]
    applied = conditional_writes([u for u, _ in updates], transactions=False)
    return [status if ok else None for (_, status), ok in zip(updates, applied)]


class LedgerContended(JobError):
    """The ledger's writes kept being cancelled by conflicting transactions or throttling, or its batch reads kept
    coming back unprocessed: the state machine retries the step later (nothing is half-written: a cancelled
    transaction wrote nothing, and every write is conditional)."""


def conditional_writes(updates: list[dict[str, Any]], *, transactions: bool) -> list[bool]:
    """Apply conditional ``UpdateItem`` parameters; returns, per update, whether it was applied: False where its
    condition did not hold (a competing writer, or an earlier attempt, got there first).

    ``transactions``: in ``TransactWriteItems`` of up to 100, one round trip for a hundred writes, at two write
    units per KB, and idempotent: botocore gives each transaction a ``ClientRequestToken``, so an SDK retry after
    a lost response is answered as applied (a retried ``UpdateItem`` fails its own condition and reads as "not
    applied"). A transaction that some of its items cancelled is sent again without them; one cancelled only by
    conflicts or throttling is sent again after a pause with full jitter, and after ``_WRITE_ATTEMPTS`` such
    pauses in a row :class:`LedgerContended` is raised; any other cancellation (a validation error) raises at
    once. Otherwise one ``UpdateItem`` each, ``_THREADS`` at a time, at one write unit per KB: for
    independent writes whose "not applied" a caller can live with (an outcome a retried call finds recorded,
    a status the optimistic lock re-reads)."""
    if not transactions:
        return _updates(updates)
    applied: list[bool] = []
    for start in range(0, len(updates), TRANSACTION_ITEMS):
        applied += _write_chunk(updates[start:start + TRANSACTION_ITEMS])
    return applied


def _updates(updates: list[dict[str, Any]]) -> list[bool]:
    client = dynamodb()

    def apply(update: dict[str, Any]) -> bool:
        try:
            client.update_item(**update)
            return True
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise service_error(error, "UpdateItem") from None

    return _each(apply, updates)


def _each(function: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    """``function`` on each of ``items``, ``_THREADS`` at a time (in this thread for one item), in order."""
    if len(items) <= 1:
        return [function(i) for i in items]
    with ThreadPoolExecutor(max_workers=min(_THREADS, len(items))) as pool:
        return list(pool.map(function, items))


def _pause(ceiling: float) -> None:
    """A pause of up to ``ceiling`` seconds (2 at most), full jitter: competing writers do not retry in step."""
    time.sleep(random.uniform(0, min(ceiling, 2.0)))


def _write_chunk(updates: list[dict[str, Any]]) -> list[bool]:
    applied = [False] * len(updates)
    todo = list(range(len(updates)))
    pauses = 0
    client = dynamodb()
    while todo:
        try:
            client.transact_write_items(TransactItems=[{"Update": updates[i]} for i in todo])
        except ClientError as error:
            codes = cancelled_codes(error)
            if error_code(error) != "TransactionCanceledException" or len(codes) != len(todo) or \
                    set(codes) - _TRANSIENT_CANCELLATIONS - {"None", "ConditionalCheckFailed"}:
                raise service_error(error, "TransactWriteItems") from None
            kept = [i for i, code in zip(todo, codes) if code != "ConditionalCheckFailed"]
            if len(kept) < len(todo):
                pauses = 0  # progress: what a competing writer took is settled
            else:
                pauses += 1
                if pauses > _WRITE_ATTEMPTS:
                    raise LedgerContended(f"TransactWriteItems was cancelled {pauses} times in a row "
                                          f"({', '.join(sorted(set(codes) - {'None'}))})") from None
                _pause(_WRITE_PAUSE_SECONDS * 2 ** pauses)
            todo = kept
            continue
        for index in todo:
            applied[index] = True
        return applied
    return applied


def _finish_update(target: Mapping[str, Any], part: str, *, succeeded: bool, job_arn: str | None,
                   reason: str | None, max_attempts: int, kind: str | None = None,
                   facts: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], str]:
    """The conditional update that records a batch part's outcome on one target it claimed: COMPLETED; or, after a failed job, back to
    QUEUED with one more attempt and the reason, or FAILED once ``max_attempts`` jobs failed. ``kind``
    ``BUSY`` (no job started: the group stayed busy) puts it back in the queue without counting an attempt,
    with the reason as ``deferredReason``; ``FOLLOW_THROUGH_FAILED`` (the deletion COMPLETED, its retraining or
    campaign update did not) fails it at once. ``facts`` (stored as JSON) are copied into the record. With the
    new status; the condition fails when the target no longer belongs to ``part`` or is no longer IN_PROGRESS
    (a retried call already recorded it). The target keeps ``claimedPart``: the ``claimed`` index lists every target a part carried, so the
    batch's Record step (and a retry of it) finds the requests to refresh."""
    now = requests.iso_seconds(clock.now())
    kind = kind or (OUTCOME_COMPLETED if succeeded else OUTCOME_FAILED)
    names = {"#s": "status", "#c": LEDGER_CLAIMED_PART}
    values: dict[str, Any] = {":part": {"S": part}, ":claimed": {"S": REQUEST_IN_PROGRESS}}
    if job_arn:
        values[":job"] = {"S": job_arn}
    job = ", dataDeletionJobArn = :job" if job_arn else ""
    if facts is not None:
        names["#m"] = MODEL_FACTS
        values[":facts"] = {"S": json.dumps(facts, sort_keys=True, default=str)}
        job += ", #m = :facts"
    if kind == OUTCOME_BUSY:
        status = REQUEST_QUEUED
        names["#q"] = LEDGER_QUEUED_GROUP
        values.update({":status": {"S": status}, ":group": {"S": target["datasetGroupArn"]},
                       ":reason": {"S": reason or "the dataset group was busy"}})
        expression = f"SET #s = :status, deferredReason = :reason, #q = :group{job}"
    elif kind == OUTCOME_FOLLOW_THROUGH_FAILED:
        status = REQUEST_FAILED
        values.update({":status": {"S": status}, ":reason": {"S": reason or "the follow-through failed"}})
        expression = f"SET #s = :status, lastFailureReason = :reason{job}"
    elif succeeded:
        status = REQUEST_COMPLETED
        expression = f"SET #s = :status, completedAt = :now{job}"
        values.update({":status": {"S": status}, ":now": {"S": now}})
    else:
        attempts = int(target.get("attempts", 0)) + 1
        status = REQUEST_FAILED if attempts >= max_attempts else REQUEST_QUEUED
        values.update({":status": {"S": status}, ":attempts": {"N": str(attempts)},
                       ":reason": {"S": reason or "the data deletion did not complete"}})
        expression = f"SET #s = :status, attempts = :attempts, lastFailureReason = :reason{job}"
        if status == REQUEST_QUEUED:
            names["#q"] = LEDGER_QUEUED_GROUP
            values[":group"] = {"S": target["datasetGroupArn"]}
            expression += ", #q = :group"
    return {"TableName": table(), "Key": key(target["pk"], target["sk"]), "UpdateExpression": expression,
            "ConditionExpression": "#c = :part AND #s = :claimed", "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values}, status


# --------------------------------------------------------------------------- the request and its record


def record_key(request_id: str) -> str:
    return f"{os.environ[Env.RECORD_PREFIX]}{request_id}.json"


def write_record(record: Mapping[str, Any]) -> None:
    body = json.dumps(record, sort_keys=True, indent=1).encode("utf-8")
    try:
        clients.client("s3").put_object(Bucket=os.environ[Env.DATA_BUCKET], Key=record_key(record["requestId"]),
                                        Body=body, ContentType="application/json")
    except ClientError as error:
        raise service_error(error, "PutObject") from None


#: the request item's attribute holding the final status already announced (COMPLETED or FAILED)
ANNOUNCED = "announcedStatus"


@dataclass(frozen=True)
class Refreshed:
    record: dict[str, Any]
    previous_status: str
    announced: str | None = None  # the final status announced before, if any

    @property
    def changed_to(self) -> str | None:
        status = self.record["status"]
        return status if status != self.previous_status else None

    @property
    def to_announce(self) -> str | None:
        """COMPLETED or FAILED when that status has not been announced yet (also when an earlier call stored it
        and failed before announcing: announcements are at least once)."""
        status = self.record["status"]
        return status if status in (REQUEST_COMPLETED, REQUEST_FAILED) and status != self.announced else None


def refresh(request_id: str) -> Refreshed | None:
    """:func:`refresh_all` for one request; None if it is not in the ledger."""
    done = refresh_all([request_id])
    return done[0] if done else None


def refresh_all(request_ids: Iterable[str]) -> list[Refreshed]:
    """Derive each request's status from its targets, write its record, then store the status, under optimistic
    locking (``revision``): a request whose revision moved on (another writer) is read and written again, so
    the last record written was rendered from a read that followed every target change. Requests not in the
    ledger are left out."""
    return _refresh(request_ids, announce=False)[0]


def refresh_and_announce(request_ids: Iterable[str]) -> dict[str, int]:
    """:func:`refresh_all`, and the requests that are COMPLETED or FAILED and not announced yet are announced
    between their record and their status: an event each, and for FAILED ones an SNS message (when the queue has
    a topic) and the failed-requests metric. The status is stored with ``announcedStatus``, so announcements
    are at least once: a call that fails after announcing, or whose write lost a race, announces again when
    retried, and one that stored the status does not. Returns how many were announced."""
    return _refresh(request_ids, announce=True)[1]


def _refresh(request_ids: Iterable[str], *, announce: bool) -> tuple[list[Refreshed], dict[str, int]]:
    todo, done = sorted(set(request_ids)), []
    announced: dict[str, str] = {}
    for _ in range(_REFRESH_ATTEMPTS):
        if not todo:
            break
        rendered = [_render(request, targets) for request, targets in read_all(todo).values()]
        _each(write_record, [r.record for _, _, r in rendered])
        lost: list[str] = []
        for start in range(0, len(rendered), TRANSACTION_ITEMS):  # a failure re-announces one slice at most
            some = rendered[start:start + TRANSACTION_ITEMS]
            if announce:  # not again for a request this call announced already (its first write lost a race)
                announced.update(_announce_outcomes([r for _, _, r in some if r.to_announce and
                                                     announced.get(r.record["requestId"]) != r.to_announce]))
            told = [announced.get(request["pk"]) if announced.get(request["pk"]) == updated["status"] else None
                    for request, updated, _ in some]
            stored = conditional_writes([_store_update(request, updated, status)
                                         for (request, updated, _), status in zip(some, told)], transactions=False)
            done += [Refreshed(r.record, r.previous_status, status or r.announced)
                     for (_, _, r), status, ok in zip(some, told, stored) if ok]
            lost += [request["pk"] for (request, _, _), ok in zip(some, stored) if not ok]
        todo = lost
    if todo:
        raise LedgerContended(f"{len(todo)} request(s), first {todo[0]}: their ledger items kept changing")
    statuses = list(announced.values())
    return done, {"completed": statuses.count(REQUEST_COMPLETED), "failed": statuses.count(REQUEST_FAILED)}


def _render(request: dict[str, Any], targets: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any],
                                                                              Refreshed]:
    """The request item as read, as it is to be stored, and what is known once it is."""
    previous = request["status"]
    status = requests.request_status(previous, [t["status"] for t in targets])
    updated = {**request, "status": status}
    if status == REQUEST_COMPLETED:
        updated["completedAt"] = request.get("completedAt") or requests.latest(t.get("completedAt") for t in targets)
    if status == REQUEST_FAILED:
        updated["reason"] = requests.failure_reason(targets)
    return request, updated, Refreshed(requests.render_record(updated, targets), previous, request.get(ANNOUNCED))


def _store_update(request: Mapping[str, Any], updated: Mapping[str, Any], announced: str | None) -> dict[str, Any]:
    """The conditional update storing the derived status (and ``announcedStatus``, once announced) on the
    request item, if no other writer stored a revision since it was read."""
    revision = int(request.get("revision", 0))
    names = {"#s": "status", "#o": LEDGER_OPEN_FLAG}
    values: dict[str, Any] = {":s": {"S": updated["status"]}, ":next": {"N": str(revision + 1)},
                              ":rev": {"N": str(revision)}}
    sets = ["#s = :s", "revision = :next"]
    removes = []
    if updated["status"] in REQUEST_OPEN_STATUSES:
        sets.append("#o = :open")
        values[":open"] = {"S": LEDGER_OPEN}
    else:
        removes.append("#o")
    for field in ("completedAt", "reason"):
        if updated.get(field):
            sets.append(f"{field} = :{field}")
            values[f":{field}"] = {"S": updated[field]}
    if announced:
        sets.append("#a = :announced")
        names["#a"] = ANNOUNCED
        values[":announced"] = {"S": announced}
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    return {"TableName": table(), "Key": key(request["pk"], request["sk"]), "UpdateExpression": expression,
            "ConditionExpression": "attribute_not_exists(revision) OR revision = :rev",
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}


# --------------------------------------------------------------------------- announcements


def announce(detail_type: str, details: Iterable[Mapping[str, Any]]) -> None:
    """EventBridge events on the default bus (source ``cdk-ml-data-jobs``), ten per call."""
    entries = [{"Source": EVENT_SOURCE, "DetailType": detail_type, "Detail": json.dumps(d, sort_keys=True)}
               for d in details]
    events = clients.client("events")
    for start in range(0, len(entries), 10):
        result = events.put_events(Entries=entries[start:start + 10])
        if result.get("FailedEntryCount"):
            codes = sorted({e.get("ErrorCode") for e in result["Entries"] if e.get("ErrorCode")})
            raise RuntimeError(f"PutEvents refused {result['FailedEntryCount']} event(s): {', '.join(codes)}")


def _announce_outcomes(refreshed: list[Refreshed]) -> dict[str, str]:
    """The events (and for FAILED requests the SNS messages and the metric) of the requests whose final status
    is not announced yet; returns request ID → the status announced."""
    completed = [r.record for r in refreshed if r.to_announce == REQUEST_COMPLETED]
    failed = [r.record for r in refreshed if r.to_announce == REQUEST_FAILED]
    if completed:
        announce(REQUEST_COMPLETED_EVENT, completed)
    if failed:
        announce(REQUEST_FAILED_EVENT, failed)
        topic = os.environ.get(Env.TOPIC_ARN)
        if topic:
            for record in failed:
                clients.client("sns").publish(
                    TopicArn=topic, Subject=f"Deletion request FAILED: {record['requestId']}"[:100],
                    Message=failed_message(record))
        put_metric(METRIC_FAILED_REQUESTS, len(failed), "Count")
    return {record["requestId"]: record["status"] for record in completed + failed}


def failed_message(record: Mapping[str, Any]) -> str:
    lines = [f"Deletion request {record['requestId']} FAILED", "", f"reason: {record.get('reason')}",
             f"receivedAt: {record['receivedAt']}", f"object: s3://{record['object']['bucket']}/{record['object']['key']}"]
    for target in record["targets"]:
        lines.append(f"target {target['datasetGroupArn']}: {target['status']} after {target['attempts']} attempt(s)"
                     f"{', last job ' + target['dataDeletionJobArn'] if target.get('dataDeletionJobArn') else ''}")
    return "\n".join(lines)


def put_metric(name: str, value: float, unit: str) -> None:
    clients.client("cloudwatch").put_metric_data(Namespace=METRIC_NAMESPACE, MetricData=[{
        "MetricName": name, "Value": float(value), "Unit": unit,
        "Dimensions": [{"Name": METRIC_DIMENSION_NAME, "Value": os.environ[Env.METRIC_DIMENSION]}],
    }])

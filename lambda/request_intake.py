"""Register a deletion request: a user-ID file created under the queue's request prefix.

Event: S3 "Object Created" through EventBridge. The request ID is the object's
``request-id`` user metadata when set, else derived from the key
(``jobkit.requests.request_id_from_key``). The file is checked with the
workflow's pre-flight rules (a file it would reject is ``REJECTED`` with the
same sentence) and read once, streaming, to count its user IDs and check every
line; no ID is kept, logged or returned. Then, in one transaction, the request
and one ``QUEUED`` target per dataset group are put, on the condition that the
request ID is new: the same object version delivered again registers nothing,
and another object with a registered request ID is refused (an event says why;
the original stays as it is).
"""

from __future__ import annotations

import json
import os
from typing import Any

from botocore.exceptions import ClientError

import deletion_preflight
from jobkit import clients, clock, csv_rules, ledger, requests
from jobkit.contract import (
    LEDGER_OPEN,
    LEDGER_OPEN_FLAG,
    LEDGER_QUEUED_GROUP,
    LEDGER_REQUEST_ITEM,
    LEDGER_TARGET_GROUPS,
    REQUEST_ID_METADATA,
    REQUEST_QUEUED,
    REQUEST_REFUSED,
    REQUEST_REGISTERED,
    REQUEST_REJECTED,
    REQUEST_REJECTED_EVENT,
    Env,
)
from jobkit.errors import error_code, service_error

_CHUNK = 1024 * 1024


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    detail = event["detail"]
    bucket, obj = detail["bucket"]["name"], detail["object"]
    key, version = obj["key"], obj.get("version-id")
    prefix = os.environ[Env.REQUEST_PREFIX]
    if not key.startswith(prefix) or not key.endswith(".csv"):
        return {"registered": False, "reason": "not a .csv file under the request prefix"}
    s3 = clients.client("s3")
    try:
        head = s3.head_object(Bucket=bucket, Key=key, **({"VersionId": version} if version else {}))
    except ClientError as error:
        if error_code(error) in ("404", "NoSuchKey", "NoSuchVersion", "NotFound"):
            return {"registered": False, "reason": "the object no longer exists"}
        raise service_error(error, "HeadObject") from None
    version = version or _version(head)
    request_id, id_problem = _request_id(prefix, key, head.get("Metadata", {}))
    identity = requests.object_identity(bucket, key, version, obj.get("sequencer"))

    problems = [id_problem] if id_problem else []
    count, size = 0, int(head["ContentLength"])
    if not problems:
        count, problems = _check(bucket, key, version, size)
    request = {
        "pk": request_id, "sk": LEDGER_REQUEST_ITEM, "requestId": request_id,
        "status": REQUEST_REJECTED if problems else REQUEST_QUEUED,
        "receivedAt": requests.iso_seconds(clock.now()), "bucket": bucket, "key": key, "versionId": version,
        "objectIdentity": identity, "userIds": count if not problems else None, "bytes": size,
        "reason": "; ".join(problems) if problems else None, "revision": 1,
    }
    if not problems:
        request[LEDGER_OPEN_FLAG] = LEDGER_OPEN
    groups = [] if problems else json.loads(os.environ[Env.TARGET_DATASET_GROUP_ARNS])
    request[LEDGER_TARGET_GROUPS] = groups
    existing = _register(request, groups)
    if existing is not None:
        return _not_registered(request, existing)

    record = ledger.refresh(request_id)
    assert record is not None
    ledger.announce(REQUEST_REJECTED_EVENT if problems else REQUEST_REGISTERED, [record.record])
    return {"registered": True, "requestId": request_id, "status": request["status"],
            "userIds": request["userIds"], "reason": request["reason"]}


def _version(head: dict[str, Any]) -> str | None:
    version = head.get("VersionId")
    return version if version and version != "null" else None


def _request_id(prefix: str, key: str, metadata: dict[str, str]) -> tuple[str, str | None]:
    given = metadata.get(REQUEST_ID_METADATA)
    derived = requests.request_id_from_key(prefix, key)
    if given is None:
        return derived, None
    problem = requests.request_id_problem(given)
    return (derived, problem) if problem else (given, None)


def _check(bucket: str, key: str, version: str | None, size: int) -> tuple[int, list[str]]:
    """The workflow's pre-flight of this object version, the queue's size limit, then every line, streamed."""
    _, problems = deletion_preflight.check(bucket, key, version)
    if problems:
        return 0, problems
    limit = int(os.environ[Env.MAX_BATCH_BYTES])
    if size > limit:
        return 0, [csv_rules.too_large(size, limit)]
    try:
        body = clients.client("s3").get_object(Bucket=bucket, Key=key, **({"VersionId": version} if version else {}))[
            "Body"]
    except ClientError as error:
        raise service_error(error, "GetObject") from None
    try:
        return csv_rules.body_problems(f"s3://{bucket}/{key}", iter(lambda: body.read(_CHUNK), b""))
    finally:
        body.close()


def _register(request: dict[str, Any], groups: list[str]) -> dict[str, Any] | None:
    """Put the request and its targets in one transaction, if the request ID is new; else the existing request."""
    new = "attribute_not_exists(pk)"
    items = [{"Put": {"TableName": ledger.table(), "Item": ledger.to_item(request), "ConditionExpression": new}}]
    for group in groups:
        target = {
            "pk": request["pk"], "sk": ledger.target_sk(group), "requestId": request["requestId"],
            "datasetGroupArn": group, "status": REQUEST_QUEUED, "attempts": 0, "receivedAt": request["receivedAt"],
            "bytes": request["bytes"], "bucket": request["bucket"], "key": request["key"],
            "versionId": request["versionId"], LEDGER_QUEUED_GROUP: group,
        }
        items.append({"Put": {"TableName": ledger.table(), "Item": ledger.to_item(target), "ConditionExpression": new}})
    try:
        ledger.dynamodb().transact_write_items(TransactItems=items)
        return None
    except ClientError as error:
        if error_code(error) != "TransactionCanceledException" or "ConditionalCheckFailed" not in \
                ledger.cancelled_codes(error):
            raise service_error(error, "TransactWriteItems") from None
    existing, _ = ledger.items_of(request["requestId"])
    if existing is None:  # cancelled for another reason that has since gone: let EventBridge deliver again
        raise RuntimeError(f"request {request['requestId']}: registration was cancelled; try again")
    return existing


def _not_registered(request: dict[str, Any], existing: dict[str, Any]) -> dict[str, Any]:
    if existing.get("objectIdentity") == request["objectIdentity"]:
        ledger.refresh(request["requestId"])  # a redelivery after a failed attempt still gets its record written
        return {"registered": False, "requestId": request["requestId"], "reason": "this object version is already "
                "registered (a repeated delivery)"}
    reason = (f"request ID {request['requestId']} is already registered for another object "
              f"(s3://{existing['bucket']}/{existing['key']}); this file was not queued")
    refused = {"requestId": request["requestId"], "reason": reason,
               "object": {k: v for k, v in (("bucket", request["bucket"]), ("key", request["key"]),
                                            ("versionId", request["versionId"])) if v},
               "registeredObject": {k: v for k, v in (("bucket", existing["bucket"]), ("key", existing["key"]),
                                                      ("versionId", existing.get("versionId"))) if v}}
    ledger.announce(REQUEST_REFUSED, [refused])
    return {"registered": False, "requestId": request["requestId"], "reason": reason}

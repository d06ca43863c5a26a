"""Pre-flight the user-ID data of a deletion: it exists, is readable and is well formed.

Reads only what it needs: the listing and HEAD of each file (sizes, and the
properties in ``jobkit.object_rules`` that keep Personalize from reading it),
then the first 2 KiB of each CSV file (the header and the first row). Never returns, logs or
puts into an error message any user ID or any other file content.
"""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import ClientError

from jobkit import clients, clock, csv_rules, object_rules
from jobkit.errors import error_code, service_error

#: Personalize's limit on the total size of a deletion job's input files.
MAX_TOTAL_BYTES = csv_rules.MAX_TOTAL_BYTES
#: Files this pre-flight reads when ``dataLocation`` is a folder.
MAX_FILES = 1000


@dataclass(frozen=True)
class DataSummary:
    objects: int
    total_bytes: int
    version_id: str | None = None  # the object version read, for a single file in a versioned bucket

    def as_dict(self) -> dict[str, int | str]:
        out: dict[str, int | str] = {"objects": self.objects, "bytes": self.total_bytes}
        if self.version_id:
            out["versionId"] = self.version_id
        return out


def check(bucket: str, key: str, version_id: str | None = None) -> tuple[DataSummary | None, list[str]]:
    """Summary of the data at ``s3://bucket/key`` and the problems found with it (of the object version
    ``version_id`` when given, for a single file: the deletion request queue's intake checks exactly the
    version it registers).

    First metadata only (the listing, and HEAD of each file: storage class, restore
    state, encryption, encoding, expiry; see ``jobkit.object_rules``); only when every
    file passes, the first bytes of each.
    """
    version = None
    if key.endswith("/"):
        objects, problems = _csv_files_under(bucket, key)
        heads = [] if problems else [_head(bucket, object_key) for object_key, _ in objects]
    else:
        head = _head(bucket, key, version_id)
        objects = [] if head.problems else [(key, head.size)]
        heads, problems, version = [head], [], head.version_id
    for head in heads:
        problems += head.problems
    if problems:
        return None, problems
    total = sum(size for _, size in objects)
    if total > MAX_TOTAL_BYTES:
        problems.append(csv_rules.too_large(total, MAX_TOTAL_BYTES))
    for object_key, size in objects:
        problems += _file_problems(bucket, object_key, size, version_id)
    return (None if problems else DataSummary(len(objects), total, version)), problems


@dataclass(frozen=True)
class _Head:
    size: int
    version_id: str | None
    problems: list[str]


def _versioned(version_id: str | None) -> dict[str, str]:
    return {"VersionId": version_id} if version_id else {}


def _head(bucket: str, key: str, version_id: str | None = None) -> _Head:
    """HEAD of one file: its size, version and the problems its metadata shows."""
    where = f"s3://{bucket}/{key}"
    try:
        head = clients.client("s3").head_object(Bucket=bucket, Key=key, **_versioned(version_id))
    except ClientError as error:
        return _Head(0, None, _refusal(error, where, "HeadObject"))
    version = head.get("VersionId")
    return _Head(int(head["ContentLength"]), version if version and version != "null" else None,
                 object_rules.problems(where, head, clock.now()))


def _refusal(error: ClientError, where: str, operation: str) -> list[str]:
    """What S3 refusing an object means for the input; raises when it is not about the input."""
    code = error_code(error)
    headers = error.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    found = object_rules.error_problems(where, code, headers, operation)
    if found is None:
        # HEAD errors have no body: name server errors as S3 does, so that the state machine retries them.
        raise service_error(error, operation, code=_HEAD_ERROR_NAMES.get(code)) from None
    return found


#: S3's error codes for the HTTP statuses a body-less HEAD error carries.
_HEAD_ERROR_NAMES = {"500": "InternalError", "503": "SlowDown"}


def _csv_files_under(bucket: str, prefix: str) -> tuple[list[tuple[str, int]], list[str]]:
    found: list[tuple[str, int]] = []
    pages = clients.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    try:
        for page in pages:
            for item in page.get("Contents", []):
                if item["Key"].endswith(".csv"):
                    found.append((item["Key"], int(item["Size"])))
                    if len(found) > MAX_FILES:
                        return [], [
                            f"s3://{bucket}/{prefix} holds more than {MAX_FILES} .csv files; split the request"
                        ]
    except ClientError as error:
        raise service_error(error, "ListObjectsV2") from None
    if not found:
        return [], [f"s3://{bucket}/{prefix} holds no .csv file (Personalize reads only files ending in .csv)"]
    return found, []


def _file_problems(bucket: str, key: str, size: int, version_id: str | None = None) -> list[str]:
    where = f"s3://{bucket}/{key}"
    if size == 0:
        return csv_rules.head_problems(where, b"", 0)
    try:
        body = clients.client("s3").get_object(
            Bucket=bucket, Key=key, Range=f"bytes=0-{csv_rules.HEAD_BYTES - 1}", **_versioned(version_id))["Body"]
    except ClientError as error:
        return _refusal(error, where, "GetObject")
    raw = body.read()
    body.close()
    return csv_rules.head_problems(where, raw, size)

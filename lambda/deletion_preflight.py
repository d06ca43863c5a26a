"""Pre-flight the user-ID data of a deletion: it exists, is readable and is well formed.

Reads only what it needs: object sizes from HEAD or the listing, and the first
2 KiB of each CSV file (the header and the first row). Never returns, logs or
puts into an error message any user ID or any other file content.
"""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import ClientError

from jobkit import clients, csv_rules
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
    ``version_id`` when given: the deletion request queue's intake checks exactly the version it registers)."""
    version = None
    if key.endswith("/"):
        objects, problems = _csv_files_under(bucket, key)
    else:
        objects, problems, version = _single_file(bucket, key, version_id)
    if problems:
        return None, problems
    total = sum(size for _, size in objects)
    if total > MAX_TOTAL_BYTES:
        problems.append(csv_rules.too_large(total, MAX_TOTAL_BYTES))
    for object_key, size in objects:
        problems += _file_problems(bucket, object_key, size, version_id)
    return (None if problems else DataSummary(len(objects), total, version)), problems


def _versioned(version_id: str | None) -> dict[str, str]:
    return {"VersionId": version_id} if version_id else {}


def _single_file(bucket: str, key: str, version_id: str | None = None
                 ) -> tuple[list[tuple[str, int]], list[str], str | None]:
    try:
        head = clients.client("s3").head_object(Bucket=bucket, Key=key, **_versioned(version_id))
    except ClientError as error:
        code = error_code(error)
        if code in ("404", "NoSuchKey", "NotFound"):
            return [], [f"s3://{bucket}/{key} does not exist"], None
        if code in ("403", "AccessDenied"):
            return [], [f"s3://{bucket}/{key} cannot be read (access denied)"], None
        raise service_error(error, "HeadObject") from None
    version = head.get("VersionId")
    return [(key, int(head["ContentLength"]))], [], (version if version and version != "null" else None)


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
        raise service_error(error, "GetObject") from None
    raw = body.read()
    body.close()
    return csv_rules.head_problems(where, raw, size)

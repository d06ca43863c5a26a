"""The S3 object properties that keep Personalize from reading a user-ID file. Pure, no I/O.

Input: an object's metadata as HeadObject returns it (boto3's keys: ``StorageClass``,
``Restore``, ``ArchiveStatus``, ``ServerSideEncryption``, ``SSECustomerAlgorithm``,
``ContentEncoding``, ``Expiration``, ``DeleteMarker``), or the error S3 answered a
HEAD or GET with. Output: one sentence per problem, naming the property and what
to do. Used by the deletion pre-flight on every file before any byte is read; the
operator CLI can use it on the same metadata. Sources: README, "What the pre-flight
checks". A file's size and first bytes are ``csv_rules``' business.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Mapping

#: How long the file must stay readable after the pre-flight: Personalize reads it when the job runs,
#: and "it can take up to a day" for a job to delete all references (CreateDataDeletionJob).
READ_WINDOW = timedelta(days=1)

#: Storage classes whose objects S3 refuses to GetObject until they are restored (InvalidObjectState).
ARCHIVE_CLASSES = {"GLACIER": "S3 Glacier Flexible Retrieval", "DEEP_ARCHIVE": "S3 Glacier Deep Archive"}
#: S3 Intelligent-Tiering tiers whose objects must be restored before GetObject (HEAD's ArchiveStatus).
ARCHIVE_TIERS = {"ARCHIVE_ACCESS": "Archive Access", "DEEP_ARCHIVE_ACCESS": "Deep Archive Access"}
#: Server-side encryption with a KMS key (SSE-KMS, DSSE-KMS): Personalize refuses it for deletion input.
KMS_ENCRYPTION = {"aws:kms": "SSE-KMS", "aws:kms:dsse": "DSSE-KMS"}
#: Content-Encoding values under which the stored bytes are the CSV itself.
PLAIN_ENCODINGS = {"", "identity", "aws-chunked"}

_REUPLOAD = "upload the CSV again as a plain object (no encryption headers, or SSE-S3 AES256) and start again"


def problems(where: str, head: Mapping[str, Any], now: datetime) -> list[str]:
    """Every property of the object ``where`` (HEAD metadata ``head``) that keeps Personalize from reading it."""
    if head.get("DeleteMarker"):
        return [f"{where} was deleted (its current version is a delete marker); upload the file again"]
    found = _archive_problems(where, head, now)
    encryption = str(head.get("ServerSideEncryption") or "")
    if encryption in KMS_ENCRYPTION:
        found.append(f"{where} is encrypted with {KMS_ENCRYPTION[encryption]} (x-amz-server-side-encryption "
                     f"{encryption}); Personalize cannot use a KMS key for data deletion input: {_REUPLOAD}")
    if head.get("SSECustomerAlgorithm"):
        found.append(_sse_c(where))
    encodings = [e.strip().lower() for e in str(head.get("ContentEncoding") or "").split(",")]
    coded = [e for e in encodings if e not in PLAIN_ENCODINGS]
    if coded:
        found.append(f"{where} is stored with Content-Encoding {', '.join(coded)}; Personalize reads the stored "
                     "bytes as they are, not decoded: upload the uncompressed CSV without Content-Encoding")
    expires = _expiry(head.get("Expiration"))
    if expires is not None and expires < now + READ_WINDOW:
        found.append(f"{where} expires by the bucket's lifecycle rule at {expires.isoformat()}, before Personalize "
                     "is sure to have read it; upload it again and start again")
    return found


def error_problems(where: str, code: str, headers: Mapping[str, str], operation: str) -> list[str] | None:
    """The problem with the object when S3 refused ``operation`` (HeadObject, GetObject) on it with
    ``code``; None when the error says nothing about the object (throttling, a server error)."""
    if code in ("404", "NoSuchKey", "NotFound"):
        if str(headers.get("x-amz-delete-marker", "")).lower() == "true":
            return problems(where, {"DeleteMarker": True}, datetime.max)
        return [f"{where} does not exist"]
    if code in ("403", "AccessDenied"):
        if operation == "HeadObject":  # HEAD needs no KMS permission: this is the bucket's or the object's policy
            return [f"{where} cannot be read (access denied)"]
        return [f"{where} cannot be read (access denied; an object encrypted with a KMS key answers so): {_REUPLOAD}"]
    if code in ("400", "InvalidRequest"):
        # S3's answer to a HEAD or GET without the key of an object encrypted with a customer-provided key.
        return [_sse_c(where)]
    if code == "InvalidObjectState":
        return [f"{where} is archived and S3 refuses to read it until it is restored; restore it (RestoreObject) "
                "or copy it to the STANDARD storage class, and start again"]
    return None


def _archive_problems(where: str, head: Mapping[str, Any], now: datetime) -> list[str]:
    storage = str(head.get("StorageClass") or "STANDARD")
    tier = str(head.get("ArchiveStatus") or "")
    if storage in ARCHIVE_CLASSES:
        what = f"in the {ARCHIVE_CLASSES[storage]} storage class ({storage})"
    elif tier in ARCHIVE_TIERS:
        what = f"in the S3 Intelligent-Tiering {ARCHIVE_TIERS[tier]} tier ({tier})"
    else:
        return []
    restore = str(head.get("Restore") or "")
    if 'ongoing-request="true"' in restore:
        return [f"{where} is {what} and its restore is still in progress; start again once it is restored"]
    if 'ongoing-request="false"' in restore:
        expires = _expiry(restore)
        if expires is None or expires >= now + READ_WINDOW:
            return []
        return [f"{where} is {what}; its restored copy expires at {expires.isoformat()}, before Personalize is "
                "sure to have read it: copy it to the STANDARD storage class and start again"]
    return [f"{where} is {what} and not restored; S3 refuses GetObject until it is: restore it (RestoreObject) "
            "or copy it to the STANDARD storage class, and start again"]


def _sse_c(where: str) -> str:
    return (f"{where} is encrypted with a customer-provided key (SSE-C), which neither Personalize nor this workflow "
            f"has; {_REUPLOAD}")


def _expiry(header: Any) -> datetime | None:
    """The ``expiry-date="..."`` of an ``x-amz-restore`` or ``x-amz-expiration`` header, if readable."""
    text = str(header or "")
    start = text.find('expiry-date="')
    if start < 0:
        return None
    value = text[start + len('expiry-date="'):].split('"', 1)[0]
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None

"""The data bucket's policy refuses user-ID files Personalize could not read, and only those.

The policy is read from the synthesized template and evaluated here for the Deny statements that
apply to s3:PutObject (the local emulator applies no bucket policy). The requests are the real ones:
botocore's serialised headers of each upload, captured against moto, turned into the condition keys
S3 evaluates (s3:x-amz-server-side-encryption, s3:x-amz-server-side-encryption-customer-algorithm,
s3:x-amz-storage-class, aws:SecureTransport). The uploads that must work include the operator
CLI's own (``Aws.upload``), the outcome reporter's audit records, and the deletion request queue's
request files, batch inputs and request records.
"""

from __future__ import annotations

import fnmatch
import io
import os
from typing import Any, Callable

import pytest

from cdk_ml_data_jobs import JobDataBucket
from cdk_ml_data_jobs.cli.aws import Aws

from .helpers import as_list, logical_id, render, resources

BUCKET = "job-data-bucket"
ARN = f"arn:aws:s3:::{BUCKET}"
UPLOAD_ACTIONS = {"PutObject", "CreateMultipartUpload", "CopyObject"}  # all authorised as s3:PutObject


@pytest.fixture(scope="module")
def deny_statements(synth_stack) -> list[dict]:
    synth = synth_stack("UploadPolicy", lambda stack: {"data": JobDataBucket(stack, "Data")})
    bucket_lid = logical_id(synth.parts["data"].bucket)
    data_policy = [r["Properties"] for r in resources(synth.json, "AWS::S3::BucketPolicy").values()
                   if r["Properties"]["Bucket"] == {"Ref": bucket_lid}]
    assert len(data_policy) == 1
    statements = as_list(data_policy[0]["PolicyDocument"]["Statement"])
    for statement in statements:
        statement["Resource"] = [_arn(render(r)) for r in as_list(statement.get("Resource"))]
    return [s for s in statements if s["Effect"] == "Deny"]


def _arn(rendered: str) -> str:
    """``${DataBucket….Arn}/deletions/*`` → ``arn:aws:s3:::job-data-bucket/deletions/*``."""
    if rendered.startswith("${") and ".Arn}" in rendered:
        return ARN + rendered[rendered.index(".Arn}") + len(".Arn}"):]
    return rendered


# --------------------------------------------------------------------------- a small, strict evaluator

def _condition_holds(operator: str, key: str, expected: Any, context: dict[str, str]) -> bool:
    values = [str(v).lower() for v in as_list(expected)]
    actual = context.get(key)
    if operator == "StringEquals":
        return actual is not None and actual in [str(v) for v in as_list(expected)]
    if operator == "Null":
        return (actual is None) == (values == ["true"])
    if operator == "Bool":
        return actual is not None and actual.lower() in values
    raise AssertionError(f"this evaluator does not know {operator}: extend it before trusting the test")


def denied_by(statements: list[dict], key: str, context: dict[str, str]) -> list[str]:
    """Sids of the Deny statements that refuse s3:PutObject of ``key`` in ``context``."""
    found = []
    for s in statements:
        if not any(fnmatch.fnmatchcase("s3:PutObject", a) for a in as_list(s["Action"])):
            continue
        if not any(fnmatch.fnmatchcase(f"{ARN}/{key}", r) for r in s["Resource"]):
            continue
        assert s.get("Principal") in ({"AWS": "*"}, "*"), s
        if all(_condition_holds(op, k, v, context) for op, pairs in s.get("Condition", {}).items()
               for k, v in pairs.items()):
            found.append(s.get("Sid", "?"))
    return found


# --------------------------------------------------------------------------- real requests' headers

@pytest.fixture(scope="module")
def captured():
    """Run an upload against moto and return the condition keys of each upload request it sent."""
    from moto import mock_aws

    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    with mock_aws():
        def run(upload: Callable[[Any], None]) -> list[dict[str, str]]:
            aws = Aws(region="us-east-1")
            client = aws.client("s3")
            if BUCKET not in [b["Name"] for b in client.list_buckets().get("Buckets", [])]:
                client.create_bucket(Bucket=BUCKET)
            contexts: list[dict[str, str]] = []

            def record(request, **_):
                contexts.append(_context(request))

            for name in UPLOAD_ACTIONS:
                client.meta.events.register_first(f"before-send.s3.{name}", record)
            upload(aws)
            assert contexts, "the upload sent no upload request"
            return contexts

        yield run
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _context(request: Any) -> dict[str, str]:
    headers = {k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
    context = {"aws:SecureTransport": "true" if request.url.startswith("https://") else "false"}
    for name in ("x-amz-server-side-encryption", "x-amz-server-side-encryption-customer-algorithm",
                 "x-amz-storage-class"):
        if name in headers:
            context[f"s3:{name}"] = headers[name]
    return context


def _put(key: str, **extra: Any) -> Callable[[Any], None]:
    return lambda aws: aws.client("s3").put_object(Bucket=BUCKET, Key=key, Body=b"USER_ID\nu1\n", **extra)


SSE_C = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": "k" * 32}  # botocore encodes it and adds the MD5

MUST_WORK = {
    "the operator CLI's upload": lambda aws: _cli_upload(aws),
    "plain PutObject": _put("deletions/users.csv"),
    "PutObject with SSE-S3 (AES256)": _put("deletions/users.csv", ServerSideEncryption="AES256"),
    "PutObject to STANDARD_IA": _put("deletions/users.csv", StorageClass="STANDARD_IA"),
    "PutObject to INTELLIGENT_TIERING": _put("deletions/users.csv", StorageClass="INTELLIGENT_TIERING"),
    "PutObject to GLACIER_IR": _put("deletions/users.csv", StorageClass="GLACIER_IR"),
    "a multipart upload": lambda aws: aws.client("s3").create_multipart_upload(Bucket=BUCKET, Key="deletions/big.csv"),
    "an audit record with SSE-KMS (outside the prefix)": _put("audit/data-deletion/x.json",
                                                              ServerSideEncryption="aws:kms"),
    "the outcome reporter's audit record": _put("audit/data-deletion/2026/11/23/req.json",
                                                ContentType="application/json"),
    "a deletion request with its request-id metadata (the queue's request prefix)": _put(
        "deletions/requests/ticket-1.csv", Metadata={"request-id": "ticket-1"}),
    "the batch run's merged input (batch_claim: upload_fileobj)": lambda aws: aws.client("s3").upload_fileobj(
        io.BytesIO(b"USER_ID\nu1\n"), BUCKET, "deletions/batches/b-1/part-0001.csv",
        ExtraArgs={"ContentType": "text/csv"}),
    "a request record (jobkit.ledger)": _put("audit/deletion-requests/ticket-1.json",
                                             ContentType="application/json"),
}
MUST_BE_REFUSED = {
    "SSE-KMS": (_put("deletions/users.csv", ServerSideEncryption="aws:kms"), "DenyKmsEncryptedUserIdFiles"),
    "SSE-KMS with a key id": (_put("deletions/a/users.csv", ServerSideEncryption="aws:kms",
                                   SSEKMSKeyId="arn:aws:kms:us-east-1:123456789012:key/k"),
                              "DenyKmsEncryptedUserIdFiles"),
    "DSSE-KMS": (_put("deletions/users.csv", ServerSideEncryption="aws:kms:dsse"), "DenyKmsEncryptedUserIdFiles"),
    "SSE-C": (_put("deletions/users.csv", **SSE_C), "DenyCustomerKeyUserIdFiles"),
    "GLACIER": (_put("deletions/users.csv", StorageClass="GLACIER"), "DenyArchivedUserIdFiles"),
    "DEEP_ARCHIVE": (_put("deletions/users.csv", StorageClass="DEEP_ARCHIVE"), "DenyArchivedUserIdFiles"),
    "a multipart upload with SSE-KMS": (lambda aws: aws.client("s3").create_multipart_upload(
        Bucket=BUCKET, Key="deletions/big.csv", ServerSideEncryption="aws:kms"), "DenyKmsEncryptedUserIdFiles"),
    "a copy into the prefix to DEEP_ARCHIVE": (lambda aws: (_put("staging/u.csv")(aws), aws.client("s3").copy_object(
        Bucket=BUCKET, Key="deletions/u.csv", CopySource={"Bucket": BUCKET, "Key": "staging/u.csv"},
        StorageClass="DEEP_ARCHIVE")), "DenyArchivedUserIdFiles"),
}


def _cli_upload(aws: Aws) -> None:
    """What ``ml-data-jobs delete-users`` does with the checked file (cli/aws.py)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "users.csv")
        with open(path, "wb") as handle:
            handle.write(b"USER_ID\nu1\n")
        aws.upload(path, BUCKET, "deletions/cli/2026-11-23/u.csv")


@pytest.mark.parametrize("case", sorted(MUST_WORK))
def test_uploads_that_must_work_are_not_refused(deny_statements, captured, case):
    for context in captured(MUST_WORK[case]):
        key = "deletions/x" if "audit" not in case else "audit/x"
        assert denied_by(deny_statements, key, context) == [], (case, context)


@pytest.mark.parametrize("case", sorted(MUST_BE_REFUSED))
def test_uploads_personalize_could_not_read_are_refused_under_the_prefix(deny_statements, captured, case):
    upload, sid = MUST_BE_REFUSED[case]
    contexts = captured(upload)
    uploads_into_prefix = contexts[-1]  # (a copy's source was put first, outside the prefix)
    assert denied_by(deny_statements, "deletions/users.csv", uploads_into_prefix) == [sid]
    assert denied_by(deny_statements, "audit/data-deletion/x.json", uploads_into_prefix) == []


def test_requests_without_tls_are_refused_anyway(deny_statements):
    assert denied_by(deny_statements, "audit/x", {"aws:SecureTransport": "false"})

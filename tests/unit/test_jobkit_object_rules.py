"""jobkit.object_rules: the S3 object properties that keep Personalize from reading a file (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from jobkit import object_rules

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=timezone.utc)
WHERE = "s3://bucket/deletions/users.csv"


def found(**head):
    return object_rules.problems(WHERE, head, NOW)


def http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


@pytest.mark.parametrize("head", [
    {},
    {"StorageClass": "STANDARD", "ServerSideEncryption": "AES256", "ContentLength": 10},
    {"StorageClass": "STANDARD_IA"}, {"StorageClass": "ONEZONE_IA"}, {"StorageClass": "GLACIER_IR"},
    {"StorageClass": "REDUCED_REDUNDANCY"}, {"StorageClass": "INTELLIGENT_TIERING"},
    {"ContentEncoding": "identity"}, {"ContentEncoding": "aws-chunked"}, {"ContentEncoding": ""},
    {"Expiration": f'expiry-date="{http_date(NOW + timedelta(days=13))}", rule-id="expire-user-id-files"'},
    {"DeleteMarker": False},
])
def test_a_plain_readable_object_has_no_problem(head):
    assert found(**head) == []


@pytest.mark.parametrize("storage, name", [("GLACIER", "S3 Glacier Flexible Retrieval"),
                                           ("DEEP_ARCHIVE", "S3 Glacier Deep Archive")])
def test_an_archived_object_that_is_not_restored(storage, name):
    [problem] = found(StorageClass=storage)
    assert problem.startswith(f"{WHERE} is in the {name} storage class ({storage}) and not restored")
    assert "RestoreObject" in problem and "STANDARD" in problem


@pytest.mark.parametrize("tier", ["ARCHIVE_ACCESS", "DEEP_ARCHIVE_ACCESS"])
def test_an_intelligent_tiering_archive_tier_that_is_not_restored(tier):
    [problem] = found(StorageClass="INTELLIGENT_TIERING", ArchiveStatus=tier)
    assert f"S3 Intelligent-Tiering" in problem and f"({tier})" in problem and "not restored" in problem


def test_a_restore_in_progress():
    [problem] = found(StorageClass="GLACIER", Restore='ongoing-request="true"')
    assert "restore is still in progress" in problem


def test_a_restored_copy_that_lasts_is_readable():
    restore = f'ongoing-request="false", expiry-date="{http_date(NOW + timedelta(days=3))}"'
    assert found(StorageClass="DEEP_ARCHIVE", Restore=restore) == []
    assert found(StorageClass="INTELLIGENT_TIERING", ArchiveStatus="ARCHIVE_ACCESS", Restore=restore) == []


def test_a_restored_copy_that_expires_within_a_day():
    restore = f'ongoing-request="false", expiry-date="{http_date(NOW + timedelta(hours=5))}"'
    [problem] = found(StorageClass="GLACIER", Restore=restore)
    assert "restored copy expires at 2026-11-23T12:00:00+00:00" in problem


@pytest.mark.parametrize("value, name", [("aws:kms", "SSE-KMS"), ("aws:kms:dsse", "DSSE-KMS")])
def test_kms_encryption(value, name):
    [problem] = found(ServerSideEncryption=value, SSEKMSKeyId="arn:aws:kms:us-east-1:1:key/k")
    assert f"encrypted with {name} (x-amz-server-side-encryption {value})" in problem
    assert "Personalize cannot use a KMS key" in problem and "AES256" in problem


def test_customer_provided_key():
    [problem] = found(SSECustomerAlgorithm="AES256", SSECustomerKeyMD5="x")
    assert "customer-provided key (SSE-C)" in problem


@pytest.mark.parametrize("encoding, named", [("gzip", "gzip"), ("br", "br"), ("gzip, aws-chunked", "gzip"),
                                             ("DEFLATE", "deflate")])
def test_a_compressed_object(encoding, named):
    [problem] = found(ContentEncoding=encoding)
    assert f"Content-Encoding {named};" in problem and "uncompressed" in problem


def test_an_object_the_lifecycle_rule_expires_within_a_day():
    expiration = f'expiry-date="{http_date(NOW + timedelta(hours=20))}", rule-id="expire-user-id-files"'
    [problem] = found(Expiration=expiration)
    assert "expires by the bucket's lifecycle rule at 2026-11-24T03:00:00+00:00" in problem


@pytest.mark.parametrize("header", ['expiry-date="not a date"', "garbage", 'expiry-date="'])
def test_an_unreadable_expiry_is_not_a_problem(header):
    assert found(Expiration=header) == []
    assert found(StorageClass="GLACIER", Restore=f'ongoing-request="false", {header}') == []


def test_every_problem_at_once():
    problems = found(StorageClass="GLACIER", ServerSideEncryption="aws:kms", SSECustomerAlgorithm="AES256",
                     ContentEncoding="gzip")
    assert len(problems) == 4


def test_a_delete_marker_is_the_only_problem():
    assert found(DeleteMarker=True, StorageClass="GLACIER") == [
        f"{WHERE} was deleted (its current version is a delete marker); upload the file again"]


@pytest.mark.parametrize("code, operation, expected", [
    ("404", "HeadObject", "does not exist"), ("NoSuchKey", "GetObject", "does not exist"),
    ("403", "HeadObject", "cannot be read (access denied)"),
    ("AccessDenied", "GetObject", "encrypted with a KMS key"),
    ("400", "HeadObject", "SSE-C"), ("InvalidRequest", "GetObject", "SSE-C"),
    ("InvalidObjectState", "GetObject", "is archived"),
])
def test_refusals_that_are_about_the_object(code, operation, expected):
    [problem] = object_rules.error_problems(WHERE, code, {}, operation)
    assert problem.startswith(WHERE) and expected in problem


def test_a_404_of_a_delete_marker():
    [problem] = object_rules.error_problems(WHERE, "404", {"x-amz-delete-marker": "true"}, "HeadObject")
    assert "delete marker" in problem


@pytest.mark.parametrize("code", ["500", "503", "SlowDown", "InternalError", "ServiceUnavailable", "412", ""])
def test_refusals_that_say_nothing_about_the_object(code):
    assert object_rules.error_problems(WHERE, code, {}, "HeadObject") is None

"""The pre-flight names every S3 object property that would keep Personalize from reading the file,
for a single file and for each .csv under a folder, before any job exists and without reading any byte.

moto keeps storage classes, restores, SSE-KMS/DSSE-KMS and Content-Encoding; SSE-C and Intelligent-Tiering
archive tiers are pretended by the harness (tests/harness/s3_pretend.py); delete markers are moto's.
"""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime

import pytest

from tests.e2e.conftest import GROUP, USER_IDS, audit_records, everything_emitted

BODY = ("USER_ID\n" + "\n".join(USER_IDS) + "\n").encode()


def _put(local, key, **extra):
    local.s3.put_object(Bucket=local.bucket(), Key=key, Body=BODY, **extra)
    return f"s3://{local.bucket()}/{key}"


def _sse_c(local, key):
    _put(local, key)
    local.s3_pretend.refuse(key, 400, "InvalidRequest")


def _it_archive(tier):
    def make(local, key):
        _put(local, key, StorageClass="INTELLIGENT_TIERING")
        local.s3_pretend.head(key, ArchiveStatus=tier)
    return make


def _pretended_head(storage, **head):
    """An object whose HEAD carries headers relative to the virtual clock (moto dates restores by the real one)."""
    def make(local, key):
        _put(local, key, **({"StorageClass": storage} if storage else {}))
        soon = format_datetime(local.clock.now() + timedelta(hours=3), usegmt=True)
        local.s3_pretend.head(key, **{name: value.replace("{soon}", soon) for name, value in head.items()})
    return make


def _deleted(local, key):
    _put(local, key)
    local.s3.delete_object(Bucket=local.bucket(), Key=key)  # the bucket is versioned: a delete marker


PROPERTIES = {
    "GLACIER": (lambda local, key: _put(local, key, StorageClass="GLACIER"), "(GLACIER) and not restored"),
    "DEEP_ARCHIVE": (lambda local, key: _put(local, key, StorageClass="DEEP_ARCHIVE"),
                     "(DEEP_ARCHIVE) and not restored"),
    "Intelligent-Tiering Archive Access": (_it_archive("ARCHIVE_ACCESS"), "(ARCHIVE_ACCESS) and not restored"),
    "Intelligent-Tiering Deep Archive Access": (_it_archive("DEEP_ARCHIVE_ACCESS"),
                                                "(DEEP_ARCHIVE_ACCESS) and not restored"),
    "restore in progress": (_pretended_head("GLACIER", Restore='ongoing-request="true"'),
                            "its restore is still in progress"),
    "restore expiring": (_pretended_head("DEEP_ARCHIVE", Restore='ongoing-request="false", expiry-date="{soon}"'),
                         "its restored copy expires at"),
    "lifecycle expiry": (_pretended_head(None, Expiration='expiry-date="{soon}", rule-id="expire-user-id-files"'),
                         "expires by the bucket's lifecycle rule"),
    "SSE-KMS": (lambda local, key: _put(local, key, ServerSideEncryption="aws:kms"), "encrypted with SSE-KMS"),
    "DSSE-KMS": (lambda local, key: _put(local, key, ServerSideEncryption="aws:kms:dsse"),
                 "encrypted with DSSE-KMS"),
    "SSE-C": (_sse_c, "customer-provided key (SSE-C)"),
    "gzip": (lambda local, key: _put(local, key, ContentEncoding="gzip"), "Content-Encoding gzip"),
}


def _rejected_before_any_job(local, ex, expected, key):
    assert (ex.status, ex.error) == ("FAILED", "InvalidInput"), ex.cause
    assert f"s3://{local.bucket()}/{key} " in ex.cause and expected in ex.cause
    assert local.personalize.calls_of("CreateDataDeletionJob") == []
    assert "user-7f3a9c-secret" not in everything_emitted(local, ex)
    [record] = audit_records(local)
    assert record["error"] == "InvalidInput"


@pytest.mark.parametrize("prop", sorted(PROPERTIES))
def test_a_single_file_with_the_property_is_rejected_by_name(local, prop):
    make, expected = PROPERTIES[prop]
    key = "deletions/2026-11/users.csv"
    make(local, key)

    ex = local.run("DataDeletion", {"datasetGroupArn": GROUP, "dataLocation": f"s3://{local.bucket()}/{key}"})

    _rejected_before_any_job(local, ex, expected, key)
    # The file is where it was: the pre-flight changes nothing.
    versions = local.s3.list_object_versions(Bucket=local.bucket(), Prefix=key)
    assert len(versions.get("Versions", [])) == 1


@pytest.mark.parametrize("prop", sorted(PROPERTIES))
def test_a_folder_member_with_the_property_is_rejected_by_name(local, prop):
    make, expected = PROPERTIES[prop]
    _put(local, "deletions/batch-3/good.csv")
    make(local, "deletions/batch-3/sub/bad.csv")

    folder = f"s3://{local.bucket()}/deletions/batch-3/"
    ex = local.run("DataDeletion", {"datasetGroupArn": GROUP, "dataLocation": folder})

    _rejected_before_any_job(local, ex, expected, "deletions/batch-3/sub/bad.csv")
    assert "good.csv" not in ex.cause


def test_a_deleted_file_is_named_as_deleted(local):
    key = "deletions/2026-11/users.csv"
    _deleted(local, key)

    ex = local.run("DataDeletion", {"datasetGroupArn": GROUP, "dataLocation": f"s3://{local.bucket()}/{key}"})

    assert (ex.status, ex.error) == ("FAILED", "InvalidInput")
    assert "its current version is a delete marker" in ex.cause


def test_a_restored_copy_that_lasts_is_deleted_from(local):
    key = "deletions/2026-11/users.csv"
    location = _put(local, key, StorageClass="DEEP_ARCHIVE")
    local.s3.restore_object(Bucket=local.bucket(), Key=key, RestoreRequest={"Days": 7})

    ex = local.run("DataDeletion", {"datasetGroupArn": GROUP, "dataLocation": location})

    assert ex.status == "SUCCEEDED", ex.cause
    assert len(local.personalize.calls_of("CreateDataDeletionJob")) == 1


def test_sse_s3_infrequent_access_and_intelligent_tiering_files_are_deleted_from(local):
    _put(local, "deletions/batch-4/a.csv", ServerSideEncryption="AES256")
    _put(local, "deletions/batch-4/b.csv", StorageClass="STANDARD_IA")
    _put(local, "deletions/batch-4/c.csv", StorageClass="INTELLIGENT_TIERING")
    _put(local, "deletions/batch-4/d.csv", StorageClass="GLACIER_IR", ContentType="text/csv")

    ex = local.run("DataDeletion", {"datasetGroupArn": GROUP,
                                    "dataLocation": f"s3://{local.bucket()}/deletions/batch-4/"})

    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output["inputData"]["objects"] == 4

"""deletion_preflight: object properties found from metadata only (HEAD, the listing), before any byte is read.

S3 in moto where moto keeps the property (storage class, restore, SSE-KMS, DSSE-KMS, Content-Encoding);
a stubbed S3 client for what moto does not model (SSE-C, Intelligent-Tiering archive tiers, delete
markers' headers, server errors).
"""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

import deletion_preflight
from jobkit.errors import InvalidInput
from tests.unit.test_handler_deletion_validate import BUCKET, GOOD_CSV, KEY, LOCATION, rejected, request, validate

FOLDER = "deletions/batch-9/"


@pytest.fixture
def reads(s3):
    """Names of the S3 read operations called (by the pre-flight: the test itself only writes), in order."""
    calls: list[str] = []

    def record(model, **_):
        if model.name in ("HeadObject", "GetObject", "ListObjectsV2"):
            calls.append(model.name)

    s3.meta.events.register("before-call.s3", record)
    yield calls
    s3.meta.events.unregister("before-call.s3", record)


@pytest.mark.parametrize("extra, expected", [
    ({"StorageClass": "GLACIER"}, "S3 Glacier Flexible Retrieval storage class (GLACIER) and not restored"),
    ({"StorageClass": "DEEP_ARCHIVE"}, "S3 Glacier Deep Archive storage class (DEEP_ARCHIVE) and not restored"),
    ({"ServerSideEncryption": "aws:kms"}, "encrypted with SSE-KMS"),
    ({"ServerSideEncryption": "aws:kms:dsse"}, "encrypted with DSSE-KMS"),
    ({"ContentEncoding": "gzip"}, "Content-Encoding gzip"),
])
def test_a_single_file_is_rejected_on_its_metadata_without_reading_it(s3, reads, extra, expected):
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=GOOD_CSV, **extra)

    [problem] = rejected(request()).problems

    assert problem.startswith(LOCATION) and expected in problem
    assert reads == ["HeadObject"]


def test_every_csv_of_a_folder_is_checked_on_its_metadata(s3, reads):
    s3.put_object(Bucket=BUCKET, Key=f"{FOLDER}a.csv", Body=GOOD_CSV, StorageClass="GLACIER")
    s3.put_object(Bucket=BUCKET, Key=f"{FOLDER}sub/b.csv", Body=GOOD_CSV, ServerSideEncryption="aws:kms")
    s3.put_object(Bucket=BUCKET, Key=f"{FOLDER}c.csv", Body=GOOD_CSV)
    s3.put_object(Bucket=BUCKET, Key=f"{FOLDER}ignored.txt", Body=b"x", StorageClass="DEEP_ARCHIVE")

    problems = rejected(request(dataLocation=f"s3://{BUCKET}/{FOLDER}")).problems

    assert len(problems) == 2
    assert f"s3://{BUCKET}/{FOLDER}a.csv is in the S3 Glacier Flexible Retrieval" in problems[0]
    assert f"s3://{BUCKET}/{FOLDER}sub/b.csv is encrypted with SSE-KMS" in problems[1]
    assert reads == ["ListObjectsV2", "HeadObject", "HeadObject", "HeadObject"]  # no GetObject at all


def test_a_restored_archive_copy_that_lasts_is_read(s3, reads):
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=GOOD_CSV, StorageClass="GLACIER")
    s3.restore_object(Bucket=BUCKET, Key=KEY, RestoreRequest={"Days": 5})

    assert validate(request())["inputData"]["objects"] == 1
    assert reads == ["HeadObject", "GetObject"]


def test_a_restored_archive_copy_that_expires_within_a_day_is_rejected(s3):
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=GOOD_CSV, StorageClass="DEEP_ARCHIVE")
    s3.restore_object(Bucket=BUCKET, Key=KEY, RestoreRequest={"Days": 1})

    [problem] = rejected(request()).problems

    assert "its restored copy expires at" in problem


def test_plain_and_sse_s3_objects_pass(s3):
    s3.put_object(Bucket=BUCKET, Key=f"{FOLDER}a.csv", Body=GOOD_CSV)
    s3.put_object(Bucket=BUCKET, Key=f"{FOLDER}b.csv", Body=GOOD_CSV, ServerSideEncryption="AES256",
                  StorageClass="STANDARD_IA", ContentType="text/csv")
    s3.put_object(Bucket=BUCKET, Key=f"{FOLDER}c.csv", Body=GOOD_CSV, StorageClass="INTELLIGENT_TIERING")

    assert validate(request(dataLocation=f"s3://{BUCKET}/{FOLDER}"))["inputData"]["objects"] == 3


# --- what moto does not model: a stubbed S3 client ---------------------------------------------------------


@pytest.fixture
def stubbed_s3(services):
    api = services.new_client("s3")
    stubber = Stubber(api)
    stubber.activate()
    services.clients["s3"], services.stubbers["s3"] = api, stubber
    return services


HEAD = {"Bucket": BUCKET, "Key": KEY}
GET = {"Bucket": BUCKET, "Key": KEY, "Range": "bytes=0-2047"}


def test_sse_c_answers_head_with_400(stubbed_s3):
    stubbed_s3.expect_error("s3", "head_object", "400", "Bad Request", HEAD, status=400)

    [problem] = rejected(request()).problems

    assert problem == (f"{LOCATION} is encrypted with a customer-provided key (SSE-C), which neither Personalize "
                       "nor this workflow has; upload the CSV again as a plain object (no encryption headers, or "
                       "SSE-S3 AES256) and start again")


@pytest.mark.parametrize("tier", ["ARCHIVE_ACCESS", "DEEP_ARCHIVE_ACCESS"])
def test_intelligent_tiering_archive_tiers(stubbed_s3, tier):
    stubbed_s3.expect("s3", "head_object", {"ContentLength": 20, "StorageClass": "INTELLIGENT_TIERING",
                                            "ArchiveStatus": tier}, HEAD)

    [problem] = rejected(request()).problems

    assert f"S3 Intelligent-Tiering" in problem and f"({tier}) and not restored" in problem


def test_a_delete_marker(stubbed_s3):
    stubbed_s3.stubbers["s3"].add_client_error(
        "head_object", service_error_code="404", service_message="Not Found", http_status_code=404,
        expected_params=HEAD, response_meta={"HTTPHeaders": {"x-amz-delete-marker": "true"}})

    assert rejected(request()).problems == [
        f"{LOCATION} was deleted (its current version is a delete marker); upload the file again"]


@pytest.mark.parametrize("status, name", [("503", "SlowDown"), ("500", "InternalError")])
def test_server_errors_of_head_are_named_so_that_they_are_retried(stubbed_s3, status, name):
    stubbed_s3.expect_error("s3", "head_object", status, "Service Unavailable", HEAD, status=int(status))

    with pytest.raises(Exception) as raised:
        validate(request())

    assert type(raised.value).__name__ == name and not isinstance(raised.value, InvalidInput)


@pytest.mark.parametrize("code, status, expected", [
    ("InvalidObjectState", 403, "is archived and S3 refuses to read it until it is restored"),
    ("AccessDenied", 403, "access denied; an object encrypted with a KMS key answers so"),
    ("InvalidRequest", 400, "SSE-C"),
    ("NoSuchKey", 404, "does not exist"),
])
def test_get_refusals_about_the_object_are_invalid_input(stubbed_s3, code, status, expected):
    stubbed_s3.expect("s3", "head_object", {"ContentLength": 20}, HEAD)
    stubbed_s3.expect_error("s3", "get_object", code, "refused", GET, status=status)

    [problem] = rejected(request()).problems

    assert problem.startswith(LOCATION) and expected in problem


@pytest.mark.parametrize("code", ["SlowDown", "InternalError", "ServiceUnavailable"])
def test_transient_get_errors_stay_named_for_retries(stubbed_s3, code):
    stubbed_s3.expect("s3", "head_object", {"ContentLength": 20}, HEAD)
    stubbed_s3.expect_error("s3", "get_object", code, "please slow down", GET, status=503)

    with pytest.raises(Exception) as raised:
        validate(request())

    assert type(raised.value).__name__ == code
    assert str(raised.value) == "GetObject: please slow down"


def test_listing_errors_stay_named(stubbed_s3):
    stubbed_s3.expect_error("s3", "list_objects_v2", "SlowDown", "slow", {"Bucket": BUCKET, "Prefix": FOLDER},
                            status=503)

    with pytest.raises(Exception) as raised:
        validate(request(dataLocation=f"s3://{BUCKET}/{FOLDER}"))

    assert type(raised.value).__name__ == "SlowDown"


def test_the_preflight_module_reads_no_content_when_metadata_fails(stubbed_s3):
    stubbed_s3.expect("s3", "head_object", {"ContentLength": 20, "ServerSideEncryption": "aws:kms"}, HEAD)

    summary, problems = deletion_preflight.check(BUCKET, KEY)

    assert summary is None and len(problems) == 1  # the stubber would fail on an unexpected GetObject

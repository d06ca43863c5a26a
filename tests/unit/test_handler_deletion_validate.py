"""deletion_validate (and deletion_preflight): input rules and the S3 pre-flight, S3 in moto.

Validation reads only Personalize's service model. A Personalize client handed
out through ``jobkit.clients.client`` would be a Stubber with nothing queued, so
any Personalize call would fail the test.
"""

from __future__ import annotations

import json

import pytest

import deletion_preflight
import deletion_validate
from jobkit import names
from jobkit.errors import InvalidInput

BUCKET = "job-data-bucket"
GROUP = "arn:aws:personalize:us-east-1:123456789012:dataset-group/retail"
KEY = "deletions/batch-1/users.csv"
LOCATION = f"s3://{BUCKET}/{KEY}"
SECRET_IDS = ("user-secret-123", "user-secret-456", "user-secret-789")
GOOD_CSV = b"USER_ID\nuser-secret-123\nuser-secret-456\n"


def put(s3, key: str, body: bytes) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def validate(data, execution_name: str = "exec-1"):
    result = deletion_validate.handler({"input": data, "executionName": execution_name}, None)
    assert_private(json.dumps(result))
    return result


def request(**overrides):
    data = {"datasetGroupArn": GROUP, "dataLocation": LOCATION, "jobName": "erasure-1"}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def assert_private(text: str) -> None:
    for user_id in SECRET_IDS:
        assert user_id not in text, "a user ID leaked"


def rejected(data, execution_name: str = "exec-1") -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        validate(data, execution_name)
    assert type(caught.value).__name__ == "InvalidInput"
    assert_private(str(caught.value))
    return caught.value


@pytest.fixture(autouse=True)
def _stubbed_personalize(services):
    """Validation must make no Personalize call: the stubber has nothing queued."""
    services.stubber("personalize")
    yield
    assert set(services.requested) <= {"personalize", "s3"}


# --- happy paths ---------------------------------------------------------------------------------


def test_single_file(s3, services):
    put(s3, KEY, GOOD_CSV)
    result = validate(request())
    assert result == {
        "datasetGroupArn": GROUP,
        "dataLocation": LOCATION,
        "jobName": "erasure-1",
        "inputData": {"objects": 1, "bytes": len(GOOD_CSV)},
    }
    assert_private(json.dumps(result))
    services.assert_done()


def test_single_file_with_tags(s3):
    put(s3, KEY, GOOD_CSV)
    tags = [{"tagKey": "team", "tagValue": "privacy"}, {"tagKey": "ticket", "tagValue": "GDPR-42"}]
    result = validate(request(tags=tags))
    assert result["tags"] == tags


def test_empty_tags_are_dropped_even_when_tags_are_not_allowed(s3, monkeypatch):
    monkeypatch.setenv("TAGS_ALLOWED", "false")
    put(s3, KEY, GOOD_CSV)
    result = validate(request(tags=[]))
    assert "tags" not in result


def test_crlf_line_endings(s3):
    put(s3, KEY, b"USER_ID\r\nuser-secret-123\r\n")
    assert validate(request())["inputData"] == {"objects": 1, "bytes": 26}


def test_last_line_without_newline(s3):
    put(s3, KEY, b"USER_ID\nuser-secret-123")
    assert validate(request())["inputData"]["objects"] == 1


def test_folder_with_csv_files_and_an_ignored_non_csv_file(s3):
    files = {
        "deletions/batch-2/a.csv": b"USER_ID\nuser-secret-123\n",
        "deletions/batch-2/b.csv": b"USER_ID\nuser-secret-456\nuser-secret-789\n",
        "deletions/batch-2/sub/c.csv": b"USER_ID\nuser-secret-789\n",
    }
    for key, body in files.items():
        put(s3, key, body)
    put(s3, "deletions/batch-2/README.txt", b"not a csv: user-secret-123, no header at all")
    put(s3, "deletions/batch-2/raw.csv.gz", b"\x1f\x8b garbage")
    put(s3, "deletions/batch-3/other.csv", b"garbage next door")  # another folder: not read
    location = f"s3://{BUCKET}/deletions/batch-2/"
    result = validate(request(dataLocation=location))
    assert result["dataLocation"] == location
    assert result["inputData"] == {"objects": 3, "bytes": sum(len(b) for b in files.values())}
    assert_private(json.dumps(result))


def test_whole_prefix_as_folder(s3):
    put(s3, "deletions/x.csv", GOOD_CSV)
    result = validate(request(dataLocation=f"s3://{BUCKET}/deletions/"))
    assert result["inputData"] == {"objects": 1, "bytes": len(GOOD_CSV)}


def test_job_name_derived_from_the_execution_name(s3):
    put(s3, KEY, GOOD_CSV)
    execution = "2026-11-23T07:00:00.000Z_erasure:batch 1"
    result = validate(request(jobName=None), execution_name=execution)
    assert result["jobName"] == names.personalize_job_name(execution)
    assert len(result["jobName"]) <= 63
    assert not set(result["jobName"]) & {".", ":", " "}


def test_valid_job_name_from_the_execution_name_is_kept(s3):
    put(s3, KEY, GOOD_CSV)
    assert validate(request(jobName=None), execution_name="erasure-42")["jobName"] == "erasure-42"


def test_multibyte_character_cut_by_the_2kib_read_is_not_an_encoding_error(s3):
    head = b"USER_ID\nuser-secret-123\n"
    body = head + b"x" * (2047 - len(head)) + "é".encode() + b"\nmore\n"  # 'é' straddles byte 2048
    assert len(body[:2048].decode("utf-8", errors="ignore").encode()) == 2047
    put(s3, KEY, body)
    assert validate(request())["inputData"] == {"objects": 1, "bytes": len(body)}


def test_the_input_object_is_untouched(s3):
    put(s3, KEY, GOOD_CSV)
    before = s3.head_object(Bucket=BUCKET, Key=KEY)
    keys_before = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    validate(request())
    after = s3.head_object(Bucket=BUCKET, Key=KEY)
    assert after["ETag"] == before["ETag"]
    assert after["ContentLength"] == before["ContentLength"]
    assert after["LastModified"] == before["LastModified"]
    assert s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == GOOD_CSV
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]] == keys_before


# --- input rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value, kind", [(["not", "an", "object"], "a list"), (None, "null"), ("x", "a string"),
                                         (3, "a number"), (2.5, "a number"), (True, "true or false")])
def test_input_must_be_an_object(s3, value, kind):
    [problem] = rejected(value).problems
    assert problem.startswith("the execution input must be a JSON object such as {\"datasetGroupArn\": ")
    assert problem.endswith(f"; it is {kind}")


def test_missing_fields(s3):
    problems = rejected({}).problems
    assert problems == ["datasetGroupArn is required", "dataLocation is required"]


def test_unknown_field(s3):
    put(s3, KEY, GOOD_CSV)
    problems = rejected(request(colour="blue")).problems
    assert problems == ["colour is not a known field (known: datasetGroupArn, dataLocation, jobName, tags)"]


@pytest.mark.parametrize("arn", [
    "arn:aws:personalize:us-east-1:123456789012:solution/retail",
    "arn:aws:personalize:us-east-1:1234:dataset-group/retail",
    "arn:aws:s3:::job-data-bucket",
])
def test_not_a_dataset_group_arn(s3, arn):
    put(s3, KEY, GOOD_CSV)
    problems = rejected(request(datasetGroupArn=arn)).problems
    assert any(p.startswith("datasetGroupArn must be a dataset group ARN") for p in problems)


def test_not_an_arn_at_all(s3):
    put(s3, KEY, GOOD_CSV)
    problems = rejected(request(datasetGroupArn="retail")).problems
    assert any(p.startswith("datasetGroupArn must match the pattern") for p in problems)
    assert any(p.startswith("datasetGroupArn must be a dataset group ARN") for p in problems)


def test_dataset_group_in_another_region(s3, monkeypatch):
    monkeypatch.setenv("ALLOWED_DATASET_GROUP_ARNS", '["*"]')
    put(s3, KEY, GOOD_CSV)
    other = "arn:aws:personalize:eu-west-1:123456789012:dataset-group/retail"
    problems = rejected(request(datasetGroupArn=other)).problems
    assert problems == ["datasetGroupArn is in Region eu-west-1; this workflow runs in us-east-1"]


def test_dataset_group_not_allowed(s3, monkeypatch):
    monkeypatch.setenv("ALLOWED_DATASET_GROUP_ARNS", json.dumps([GROUP, "arn:aws:personalize:*:*:dataset-group/eu-*"]))
    put(s3, KEY, GOOD_CSV)
    other = "arn:aws:personalize:us-east-1:123456789012:dataset-group/marketing"
    problems = rejected(request(datasetGroupArn=other)).problems
    assert problems == ["datasetGroupArn is not one of the dataset groups this workflow may delete from"]


def test_dataset_group_allowed_by_pattern(s3, monkeypatch):
    monkeypatch.setenv("ALLOWED_DATASET_GROUP_ARNS", '["arn:aws:personalize:*:*:dataset-group/ret*"]')
    put(s3, KEY, GOOD_CSV)
    assert validate(request())["datasetGroupArn"] == GROUP


@pytest.mark.parametrize("job_name, message", [
    ("bad name!", "jobName must match the pattern"),
    ("-x", "jobName must match the pattern"),
    ("a.b", "jobName must match the pattern"),
    ("x" * 64, "jobName must have at most 63 characters (has 64)"),
    ("", "jobName must have at least 1 characters"),
])
def test_bad_job_name(s3, job_name, message):
    put(s3, KEY, GOOD_CSV)
    problems = rejected(request(jobName=job_name)).problems
    assert any(p.startswith(message) for p in problems), problems


def test_too_many_tags(s3):
    put(s3, KEY, GOOD_CSV)
    tags = [{"tagKey": f"k{i}", "tagValue": "v"} for i in range(201)]
    assert rejected(request(tags=tags)).problems == ["tags must have at most 200 items (has 201)"]


def test_malformed_tags(s3):
    put(s3, KEY, GOOD_CSV)
    problems = rejected(request(tags=[{"tagKey": "k"}, {"key": "x", "tagValue": "v"}])).problems
    assert "tags[1].tagKey is required" in problems
    assert "tags[1].key is not a known field" in problems


def test_tags_when_tags_are_not_allowed(s3, monkeypatch):
    monkeypatch.setenv("TAGS_ALLOWED", "false")
    put(s3, KEY, GOOD_CSV)
    problems = rejected(request(tags=[{"tagKey": "team", "tagValue": "privacy"}])).problems
    assert problems == ["tags are not allowed by this workflow (it was deployed with allow_tags=False)"]


def test_data_location_in_another_bucket(s3):
    problems = rejected(request(dataLocation="s3://someone-elses-bucket/deletions/users.csv")).problems
    assert problems == ["dataLocation must be in this workflow's bucket job-data-bucket"]


def test_data_location_outside_the_prefix(s3):
    put(s3, "exports/users.csv", GOOD_CSV)
    problems = rejected(request(dataLocation=f"s3://{BUCKET}/exports/users.csv")).problems
    assert problems == ["dataLocation must be under s3://job-data-bucket/deletions/ (Personalize may read only there)"]


@pytest.mark.parametrize("key", ["deletions/users.txt", "deletions/users.CSV.gz", "deletions/batch"])
def test_data_location_not_a_csv_or_folder(s3, key):
    problems = rejected(request(dataLocation=f"s3://{BUCKET}/{key}")).problems
    assert "dataLocation must name a .csv file or a folder ending in /" in problems


@pytest.mark.parametrize("location", ["https://example.com/users.csv", "s3://", "job-data-bucket/deletions/a.csv"])
def test_data_location_not_an_s3_uri(s3, location):
    problems = rejected(request(dataLocation=location)).problems
    assert "dataLocation must be s3://job-data-bucket/deletions/... (a .csv file or a folder ending in /)" in problems


def test_data_location_too_long(s3):
    location = f"s3://{BUCKET}/deletions/" + "a" * 230 + ".csv"
    assert len(location) > 256
    problems = rejected(request(dataLocation=location)).problems
    assert problems == [f"dataLocation must have at most 256 characters (has {len(location)})"]


def test_data_location_at_the_length_limit_is_accepted(s3):
    location = f"s3://{BUCKET}/deletions/" + "a" * (256 - len(f"s3://{BUCKET}/deletions/") - 4) + ".csv"
    assert len(location) == 256
    put(s3, location[len(f"s3://{BUCKET}/"):], GOOD_CSV)
    assert validate(request(dataLocation=location))["dataLocation"] == location


def test_data_location_not_a_string(s3):
    problems = rejected(request(dataLocation=["s3://job-data-bucket/deletions/a.csv"])).problems
    assert problems == ["dataLocation must be a string"]


def test_several_problems_reported_at_once_and_no_data_read(s3):
    data = {
        "datasetGroupArn": "arn:aws:personalize:eu-west-1:123456789012:dataset-group/retail",
        "dataLocation": f"s3://{BUCKET}/elsewhere/missing.txt",
        "jobName": "bad name!",
        "tags": [{"tagKey": f"k{i}", "tagValue": "v"} for i in range(201)],
        "colour": "blue",
    }
    exc = rejected(data)
    problems = exc.problems
    assert "colour is not a known field (known: datasetGroupArn, dataLocation, jobName, tags)" in problems
    assert any("Region eu-west-1" in p for p in problems)
    assert any(p.startswith("jobName must match the pattern") for p in problems)
    assert "tags must have at most 200 items (has 201)" in problems
    assert any(p.startswith("dataLocation must be under") for p in problems)
    assert "dataLocation must name a .csv file or a folder ending in /" in problems
    assert not any("does not exist" in p for p in problems)  # the pre-flight did not run
    assert str(exc).startswith(f"Input rejected, {len(problems)} problems: (1) ")


# --- pre-flight of the data ----------------------------------------------------------------------


def test_missing_object(s3):
    problems = rejected(request()).problems
    assert problems == [f"s3://{BUCKET}/{KEY} does not exist"]


def test_empty_file(s3):
    put(s3, KEY, b"")
    problems = rejected(request()).problems
    assert problems == [f"s3://{BUCKET}/{KEY} is empty; it needs a USER_ID header and at least one user ID"]


@pytest.mark.parametrize("body", [b"USER_ID", b"USER_ID\n", b"USER_ID\r\n", b"USER_ID\n\n"])
def test_header_only(s3, body):
    put(s3, KEY, body)
    problems = rejected(request()).problems
    assert problems == [f"s3://{BUCKET}/{KEY} has no user ID after its USER_ID header"]


def test_wrong_header_is_not_echoed(s3):
    put(s3, KEY, b"customer_reference\nuser-secret-123\n")
    exc = rejected(request())
    assert exc.problems == [
        f"s3://{BUCKET}/{KEY} must start with the header line USER_ID "
        "(its first line is 18 characters of something else)"
    ]
    assert "customer_reference" not in str(exc)


def test_missing_header_does_not_echo_the_first_user_id(s3):
    put(s3, KEY, b"user-secret-123\nuser-secret-456\n")
    exc = rejected(request())
    assert "must start with the header line USER_ID" in str(exc)
    assert_private(str(exc))


def test_byte_order_mark(s3):
    put(s3, KEY, b"\xef\xbb\xbfUSER_ID\nuser-secret-123\n")
    problems = rejected(request()).problems
    assert problems == [f"s3://{BUCKET}/{KEY} starts with a UTF-8 byte-order mark; save it as UTF-8 without BOM"]


@pytest.mark.parametrize("body", [b"USER_ID,EMAIL\nuser-secret-123,a@example.com\n",
                                  b"user_id, ITEM_ID\nuser-secret-123,i1\n"])
def test_two_columns(s3, body):
    put(s3, KEY, body)
    exc = rejected(request())
    assert exc.problems == [f"s3://{BUCKET}/{KEY} must have a single USER_ID column"]
    assert "EMAIL" not in str(exc) and "a@example.com" not in str(exc)


def test_not_utf8(s3):
    put(s3, KEY, b"USER_ID\n\xff\xfeuser-secret-123\nuser-secret-456\n")
    problems = rejected(request()).problems
    assert problems == [f"s3://{BUCKET}/{KEY} is not UTF-8 text"]


@pytest.mark.parametrize("tail", [b"\xc3", b"\xe2\x82", b"\xff"], ids=["lone-lead-byte", "cut-3-byte", "ff"])
def test_not_utf8_at_the_very_end_of_a_file_read_whole(s3, tail):
    """A file shorter than the 2 KiB read was read whole: a broken last character was not cut by the range."""
    body = b"USER_ID\nuser-secret-123\nuser-secret-456" + tail
    assert len(body) < 2048
    put(s3, KEY, body)
    problems = rejected(request()).problems
    assert problems == [f"s3://{BUCKET}/{KEY} is not UTF-8 text"]


def test_folder_with_no_csv(s3):
    put(s3, "deletions/batch-4/users.txt", GOOD_CSV)
    put(s3, "deletions/batch-4/users.tsv", GOOD_CSV)
    problems = rejected(request(dataLocation=f"s3://{BUCKET}/deletions/batch-4/")).problems
    assert problems == [
        f"s3://{BUCKET}/deletions/batch-4/ holds no .csv file (Personalize reads only files ending in .csv)"
    ]


def test_empty_folder(s3):
    problems = rejected(request(dataLocation=f"s3://{BUCKET}/deletions/nothing-here/")).problems
    assert len(problems) == 1 and "holds no .csv file" in problems[0]


def test_folder_reports_each_bad_file_by_name(s3):
    put(s3, "deletions/batch-5/good.csv", GOOD_CSV)
    put(s3, "deletions/batch-5/empty.csv", b"")
    put(s3, "deletions/batch-5/noheader.csv", b"user-secret-789\n")
    problems = rejected(request(dataLocation=f"s3://{BUCKET}/deletions/batch-5/")).problems
    assert len(problems) == 2
    assert any(p.startswith(f"s3://{BUCKET}/deletions/batch-5/empty.csv is empty") for p in problems)
    assert any(p.startswith(f"s3://{BUCKET}/deletions/batch-5/noheader.csv must start with") for p in problems)
    assert not any("good.csv" in p for p in problems)


def test_total_size_limit_single_file(s3, monkeypatch):
    monkeypatch.setattr(deletion_preflight, "MAX_TOTAL_BYTES", 30)
    put(s3, KEY, GOOD_CSV)  # 40 bytes
    problems = rejected(request()).problems
    assert problems == [f"the user-ID data is {len(GOOD_CSV)} bytes; Personalize accepts at most 30 bytes per job"]


def test_total_size_limit_counts_every_file_of_a_folder(s3, monkeypatch):
    monkeypatch.setattr(deletion_preflight, "MAX_TOTAL_BYTES", 50)
    put(s3, "deletions/batch-6/a.csv", b"USER_ID\nuser-secret-123\n")  # 24 bytes
    put(s3, "deletions/batch-6/b.csv", b"USER_ID\nuser-secret-456\n")  # 24 bytes
    put(s3, "deletions/batch-6/c.csv", b"USER_ID\nuser-secret-789\n")  # 24 bytes
    problems = rejected(request(dataLocation=f"s3://{BUCKET}/deletions/batch-6/")).problems
    assert problems == ["the user-ID data is 72 bytes; Personalize accepts at most 50 bytes per job"]


def test_total_size_at_the_limit_is_accepted(s3, monkeypatch):
    monkeypatch.setattr(deletion_preflight, "MAX_TOTAL_BYTES", len(GOOD_CSV))
    put(s3, KEY, GOOD_CSV)
    assert validate(request())["inputData"]["bytes"] == len(GOOD_CSV)


def test_default_size_limit_is_personalizes_100_mb():
    assert deletion_preflight.MAX_TOTAL_BYTES == 100 * 1024 * 1024


def test_too_many_files_in_a_folder(s3, monkeypatch):
    monkeypatch.setattr(deletion_preflight, "MAX_FILES", 2)
    for i in range(3):
        put(s3, f"deletions/batch-7/{i}.csv", GOOD_CSV)
    problems = rejected(request(dataLocation=f"s3://{BUCKET}/deletions/batch-7/")).problems
    assert problems == [f"s3://{BUCKET}/deletions/batch-7/ holds more than 2 .csv files; split the request"]


def test_access_denied_on_the_object(services):
    """moto does not enforce permissions: this one case uses a stubbed S3 client."""
    from botocore.stub import Stubber

    api = services.new_client("s3")
    stubber = Stubber(api)
    stubber.activate()
    services.clients["s3"], services.stubbers["s3"] = api, stubber
    services.expect_error("s3", "head_object", "403", "Forbidden", {"Bucket": BUCKET, "Key": KEY}, status=403)
    problems = rejected(request()).problems
    assert problems == [f"s3://{BUCKET}/{KEY} cannot be read (access denied)"]
    services.assert_done()

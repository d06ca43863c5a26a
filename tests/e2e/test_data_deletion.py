"""Data deletion workflow, executed end to end."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import GROUP, USER_IDS, everything_emitted
from tests.harness.fakes import JobPlan

MACHINE = "DataDeletion"


def _input(location: str, **extra):
    return {"datasetGroupArn": GROUP, "dataLocation": location, **extra}


def test_happy_path_reports_records_deleted(local):
    location = local.put_csv("deletions/2026-11/users.csv", USER_IDS)
    local.personalize.default_plan = JobPlan(duration=45 * 60, num_deleted=17)

    ex = local.run(MACHINE, _input(location, tags=[{"tagKey": "team", "tagValue": "privacy"}]), name="req-2026-11-23")

    assert ex.status == "SUCCEEDED", ex.cause
    out = ex.output
    assert out["status"] == "COMPLETED"
    assert out["numDeleted"] == 17
    assert out["jobName"] == "req-2026-11-23"
    assert out["datasetGroupArn"] == GROUP and out["dataLocation"] == location
    assert out["dataDeletionJobArn"].endswith(":data-deletion-job/req-2026-11-23")
    assert out["creationDateTime"] == "2026-11-23T00:00:00Z"
    assert out["lastUpdatedDateTime"].endswith("Z")
    version = local.s3.head_object(Bucket=local.bucket(), Key="deletions/2026-11/users.csv")["VersionId"]
    assert out["inputData"] == {"objects": 1, "bytes": len(("USER_ID\n" + "\n".join(USER_IDS) + "\n").encode()),
                                "versionId": version}
    creates = local.personalize.calls_of("CreateDataDeletionJob")
    assert len(creates) == 1
    params = creates[0].params
    assert params["roleArn"] == local.functions_env("DataDeletion/Launch")["DATA_ACCESS_ROLE_ARN"]
    assert params["roleArn"].startswith("arn:aws:iam::123456789012:role/")
    assert params["tags"] == [{"tagKey": "team", "tagValue": "privacy"}]
    assert USER_IDS[0] not in everything_emitted(local, ex)


def test_folder_location_reads_every_csv_below_it(local):
    local.put_csv("deletions/batch-7/a.csv", USER_IDS[:2])
    local.put_csv("deletions/batch-7/sub/b.csv", USER_IDS[2:])
    local.s3.put_object(Bucket=local.bucket(), Key="deletions/batch-7/readme.txt", Body=b"not user ids")
    location = f"s3://{local.bucket()}/deletions/batch-7/"

    ex = local.run(MACHINE, _input(location))

    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output["inputData"]["objects"] == 2
    assert local.personalize.calls_of("CreateDataDeletionJob")[0].params["dataSource"] == {"dataLocation": location}


def test_job_failure_carries_the_failure_reason_verbatim(local):
    location = local.put_csv("deletions/users.csv", USER_IDS)
    reason = "Dataset group arn:...:dataset-group/shop is not ACTIVE: status CREATE FAILED (see console)"
    local.personalize.default_plan = JobPlan(duration=600, outcome="failure", failure_reason=reason)

    ex = local.run(MACHINE, _input(location))

    assert ex.status == "FAILED"
    assert ex.error == "DataDeletionJobFailed"
    cause = ex.cause_json()
    assert cause["failureReason"] == reason
    assert cause["status"] == "FAILED"
    assert cause["dataDeletionJobArn"].startswith("arn:aws:personalize:")


BAD_INPUTS = {
    "missing dataset group": ({"dataLocation": "{loc}"}, "datasetGroupArn is required"),
    "not a dataset group ARN": ({"datasetGroupArn": "arn:aws:personalize:us-east-1:123456789012:solution/x",
                                 "dataLocation": "{loc}"}, "dataset group ARN"),
    "another Region": ({"datasetGroupArn": GROUP.replace("us-east-1", "eu-west-1"), "dataLocation": "{loc}"},
                       "Region eu-west-1"),
    "bad job name": ({"datasetGroupArn": GROUP, "dataLocation": "{loc}", "jobName": "nightly run!"}, "jobName"),
    "job name too long": ({"datasetGroupArn": GROUP, "dataLocation": "{loc}", "jobName": "j" * 64},
                          "at most 63 characters"),
    "too many tags": ({"datasetGroupArn": GROUP, "dataLocation": "{loc}",
                       "tags": [{"tagKey": f"k{i}", "tagValue": "v"} for i in range(201)]}, "at most 200 items"),
    "unknown field": ({"datasetGroupArn": GROUP, "dataLocation": "{loc}", "roleArn": "arn:aws:iam::1:role/x"},
                      "roleArn is not a known field"),
    "other bucket": ({"datasetGroupArn": GROUP, "dataLocation": "s3://someone-elses-bucket/deletions/u.csv"},
                     "this workflow's bucket"),
    "outside the prefix": ({"datasetGroupArn": GROUP, "dataLocation": "s3://{bucket}/uploads/users.csv"},
                           "must be under"),
    "not a csv": ({"datasetGroupArn": GROUP, "dataLocation": "s3://{bucket}/deletions/users.json"}, ".csv file"),
    "location too long": ({"datasetGroupArn": GROUP,
                           "dataLocation": "s3://{bucket}/deletions/" + "d" * 240 + ".csv"}, "at most 256"),
    "missing object": ({"datasetGroupArn": GROUP, "dataLocation": "s3://{bucket}/deletions/nope.csv"},
                       "does not exist"),
    "empty folder": ({"datasetGroupArn": GROUP, "dataLocation": "s3://{bucket}/deletions/empty/"}, "no .csv file"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_rejected_before_any_job_and_the_file_stays(local, case):
    location = local.put_csv("deletions/2026-11/users.csv", USER_IDS)
    before = local.s3.get_object(Bucket=local.bucket(), Key="deletions/2026-11/users.csv")
    raw, expected = BAD_INPUTS[case]
    payload = json.loads(json.dumps(raw).replace("{loc}", location).replace("{bucket}", local.bucket()))

    ex = local.run(MACHINE, payload)

    assert ex.status == "FAILED"
    assert ex.error == "InvalidInput"
    assert expected in ex.cause
    assert "stackTrace" not in ex.cause and "Traceback" not in ex.cause
    assert local.personalize.calls_of("CreateDataDeletionJob") == []
    after = local.s3.get_object(Bucket=local.bucket(), Key="deletions/2026-11/users.csv")
    assert after["ETag"] == before["ETag"] and after["Body"].read() == before["Body"].read()
    versions = local.s3.list_object_versions(Bucket=local.bucket(), Prefix="deletions/2026-11/users.csv")
    assert len(versions.get("Versions", [])) == 1 and not versions.get("DeleteMarkers")


@pytest.mark.parametrize("body, expected", [
    (b"", "is empty"),
    (b"USER_ID\n", "no user ID after"),
    (b"\xef\xbb\xbfUSER_ID\nuser-7f3a9c-secret\n", "byte-order mark"),
    (b"USER_ID,ITEM_ID\nuser-7f3a9c-secret,i1\n", "single USER_ID column"),
    (b"user-7f3a9c-secret\nuser-b81d20-secret\n", "header line USER_ID"),
])
def test_malformed_files_are_rejected_without_echoing_their_content(local, body, expected):
    local.s3.put_object(Bucket=local.bucket(), Key="deletions/bad.csv", Body=body)

    ex = local.run(MACHINE, _input(f"s3://{local.bucket()}/deletions/bad.csv"))

    assert (ex.status, ex.error) == ("FAILED", "InvalidInput")
    assert expected in ex.cause
    assert "user-7f3a9c-secret" not in everything_emitted(local, ex)
    assert local.personalize.calls_of("CreateDataDeletionJob") == []


def test_several_problems_are_reported_at_once(local):
    ex = local.run(MACHINE, {"datasetGroupArn": "nope", "dataLocation": "ftp://x", "jobName": "-bad", "extra": 1})

    assert ex.error == "InvalidInput"
    assert ex.cause.startswith("Input rejected, ")
    for fragment in ("extra is not a known field", "datasetGroupArn", "dataLocation", "jobName"):
        assert fragment in ex.cause


def test_sustained_throttling_is_retried_and_creates_exactly_one_job(local):
    location = local.put_csv("deletions/users.csv", USER_IDS)
    local.personalize.fail_next("CreateDataDeletionJob", "LimitExceededException", "Rate exceeded", times=6)
    local.personalize.fail_next("DescribeDataDeletionJob", "ThrottlingException", "Slow down", times=2)

    ex = local.run(MACHINE, _input(location))

    assert ex.status == "SUCCEEDED", ex.cause
    created = [c for c in local.personalize.calls_of("CreateDataDeletionJob") if c.error is None]
    assert len(created) == 1
    assert len(local.personalize.jobs) == 1
    assert ex.count("TaskFailed") + ex.count("LambdaFunctionFailed") >= 8
    assert local.clock.backed_off > 0  # Step Functions' back-off ran (on the virtual clock)


def test_transient_server_error_after_the_job_was_created_adopts_it(local):
    location = local.put_csv("deletions/users.csv", USER_IDS)
    local.personalize.lose_next_create_response = 1  # job created, then HTTP 500

    ex = local.run(MACHINE, _input(location))

    assert ex.status == "SUCCEEDED", ex.cause
    assert len(local.personalize.jobs) == 1
    assert ex.output["adopted"] is True
    codes = [c.error for c in local.personalize.calls_of("CreateDataDeletionJob")]
    assert codes == ["InternalFailure", "ResourceAlreadyExistsException"]


def test_lost_lambda_response_is_retried_and_adopts_the_job(local):
    location = local.put_csv("deletions/users.csv", USER_IDS)
    local.lose_responses("DataDeletion/Launch", times=1)

    ex = local.run(MACHINE, _input(location))

    assert ex.status == "SUCCEEDED", ex.cause
    assert len(local.personalize.jobs) == 1
    assert ex.output["adopted"] is True


def test_redriven_execution_adopts_the_existing_job(local):
    location = local.put_csv("deletions/users.csv", USER_IDS)
    existing = local.personalize.add_existing_job("redriven-run", GROUP, location, JobPlan(duration=7200), age=3600)

    ex = local.run(MACHINE, _input(location), name="redriven-run")

    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output["dataDeletionJobArn"] == existing.arn
    assert ex.output["adopted"] is True
    assert len(local.personalize.jobs) == 1


def test_a_name_taken_by_another_request_is_not_adopted(local):
    location = local.put_csv("deletions/users.csv", USER_IDS)
    local.personalize.add_existing_job("weekly", GROUP, f"s3://{local.bucket()}/deletions/other.csv")

    ex = local.run(MACHINE, _input(location, jobName="weekly"))

    assert (ex.status, ex.error) == ("FAILED", "JobNameInUse")
    assert "another dataLocation" in ex.cause
    assert len(local.personalize.jobs) == 1


def test_unknown_status_stops_instead_of_looping(local):
    location = local.put_csv("deletions/users.csv", USER_IDS)
    local.personalize.default_plan = JobPlan(status_script=[(0, "PENDING"), (300, "CREATE PENDING")])

    ex = local.run(MACHINE, _input(location))

    assert (ex.status, ex.error) == ("FAILED", "DataDeletionJobUnexpectedStatus")
    assert ex.cause_json()["status"] == "CREATE PENDING"
    assert len(local.personalize.calls_of("DescribeDataDeletionJob")) <= 8


def test_non_retryable_service_error_fails_at_once_with_the_service_message(local):
    location = local.put_csv("deletions/users.csv", USER_IDS)
    missing = GROUP.replace("/shop", "/gone")
    local.personalize.missing_dataset_groups.add(missing)

    ex = local.run(MACHINE, _input(location) | {"datasetGroupArn": missing})

    assert (ex.status, ex.error) == ("FAILED", "ResourceNotFoundException")
    assert "Could not find resource" in ex.cause
    assert len(local.personalize.calls_of("CreateDataDeletionJob")) == 1


def test_a_day_long_job_costs_few_polls_and_is_noticed_promptly(local):
    location = local.put_csv("deletions/users.csv", USER_IDS)
    local.personalize.default_plan = JobPlan(duration=24 * 3600)

    ex = local.run(MACHINE, _input(location))

    assert ex.status == "SUCCEEDED", ex.cause
    polls = local.personalize.calls_of("DescribeDataDeletionJob")
    job = next(iter(local.personalize.jobs.values()))
    lag = (polls[-1].at - local.personalize.completion_time(job)).total_seconds()
    assert len(polls) <= 100
    assert ex.events <= 1500
    assert 0 <= lag <= 1800


def test_a_three_day_job_stays_far_below_the_history_limit(local):
    location = local.put_csv("deletions/users.csv", USER_IDS)
    local.personalize.default_plan = JobPlan(duration=71 * 3600)

    ex = local.run(MACHINE, _input(location))

    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.events < 2500


def test_a_job_that_outlives_the_job_timeout_fails_with_a_timeout_error(local):
    location = local.put_csv("deletions/users.csv", USER_IDS)
    local.personalize.default_plan = JobPlan(duration=100 * 3600)

    ex = local.run(MACHINE, _input(location))

    assert (ex.status, ex.error) == ("FAILED", "DataDeletionJobTimedOut")
    cause = ex.cause_json()
    assert cause["status"] == "IN_PROGRESS"
    assert "DescribeDataDeletionJob" in cause["message"]
    last_poll = local.personalize.calls_of("DescribeDataDeletionJob")[-1].at
    assert (last_poll - local.clock.start).total_seconds() == pytest.approx(72 * 3600, abs=120)

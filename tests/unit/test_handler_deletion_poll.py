"""deletion_poll: wait again, succeed or stop, from DescribeDataDeletionJob (Personalize stubbed, clock faked).

Environment (conftest): min wait 60 s, max 1800 s, growth 0.1, job timeout 86 400 s.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

import deletion_poll
from tests.unit.conftest import raises_named

GROUP = "arn:aws:personalize:us-east-1:123456789012:dataset-group/retail"
LOCATION = "s3://job-data-bucket/deletions/batch-1/users.csv"
NAME = "erasure-2026-11-23"
JOB_ARN = f"arn:aws:personalize:us-east-1:123456789012:data-deletion-job/{NAME}"
REQUEST = {"datasetGroupArn": GROUP, "dataLocation": LOCATION, "jobName": NAME,
           "inputData": {"objects": 2, "bytes": 1234}}
JOB = {"dataDeletionJobArn": JOB_ARN, "jobName": NAME, "adopted": False}
DESCRIBE = {"dataDeletionJobArn": JOB_ARN}


def poll(job=None):
    event = {"request": REQUEST, "tracker": {"phase": "RUNNING", "status": "PENDING", "waitSeconds": 60,
                                             "job": job or JOB}}
    return deletion_poll.handler(event, None)


def respond(services, clock, status, age, **extra):
    """DescribeDataDeletionJob answers: a job created ``age`` seconds before the clock's now."""
    created = clock.now() - timedelta(seconds=age)
    job = {"jobName": NAME, "dataDeletionJobArn": JOB_ARN, "datasetGroupArn": GROUP,
           "dataSource": {"dataLocation": LOCATION}, "roleArn": "arn:aws:iam::123456789012:role/r",
           "status": status, "creationDateTime": created, "lastUpdatedDateTime": created + timedelta(seconds=1)}
    job.update(extra)
    services.expect("personalize", "describe_data_deletion_job", {"dataDeletionJob": job}, DESCRIBE)
    return created


@pytest.mark.parametrize("status", ["PENDING", "IN_PROGRESS"])
def test_running_job_waits_the_minimum_when_young(services, clock, status):
    respond(services, clock, status, age=10)
    result = poll()
    assert result == {"phase": "RUNNING", "status": status, "waitSeconds": 60, "job": JOB}
    services.assert_done()


@pytest.mark.parametrize("age, wait", [(3600, 360), (7200, 720), (12_345, 1234), (30_000, 1800)])
def test_wait_grows_with_the_age_personalize_reports(services, clock, age, wait):
    respond(services, clock, "IN_PROGRESS", age=age)
    assert poll()["waitSeconds"] == wait


def test_missing_creation_time_counts_as_a_new_job(services, clock):
    services.expect("personalize", "describe_data_deletion_job",
                    {"dataDeletionJob": {"dataDeletionJobArn": JOB_ARN, "status": "PENDING"}}, DESCRIBE)
    assert poll()["waitSeconds"] == 60


def test_completed(services, clock):
    created = respond(services, clock, "COMPLETED", age=5400, numDeleted=2)
    result = poll({**JOB, "adopted": True})
    assert result["phase"] == "SUCCEEDED"
    assert result["status"] == "COMPLETED"
    assert result["result"] == {
        "dataDeletionJobArn": JOB_ARN,
        "jobName": NAME,
        "datasetGroupArn": GROUP,
        "dataLocation": LOCATION,
        "status": "COMPLETED",
        "creationDateTime": "2026-11-23T05:30:00Z",
        "lastUpdatedDateTime": "2026-11-23T05:30:01Z",
        "numDeleted": 2,
        "adopted": True,
        "inputData": {"objects": 2, "bytes": 1234},
    }
    assert created.isoformat().replace("+00:00", "Z") == result["result"]["creationDateTime"]
    assert json.loads(json.dumps(result)) == result


def test_completed_after_the_timeout_still_succeeds(services, clock):
    respond(services, clock, "COMPLETED", age=200_000, numDeleted=0)
    assert poll()["phase"] == "SUCCEEDED"


def test_failed(services, clock):
    reason = 'Access denied reading s3://job-data-bucket/deletions/batch-1/users.csv: "403" – check the role'
    respond(services, clock, "FAILED", age=120, failureReason=reason)
    result = poll()
    assert result["phase"] == "STOPPED"
    assert result["status"] == "FAILED"
    assert result["error"] == "DataDeletionJobFailed"
    cause = json.loads(result["cause"])
    assert cause["failureReason"] == reason
    assert cause["dataDeletionJobArn"] == JOB_ARN
    assert cause["status"] == "FAILED"
    json.dumps(result)


@pytest.mark.parametrize("status", ["CREATE PENDING", "ACTIVE", "completed", ""])
def test_unexpected_status(services, clock, status):
    respond(services, clock, status, age=100)
    result = poll()
    assert result["phase"] == "STOPPED"
    assert result["error"] == "DataDeletionJobUnexpectedStatus"
    cause = json.loads(result["cause"])
    assert cause["status"] == status
    assert repr(status) in cause["message"]


def test_timed_out(services, clock):
    respond(services, clock, "IN_PROGRESS", age=86_400)
    result = poll()
    assert result["phase"] == "STOPPED"
    assert result["error"] == "DataDeletionJobTimedOut"
    cause = json.loads(result["cause"])
    assert "86400 s" in cause["message"] and "IN_PROGRESS" in cause["message"]
    assert cause["dataDeletionJobArn"] == JOB_ARN


def test_just_before_the_timeout_it_still_waits(services, clock):
    respond(services, clock, "PENDING", age=86_399)
    result = poll()
    assert result["phase"] == "RUNNING"
    assert result["waitSeconds"] == 1


def test_timeout_follows_the_environment(services, clock, monkeypatch):
    monkeypatch.setenv("JOB_TIMEOUT_SECONDS", "3600")
    respond(services, clock, "IN_PROGRESS", age=3600)
    assert poll()["error"] == "DataDeletionJobTimedOut"


@pytest.mark.parametrize("age", [60_000, 84_600, 85_000, 86_000, 86_300, 86_399])
def test_wait_never_overshoots_the_deadline(services, clock, age):
    respond(services, clock, "IN_PROGRESS", age=age)
    wait = poll()["waitSeconds"]
    assert 1 <= wait <= 1800
    assert age + wait <= 86_400


def test_describe_error_is_named(services, clock):
    services.expect_error("personalize", "describe_data_deletion_job", "ResourceNotFoundException",
                          "Could not find the data deletion job", DESCRIBE)
    raises_named("ResourceNotFoundException", "DescribeDataDeletionJob: Could not find the data deletion job", poll)


def test_a_whole_job_followed_on_the_fake_clock(services, clock):
    """Launch at T0, then poll after each returned wait until Personalize reports COMPLETED at age ~2 h."""
    created = clock.now()
    finished_at = 7200
    waits, tracker_doc = [], None
    while True:
        age = (clock.now() - created).total_seconds()
        status = "COMPLETED" if age >= finished_at else ("PENDING" if age < 300 else "IN_PROGRESS")
        extra = {"numDeleted": 7} if status == "COMPLETED" else {}
        respond(services, clock, status, age=age, **extra)
        tracker_doc = poll()
        if tracker_doc["phase"] != "RUNNING":
            break
        waits.append(tracker_doc["waitSeconds"])
        clock.advance(tracker_doc["waitSeconds"])
    assert tracker_doc["phase"] == "SUCCEEDED"
    assert tracker_doc["result"]["numDeleted"] == 7
    seen_after = (clock.now() - created).total_seconds() - finished_at
    assert 0 <= seen_after <= max(60, 0.1 * finished_at)
    assert waits == sorted(waits)  # never shrinks while the job runs
    assert len(waits) < 40

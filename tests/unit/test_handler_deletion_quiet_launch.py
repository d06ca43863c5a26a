"""deletion_quiet_launch: the quiet period before CreateDataDeletionJob (Personalize stubbed, clock set)."""

from __future__ import annotations

import json

import pytest

import deletion_quiet_launch

A = "arn:aws:personalize:us-east-1:123456789012"
GROUP = f"{A}:dataset-group/retail"
SOLUTION = f"{A}:solution/recs"
DATASET = f"{A}:dataset/retail/INTERACTIONS"
LOCATION = "s3://job-data-bucket/deletions/batch-1/users.csv"
ROLE = "arn:aws:iam::123456789012:role/PersonalizeDataAccess"
NAME = "erasure-2026-11-23"
REQUEST = {"datasetGroupArn": GROUP, "dataLocation": LOCATION, "jobName": NAME}
TRAINING = {"solutionVersionArn": f"{SOLUTION}/00000002", "status": "CREATE IN_PROGRESS"}


def expect_activity(services, versions):
    services.expect("personalize", "list_solutions", {"solutions": [{"solutionArn": SOLUTION}]},
                    {"datasetGroupArn": GROUP})
    services.expect("personalize", "list_solution_versions", {"solutionVersions": versions}, {"solutionArn": SOLUTION})
    services.expect("personalize", "list_datasets", {"datasets": [{"datasetArn": DATASET}]},
                    {"datasetGroupArn": GROUP})
    services.expect("personalize", "list_dataset_import_jobs", {"datasetImportJobs": []}, {"datasetArn": DATASET})
    services.expect("personalize", "list_batch_inference_jobs", {"batchInferenceJobs": []}, {})
    services.expect("personalize", "list_batch_segment_jobs", {"batchSegmentJobs": []}, {})


def expect_create(services, name=NAME):
    arn = f"{A}:data-deletion-job/{name}"
    services.expect("personalize", "create_data_deletion_job", {"dataDeletionJobArn": arn}, {
        "jobName": name, "datasetGroupArn": GROUP, "dataSource": {"dataLocation": LOCATION}, "roleArn": ROLE})
    return arn


def launch(tracker=None):
    event = {"request": REQUEST, **({"tracker": tracker} if tracker else {})}
    result = deletion_quiet_launch.handler(event, None)
    json.dumps(result)  # JSON-safe
    return result


def test_a_quiet_group_gets_its_job_at_once(services, clock):
    expect_activity(services, [{"solutionVersionArn": f"{SOLUTION}/00000001", "status": "ACTIVE"}])
    arn = expect_create(services)

    result = launch()

    assert result["phase"] == "RUNNING" and result["waitSeconds"] == 60
    assert result["job"]["dataDeletionJobArn"] == arn and result["job"]["jobName"] == NAME
    assert result["job"]["quietPeriod"] == {"timeoutSeconds": 21600, "checks": 1, "waitedSeconds": 0,
                                            "waitedFor": [], "startedAt": "2026-11-23T07:00:00Z",
                                            "endedAt": "2026-11-23T07:00:00Z"}


def test_a_busy_group_waits_adaptively_then_launches(services, clock):
    expect_activity(services, [TRAINING])
    first = launch()
    assert first["phase"] == "WAIT_TO_LAUNCH" and first["waitSeconds"] == 60
    # no CreateDataDeletionJob was queued: the Stubber fails the test if the handler calls it
    waits = []
    tracker = first
    for _ in range(20):
        clock.advance(tracker["waitSeconds"])
        expect_activity(services, [TRAINING])
        tracker = launch(tracker)
        waits.append(tracker["waitSeconds"])
    assert waits == sorted(waits) and waits[-1] > 100  # grows with the time waited (10 % of it)
    clock.advance(tracker["waitSeconds"])
    expect_activity(services, [{**TRAINING, "status": "ACTIVE"}])
    expect_create(services)
    done = launch(tracker)
    record = done["job"]["quietPeriod"]
    assert done["phase"] == "RUNNING" and record["checks"] == 22
    assert record["waitedFor"] == [{"type": "solutionVersion", "arn": TRAINING["solutionVersionArn"],
                                    "status": "CREATE IN_PROGRESS"}]
    assert record["waitedSeconds"] == 60 + sum(waits)


def busy_twice(services, clock, monkeypatch, timeout, seconds, then=lambda: None):
    """Two checks of a group that is training, ``seconds`` apart, with a quiet period of ``timeout``
    (``then`` queues what the second check calls after the listings)."""
    monkeypatch.setenv("QUIET_PERIOD_TIMEOUT_SECONDS", str(timeout))
    expect_activity(services, [TRAINING])
    tracker = launch()
    clock.advance(seconds)
    expect_activity(services, [TRAINING])
    then()
    return launch(tracker)


def expect_no_job_yet(services, jobs=()):
    services.expect("personalize", "list_data_deletion_jobs", {"dataDeletionJobs": list(jobs)},
                    {"datasetGroupArn": GROUP, "maxResults": 100})


def test_past_the_timeout_the_group_is_reported_busy(services, clock, monkeypatch):
    result = busy_twice(services, clock, monkeypatch, 600, 600, lambda: expect_no_job_yet(services))

    assert result["phase"] == "STOPPED" and result["error"] == "DatasetGroupBusy"
    cause = json.loads(result["cause"])
    assert cause["busyWith"] == [{"type": "solutionVersion", "arn": TRAINING["solutionVersionArn"],
                                  "status": "CREATE IN_PROGRESS"}]
    assert cause["waitedSeconds"] == 600 and cause["quietPeriodTimeoutSeconds"] == 600
    assert cause["dataDeletionJobArns"] == [] and "no data deletion job was started" in cause["message"]


def test_the_wait_never_overshoots_the_timeout(services, clock, monkeypatch):
    assert busy_twice(services, clock, monkeypatch, 100, 90)["waitSeconds"] == 10


def test_after_an_overlap_the_second_job_has_a_derived_name(services, clock):
    first = {"dataDeletionJobArn": f"{A}:data-deletion-job/{NAME}", "status": "COMPLETED"}
    tracker = {"phase": "WAIT_TO_LAUNCH", "job": {"completedJobs": [first], "overlap": [{"arn": "x"}],
                                                  "quietPeriod": None}}
    expect_activity(services, [])
    arn = expect_create(services, f"{NAME}-again")

    result = launch(tracker)

    assert result["job"]["dataDeletionJobArn"] == arn
    assert result["job"]["completedJobs"] == [first] and result["job"]["overlap"] == [{"arn": "x"}]


@pytest.mark.parametrize("name", ["x" * 63, "a-b_c"])
def test_derived_names_fit_personalize(name, assert_valid_request):
    from jobkit import names

    for derived in (names.overlap_job_name(name), names.retrain_version_name(name)):
        assert len(derived) <= 63 and derived != name
        assert derived == names.derived_name(name, derived.rsplit("-", 1)[-1])


def test_a_job_created_by_an_attempt_whose_response_was_lost_is_adopted_not_reported_busy(services, clock,
                                                                                          monkeypatch):
    arn = f"{A}:data-deletion-job/{NAME}"

    def existing():
        expect_no_job_yet(services, [{"dataDeletionJobArn": arn, "jobName": NAME, "datasetGroupArn": GROUP}])
        services.expect_error("personalize", "create_data_deletion_job", "ResourceAlreadyExistsException", "exists",
                              {"jobName": NAME, "datasetGroupArn": GROUP, "dataSource": {"dataLocation": LOCATION},
                               "roleArn": ROLE})
        expect_no_job_yet(services, [{"dataDeletionJobArn": arn, "jobName": NAME, "datasetGroupArn": GROUP}])
        services.expect("personalize", "describe_data_deletion_job", {"dataDeletionJob": {
            "dataDeletionJobArn": arn, "dataSource": {"dataLocation": LOCATION}}}, {"dataDeletionJobArn": arn})

    result = busy_twice(services, clock, monkeypatch, 600, 600, existing)

    assert result["phase"] == "RUNNING" and result["job"]["adopted"] is True
    assert result["job"]["dataDeletionJobArn"] == arn

"""deletion_follow_through: overlap check, retraining and campaign updates (Personalize stubbed, clock set)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

import deletion_follow_through
from jobkit.errors import JobNameInUse
from tests.unit.conftest import T0

A = "arn:aws:personalize:us-east-1:123456789012"
GROUP = f"{A}:dataset-group/retail"
SOLUTION = f"{A}:solution/recs"
VERSION = f"{SOLUTION}/0000000a"
CAMPAIGN = f"{A}:campaign/live"
DATASET = f"{A}:dataset/retail/INTERACTIONS"
NAME = "erasure-2026-11-23"
JOB_ARN = f"{A}:data-deletion-job/{NAME}"
REQUEST = {"datasetGroupArn": GROUP, "dataLocation": "s3://b/deletions/u.csv", "jobName": NAME}
RESULT = {"dataDeletionJobArn": JOB_ARN, "jobName": NAME, "datasetGroupArn": GROUP, "status": "COMPLETED",
          "numDeleted": 4, "creationDateTime": "2026-11-23T05:00:00Z", "lastUpdatedDateTime": "2026-11-23T06:30:00Z"}
QUIET = {"timeoutSeconds": 21600, "checks": 1, "waitedSeconds": 0, "waitedFor": []}
SUCCEEDED = {"phase": "SUCCEEDED", "status": "COMPLETED", "result": RESULT,
             "job": {"dataDeletionJobArn": JOB_ARN, "jobName": NAME, "adopted": False, "quietPeriod": QUIET}}
CREATE = {"solutionArn": SOLUTION, "name": f"{NAME}-retrain", "trainingMode": "FULL"}


def run(tracker):
    result = deletion_follow_through.handler({"request": REQUEST, "tracker": tracker}, None)
    json.dumps(result)
    return result


def expect_overlap_check(services, versions=(), imports=()):
    services.expect("personalize", "list_solutions", {"solutions": [{"solutionArn": SOLUTION}]},
                    {"datasetGroupArn": GROUP})
    services.expect("personalize", "list_solution_versions", {"solutionVersions": list(versions)},
                    {"solutionArn": SOLUTION})
    services.expect("personalize", "list_datasets", {"datasets": [{"datasetArn": DATASET}]},
                    {"datasetGroupArn": GROUP})
    services.expect("personalize", "list_dataset_import_jobs", {"datasetImportJobs": list(imports)},
                    {"datasetArn": DATASET})


def described(status, **extra):
    return {"solutionVersion": {"solutionVersionArn": VERSION, "name": f"{NAME}-retrain", "status": status,
                                "lastUpdatedDateTime": T0 + timedelta(hours=6), **extra}}


def test_an_overlapping_training_asks_for_one_more_job(services, clock):
    during = {"solutionVersionArn": f"{SOLUTION}/00000003", "status": "ACTIVE",
              "creationDateTime": T0 - timedelta(hours=1)}
    expect_overlap_check(services, [during])

    result = run(SUCCEEDED)

    assert result["phase"] == "WAIT_TO_LAUNCH" and result["waitSeconds"] == 60
    assert result["job"]["completedJobs"] == [RESULT]
    assert result["job"]["overlap"] == [{"type": "solutionVersion", "arn": during["solutionVersionArn"],
                                         "status": "ACTIVE", "creationDateTime": "2026-11-23T06:00:00Z"}]


def test_no_overlap_check_after_the_second_job(services, clock):
    second = {**SUCCEEDED, "job": {**SUCCEEDED["job"], "completedJobs": [RESULT], "overlap": [{"arn": "x"}]}}
    services.expect("personalize", "create_solution_version", {"solutionVersionArn": VERSION}, CREATE)

    result = run(second)

    assert result["phase"] == "FOLLOW_THROUGH"
    assert len(result["job"]["completedJobs"]) == 2


def test_training_then_campaign_update_then_success(services, clock):
    expect_overlap_check(services)
    services.expect("personalize", "create_solution_version", {"solutionVersionArn": VERSION}, CREATE)
    training = run(SUCCEEDED)
    assert training["phase"] == "FOLLOW_THROUGH" and training["status"] == "TRAINING"

    clock.advance(training["waitSeconds"])
    services.expect("personalize", "describe_solution_version", described("CREATE IN_PROGRESS"),
                    {"solutionVersionArn": VERSION})
    still = run(training)
    assert still["phase"] == "FOLLOW_THROUGH" and still["waitSeconds"] >= 60

    clock.advance(still["waitSeconds"])
    services.expect("personalize", "describe_solution_version", described("ACTIVE"), {"solutionVersionArn": VERSION})
    services.expect("personalize", "list_campaigns", {"campaigns": [{"campaignArn": CAMPAIGN}]},
                    {"solutionArn": SOLUTION})
    services.expect("personalize", "describe_campaign", {"campaign": {
        "campaignArn": CAMPAIGN, "solutionVersionArn": f"{SOLUTION}/00000001", "status": "ACTIVE"}},
        {"campaignArn": CAMPAIGN})
    services.expect("personalize", "update_campaign", {"campaignArn": CAMPAIGN},
                    {"campaignArn": CAMPAIGN, "solutionVersionArn": VERSION})
    updating = run(still)
    assert updating["phase"] == "FOLLOW_THROUGH" and updating["status"] == "CAMPAIGN_UPDATE"

    clock.advance(updating["waitSeconds"])
    services.expect("personalize", "describe_campaign", {"campaign": {
        "campaignArn": CAMPAIGN, "status": "ACTIVE",
        "latestCampaignUpdate": {"solutionVersionArn": VERSION, "status": "ACTIVE"}}}, {"campaignArn": CAMPAIGN})
    done = run(updating)

    assert done["phase"] == "SUCCEEDED"
    out = done["result"]
    assert out["dataDeletionJobArn"] == JOB_ARN and out["numDeleted"] == 4
    assert out["dataDeletionJobArns"] == [JOB_ARN] and out["quietPeriod"] == QUIET
    assert out["solutionVersionArns"] == [VERSION] and out["campaignArns"] == [CAMPAIGN]
    assert out["modelsRetrainedAt"] == "2026-11-23T13:00:00Z"
    assert out["followThrough"] == {"status": "COMPLETED"}


def test_a_campaign_already_on_the_new_version_is_not_updated_again(services, clock):
    state = {"stage": "TRAINING", "startedAt": "2026-11-23T07:00:00Z", "campaigns": [],
             "versions": [{"solutionArn": SOLUTION, "solutionVersionArn": VERSION, "status": "CREATE PENDING"}]}
    tracker = {"phase": "FOLLOW_THROUGH", "job": {"completedJobs": [RESULT], "followThrough": state}}
    services.expect("personalize", "describe_solution_version", described("ACTIVE"), {"solutionVersionArn": VERSION})
    services.expect("personalize", "list_campaigns", {"campaigns": [{"campaignArn": CAMPAIGN}]},
                    {"solutionArn": SOLUTION})
    services.expect("personalize", "describe_campaign", {"campaign": {
        "campaignArn": CAMPAIGN, "status": "ACTIVE",
        "latestCampaignUpdate": {"solutionVersionArn": VERSION, "status": "CREATE IN_PROGRESS"}}},
        {"campaignArn": CAMPAIGN})
    # no update_campaign queued: the Stubber fails the test if the handler calls it
    assert run(tracker)["job"]["followThrough"]["campaigns"][0]["campaignArn"] == CAMPAIGN


@pytest.mark.parametrize("status", ["CREATE FAILED", "CREATE STOPPED", "CREATE STOPPING"])
def test_a_training_that_ends_badly_stops_with_the_completed_deletion(services, clock, status):
    state = {"stage": "TRAINING", "startedAt": "2026-11-23T07:00:00Z", "campaigns": [],
             "versions": [{"solutionArn": SOLUTION, "solutionVersionArn": VERSION, "status": "CREATE PENDING"}]}
    tracker = {"phase": "FOLLOW_THROUGH", "job": {"completedJobs": [RESULT], "quietPeriod": QUIET,
                                                  "followThrough": state}}
    services.expect("personalize", "describe_solution_version",
                    described(status, failureReason="Not enough data"), {"solutionVersionArn": VERSION})

    result = run(tracker)

    assert result["phase"] == "STOPPED" and result["error"] == "ModelRetrainingFailed"
    cause = json.loads(result["cause"])
    assert cause["deletionStatus"] == "COMPLETED" and cause["dataDeletionJobArns"] == [JOB_ARN]
    assert cause["followThrough"] == {"status": "FAILED", "stage": "TRAINING", "resourceArn": VERSION,
                                      "resourceStatus": status, "reason": "Not enough data"}
    assert cause["solutionVersionArns"] == [VERSION]


def test_a_failed_campaign_update_stops_too(services, clock):
    state = {"stage": "CAMPAIGN_UPDATE", "startedAt": "2026-11-23T07:00:00Z", "modelsRetrainedAt": "x",
             "versions": [{"solutionArn": SOLUTION, "solutionVersionArn": VERSION, "status": "ACTIVE"}],
             "campaigns": [{"campaignArn": CAMPAIGN, "solutionVersionArn": VERSION, "status": "CREATE PENDING"}]}
    tracker = {"phase": "FOLLOW_THROUGH", "job": {"completedJobs": [RESULT], "followThrough": state}}
    services.expect("personalize", "describe_campaign", {"campaign": {
        "campaignArn": CAMPAIGN, "status": "ACTIVE", "latestCampaignUpdate": {
            "solutionVersionArn": VERSION, "status": "CREATE FAILED", "failureReason": "TPS limit"}}},
        {"campaignArn": CAMPAIGN})

    cause = json.loads(run(tracker)["cause"])

    assert cause["followThrough"]["stage"] == "CAMPAIGN_UPDATE" and cause["followThrough"]["reason"] == "TPS limit"


def test_a_training_past_the_job_timeout_stops(services, clock):
    state = {"stage": "TRAINING", "startedAt": "2026-11-22T07:00:00Z", "campaigns": [],
             "versions": [{"solutionArn": SOLUTION, "solutionVersionArn": VERSION, "status": "CREATE PENDING"}]}
    tracker = {"phase": "FOLLOW_THROUGH", "job": {"completedJobs": [RESULT], "followThrough": state}}
    services.expect("personalize", "describe_solution_version", described("CREATE IN_PROGRESS"),
                    {"solutionVersionArn": VERSION})
    cause = json.loads(run(tracker)["cause"])
    assert cause["followThrough"]["resourceStatus"] == "CREATE IN_PROGRESS"
    assert "86400" in cause["followThrough"]["reason"]


def test_a_retry_adopts_the_version_it_created(services, clock):
    expect_overlap_check(services)
    services.expect_error("personalize", "create_solution_version", "ResourceAlreadyExistsException", "exists",
                          CREATE)
    services.expect("personalize", "list_solution_versions", {"solutionVersions": [
        {"solutionVersionArn": f"{SOLUTION}/0000000b", "creationDateTime": T0},
        {"solutionVersionArn": VERSION, "creationDateTime": T0},
        {"solutionVersionArn": f"{SOLUTION}/00000001", "creationDateTime": T0 - timedelta(days=9)}]},
        {"solutionArn": SOLUTION})
    services.expect("personalize", "describe_solution_version", {"solutionVersion": {
        "solutionVersionArn": f"{SOLUTION}/0000000b", "name": "someone-else"}},
        {"solutionVersionArn": f"{SOLUTION}/0000000b"})
    services.expect("personalize", "describe_solution_version", described("CREATE PENDING"),
                    {"solutionVersionArn": VERSION})

    result = run(SUCCEEDED)

    assert result["job"]["followThrough"]["versions"][0]["solutionVersionArn"] == VERSION


def test_an_older_version_of_the_same_name_is_not_adopted(services, clock):
    expect_overlap_check(services)
    services.expect_error("personalize", "create_solution_version", "ResourceAlreadyExistsException", "exists",
                          CREATE)
    services.expect("personalize", "list_solution_versions", {"solutionVersions": [
        {"solutionVersionArn": VERSION, "creationDateTime": T0 - timedelta(days=9)}]}, {"solutionArn": SOLUTION})
    cause = json.loads(run(SUCCEEDED)["cause"])
    assert cause["followThrough"]["resourceStatus"] == JobNameInUse.__name__
    assert "not adopted" in cause["followThrough"]["reason"]


def test_a_group_without_retraining_succeeds_with_the_record(services, clock, monkeypatch):
    monkeypatch.setenv("RETRAIN_SOLUTION_ARNS", "{}")
    expect_overlap_check(services)
    out = run(SUCCEEDED)["result"]
    assert out["followThrough"] == {"status": "NOT_CONFIGURED"} and out["solutionVersionArns"] == []
    assert out["modelsRetrainedAt"] is None and out["campaignArns"] == []


def test_no_campaign_update_when_switched_off(services, clock, monkeypatch):
    monkeypatch.setenv("UPDATE_CAMPAIGNS", "false")
    state = {"stage": "TRAINING", "startedAt": "2026-11-23T07:00:00Z", "campaigns": [],
             "versions": [{"solutionArn": SOLUTION, "solutionVersionArn": VERSION, "status": "CREATE PENDING"}]}
    tracker = {"phase": "FOLLOW_THROUGH", "job": {"completedJobs": [RESULT], "followThrough": state}}
    services.expect("personalize", "describe_solution_version", described("ACTIVE"), {"solutionVersionArn": VERSION})
    out = run(tracker)["result"]
    assert out["campaignArns"] == [] and out["solutionVersionArns"] == [VERSION]


def test_training_checks_keep_the_pace_of_a_day_long_request(services, clock):
    day_long = {**RESULT, "creationDateTime": "2026-11-22T07:00:00Z"}
    state = {"stage": "TRAINING", "startedAt": "2026-11-23T07:00:00Z", "campaigns": [],
             "versions": [{"solutionArn": SOLUTION, "solutionVersionArn": VERSION, "status": "CREATE PENDING"}]}
    tracker = {"phase": "FOLLOW_THROUGH", "job": {"completedJobs": [day_long], "followThrough": state}}
    clock.advance(60)
    services.expect("personalize", "describe_solution_version", described("CREATE IN_PROGRESS"),
                    {"solutionVersionArn": VERSION})
    assert run(tracker)["waitSeconds"] == 1800  # max_wait: the request is a day old, not a minute
    short = {"phase": "FOLLOW_THROUGH", "job": {"completedJobs": [{**RESULT, "creationDateTime":
                                                                   "2026-11-23T06:58:00Z"}], "followThrough": state}}
    services.expect("personalize", "describe_solution_version", described("CREATE IN_PROGRESS"),
                    {"solutionVersionArn": VERSION})
    assert run(short)["waitSeconds"] == 60


def test_a_solution_busy_with_another_version_is_tried_again_at_the_next_check(services, clock):
    expect_overlap_check(services)
    services.expect_error("personalize", "create_solution_version", "ResourceInUseException",
                          "The solution has a version being created", CREATE)
    waiting = run(SUCCEEDED)
    [version] = waiting["job"]["followThrough"]["versions"]
    assert version == {"solutionArn": SOLUTION, "solutionVersionArn": None, "status": "NOT_STARTED"}
    assert waiting["phase"] == "FOLLOW_THROUGH"

    clock.advance(waiting["waitSeconds"])
    services.expect("personalize", "create_solution_version", {"solutionVersionArn": VERSION}, CREATE)
    started = run(waiting)

    assert started["job"]["followThrough"]["versions"][0]["solutionVersionArn"] == VERSION
    assert started["phase"] == "FOLLOW_THROUGH"


def _training_tracker():
    state = {"stage": "TRAINING", "startedAt": "2026-11-23T07:00:00Z", "campaigns": [],
             "versions": [{"solutionArn": SOLUTION, "solutionVersionArn": VERSION, "status": "CREATE PENDING"}]}
    return {"phase": "FOLLOW_THROUGH", "job": {"completedJobs": [RESULT], "followThrough": state}}


def test_a_transient_error_while_following_is_tried_again_at_the_next_check(services, clock):
    services.expect_error("personalize", "describe_solution_version", "ThrottlingException", "Rate exceeded",
                          {"solutionVersionArn": VERSION})
    result = run(_training_tracker())
    assert result["phase"] == "FOLLOW_THROUGH" and result["job"] == _training_tracker()["job"]


@pytest.mark.parametrize("code", ["ResourceNotFoundException", "InvalidInputException"])
def test_a_refused_call_while_following_ends_with_the_record(services, clock, code):
    services.expect_error("personalize", "describe_solution_version", code, "Could not find it",
                          {"solutionVersionArn": VERSION})
    result = run(_training_tracker())
    assert result["error"] == "ModelRetrainingFailed"
    cause = json.loads(result["cause"])
    assert cause["dataDeletionJobArns"] == [JOB_ARN] and cause["deletionStatus"] == "COMPLETED"
    assert cause["followThrough"]["resourceStatus"] == code
    assert cause["followThrough"]["reason"] == "DescribeSolutionVersion: Could not find it"


def test_a_refused_training_ends_with_the_record_a_transient_one_is_retried(services, clock):
    expect_overlap_check(services)
    services.expect_error("personalize", "create_solution_version", "ResourceNotFoundException", "no solution",
                          CREATE)
    cause = json.loads(run(SUCCEEDED)["cause"])
    assert cause["followThrough"]["stage"] == "START" and cause["dataDeletionJobArns"] == [JOB_ARN]
    assert cause["followThrough"]["reason"] == "CreateSolutionVersion: no solution"

    expect_overlap_check(services)
    services.expect_error("personalize", "create_solution_version", "LimitExceededException", "too many", CREATE)
    with pytest.raises(Exception) as raised:
        run(SUCCEEDED)
    assert type(raised.value).__name__ == "LimitExceededException"

"""deletion_launch: CreateDataDeletionJob, or adopting this execution's existing job (Personalize stubbed)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

import deletion_launch
import jobkit.clients
from tests.unit.conftest import raises_named

GROUP = "arn:aws:personalize:us-east-1:123456789012:dataset-group/retail"
OTHER_GROUP = "arn:aws:personalize:us-east-1:123456789012:dataset-group/marketing"
LOCATION = "s3://job-data-bucket/deletions/batch-1/users.csv"
ROLE = "arn:aws:iam::123456789012:role/PersonalizeDataAccess"
NAME = "erasure-2026-11-23"
JOB_ARN = f"arn:aws:personalize:us-east-1:123456789012:data-deletion-job/{NAME}"
CREATED = datetime(2026, 11, 23, 6, 0, tzinfo=timezone.utc)

REQUEST = {"datasetGroupArn": GROUP, "dataLocation": LOCATION, "jobName": NAME,
           "inputData": {"objects": 1, "bytes": 40}}
CREATE = {"jobName": NAME, "datasetGroupArn": GROUP, "dataSource": {"dataLocation": LOCATION}, "roleArn": ROLE}
LIST = {"datasetGroupArn": GROUP, "maxResults": 100}


def launch(request=None):
    return deletion_launch.handler({"request": request or REQUEST}, None)


def summary(name, group=GROUP, status="IN_PROGRESS", arn=None):
    return {"dataDeletionJobArn": arn or f"arn:aws:personalize:us-east-1:123456789012:data-deletion-job/{name}",
            "datasetGroupArn": group, "jobName": name, "status": status,
            "creationDateTime": CREATED, "lastUpdatedDateTime": CREATED}


def described(location=LOCATION, group=GROUP):
    return {"dataDeletionJob": {
        "jobName": NAME, "dataDeletionJobArn": JOB_ARN, "datasetGroupArn": group,
        "dataSource": {"dataLocation": location}, "roleArn": ROLE, "status": "PENDING",
        "creationDateTime": CREATED, "lastUpdatedDateTime": CREATED,
    }}


def already_exists(services):
    services.expect_error("personalize", "create_data_deletion_job", "ResourceAlreadyExistsException",
                          f"The data deletion job {NAME} already exists", CREATE)


def test_creates_the_job(services):
    services.expect("personalize", "create_data_deletion_job", {"dataDeletionJobArn": JOB_ARN}, CREATE)
    result = launch()
    assert result == {
        "phase": "RUNNING",
        "status": "PENDING",
        "waitSeconds": 60,
        "job": {"dataDeletionJobArn": JOB_ARN, "jobName": NAME, "adopted": False},
    }
    json.dumps(result)
    services.assert_done()


def test_role_arn_comes_from_the_environment(services, monkeypatch):
    role = "arn:aws:iam::123456789012:role/service-role/OtherDeletionRole"
    monkeypatch.setenv("DATA_ACCESS_ROLE_ARN", role)
    services.expect("personalize", "create_data_deletion_job", {"dataDeletionJobArn": JOB_ARN},
                    {**CREATE, "roleArn": role})
    assert launch()["job"]["dataDeletionJobArn"] == JOB_ARN


def test_tags_are_passed_when_given(services):
    tags = [{"tagKey": "team", "tagValue": "privacy"}, {"tagKey": "ticket", "tagValue": "GDPR-42"}]
    services.expect("personalize", "create_data_deletion_job", {"dataDeletionJobArn": JOB_ARN},
                    {**CREATE, "tags": tags})
    launch({**REQUEST, "tags": tags})


def test_empty_tags_are_not_passed(services):
    services.expect("personalize", "create_data_deletion_job", {"dataDeletionJobArn": JOB_ARN}, CREATE)
    launch({**REQUEST, "tags": []})


def test_wait_is_the_minimum_poll_interval(services, monkeypatch):
    monkeypatch.setenv("POLL_MIN_WAIT_SECONDS", "45")
    services.expect("personalize", "create_data_deletion_job", {"dataDeletionJobArn": JOB_ARN}, CREATE)
    assert launch()["waitSeconds"] == 45


def test_already_exists_follows_next_token_and_adopts(services):
    already_exists(services)
    services.expect("personalize", "list_data_deletion_jobs",
                    {"dataDeletionJobs": [summary("other-1"), summary("other-2")], "nextToken": "page-2"}, LIST)
    services.expect("personalize", "list_data_deletion_jobs",
                    {"dataDeletionJobs": [summary("other-3"), summary(NAME + "-b")], "nextToken": "page-3"},
                    {**LIST, "nextToken": "page-2"})
    services.expect("personalize", "list_data_deletion_jobs",
                    {"dataDeletionJobs": [summary("other-4"), summary(NAME, arn=JOB_ARN)]},
                    {**LIST, "nextToken": "page-3"})
    services.expect("personalize", "describe_data_deletion_job", described(), {"dataDeletionJobArn": JOB_ARN})
    result = launch()
    assert result["phase"] == "RUNNING"
    assert result["job"] == {"dataDeletionJobArn": JOB_ARN, "jobName": NAME, "adopted": True}
    assert result["waitSeconds"] == 60
    services.assert_done()


def test_already_exists_in_another_dataset_group(services):
    already_exists(services)
    # Listing is filtered by our group; even if a same-named job of another group shows up, it is not ours.
    services.expect("personalize", "list_data_deletion_jobs",
                    {"dataDeletionJobs": [summary(NAME, group=OTHER_GROUP), summary("other-1")]}, LIST)
    with pytest.raises(Exception) as caught:
        launch()
    assert type(caught.value).__name__ == "JobNameInUse"
    assert NAME in str(caught.value) and GROUP in str(caught.value)
    assert "choose another jobName" in str(caught.value)
    services.assert_done()


def test_already_exists_but_not_listed_at_all(services):
    already_exists(services)
    services.expect("personalize", "list_data_deletion_jobs", {"dataDeletionJobs": []}, LIST)
    with pytest.raises(Exception) as caught:
        launch()
    assert type(caught.value).__name__ == "JobNameInUse"


def test_already_exists_in_the_same_group_for_other_data(services):
    already_exists(services)
    services.expect("personalize", "list_data_deletion_jobs", {"dataDeletionJobs": [summary(NAME, arn=JOB_ARN)]}, LIST)
    services.expect("personalize", "describe_data_deletion_job",
                    described(location="s3://job-data-bucket/deletions/batch-0/users.csv"),
                    {"dataDeletionJobArn": JOB_ARN})
    with pytest.raises(Exception) as caught:
        launch()
    assert type(caught.value).__name__ == "JobNameInUse"
    assert "another dataLocation" in str(caught.value)
    services.assert_done()


@pytest.mark.parametrize("code, message", [
    ("LimitExceededException", "You can have at most 5 PENDING data deletion jobs"),  # retried by the machine
    ("InvalidInputException", "The role cannot be assumed by Personalize"),  # explained, not retried
])
def test_a_service_error_is_named_after_its_code_and_carries_the_message(services, code, message):
    services.expect_error("personalize", "create_data_deletion_job", code, message, CREATE)
    raises_named(code, f"CreateDataDeletionJob: {message}", launch)


@pytest.mark.parametrize("code", ["ResourceNotFoundException", "ResourceInUseException", "TooManyTagsException"])
def test_other_create_errors_are_named(services, code):
    services.expect_error("personalize", "create_data_deletion_job", code, "nope", CREATE)
    with pytest.raises(Exception) as caught:
        launch()
    assert type(caught.value).__name__ == code


def test_listing_error_while_adopting_is_named(services):
    already_exists(services)
    services.expect_error("personalize", "list_data_deletion_jobs", "InvalidNextTokenException", "bad token", LIST)
    with pytest.raises(Exception) as caught:
        launch()
    assert type(caught.value).__name__ == "InvalidNextTokenException"
    assert str(caught.value) == "ListDataDeletionJobs: bad token"


def test_describe_error_while_adopting_is_named(services):
    already_exists(services)
    services.expect("personalize", "list_data_deletion_jobs", {"dataDeletionJobs": [summary(NAME, arn=JOB_ARN)]}, LIST)
    services.expect_error("personalize", "describe_data_deletion_job", "ResourceNotFoundException", "gone",
                          {"dataDeletionJobArn": JOB_ARN})
    with pytest.raises(Exception) as caught:
        launch()
    assert type(caught.value).__name__ == "ResourceNotFoundException"
    assert str(caught.value) == "DescribeDataDeletionJob: gone"


def test_sdk_too_old(monkeypatch):
    def must_not_be_called(**kwargs):
        raise AssertionError("CreateDataDeletionJob called on an SDK without it")

    old = SimpleNamespace(
        meta=SimpleNamespace(service_model=SimpleNamespace(
            service_name="personalize", operation_names=["CreateDataset", "DescribeDataset"])),
        create_data_deletion_job=must_not_be_called,
    )
    monkeypatch.setattr(jobkit.clients, "client", lambda service: old)
    with pytest.raises(Exception) as caught:
        launch()
    assert type(caught.value).__name__ == "SdkTooOld"
    message = str(caught.value)
    assert "CreateDataDeletionJob, DescribeDataDeletionJob, ListDataDeletionJobs" in message
    assert "1.34.97" in message

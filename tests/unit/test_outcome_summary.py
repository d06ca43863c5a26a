"""outcome_summary: a record for every terminal execution, whatever its input and output were (pure)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

import outcome_summary
from jobkit.contract import AUDIENCE_EXPORT, DATA_DELETION

ARN = "arn:aws:states:us-east-1:123456789012:execution:M:req-1"
START = datetime(2026, 11, 23, 7, 0, tzinfo=timezone.utc)


def execution(**fields):
    return {"executionArn": ARN, "name": "req-1", "status": "FAILED", "startDate": START, "stopDate": START,
            "error": "InvalidInput", "cause": "Input rejected: the execution input must be a JSON object", **fields}


@pytest.mark.parametrize("workflow", [DATA_DELETION, AUDIENCE_EXPORT])
@pytest.mark.parametrize("given, kind", [("null", "null"), ('"delete them"', "a string"), ("42", "a number"),
                                         ("[1, {\"dataLocation\": \"s3://b/k.csv\"}]", "a list"),
                                         ("true", "true or false"), ("not json", "null"), (None, "null")])
def test_an_input_that_is_not_an_object_is_recorded_with_its_type(workflow, given, kind):
    summary = outcome_summary.summarize(workflow, execution(input=given), None)

    assert summary["inputType"] == kind
    assert summary["error"] == "InvalidInput" and summary["executionName"] == "req-1"
    assert not {"datasetGroupArn", "dataLocation", "audienceGenerationJobArn", "audienceSize"} & set(summary)
    json.dumps(summary)
    assert outcome_summary.subject(summary) and outcome_summary.message(summary)
    assert outcome_summary.audit_key("audit/", summary).endswith("/req-1.json")


def test_fields_of_the_wrong_type_are_left_out_never_quoted():
    given = {"datasetGroupArn": {"nested": "x"}, "dataLocation": ["s3://b/k.csv"], "jobName": 3}
    summary = outcome_summary.summarize(DATA_DELETION, execution(input=json.dumps(given)),
                                        {"inputData": "not an object"})

    assert "inputType" not in summary
    assert not {"datasetGroupArn", "dataLocation", "inputObject", "inputData", "jobName"} & set(summary)


def test_an_export_size_of_the_wrong_shape_is_left_out():
    for size in ("huge", {"type": "ABSOLUTE"}, {"type": 1, "value": 2}, {"type": "ABSOLUTE", "value": True},
                 {"type": "ABSOLUTE", "value": 5, "unit": "x"}):
        given = {"audienceGenerationJobArn": "arn:x", "audienceSize": size}
        summary = outcome_summary.summarize(AUDIENCE_EXPORT, execution(input=json.dumps(given)), None)
        assert "audienceSize" not in summary, size
    good = {"audienceGenerationJobArn": "arn:x", "audienceSize": {"type": "ABSOLUTE", "value": 5}}
    summary = outcome_summary.summarize(AUDIENCE_EXPORT, execution(input=json.dumps(good)), None)
    assert summary["audienceSize"] == {"type": "ABSOLUTE", "value": 5}


def test_a_very_long_location_is_left_out():
    given = {"datasetGroupArn": "arn:aws:personalize:us-east-1:1:dataset-group/g",
             "dataLocation": "s3://b/" + "k" * 5000}
    summary = outcome_summary.summarize(DATA_DELETION, execution(input=json.dumps(given)), None)
    assert "dataLocation" not in summary and summary["datasetGroupArn"].endswith("/g")


@pytest.mark.parametrize("output, cause", [("[]", None), ("\"done\"", None), ("not json", "{\"a\": [1]}"),
                                           (None, "[1, 2]"), (None, 42)])
def test_odd_outputs_and_causes_do_not_break_the_summary(output, cause):
    summary = outcome_summary.summarize(DATA_DELETION, execution(output=output, cause=cause,
                                                                            input="{}"), None)
    json.dumps(summary)
    assert summary["status"] == "FAILED"


def test_a_failed_follow_through_is_recorded_with_the_completed_deletion():
    job = "arn:aws:personalize:us-east-1:123456789012:data-deletion-job/req-1"
    cause = {"deletionStatus": "COMPLETED", "dataDeletionJobArns": [job], "solutionVersionArns": ["arn:sv"],
             "campaignArns": [], "modelsRetrainedAt": None,
             "followThrough": {"status": "FAILED", "stage": "TRAINING", "reason": "Not enough data"}}
    summary = outcome_summary.summarize(DATA_DELETION, execution(
        input='{"datasetGroupArn": "arn:g", "dataLocation": "s3://b/deletions/u.csv"}',
        error="ModelRetrainingFailed", cause=json.dumps(cause)), None)

    assert summary["dataDeletionJobArn"] == job and summary["dataDeletionJobArns"] == [job]
    assert summary["jobStatus"] == "COMPLETED" and summary["followThrough"]["reason"] == "Not enough data"
    assert summary["solutionVersionArns"] == ["arn:sv"] and "modelsRetrainedAt" not in summary
    assert "Not enough data" in outcome_summary.message(summary)


def test_a_busy_group_is_recorded_with_what_it_was_busy_with_and_odd_shapes_are_left_out():
    busy = [{"type": "solutionVersion", "arn": "arn:sv", "status": "CREATE IN_PROGRESS"}]
    cause = {"busyWith": busy, "dataDeletionJobArns": [], "quietPeriod": "not an object",
             "solutionVersionArns": [1, 2]}
    summary = outcome_summary.summarize(DATA_DELETION, execution(error="DatasetGroupBusy", cause=json.dumps(cause),
                                                                 input="{}"), None)
    assert summary["busyWith"] == busy and summary["dataDeletionJobArns"] == []
    assert not {"quietPeriod", "solutionVersionArns", "dataDeletionJobArn", "jobStatus"} & set(summary)

"""Any execution input ends in a named outcome, and any error of any step is explained without a stack trace.

Every failing scenario of this tier is also checked by the harness fixture (tests/e2e/conftest.py,
``assert_explained``): an error name, and a cause that is a message, never a Lambda error envelope.
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import GROUP, USER_IDS, audit_records, everything_emitted

MACHINES = {"DataDeletion": "datasetGroupArn", "AudienceExport": "audienceGenerationJobArn"}
NOT_OBJECTS = {
    "null": (None, "null"),
    "string": ("delete the users in users.csv please", "a string"),
    "empty string": ("", "a string"),
    "integer": (42, "a number"),
    "float": (-0.5, "a number"),
    "true": (True, "true or false"),
    "false": (False, "true or false"),
    "empty list": ([], "a list"),
    "list of objects": ([{"datasetGroupArn": GROUP}], "a list"),
}


@pytest.mark.parametrize("machine", sorted(MACHINES))
@pytest.mark.parametrize("case", sorted(NOT_OBJECTS))
def test_an_input_that_is_not_an_object_is_rejected_by_name(local, machine, case):
    value, kind = NOT_OBJECTS[case]

    ex = local.run(machine, value)

    assert (ex.status, ex.error) == ("FAILED", "InvalidInput"), ex.cause
    assert "must be a JSON object such as {" in ex.cause and MACHINES[machine] in ex.cause
    assert ex.cause.endswith(f"it is {kind}")
    assert local.personalize.calls_of("CreateDataDeletionJob") == []
    assert local.cleanroomsml.calls_of("StartAudienceExportJob") == []
    [event] = local.captured("events")  # the outcome reporter read it back and announced it
    assert event["detail"]["error"] == "InvalidInput" and event["detail"]["inputType"] == kind
    if machine == "DataDeletion":
        [record] = audit_records(local)
        assert record["executionArn"] == ex.arn and record["error"] == "InvalidInput"
        assert record["inputType"] == kind
        assert "datasetGroupArn" not in record and "dataLocation" not in record
    assert "user-7f3a9c-secret" not in everything_emitted(local, ex)


WRONG_TYPES = {
    "DataDeletion": (
        {"datasetGroupArn": 7, "dataLocation": ["s3://x/y.csv"], "jobName": {"a": 1}, "tags": "team=privacy"},
        ["datasetGroupArn must be a string", "dataLocation must be a string", "jobName must be a string",
         "tags must be a list"]),
    "AudienceExport": (
        {"audienceGenerationJobArn": None, "audienceSize": "huge", "name": 3, "description": [1]},
        ["audienceGenerationJobArn must be a string", "audienceSize must be an object", "name must be a string",
         "description must be a string"]),
}
NESTED_WRONG_TYPES = {
    "DataDeletion": ({"datasetGroupArn": GROUP, "dataLocation": "s3://{bucket}/deletions/u.csv",
                      "tags": [{"tagKey": 1, "tagValue": None}, "team", [], {"tagKey": "k"}]},
                     ["tags[0].tagKey must be a string", "tags[0].tagValue must be a string",
                      "tags[1] must be an object", "tags[2] must be an object", "tags[3].tagValue is required"]),
    "AudienceExport": ({"audienceGenerationJobArn": "arn:aws:cleanrooms-ml:us-east-1:123456789012:"
                        "audience-generation-job/gen-1", "audienceSize": {"type": 5, "value": "5000", "unit": "x"}},
                       ["audienceSize.type must be a string", "audienceSize.value must be an integer",
                        "audienceSize.unit is not a known field"]),
}


@pytest.mark.parametrize("machine", sorted(MACHINES))
@pytest.mark.parametrize("cases", [WRONG_TYPES, NESTED_WRONG_TYPES], ids=["top level", "nested"])
def test_every_field_of_the_wrong_type_is_named(local, machine, cases):
    payload, expected = cases[machine]
    payload = {k: (v.replace("{bucket}", local.bucket()) if isinstance(v, str) else v) for k, v in payload.items()}

    ex = local.run(machine, payload)

    assert (ex.status, ex.error) == ("FAILED", "InvalidInput")
    for problem in expected:
        assert problem in ex.cause, (problem, ex.cause)
    assert local.personalize.calls_of("CreateDataDeletionJob") == []
    assert local.cleanroomsml.calls_of("StartAudienceExportJob") == []
    [event] = local.captured("events")
    assert event["detail"]["error"] == "InvalidInput" and "inputType" not in event["detail"]


def test_thousands_of_problems_make_a_bounded_message(local):
    payload = {"datasetGroupArn": GROUP, "dataLocation": "s3://x/y.csv", "tags": [{"tagKey": i} for i in range(3000)],
               **{f"unknown-{'x' * 500}-{i}": i for i in range(50)}}

    ex = local.run("DataDeletion", payload)

    assert (ex.status, ex.error) == ("FAILED", "InvalidInput")
    assert "more of the same kinds" in ex.cause and len(ex.cause) < 8000
    assert ex.cause.startswith("Input rejected, 6052 problems: (1) unknown-") and "(21)" not in ex.cause
    assert "x" * 65 not in ex.cause  # long field names are shortened


# --------------------------------------------------------------------------- errors nobody named


@pytest.mark.parametrize("path, machine", [("DataDeletion/Launch", "DataDeletion"),
                                           ("DataDeletion/Poll", "DataDeletion"),
                                           ("DataDeletion/Validate", "DataDeletion"),
                                           ("AudienceExport/Start", "AudienceExport")])
def test_an_unexpected_exception_keeps_its_name_and_message_and_is_not_retried(local, path, machine):
    local.break_function(path, RuntimeError("the unexpected happened"))

    ex = local.run(machine, _valid_input(local, machine))

    assert (ex.status, ex.error, ex.cause) == ("FAILED", "RuntimeError", "the unexpected happened")
    assert sum(1 for i in local.invocations if path.split("/")[1] in i.function and i.error) == 1


def test_an_unknown_service_error_keeps_its_code_and_the_service_message(local):
    local.personalize.fail_next("CreateDataDeletionJob", "BrandNewException", "Personalize says something new")

    ex = local.run("DataDeletion", _valid_input(local, "DataDeletion"))

    assert (ex.status, ex.error) == ("FAILED", "BrandNewException")
    assert ex.cause == "CreateDataDeletionJob: Personalize says something new"


RAW_FAULTS = {
    "envelope without a message": (b'{"errorType": "Runtime.ExitError", "stackTrace": ["File \\"x.py\\""]}',
                                   "without an error message"),
    "message that is not text": (b'{"errorMessage": 42, "errorType": "Weird", "stackTrace": []}',
                                 "without an error message"),
    "runtime crash with a message": (
        b'{"errorType": "Runtime.ExitError", "errorMessage": "RequestId: 1 Error: Runtime exited with error: '
        b'signal: killed"}', "Runtime exited with error: signal: killed"),
    "timeout envelope": (b'{"errorMessage": "2026-11-23T00:00:00Z 1 Task timed out after 60.00 seconds"}',
                         "Task timed out after 60.00 seconds"),
}


@pytest.mark.parametrize("case", sorted(RAW_FAULTS))
def test_a_function_error_of_any_shape_is_explained(local, case):
    payload, expected = RAW_FAULTS[case]
    local.break_function("DataDeletion/Launch", payload)

    ex = local.run("DataDeletion", _valid_input(local, "DataDeletion"))

    assert ex.status == "FAILED" and ex.error
    assert expected in ex.cause
    assert local.personalize.calls_of("CreateDataDeletionJob") == []


def test_a_cause_that_is_not_json_is_kept_as_it_is(local):
    local.break_function("AudienceExport/Poll", b"Task timed out: the function did not answer")

    ex = local.run("AudienceExport", _valid_input(local, "AudienceExport"))

    assert ex.status == "FAILED" and ex.error
    assert "Task timed out: the function did not answer" in ex.cause  # (moto quotes a payload that is not JSON)
    entered = [e["stateEnteredEventDetails"]["name"] for e in ex.history if "stateEnteredEventDetails" in e]
    assert entered[-2:] == ["ExplainError", "FailedWithCause"]


def test_transient_errors_are_still_retried_before_they_are_explained(local):
    local.personalize.fail_next("CreateDataDeletionJob", "ThrottlingException", "Rate exceeded", times=3)

    ex = local.run("DataDeletion", _valid_input(local, "DataDeletion"))

    assert ex.status == "SUCCEEDED", ex.cause
    assert len(local.personalize.calls_of("CreateDataDeletionJob")) >= 4


def _valid_input(local, machine):
    if machine == "DataDeletion":
        return {"datasetGroupArn": GROUP, "dataLocation": local.put_csv("deletions/users.csv", USER_IDS)}
    return {"audienceGenerationJobArn": local.cleanroomsml.add_generation_job(),
            "audienceSize": {"type": "ABSOLUTE", "value": 5000}}

"""export_validate: input rules, the generation job and the configured model's size bins (Clean Rooms ML stubbed).

Validation starts nothing: only GetAudienceGenerationJob and GetConfiguredAudienceModel
are queued, so a StartAudienceExportJob (or any other) call fails the Stubber.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

import export_validate
from jobkit import names

REGION_ACCOUNT = "us-east-1:123456789012"
GEN_ARN = f"arn:aws:cleanrooms-ml:{REGION_ACCOUNT}:audience-generation-job/gen-1234"
MODEL_ARN = f"arn:aws:cleanrooms-ml:{REGION_ACCOUNT}:configured-audience-model/cam-5678"
CREATED = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
SIZE = {"type": "ABSOLUTE", "value": 50_000}
BINS = [100_000, 10_000, 50_000]


def data(**overrides):
    base = {"audienceGenerationJobArn": GEN_ARN, "audienceSize": dict(SIZE), "name": "weekly-export"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def validate(value, execution_name="exec-1"):
    return export_validate.handler({"input": value, "executionName": execution_name}, None)


def rejected(value, execution_name="exec-1"):
    with pytest.raises(Exception) as caught:
        validate(value, execution_name)
    assert type(caught.value).__name__ == "InvalidInput"
    return caught.value


def generation_job(services, status="ACTIVE", arn=GEN_ARN):
    response = {"createTime": CREATED, "updateTime": CREATED, "audienceGenerationJobArn": arn,
                "name": "lookalikes", "status": status, "configuredAudienceModelArn": MODEL_ARN,
                "collaborationId": "c0ffee00-0000-4000-8000-000000000000"}
    services.expect("cleanroomsml", "get_audience_generation_job", response, {"audienceGenerationJobArn": arn})


def configured_model(services, size_type="ABSOLUTE", bins=BINS, with_config=True):
    response = {"createTime": CREATED, "updateTime": CREATED, "configuredAudienceModelArn": MODEL_ARN,
                "name": "retail-model",
                "audienceModelArn": f"arn:aws:cleanrooms-ml:{REGION_ACCOUNT}:audience-model/am-1",
                "outputConfig": {"destination": {"s3Destination": {"s3Uri": "s3://partner-bucket/audiences/"}},
                                 "roleArn": "arn:aws:iam::123456789012:role/CleanRoomsMlOutput"},
                "status": "ACTIVE", "sharedAudienceMetrics": ["ALL"]}
    if with_config:
        response["audienceSizeConfig"] = {"audienceSizeType": size_type, "audienceSizeBins": list(bins)}
    services.expect("cleanroomsml", "get_configured_audience_model", response,
                    {"configuredAudienceModelArn": MODEL_ARN})


@pytest.fixture(autouse=True)
def _no_calls_but_the_queued_ones(services):
    services.stubber("cleanroomsml")
    yield
    services.assert_done()


# --- happy paths ---------------------------------------------------------------------------------


def test_size_matches_a_model_bin(services):
    generation_job(services)
    configured_model(services)
    result = validate(data(description="Weekly lookalike export for the EU campaign"))
    assert result == {
        "audienceGenerationJobArn": GEN_ARN,
        "audienceSize": {"type": "ABSOLUTE", "value": 50_000},
        "name": "weekly-export",
        "configuredAudienceModelArn": MODEL_ARN,
        "sizeCheck": "MATCHED_MODEL_BIN",
        "description": "Weekly lookalike export for the EU campaign",
    }
    json.dumps(result)
    services.assert_done()  # no StartAudienceExportJob: the Stubber would have raised on it


def test_description_absent_stays_absent(services):
    generation_job(services)
    configured_model(services)
    assert "description" not in validate(data())


def test_name_with_emoji_is_accepted(services):
    generation_job(services)
    configured_model(services)
    assert validate(data(name="Weekly 🚀 export"))["name"] == "Weekly 🚀 export"


def test_percentage_100_is_accepted(services):
    generation_job(services)
    configured_model(services, size_type="PERCENTAGE", bins=[5, 10, 100])
    result = validate(data(audienceSize={"type": "PERCENTAGE", "value": 100}))
    assert result["audienceSize"] == {"type": "PERCENTAGE", "value": 100}
    assert result["sizeCheck"] == "MATCHED_MODEL_BIN"


@pytest.mark.parametrize("code", ["AccessDeniedException", "ResourceNotFoundException"])
def test_model_not_readable_leaves_the_size_to_the_service(services, code):
    generation_job(services)
    services.expect_error("cleanroomsml", "get_configured_audience_model", code,
                          "User is not authorized to access the configured audience model",
                          {"configuredAudienceModelArn": MODEL_ARN}, status=403 if code.startswith("Access") else 404)
    result = validate(data(audienceSize={"type": "ABSOLUTE", "value": 123_456}))
    assert result["sizeCheck"] == "MODEL_NOT_READABLE_SERVICE_DECIDES"
    assert result["audienceSize"] == {"type": "ABSOLUTE", "value": 123_456}


def test_model_without_size_config(services):
    generation_job(services)
    configured_model(services, with_config=False)
    assert validate(data())["sizeCheck"] == "MODEL_HAS_NO_SIZE_CONFIG"


def test_name_derived_from_a_long_execution_name(services):
    generation_job(services)
    configured_model(services)
    execution = "export-" + "0123456789" * 7 + "abc"  # 80 characters, the Step Functions maximum
    result = validate(data(name=None), execution_name=execution)
    assert len(result["name"]) <= 63
    assert result["name"] == names.bounded_name(execution)
    assert result["name"].startswith("export-0123456789")


def test_name_derived_from_a_short_execution_name_is_kept(services):
    generation_job(services)
    configured_model(services)
    assert validate(data(name=None), execution_name="weekly-2026-11-23")["name"] == "weekly-2026-11-23"


# --- size against the configured model ------------------------------------------------------------


def test_size_not_in_the_model_bins(services):
    generation_job(services)
    configured_model(services)
    exc = rejected(data(audienceSize={"type": "ABSOLUTE", "value": 20_000}))
    assert exc.problems == [
        "audienceSize must be one of the configured audience model's sizes: type ABSOLUTE, "
        "value one of 10000, 50000, 100000"
    ]


def test_size_type_differs_from_the_model(services):
    generation_job(services)
    configured_model(services, size_type="PERCENTAGE", bins=[5, 10, 20])
    exc = rejected(data(audienceSize={"type": "ABSOLUTE", "value": 10}))
    assert "type PERCENTAGE, value one of 5, 10, 20" in str(exc)


def test_other_model_errors_are_named(services):
    generation_job(services)
    services.expect_error("cleanroomsml", "get_configured_audience_model", "ThrottlingException", "Rate exceeded",
                          {"configuredAudienceModelArn": MODEL_ARN}, status=429)
    with pytest.raises(Exception) as caught:
        validate(data())
    assert type(caught.value).__name__ == "ThrottlingException"
    assert str(caught.value) == "GetConfiguredAudienceModel: Rate exceeded"


# --- the generation job --------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["CREATE_PENDING", "CREATE_IN_PROGRESS", "CREATE_FAILED", "DELETE_PENDING"])
def test_generation_job_not_active(services, status):
    generation_job(services, status=status)
    exc = rejected(data())
    assert exc.problems == [
        f"the audience generation job is {status}; only an ACTIVE generation job can be exported"
    ]


@pytest.mark.parametrize("code, status", [("ResourceNotFoundException", 404), ("ValidationException", 400)])
def test_generation_job_not_there(services, code, status):
    services.expect_error("cleanroomsml", "get_audience_generation_job", code,
                          "Audience generation job gen-1234 not found", {"audienceGenerationJobArn": GEN_ARN},
                          status=status)
    exc = rejected(data())
    assert exc.problems == ["audienceGenerationJobArn: Audience generation job gen-1234 not found"]


def test_generation_job_access_denied_is_named(services):
    services.expect_error("cleanroomsml", "get_audience_generation_job", "AccessDeniedException",
                          "User is not authorized to perform cleanrooms-ml:GetAudienceGenerationJob",
                          {"audienceGenerationJobArn": GEN_ARN}, status=403)
    with pytest.raises(Exception) as caught:
        validate(data())
    assert type(caught.value).__name__ == "AccessDeniedException"
    assert str(caught.value) == (
        "GetAudienceGenerationJob: User is not authorized to perform cleanrooms-ml:GetAudienceGenerationJob"
    )


# --- input rules (no service call at all) -----------------------------------------------------------


def test_input_must_be_an_object():
    [problem] = rejected("export please").problems
    assert problem.startswith("the execution input must be a JSON object such as {\"audienceGenerationJobArn\": ")
    assert problem.endswith("; it is a string")


def test_missing_fields():
    assert rejected({}).problems == ["audienceGenerationJobArn is required", "audienceSize is required"]


def test_unknown_field():
    problems = rejected(data(destination="s3://mine/")).problems
    assert problems == ["destination is not a known field (known: audienceGenerationJobArn, audienceSize, name, "
                        "description)"]


@pytest.mark.parametrize("value", [101, 1000])
def test_percentage_over_100(value):
    problems = rejected(data(audienceSize={"type": "PERCENTAGE", "value": value})).problems
    assert problems == ["audienceSize.value must be between 1 and 100 for type PERCENTAGE"]


@pytest.mark.parametrize("size, message", [
    ({"type": "ABSOLUTE", "value": 0}, "audienceSize.value must be at least 1"),
    ({"type": "ABSOLUTE", "value": 20_000_001}, "audienceSize.value must be at most 20000000"),
    ({"type": "HUGE", "value": 10}, "audienceSize.type must be one of ABSOLUTE, PERCENTAGE"),
    ({"type": "ABSOLUTE", "value": "10"}, "audienceSize.value must be an integer"),
    ({"type": "ABSOLUTE"}, "audienceSize.value is required"),
    ({"type": "ABSOLUTE", "value": 10, "unit": "people"}, "audienceSize.unit is not a known field"),
])
def test_bad_size(size, message):
    assert message in rejected(data(audienceSize=size)).problems


def test_percentage_zero_reports_both_rules():
    problems = rejected(data(audienceSize={"type": "PERCENTAGE", "value": 0})).problems
    assert "audienceSize.value must be at least 1" in problems
    assert "audienceSize.value must be between 1 and 100 for type PERCENTAGE" in problems


@pytest.mark.parametrize("name", ["   ", "\t", ""])
def test_blank_name(name):
    problems = rejected(data(name=name)).problems
    assert problems and all(p.startswith("name must") for p in problems)


def test_name_too_long():
    assert rejected(data(name="n" * 64)).problems == ["name must have at most 63 characters (has 64)"]


def test_description_too_long():
    problems = rejected(data(description="d" * 256)).problems
    assert problems == ["description must have at most 255 characters (has 256)"]


@pytest.mark.parametrize("arn", [
    "arn:aws:cleanrooms-ml:us-east-1:123456789012:configured-audience-model/cam-5678",
    "arn:aws:cleanrooms-ml:us-east-1:1234:audience-generation-job/gen-1234",
    "gen-1234",
])
def test_bad_arn(arn):
    problems = rejected(data(audienceGenerationJobArn=arn)).problems
    assert any(p.startswith("audienceGenerationJobArn must be an audience generation job ARN") for p in problems)


def test_generation_job_in_another_region(monkeypatch):
    monkeypatch.setenv("ALLOWED_GENERATION_JOB_ARNS", '["*"]')
    arn = "arn:aws:cleanrooms-ml:eu-west-1:123456789012:audience-generation-job/gen-1234"
    assert rejected(data(audienceGenerationJobArn=arn)).problems == [
        "audienceGenerationJobArn is in Region eu-west-1; this workflow runs in us-east-1"
    ]


def test_generation_job_not_allowed(monkeypatch):
    monkeypatch.setenv("ALLOWED_GENERATION_JOB_ARNS", json.dumps([GEN_ARN]))
    arn = f"arn:aws:cleanrooms-ml:{REGION_ACCOUNT}:audience-generation-job/gen-9999"
    assert rejected(data(audienceGenerationJobArn=arn)).problems == [
        "audienceGenerationJobArn is not one of the generation jobs this workflow may export"
    ]


def test_several_problems_at_once():
    exc = rejected({"audienceGenerationJobArn": "gen-1234", "audienceSize": {"type": "HUGE", "value": 0},
                    "name": " ", "description": "d" * 300, "extra": 1})
    assert len(exc.problems) >= 6
    assert str(exc).startswith(f"Input rejected, {len(exc.problems)} problems: (1) ")
    for fragment in ("extra is not a known field", "audienceSize.type must be one of",
                     "audienceSize.value must be at least 1", "name must match the pattern",
                     "description must have at most 255", "audienceGenerationJobArn must be an audience"):
        assert any(fragment in p for p in exc.problems), fragment

"""Audience export workflow, executed end to end."""

from __future__ import annotations

import pytest

from tests.harness.fakes import ConfiguredModel, JobPlan

MACHINE = "AudienceExport"
SIZE = {"type": "ABSOLUTE", "value": 5000}


def _input(generation: str, **extra):
    return {"audienceGenerationJobArn": generation, "audienceSize": SIZE, **extra}


def test_happy_path_reports_where_the_segment_landed(local):
    gen = local.cleanroomsml.add_generation_job()
    local.cleanroomsml.default_plan = JobPlan(duration=20 * 60)

    ex = local.run(MACHINE, _input(gen, description="Q4 lookalikes"), name="export-q4")

    assert ex.status == "SUCCEEDED", ex.cause
    out = ex.output
    assert out["status"] == "ACTIVE"
    assert out["name"] == "export-q4"
    assert out["audienceGenerationJobArn"] == gen and out["audienceSize"] == SIZE
    assert out["outputLocation"].startswith("s3://partner-exports/export-q4/")
    assert out["createTime"].endswith("Z") and out["updateTime"].endswith("Z")
    assert out["description"] == "Q4 lookalikes"
    assert out["sizeCheck"] == "MATCHED_MODEL_BIN"
    assert len(local.cleanroomsml.calls_of("StartAudienceExportJob")) == 1


def test_create_failed_carries_status_code_and_message(local):
    gen = local.cleanroomsml.add_generation_job()
    local.cleanroomsml.default_plan = JobPlan(duration=120, outcome="failure", status_code="INSUFFICIENT_SEED",
                                              failure_reason="The seed audience is too small to export.")

    ex = local.run(MACHINE, _input(gen))

    assert (ex.status, ex.error) == ("FAILED", "AudienceExportJobFailed")
    cause = ex.cause_json()
    assert cause["statusCode"] == "INSUFFICIENT_SEED"
    assert cause["message"] == "The seed audience is too small to export."
    assert cause["status"] == "CREATE_FAILED"


@pytest.mark.parametrize("payload, expected", [
    ({"audienceSize": {"type": "PERCENTAGE", "value": 101}}, "between 1 and 100"),
    ({"audienceSize": {"type": "ABSOLUTE", "value": 0}}, "at least 1"),
    ({"audienceSize": {"type": "ABSOLUTE", "value": 20_000_001}}, "at most 20000000"),
    ({"audienceSize": {"type": "HUGE", "value": 10}}, "one of ABSOLUTE, PERCENTAGE"),
    ({"audienceSize": {"type": "ABSOLUTE", "value": 7000}}, "one of the configured audience model's sizes"),
    ({"audienceSize": {"type": "PERCENTAGE", "value": 10}}, "type ABSOLUTE"),
    ({"name": "   "}, "name must match"),
    ({"name": "n" * 64}, "at most 63 characters"),
    ({"description": "d" * 256}, "at most 255 characters"),
    ({"audienceGenerationJobArn": "arn:aws:cleanrooms-ml:us-east-1:123456789012:training-dataset/x"},
     "audience generation job ARN"),
    ({"audienceGenerationJobArn": "arn:aws:cleanrooms-ml:us-east-1:123456789012:audience-generation-job/missing"},
     "not found"),
    ({"audienceSize": None}, "audienceSize must be an object"),
    ({"segment": "x"}, "segment is not a known field"),
])
def test_bad_input_is_rejected_before_any_start_call(local, payload, expected):
    gen = local.cleanroomsml.add_generation_job()

    ex = local.run(MACHINE, {**_input(gen), **payload})

    assert (ex.status, ex.error) == ("FAILED", "InvalidInput")
    assert expected in ex.cause
    assert local.cleanroomsml.calls_of("StartAudienceExportJob") == []


def test_a_generation_job_that_is_not_active_is_rejected(local):
    gen = local.cleanroomsml.add_generation_job(status="CREATE_IN_PROGRESS")

    ex = local.run(MACHINE, _input(gen))

    assert (ex.status, ex.error) == ("FAILED", "InvalidInput")
    assert "CREATE_IN_PROGRESS" in ex.cause
    assert local.cleanroomsml.calls_of("StartAudienceExportJob") == []


def test_finds_its_export_across_several_listing_pages(local):
    gen = local.cleanroomsml.add_generation_job()
    for i in range(7):
        local.cleanroomsml.add_export(gen, f"older-{i}", SIZE, age=3600 + i)
    local.cleanroomsml.add_export(gen, "paged", {"type": "ABSOLUTE", "value": 1000}, age=60)  # same name, other size
    local.cleanroomsml.page_size = 2

    ex = local.run(MACHINE, _input(gen), name="paged")

    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output["audienceSize"] == SIZE
    lists = local.cleanroomsml.calls_of("ListAudienceExportJobs")
    assert any("nextToken" in c.params for c in lists)


def test_an_export_listed_only_after_a_few_polls_is_followed(local):
    gen = local.cleanroomsml.add_generation_job()
    local.cleanroomsml.listing_delay = 100

    ex = local.run(MACHINE, _input(gen))

    assert ex.status == "SUCCEEDED", ex.cause
    statuses = [inv.result.get("status") for inv in local.invocations
                if inv.function.startswith("AudienceExportPoll") and inv.result]
    assert statuses.count("NOT_LISTED_YET") >= 2


def test_an_export_that_never_appears_fails_after_the_grace_period(local):
    gen = local.cleanroomsml.add_generation_job()
    local.cleanroomsml.listing_delay = 10 * 3600

    ex = local.run(MACHINE, _input(gen))

    assert (ex.status, ex.error) == ("FAILED", "AudienceExportJobNotFound")
    assert "not listed" in ex.cause_json()["message"]
    assert len(local.cleanroomsml.calls_of("StartAudienceExportJob")) == 1


def test_quota_errors_are_retried_and_start_exactly_one_export(local):
    gen = local.cleanroomsml.add_generation_job()
    local.cleanroomsml.fail_next("StartAudienceExportJob", "ServiceQuotaExceededException",
                                 "Too many pending export jobs", status=402, times=4,
                                 quotaName="Pending audience export jobs", quotaValue=20.0)
    local.cleanroomsml.fail_next("ListAudienceExportJobs", "ThrottlingException", "Rate exceeded", status=429)

    ex = local.run(MACHINE, _input(gen))

    assert ex.status == "SUCCEEDED", ex.cause
    assert len(local.cleanroomsml.exports) == 1
    assert local.clock.backed_off > 0


def test_an_unreadable_model_lets_the_service_decide_and_says_so(local):
    gen = local.cleanroomsml.add_generation_job(model=ConfiguredModel("", readable=False))

    ex = local.run(MACHINE, _input(gen))

    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output["sizeCheck"] == "MODEL_NOT_READABLE_SERVICE_DECIDES"


def test_a_size_the_service_refuses_fails_with_its_message(local):
    gen = local.cleanroomsml.add_generation_job(model=ConfiguredModel("", bins=[1000], readable=False))

    ex = local.run(MACHINE, _input(gen))

    assert (ex.status, ex.error) == ("FAILED", "ValidationException")
    assert "configured sizes" in ex.cause


def test_a_repeated_start_adopts_the_listed_export(local):
    gen = local.cleanroomsml.add_generation_job()
    local.cleanroomsml.add_export(gen, "rerun", SIZE, age=30)

    ex = local.run(MACHINE, _input(gen), name="rerun")

    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output["adopted"] is True
    assert local.cleanroomsml.calls_of("StartAudienceExportJob") == []
    assert len(local.cleanroomsml.exports) == 1


def test_a_lost_start_response_adopts_the_export(local):
    gen = local.cleanroomsml.add_generation_job()
    local.lose_responses("AudienceExport/Start", times=1)

    ex = local.run(MACHINE, _input(gen))

    assert ex.status == "SUCCEEDED", ex.cause
    assert len(local.cleanroomsml.exports) == 1
    assert ex.output["adopted"] is True


def test_unknown_status_stops_instead_of_looping(local):
    gen = local.cleanroomsml.add_generation_job()
    local.cleanroomsml.default_plan = JobPlan(status_script=[(0, "CREATE_PENDING"), (60, "DELETE_PENDING")])

    ex = local.run(MACHINE, _input(gen))

    assert (ex.status, ex.error) == ("FAILED", "AudienceExportJobUnexpectedStatus")
    assert ex.cause_json()["status"] == "DELETE_PENDING"


def test_an_export_that_outlives_the_job_timeout_fails_with_a_timeout_error(local):
    gen = local.cleanroomsml.add_generation_job()
    local.cleanroomsml.default_plan = JobPlan(duration=10 * 3600)

    ex = local.run(MACHINE, _input(gen))

    assert (ex.status, ex.error) == ("FAILED", "AudienceExportJobTimedOut")
    polls = local.cleanroomsml.calls_of("ListAudienceExportJobs")
    assert len(polls) < 150

"""ml-data-jobs export-audience: start the export workflow and follow it."""

from __future__ import annotations

import re

import pytest

from tests.cli.conftest import POLL, STACK, executions
from tests.harness.fakes import ConfiguredModel, JobPlan

MACHINE = "AudienceExport"


def _args(generation, *extra, size_type="ABSOLUTE", size="5000"):
    return ["export-audience", "--audience-generation-job-arn", generation, "--size-type", size_type,
            "--size", size, *POLL, *extra]


def test_happy_path_reports_where_the_segment_landed(local, cli):
    generation = local.cleanroomsml.add_generation_job()
    local.cleanroomsml.default_plan = JobPlan(duration=5 * 60)

    run = cli(*_args(generation, "--stack", STACK, "--name", "export-q4", "--description", "Q4 lookalikes"))

    assert run.exit_code == 0, run.output
    (execution,) = executions(local, MACHINE)
    assert execution["status"] == "SUCCEEDED" and execution["name"].startswith("export-audience-")
    (start,) = local.cleanroomsml.calls_of("StartAudienceExportJob")
    assert start.params["name"] == "export-q4" and start.params["description"] == "Q4 lookalikes"
    assert start.params["audienceSize"] == {"type": "ABSOLUTE", "value": 5000}
    match = re.search(r"SUCCEEDED in .*: the segment is at (s3://partner-exports/export-q4/\S+/)", run.stdout)
    assert match, run.stdout
    assert re.search(r"outputLocation\s+" + re.escape(match.group(1)), run.stdout)
    assert re.search(r"sizeCheck\s+MATCHED_MODEL_BIN", run.stdout)
    assert run.stderr == ""


def test_json_carries_the_input_and_the_output(local, cli):
    generation = local.cleanroomsml.add_generation_job()

    run = cli(*_args(generation, "--stack", STACK, "--json", size_type="absolute"))

    assert run.exit_code == 0, run.output
    doc = run.json()
    assert doc["command"] == "export-audience" and doc["exitCode"] == 0
    assert doc["target"] == {"source": f"stack {STACK}", "stateMachineArn": local.machine(MACHINE)}
    execution = doc["execution"]
    assert execution["workflow"] == "audience-export"
    assert execution["input"] == {"audienceGenerationJobArn": generation,
                                  "audienceSize": {"type": "ABSOLUTE", "value": 5000}}
    assert execution["output"]["status"] == "ACTIVE"
    assert execution["output"]["outputLocation"].startswith("s3://partner-exports/")


def test_create_failed_exits_3_with_status_code_and_message(local, cli):
    generation = local.cleanroomsml.add_generation_job()
    local.cleanroomsml.default_plan = JobPlan(duration=120, outcome="failure", status_code="INSUFFICIENT_SEED",
                                              failure_reason="The seed audience is too small to export.")

    run = cli(*_args(generation, "--state-machine-arn", local.machine(MACHINE)))
    as_json = cli(*_args(generation, "--state-machine-arn", local.machine(MACHINE), "--json", "--name", "again"))

    assert run.exit_code == 3, run.output
    assert "FAILED after" in run.stdout and ": AudienceExportJobFailed" in run.stdout
    assert re.search(r"statusCode\s+INSUFFICIENT_SEED", run.stdout)
    assert re.search(r"message\s+The seed audience is too small to export\.", run.stdout)
    assert "Read statusCode and message" in run.stdout
    assert as_json.exit_code == 3
    details = as_json.json()["execution"]["causeDetails"]
    assert details["statusCode"] == "INSUFFICIENT_SEED" and details["status"] == "CREATE_FAILED"


@pytest.mark.parametrize("args, expected", [
    ({"size_type": "PERCENTAGE", "size": "150"}, "--size must be between 1 and 100 for --size-type PERCENTAGE"),
    ({"size": "0"}, "--size must be between 1 and 20000000"),
    ({"generation": "arn:aws:cleanrooms-ml:us-east-1:123456789012:training-dataset/x"},
     "--audience-generation-job-arn must be an audience generation job ARN"),
])
def test_bad_options_are_rejected_locally_and_nothing_starts(local, cli, args, expected):
    generation = args.pop("generation", None) or local.cleanroomsml.add_generation_job()

    run = cli(*_args(generation, "--stack", STACK, **args))

    assert run.exit_code == 2, run.output
    assert expected in run.stderr
    assert executions(local, MACHINE) == []


def test_a_blank_name_is_rejected_locally(local, cli):
    run = cli(*_args(local.cleanroomsml.add_generation_job(), "--stack", STACK, "--name", "   ", "--json"))

    assert run.exit_code == 2
    assert run.json()["error"]["problems"] == ["--name must be 1-63 characters and not blank"]


def test_a_size_that_is_not_one_of_the_model_bins_is_rejected_by_the_workflow(local, cli):
    generation = local.cleanroomsml.add_generation_job(model=ConfiguredModel("", bins=[1000, 5000]))

    run = cli(*_args(generation, "--stack", STACK, size="7000"))

    assert run.exit_code == 2, run.output
    assert ": InvalidInput" in run.stdout
    assert "audienceSize must be one of the configured audience model's sizes" in run.stdout
    assert local.cleanroomsml.calls_of("StartAudienceExportJob") == []


def test_a_size_type_outside_the_choices_is_a_usage_error(local, cli):
    run = cli(*_args(local.cleanroomsml.add_generation_job(), "--stack", STACK, size_type="HALF"))

    assert run.exit_code == 4
    assert "Invalid value for '--size-type'" in run.stderr
    assert executions(local, MACHINE) == []

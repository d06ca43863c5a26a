"""ml-data-jobs status and list."""

from __future__ import annotations

import re
import threading

import pytest

from tests.cli.conftest import GROUP, POLL, STACK, USER_IDS
from tests.harness.fakes import JobPlan

DELETION, EXPORT = "DataDeletion", "AudienceExport"


def _deletion(local, name=None, **plan):
    if plan:
        local.personalize.default_plan = JobPlan(**plan)
    location = local.put_csv(f"deletions/{name or 'req'}.csv", USER_IDS)
    return local.run(DELETION, {"datasetGroupArn": GROUP, "dataLocation": location}, name=name)


def _export(local, name=None):
    generation = local.cleanroomsml.add_generation_job()
    return local.run(EXPORT, {"audienceGenerationJobArn": generation,
                              "audienceSize": {"type": "ABSOLUTE", "value": 5000}}, name=name)


def test_status_of_a_succeeded_deletion_shows_its_output(local, cli):
    ex = _deletion(local, num_deleted=9)

    run = cli("status", ex.arn)
    as_json = cli("status", ex.arn, "--json")

    assert run.exit_code == 0, run.output
    assert re.search(r"SUCCEEDED in .*Personalize deleted 9 records", run.stdout)
    assert re.search(r"dataDeletionJobArn\s+arn:aws:personalize:", run.stdout)
    assert as_json.exit_code == 0
    doc = as_json.json()
    assert doc["command"] == "status" and doc["exitCode"] == 0
    execution = doc["execution"]
    assert execution["executionArn"] == ex.arn and execution["status"] == "SUCCEEDED"
    assert execution["workflow"] == "data-deletion"
    assert execution["output"] == ex.output
    assert execution["startDate"].endswith("Z") and execution["stopDate"].endswith("Z")


def test_status_of_a_failed_job_exits_3_with_error_and_cause(local, cli):
    ex = _deletion(local, outcome="failure", failure_reason="The dataset group is being deleted")

    run = cli("status", ex.arn)
    doc = cli("status", ex.arn, "--json").json()

    assert run.exit_code == 3
    assert "DataDeletionJobFailed" in run.stdout
    assert re.search(r"failureReason\s+The dataset group is being deleted", run.stdout)
    assert doc["exitCode"] == 3
    assert doc["execution"]["error"] == "DataDeletionJobFailed"
    assert doc["execution"]["cause"] == ex.cause
    assert doc["execution"]["causeDetails"] == ex.cause_json()


def test_status_of_rejected_input_exits_2(local, cli):
    ex = local.run(DELETION, {"datasetGroupArn": GROUP, "dataLocation": f"s3://{local.bucket()}/deletions/no.csv"})

    run = cli("status", ex.arn)

    assert run.exit_code == 2
    assert "InvalidInput" in run.stdout and "does not exist" in run.stdout


def test_status_of_an_aborted_execution_exits_3(local, cli):
    entered, release = threading.Event(), threading.Event()

    def blocker(event, context):
        entered.set()
        release.wait(20)
        return {}

    arn = local.add_function("Blocker", blocker)
    machine = local.create_machine("Blocking", {"StartAt": "Block", "States": {
        "Block": {"Type": "Task", "Resource": arn, "End": True}}})
    execution = local.start(machine, {})
    try:
        assert entered.wait(20), "the blocking task never started"  # stop it mid-task, not while it is starting
        local.sfn.stop_execution(executionArn=execution, error="Operator", cause="stopped by hand")
    finally:
        release.set()
    assert local.wait(execution).status == "ABORTED"

    run = cli("status", execution)

    assert run.exit_code == 3, run.output
    assert "ABORTED" in run.stdout


@pytest.fixture
def running_deletion(local, monkeypatch):
    """A deletion whose Validate step blocks until released (the execution stays RUNNING)."""
    import deletion_validate

    release = threading.Event()
    original = deletion_validate.handler
    monkeypatch.setattr(deletion_validate, "handler", lambda e, c: release.wait(20) and original(e, c))
    location = local.put_csv("deletions/running.csv", USER_IDS)
    arn = local.start(DELETION, {"datasetGroupArn": GROUP, "dataLocation": location})
    yield arn, release
    release.set()
    local.wait(arn)


def test_status_of_a_running_execution_exits_0_and_says_how_to_follow(local, cli, running_deletion):
    arn, release = running_deletion

    run = cli("status", arn, "--region", "us-east-1")
    doc = cli("status", arn, "--json").json()

    assert run.exit_code == 0, run.output
    assert run.stdout.startswith("RUNNING for ")
    assert f"ml-data-jobs status --follow --region us-east-1 {arn}" in run.stdout
    assert doc["exitCode"] == 0 and doc["execution"]["status"] == "RUNNING"
    assert "output" not in doc["execution"] and "currentState" in doc["execution"]

    release.set()
    followed = cli("status", arn, "--follow", *POLL, "--json")
    assert followed.exit_code == 0
    assert followed.json()["execution"]["status"] == "SUCCEEDED"


@pytest.mark.parametrize("arn, expected", [
    ("not-an-arn", "EXECUTION_ARN must be an execution ARN"),
    ("arn:aws:states:us-east-1:123456789012:execution:DataDeletionWorkflowStateMachine442CEB36:nope",
     "ExecutionDoesNotExist"),
])
def test_status_of_something_that_is_not_an_execution_exits_4(local, cli, arn, expected):
    run = cli("status", arn)

    assert run.exit_code == 4, run.output
    assert expected in run.stderr


def test_list_shows_both_workflows_newest_first(local, cli):
    first = _deletion(local, name="list-deletion-1")
    export = _export(local, name="list-export-1")
    failed = _deletion(local, name="list-deletion-2", outcome="failure")

    run = cli("list", "--stack", STACK, "--max", "3")
    doc = cli("list", "--stack", STACK, "--max", "3", "--json").json()

    assert run.exit_code == 0, run.output
    lines = run.stdout.splitlines()
    assert re.fullmatch(r"STARTED\s+WORKFLOW\s+STATUS\s+TOOK\s+NAME", lines[0])
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+data-deletion\s+FAILED\s+\S+ s\s+list-deletion-2$", lines[1])
    assert lines[2] == f"  {failed.arn}"
    assert re.search(r"export\s+SUCCEEDED\s+.*list-export-1$", lines[3]) and lines[4] == f"  {export.arn}"
    assert lines[6] == f"  {first.arn}" and len(lines) == 7
    assert doc["command"] == "list" and doc["exitCode"] == 0
    rows = doc["executions"]
    assert [r["executionArn"] for r in rows] == [failed.arn, export.arn, first.arn]
    assert [r["workflow"] for r in rows] == ["data-deletion", "audience-export", "data-deletion"]
    assert [r["status"] for r in rows] == ["FAILED", "SUCCEEDED", "SUCCEEDED"]
    assert all(r["startDate"].endswith("Z") and r["seconds"] >= 0 for r in rows)


def test_list_filters_by_workflow_and_limits(local, cli):
    _deletion(local, name="filter-deletion")
    export = _export(local, name="filter-export")

    exports = cli("list", "--stack", STACK, "--workflow", "audience-export", "--json").json()["executions"]
    newest = cli("list", "--stack", STACK, "--max", "1", "--json").json()["executions"]

    assert {r["workflow"] for r in exports} == {"audience-export"}
    assert export.arn in [r["executionArn"] for r in exports]
    assert [r["executionArn"] for r in newest] == [export.arn]


def test_list_by_state_machine_arn(local, cli):
    ex = _deletion(local, name="by-arn")

    run = cli("list", "--state-machine-arn", local.machine(DELETION), "--workflow", "data-deletion", "--json")

    assert run.exit_code == 0
    rows = run.json()["executions"]
    assert rows[0]["executionArn"] == ex.arn and rows[0]["workflow"] == "data-deletion"
    assert {r["stateMachineArn"] for r in rows} == {local.machine(DELETION)}


def test_list_without_a_target_is_a_usage_error(local, cli):
    run = cli("list", "--json")

    assert run.exit_code == 4
    assert run.json()["error"]["kind"] == "usage"

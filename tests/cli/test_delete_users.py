"""ml-data-jobs delete-users: check, upload, start, follow."""

from __future__ import annotations

import re
import threading

import pytest

from tests.cli.conftest import GROUP, POLL, STACK, USER_IDS, executions, stack_outputs, uploaded
from tests.harness.fakes import JobPlan

KEY = re.compile(r"deletions/cli/\d{4}-\d{2}-\d{2}/[0-9a-f-]{36}\.csv")


def _args(csv, *extra):
    return ["delete-users", "--dataset-group-arn", GROUP, "--csv", str(csv), *POLL, *extra]


def test_happy_path_uploads_under_the_prefix_starts_and_reports_records_deleted(local, cli, write_csv):
    csv = write_csv(["USER_ID", *USER_IDS])
    local.personalize.default_plan = JobPlan(duration=300, num_deleted=17)

    run = cli(*_args(csv, "--stack", STACK))

    assert run.exit_code == 0, run.output
    (key,) = uploaded(local)
    assert KEY.fullmatch(key), key
    assert local.s3.get_object(Bucket=local.bucket(), Key=key)["Body"].read() == csv.read_bytes()
    (create,) = local.personalize.calls_of("CreateDataDeletionJob")
    assert create.params["dataSource"]["dataLocation"] == f"s3://{local.bucket()}/{key}"
    assert create.params["datasetGroupArn"] == GROUP
    (execution,) = executions(local)
    assert execution["status"] == "SUCCEEDED"
    assert execution["name"].startswith("delete-users-")
    assert create.params["jobName"] == execution["name"]  # the execution name becomes the job name
    text = run.stdout
    assert "3 user IDs" in text and f"{csv.stat().st_size} bytes" in text
    assert f"s3://{local.bucket()}/{key}" in text
    assert execution["executionArn"] in text
    assert re.search(r"SUCCEEDED in .*Personalize deleted 17 records", text)
    assert re.search(r"numDeleted\s+17", text)
    assert "Personalize job" in text  # at least one progress line while following
    assert run.stderr == ""


def test_json_is_one_document_with_counts_location_and_output(local, cli, write_csv):
    csv = write_csv(["USER_ID", *USER_IDS])

    run = cli(*_args(csv, "--stack", STACK, "--json", "--tag", "team=privacy", "--job-name", "req-2026-11-23"))

    assert run.exit_code == 0, run.output
    doc = run.json()
    assert doc["command"] == "delete-users" and doc["exitCode"] == 0
    assert doc["csv"] == {"path": str(csv), "bytes": csv.stat().st_size, "userIds": 3, "problems": []}
    (key,) = uploaded(local)
    assert doc["upload"]["location"] == f"s3://{local.bucket()}/{key}" and doc["upload"]["versionId"]
    assert doc["target"] == {"source": f"stack {STACK}", "stateMachineArn": local.machine("DataDeletion"),
                             "bucket": local.bucket(), "prefix": "deletions/"}
    execution = doc["execution"]
    assert execution["status"] == "SUCCEEDED" and execution["workflow"] == "data-deletion"
    assert execution["input"] == {"datasetGroupArn": GROUP, "dataLocation": f"s3://{local.bucket()}/{key}",
                                  "jobName": "req-2026-11-23", "tags": [{"tagKey": "team", "tagValue": "privacy"}]}
    assert execution["output"]["numDeleted"] == 3 and execution["output"]["jobName"] == "req-2026-11-23"
    assert execution["error"] is None
    assert run.stderr == ""


def test_job_failure_exits_3_and_shows_the_failure_reason(local, cli, write_csv):
    csv = write_csv(["USER_ID", *USER_IDS])
    reason = "Dataset group shop is not ACTIVE: status CREATE FAILED"
    local.personalize.default_plan = JobPlan(duration=120, outcome="failure", failure_reason=reason)

    run = cli(*_args(csv, "--stack", STACK))
    as_json = cli(*_args(csv, "--stack", STACK, "--json"))

    assert run.exit_code == 3, run.output
    assert "FAILED after" in run.stdout and "DataDeletionJobFailed" in run.stdout
    assert re.search(r"failureReason\s+" + re.escape(reason), run.stdout)
    assert "AWS recommends creating another data deletion job" in run.stdout
    assert as_json.exit_code == 3
    doc = as_json.json()
    assert doc["exitCode"] == 3
    assert doc["execution"]["error"] == "DataDeletionJobFailed"
    assert doc["execution"]["causeDetails"]["failureReason"] == reason


BAD_FILES = {
    "no header": (["cli-user-4f2a91-secret", "cli-user-b7c0e3-secret"],
                  "must start with the header line USER_ID (its first line is 22 characters of something else)"),
    "lower-case header": (["user_id", "cli-user-4f2a91-secret"], "must start with the header line USER_ID"),
    "two columns in the header": (["USER_ID,ITEM_ID", "cli-user-4f2a91-secret,item-1"],
                                  "must have a single USER_ID column"),
    "two values in a row": (["USER_ID", "cli-user-4f2a91-secret", "cli-user-b7c0e3-secret,extra"],
                            "must have a single USER_ID column (1 line(s) have more than one value, the first is "
                            "line 3)"),
    "header only": (["USER_ID"], "has no user ID after its USER_ID header"),
    "byte-order mark": (b"\xef\xbb\xbfUSER_ID\ncli-user-4f2a91-secret\n", "starts with a UTF-8 byte-order mark"),
    "not UTF-8": ("USER_ID\ncli-user-4f2a91-secret-\xe9\n".encode("latin-1"), "is not UTF-8 text"),
    "empty": (b"", "is empty; it needs a USER_ID header and at least one user ID"),
}


@pytest.mark.parametrize("content, expected", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_bad_file_is_rejected_locally_nothing_uploaded_nothing_started(local, cli, write_csv, content, expected):
    csv = write_csv(content)

    run = cli(*_args(csv, "--stack", STACK))
    as_json = cli(*_args(csv, "--stack", STACK, "--json"))

    assert run.exit_code == 2, run.output
    assert f"{csv} {expected}" in run.stderr
    assert "nothing was uploaded" in run.stderr
    assert as_json.exit_code == 2
    doc = as_json.json()
    assert doc["error"]["kind"] == "invalid-input"
    assert any(expected in p for p in doc["error"]["problems"])
    assert "upload" not in doc and "execution" not in doc
    assert uploaded(local) == []
    assert executions(local) == []


def test_a_missing_file_and_a_bad_arn_are_reported_together(local, cli, tmp_path):
    run = cli("delete-users", "--dataset-group-arn", "arn:aws:personalize:us-east-1:123456789012:solution/x",
              "--csv", str(tmp_path / "nope.csv"), "--tag", "novalue", "--stack", STACK)

    assert run.exit_code == 2
    assert "--dataset-group-arn must be a dataset group ARN" in run.stderr
    assert f"{tmp_path / 'nope.csv'} does not exist" in run.stderr
    assert "--tag 'novalue' must be KEY=VALUE" in run.stderr
    assert uploaded(local) == [] and executions(local) == []


def test_input_the_workflow_rejects_exits_2_with_its_reasons(local, cli, write_csv):
    """A dataset group in another Region passes the local check; the workflow's Validate rejects it."""
    csv = write_csv(["USER_ID", *USER_IDS])
    other_region = GROUP.replace("us-east-1", "eu-west-1")

    run = cli("delete-users", "--dataset-group-arn", other_region, "--csv", str(csv), "--stack", STACK, *POLL)

    assert run.exit_code == 2, run.output
    assert "FAILED after" in run.stdout and ": InvalidInput" in run.stdout
    assert "datasetGroupArn is in Region eu-west-1; this workflow runs in us-east-1" in run.stdout
    assert "rejected the input before starting any job" in run.stdout
    assert local.personalize.calls_of("CreateDataDeletionJob") == []


def test_state_machine_arn_alone_discovers_the_bucket_and_prefix(local, cli, write_csv):
    csv = write_csv(["USER_ID", *USER_IDS])

    run = cli(*_args(csv, "--state-machine-arn", local.machine("DataDeletion"), "--json"))

    assert run.exit_code == 0, run.output
    doc = run.json()
    assert doc["target"] == {"source": "state machine", "stateMachineArn": local.machine("DataDeletion"),
                             "bucket": local.bucket(), "prefix": "deletions/"}
    (key,) = uploaded(local)
    assert KEY.fullmatch(key)
    assert doc["execution"]["output"]["dataLocation"] == f"s3://{local.bucket()}/{key}"


def test_bucket_and_prefix_options_override_what_is_discovered(local, cli, write_csv):
    csv = write_csv(["USER_ID", *USER_IDS])

    run = cli(*_args(csv, "--state-machine-arn", local.machine("DataDeletion"), "--prefix", "deletions/ops/",
                     "--bucket", local.bucket()))

    assert run.exit_code == 0, run.output
    (key,) = uploaded(local)
    assert key.startswith("deletions/ops/cli/")


def test_a_state_machine_that_is_not_a_deletion_workflow_is_a_configuration_error(local, cli, write_csv):
    csv = write_csv(["USER_ID", *USER_IDS])

    run = cli(*_args(csv, "--state-machine-arn", local.machine("AudienceExport")))

    assert run.exit_code == 4, run.output
    assert "does not look like a data deletion workflow" in run.stderr
    assert "--bucket and --prefix" in run.stderr
    assert uploaded(local) == []


@pytest.mark.parametrize("target, expected", [
    ([], "no workflow given: pass --stack NAME"),
    (["--stack", "NoSuchStack"], "could not read the outputs of stack NoSuchStack"),
    (["--stack", STACK, "--state-machine-arn", "arn:aws:states:us-east-1:123456789012:stateMachine:x"],
     "give --stack or --state-machine-arn, not both"),
    (["--state-machine-arn", "arn:aws:states:us-east-1:123456789012:stateMachine:Missing"],
     "StateMachineDoesNotExist"),
])
def test_target_problems_exit_4_before_anything_is_uploaded(local, cli, write_csv, target, expected):
    csv = write_csv(["USER_ID", *USER_IDS])

    run = cli(*_args(csv, *target))

    assert run.exit_code == 4, run.output
    assert expected in run.stderr
    assert uploaded(local) == []


def test_when_the_start_fails_the_uploaded_file_is_removed(local, cli, write_csv):
    csv = write_csv(["USER_ID", *USER_IDS])
    missing = "arn:aws:states:us-east-1:123456789012:stateMachine:Deleted"

    run = cli(*_args(csv, "--state-machine-arn", missing, "--bucket", local.bucket(), "--prefix", "deletions/"))

    assert run.exit_code == 4, run.output
    assert "could not start an execution" in run.stderr and "StateMachineDoesNotExist" in run.stderr
    assert "The uploaded file was removed." in run.stderr
    assert uploaded(local) == []


def test_a_taken_execution_name_is_a_usage_error(local, cli, write_csv):
    csv = write_csv(["USER_ID", *USER_IDS])

    first = cli(*_args(csv, "--stack", STACK, "--execution-name", "request-2026-11-23-001"))
    again = cli(*_args(csv, "--stack", STACK, "--execution-name", "request-2026-11-23-001", "--json"))

    assert first.exit_code == 0 and again.exit_code == 4
    assert "ExecutionAlreadyExists" in again.json()["error"]["message"]
    assert len(uploaded(local)) == 1  # the second file was removed again


def test_on_a_terminal_the_live_status_line_is_drawn(local, cli, write_csv, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich then treats the output as a terminal
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    csv = write_csv(["USER_ID", *USER_IDS])

    run = cli(*_args(csv, "--stack", STACK))

    assert run.exit_code == 0, run.output
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", run.stdout)
    assert "next check in 0.01 s" in plain and "Ctrl-C stops following" in plain  # the live line
    assert re.search(r"SUCCEEDED in .*Personalize deleted 3 records", plain)


def test_a_stack_without_the_outputs_is_a_configuration_error(local, cli, write_csv, deploy_stack):
    deploy_stack("Unrelated", {"SomethingElse": "x"})
    csv = write_csv(["USER_ID", *USER_IDS])

    run = cli(*_args(csv, "--stack", "Unrelated", "--json"))

    assert run.exit_code == 4
    assert run.json()["error"] == {"kind": "config", "message": "stack Unrelated has no output "
                                   "DataDeletionStateMachineArn", "problems": [],
                                   "hint": "give --state-machine-arn instead"}


def test_the_stack_can_come_from_the_environment(local, cli, write_csv, monkeypatch):
    monkeypatch.setenv("ML_DATA_JOBS_STACK", STACK)
    csv = write_csv(["USER_ID", *USER_IDS])

    run = cli(*_args(csv))

    assert run.exit_code == 0, run.output


def test_no_follow_starts_and_says_how_to_follow(local, cli, write_csv):
    csv = write_csv(["USER_ID", *USER_IDS])

    run = cli(*_args(csv, "--stack", STACK, "--no-follow", "--region", "us-east-1", "--json"))

    assert run.exit_code == 0, run.output
    doc = run.json()
    arn = doc["execution"]["executionArn"]
    assert doc["following"] == "not-followed"
    assert doc["resume"] == f"ml-data-jobs status --follow --region us-east-1 {arn}"
    assert local.wait(arn).status == "SUCCEEDED"


@pytest.fixture
def blocked_validation(local, monkeypatch):
    """The deletion workflow's Validate step blocks until released: its execution stays RUNNING."""
    import deletion_validate  # on sys.path while the harness runs

    release = threading.Event()
    original = deletion_validate.handler

    def blocking(event, context):
        release.wait(20)
        return original(event, context)

    monkeypatch.setattr(deletion_validate, "handler", blocking)
    yield release
    release.set()


def test_ctrl_c_stops_following_not_the_job(local, cli, write_csv, blocked_validation, monkeypatch):
    from cdk_ml_data_jobs.cli import follow

    def interrupt(seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(follow, "sleep", interrupt)
    csv = write_csv(["USER_ID", *USER_IDS])

    run = cli(*_args(csv, "--stack", STACK))

    assert run.exit_code == 130, run.output
    (execution,) = executions(local)
    arn = execution["executionArn"]
    assert execution["status"] == "RUNNING"
    assert "Stopped following. The execution keeps running; resume with:" in run.stderr
    assert f"ml-data-jobs status --follow {arn}" in run.stderr

    blocked_validation.set()
    monkeypatch.undo()
    resumed = cli("status", "--follow", arn, *POLL)
    assert resumed.exit_code == 0, resumed.output
    assert "SUCCEEDED" in resumed.stdout


def test_ctrl_c_in_json_mode_still_writes_one_document(local, cli, write_csv, blocked_validation, monkeypatch):
    from cdk_ml_data_jobs.cli import follow

    def interrupt(seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(follow, "sleep", interrupt)
    csv = write_csv(["USER_ID", *USER_IDS])

    run = cli(*_args(csv, "--stack", STACK, "--json"))

    assert run.exit_code == 130
    doc = run.json()
    assert doc["following"] == "stopped" and doc["exitCode"] == 130
    assert doc["execution"]["status"] == "RUNNING" and doc["execution"]["currentState"] in (None, "Validate")
    assert doc["resume"] == f"ml-data-jobs status --follow {doc['execution']['executionArn']}"
    blocked_validation.set()
    assert local.wait(doc["execution"]["executionArn"]).status == "SUCCEEDED"


def test_the_moto_stack_carries_the_sample_app_outputs_the_cli_reads(local):
    outputs = stack_outputs(local)
    assert outputs["DataBucketName"] == local.bucket()
    assert outputs["DeletionPrefix"] == local.functions_env("DataDeletion/Validate")["DELETION_PREFIX"]
    assert outputs["DataDeletionStateMachineArn"] == local.machine("DataDeletion")
    assert outputs["AudienceExportStateMachineArn"] == local.machine("AudienceExport")

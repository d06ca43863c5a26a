"""The sample app, deployed with the CDK CLI into the local emulator: resources, executions, teardown.

Tests run in file order: the last ones destroy the stack and stop the emulator.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.harness.local_deploy import (CAMPAIGN, DATASET_GROUP, LOCAL_INVALID_REQUEST, LOCAL_REQUESTS,
                                        NEWS_DATASET_GROUP, ROOT, SAMPLE_USER_IDS, SOLUTION, STACK_NAME,
                                        batch_problems, batch_report, run_batch, run_deletion, run_export, settle,
                                        stack_leftovers)
from tests.harness.server import HOST


# ---- the emulator itself ----------------------------------------------------------------------------
def _sockets_of(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().as_posix()
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    return inodes


def _address(hex_address: str) -> tuple[str, int]:
    """/proc/net/tcp{,6} notation: little-endian 32-bit words, then the port."""
    host, port = hex_address.split(":")
    raw = bytes.fromhex(host)
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6
    return socket.inet_ntop(family, words), int(port, 16)


def _tcp_sockets(pid: int) -> list[tuple[str, tuple[str, int], tuple[str, int]]]:
    """(state, local, remote) of every TCP socket the process holds, read from /proc (no psutil, no ss)."""
    owned = _sockets_of(pid)
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[9] in owned:
                found.append(("LISTEN" if fields[3] == "0A" else fields[3], _address(fields[1]), _address(fields[2])))
    return found


def _loopback(host: str) -> bool:
    return host.startswith("127.") or host in ("::1", "::ffff:127.0.0.1") or host.startswith("::ffff:127.")


def test_emulator_listens_on_loopback_only(deployment):
    if not Path("/proc/net/tcp").is_file():
        pytest.skip("no /proc/net/tcp on this system")
    emulator = deployment.emulator
    sockets = _tcp_sockets(emulator.pid)
    listening = [local for state, local, _ in sockets if state == "LISTEN"]
    assert (HOST, emulator.port) in listening
    assert all(host == HOST for host, _ in listening), f"listening on {listening}"
    remote_hosts = {remote[0] for state, _, remote in sockets if state != "LISTEN"}
    assert all(_loopback(h) or h in ("0.0.0.0", "::") for h in remote_hosts), remote_hosts


def test_emulator_process_refuses_addresses_outside_loopback():
    """The emulator's own guard (an audit hook, so it runs in a child process): look-ups and connections
    outside loopback fail before anything is sent."""
    probe = """
import socket
from tests.harness.server import _loopback_only
_loopback_only()
for target in [("personalize.us-east-1.amazonaws.com", 443), ("192.0.2.1", 80)]:
    try:
        socket.create_connection(target, timeout=1)
        print("CONNECTED", target)
    except OSError as error:
        print("refused", error)
server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen()
print("loopback", socket.create_connection(server.getsockname()).getpeername()[0])
"""
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert result.returncode == 0, result.stderr
    assert "CONNECTED" not in result.stdout
    assert result.stdout.count("refused") == 2 and "loopback 127.0.0.1" in result.stdout


def test_emulator_runs_with_dummy_credentials_only(deployment):
    # the environment it was started with (AWS_ENDPOINT_URL is added once its port is known)
    environment = dict(entry.split("=", 1) for entry in
                       Path(f"/proc/{deployment.emulator.pid}/environ").read_text().split("\0") if "=" in entry)
    assert environment["AWS_ACCESS_KEY_ID"] == "testing"
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        path = Path(environment[name])
        assert path.is_relative_to(deployment.emulator.state_dir) and path.read_text() == ""
    assert "AWS_PROFILE" not in environment


# ---- what was deployed ------------------------------------------------------------------------------
def test_stack_is_created_with_its_outputs(deployment):
    stack = deployment.emulator.client("cloudformation").describe_stacks(StackName=STACK_NAME)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    for key in ("DataBucketName", "DeletionPrefix", "DataAccessRoleArn", "DataDeletionStateMachineArn",
                "AudienceExportStateMachineArn", "RequestPrefix", "RequestRecordPrefix", "RequestLedgerTableName",
                "RequestBatchStateMachineArn"):
        assert outputs[key] == deployment.outputs[key]
    assert outputs["DeletionPrefix"] == "deletions/"


def test_data_bucket_is_versioned_logged_and_tagged_for_auto_delete(deployment):
    s3 = deployment.emulator.client("s3")
    bucket = deployment.outputs["DataBucketName"]
    s3.head_bucket(Bucket=bucket)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    logging = s3.get_bucket_logging(Bucket=bucket)["LoggingEnabled"]
    s3.head_bucket(Bucket=logging["TargetBucket"])
    assert logging["TargetBucket"] != bucket
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert any(r.get("Filter", {}).get("Prefix") == "deletions/" for r in rules), rules
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    assert tags.get("aws-cdk:auto-delete-objects") == "true"  # -c destroyOnRemoval=true


def test_data_access_role_is_assumable_by_personalize_only(deployment):
    iam = deployment.emulator.client("iam")
    role = iam.get_role(RoleName=deployment.outputs["DataAccessRoleArn"].rsplit("/", 1)[-1])["Role"]
    principals = [s["Principal"] for s in role["AssumeRolePolicyDocument"]["Statement"]]
    assert principals == [{"Service": "personalize.amazonaws.com"}]


def _definition(deployment, key: str) -> dict:
    sfn = deployment.emulator.client("stepfunctions")
    described = sfn.describe_state_machine(stateMachineArn=deployment.outputs[key])
    assert described["status"] == "ACTIVE"
    return json.loads(described["definition"])


@pytest.mark.parametrize("key", ["DataDeletionStateMachineArn", "AudienceExportStateMachineArn"])
def test_state_machines_invoke_deployed_python_functions(deployment, key):
    definition = _definition(deployment, key)
    assert {"Validate", "Launch", "WaitForJob", "CheckJob", "Decide"} <= set(definition["States"])
    lambda_client = deployment.emulator.client("lambda")
    tasks = [s for s in definition["States"].values() if s["Type"] == "Task"]
    # the deletion workflow is deployed with the quiet period and retraining (the queue requires the quiet
    # period): LaunchAgain and FollowThrough are tasks too
    assert len(tasks) == (5 if key == "DataDeletionStateMachineArn" else 3)
    for task in tasks:
        function = lambda_client.get_function(FunctionName=task["Resource"])["Configuration"]
        assert function["Runtime"].startswith("python3.")
        assert function["Architectures"] == ["arm64"]


def test_launch_function_passes_the_deployed_data_access_role(deployment):
    tasks = _definition(deployment, "DataDeletionStateMachineArn")["States"]
    launch = deployment.emulator.client("lambda").get_function(FunctionName=tasks["Launch"]["Resource"])
    assert launch["Configuration"]["Environment"]["Variables"]["DATA_ACCESS_ROLE_ARN"] == \
        deployment.outputs["DataAccessRoleArn"]


# ---- executions through the deployed state machines --------------------------------------------------
def _quiet(_: str) -> None:
    pass


def _calls(deployment, service: str, operation: str) -> int:
    return sum(1 for c in deployment.emulator.control("state")["calls"][service] if c["operation"] == operation)


def test_deletion_happy_path(deployment):
    progress: list[str] = []
    outcome = run_deletion(deployment.emulator, deployment.outputs, name="deploy-tier-deletion",
                           plan={"duration": 45 * 60, "num_deleted": 17}, say=progress.append)
    assert outcome.status == "SUCCEEDED", outcome.cause
    out = outcome.output
    assert out["status"] == "COMPLETED" and out["numDeleted"] == 17
    assert out["dataDeletionJobArn"].endswith(":data-deletion-job/deploy-tier-deletion")
    assert out["datasetGroupArn"] == DATASET_GROUP
    assert out["dataLocation"].startswith(f"s3://{deployment.outputs['DataBucketName']}/deletions/")
    assert out["inputData"]["objects"] == 1
    assert outcome.virtual_seconds >= 45 * 60 and outcome.checks > 10  # the virtual clock, not real time
    assert any("COMPLETED" in line for line in progress)
    assert SAMPLE_USER_IDS[0] not in json.dumps([out, progress])


def test_deletion_with_a_wrong_header_fails_before_any_job(deployment):
    creates = _calls(deployment, "personalize", "CreateDataDeletionJob")
    outcome = run_deletion(deployment.emulator, deployment.outputs, name="deploy-tier-bad-header",
                           header="CUSTOMER_ID", say=_quiet)
    assert outcome.status == "FAILED"
    assert outcome.error == "InvalidInput"
    assert "USER_ID" in outcome.cause and "Traceback" not in outcome.cause
    assert _calls(deployment, "personalize", "CreateDataDeletionJob") == creates


def test_deletion_job_failed_by_personalize(deployment):
    reason = "Dataset group is not ACTIVE"
    outcome = run_deletion(deployment.emulator, deployment.outputs, name="deploy-tier-job-fails",
                           plan={"duration": 600, "outcome": "failure", "failure_reason": reason}, say=_quiet)
    assert outcome.status == "FAILED"
    assert outcome.error == "DataDeletionJobFailed"
    assert outcome.cause_json()["failureReason"] == reason


def test_export_happy_path(deployment):
    outcome = run_export(deployment.emulator, deployment.outputs, name="deploy-tier-export", size=5000,
                         plan={"duration": 15 * 60}, say=_quiet)
    assert outcome.status == "SUCCEEDED", outcome.cause
    out = outcome.output
    assert out["status"] == "ACTIVE"
    assert out["audienceSize"] == {"type": "ABSOLUTE", "value": 5000}
    assert out["sizeCheck"] == "MATCHED_MODEL_BIN"
    assert out["outputLocation"].startswith("s3://")
    assert outcome.virtual_seconds >= 15 * 60
    assert _calls(deployment, "cleanroomsml", "StartAudienceExportJob") == 1


def test_export_that_ends_create_failed(deployment):
    outcome = run_export(deployment.emulator, deployment.outputs, name="deploy-tier-export-fails", size=5000,
                         plan={"duration": 300, "outcome": "failure", "status_code": "EXPORT_FAILED",
                               "failure_reason": "The training data provider does not allow this size"},
                         say=_quiet)
    assert outcome.status == "FAILED"
    assert outcome.error == "AudienceExportJobFailed"
    cause = outcome.cause_json()
    assert cause["statusCode"] == "EXPORT_FAILED"
    assert "does not allow" in cause["message"]


# ---- the deletion request queue (the sample app with -c requestQueueDatasetGroupArns, quietPeriod, retrain...) --
def test_the_queue_is_deployed_with_its_ledger_schedule_and_batch_state_machine(deployment):
    emulator, outputs = deployment.emulator, deployment.outputs
    assert outputs["RequestPrefix"] == "deletions/requests/"
    assert outputs["RequestRecordPrefix"] == "audit/deletion-requests/"
    table = emulator.client("dynamodb").describe_table(TableName=outputs["RequestLedgerTableName"])["Table"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk", "sk"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert sorted(i["IndexName"] for i in table["GlobalSecondaryIndexes"]) == ["claimed", "open", "queued"]
    machine = emulator.client("stepfunctions").describe_state_machine(
        stateMachineArn=outputs["RequestBatchStateMachineArn"])
    assert "states:startExecution.sync:2" in machine["definition"]
    scheduler = emulator.client("scheduler")
    [summary] = scheduler.list_schedules()["Schedules"]
    schedule = scheduler.get_schedule(Name=summary["Name"], GroupName=summary.get("GroupName") or "default")
    assert schedule["ScheduleExpression"] == "rate(1 day)" and schedule["State"] == "ENABLED"
    assert schedule["Target"]["Arn"] == outputs["RequestBatchStateMachineArn"]
    assert json.loads(schedule["Target"]["Input"]) == {}


def test_one_batch_across_two_dataset_groups_goes_through_quiet_period_deletion_retraining_and_campaign(deployment):
    progress: list[str] = []
    batch = run_batch(deployment.emulator, deployment.outputs, say=progress.append)
    assert batch_problems(batch) == [], batch_report(batch)
    groups = {g["datasetGroupArn"]: g for g in batch.execution.output["datasetGroups"]}
    assert set(groups) == {DATASET_GROUP, NEWS_DATASET_GROUP} and batch.execution.output["deferred"] == []
    assert all(g["status"] == "COMPLETED" and g["requests"] == len(LOCAL_REQUESTS) for g in groups.values())
    assert batch.records[LOCAL_INVALID_REQUEST]["reason"].endswith("must start with the header line USER_ID (its "
                                                                   "first line is 6 characters of something else)")
    for request_id, ids in LOCAL_REQUESTS.items():
        record = batch.records[request_id]
        assert record["status"] == "COMPLETED" and record["userIds"] == len(ids)
        targets = {t["datasetGroupArn"]: t for t in record["targets"]}
        shop, news = targets[DATASET_GROUP], targets[NEWS_DATASET_GROUP]
        assert shop["dataDeletionJobArns"] == groups[DATASET_GROUP]["dataDeletionJobArns"]
        assert [w["arn"] for w in shop["quietPeriod"]["waitedFor"]] == [batch.training_arn]
        assert shop["quietPeriod"]["waitedSeconds"] >= 30 * 60  # the training ran 30 minutes
        assert shop["followThrough"] == {"status": "COMPLETED"} and shop["campaignArns"] == [CAMPAIGN]
        [version] = shop["solutionVersionArns"]
        assert version.startswith(SOLUTION + "/") and version != batch.training_arn and shop["modelsRetrainedAt"]
        assert news["followThrough"] == {"status": "NOT_CONFIGURED"} and news["quietPeriod"]["waitedFor"] == []
    printed = json.dumps([batch.records, batch.execution.output, progress]) + batch_report(batch)
    assert not [uid for ids in LOCAL_REQUESTS.values() for uid in ids if uid in printed]
    assert "local-user-0901" not in printed


def _ml_data_jobs(deployment, *args: str) -> tuple[int, str]:
    """The operator CLI (``ml-data-jobs``) against the deployed stack, through the emulator's endpoint."""
    from click.testing import CliRunner

    from cdk_ml_data_jobs.cli.commands import cli
    from tests.harness.server import isolated_environment

    env = isolated_environment(deployment.emulator.state_dir, deployment.emulator.port)
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout


def test_requests_status_and_report_show_the_models_and_a_busy_group(deployment):
    emulator, outputs = deployment.emulator, deployment.outputs
    code, shown = _ml_data_jobs(deployment, "requests", "status", "LOCAL-REQ-0001", "--stack", STACK_NAME)
    assert code == 0, shown
    assert "followThrough       COMPLETED" in shown and f"campaignArns        {CAMPAIGN}" in shown
    assert "solutionVersionArns " + SOLUTION + "/" in shown and "modelsRetrainedAt" in shown
    assert "quietPeriod" in shown and "for solutionVersion " + SOLUTION + "/" in shown

    # a training longer than the quiet period (6 h): the next batch leaves the shop group's request QUEUED
    training = emulator.control("training", {"minutes": 10 * 60})["solutionVersionArn"]
    key = f"{outputs['RequestPrefix']}local/busy.csv"
    emulator.client("s3").put_object(Bucket=outputs["DataBucketName"], Key=key, Body=b"USER_ID\nlocal-user-0701\n",
                                     Metadata={"request-id": "LOCAL-BUSY"})
    settle(emulator)
    code, ran = _ml_data_jobs(deployment, "requests", "run-batch", "--stack", STACK_NAME, "--follow",
                              "--poll-seconds", "0.2", "--json")
    assert code == 0, ran
    groups = {g["datasetGroupArn"]: g["status"] for g in json.loads(ran)["execution"]["output"]["datasetGroups"]}
    assert groups == {DATASET_GROUP: "BUSY", NEWS_DATASET_GROUP: "COMPLETED"}
    code, shown = _ml_data_jobs(deployment, "requests", "status", "LOCAL-BUSY", "--stack", STACK_NAME)
    assert code == 0 and f"busyWith            solutionVersion {training} CREATE IN_PROGRESS" in shown, shown
    code, report = _ml_data_jobs(deployment, "requests", "report", "--stack", STACK_NAME, "--since", "2026-01-01",
                                 "--json")
    rows = {r["requestId"]: r for r in json.loads(report)["report"]["notCompleted"]}
    assert rows["LOCAL-BUSY"]["status"] == "QUEUED"
    assert rows["LOCAL-BUSY"]["targetNotes"] == [
        f"{DATASET_GROUP}: " + next(t for t in json.loads(emulator.client("s3").get_object(
            Bucket=outputs["DataBucketName"], Key=f"{outputs['RequestRecordPrefix']}LOCAL-BUSY.json")["Body"].read()
        )["targets"] if t["datasetGroupArn"] == DATASET_GROUP)["deferredReason"]]
    assert training in rows["LOCAL-BUSY"]["targetNotes"][0]
    assert "local-user-0701" not in shown + report + ran


def test_unnamed_executions_get_distinct_names(deployment):
    sfn = deployment.emulator.client("stepfunctions")
    machine = deployment.outputs["DataDeletionStateMachineArn"]
    arns = [sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"] for _ in range(2)]
    assert len(set(arns)) == 2 and not any(arn.endswith(":None") for arn in arns)
    for arn in arns:
        while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            time.sleep(0.05)
        assert described["error"] == "InvalidInput"


def test_no_request_broke_the_service_models_and_no_function_crashed(deployment):
    state = settle(deployment.emulator)
    assert state["violations"] == []
    assert state["pendingInvocations"] == 0
    expected = {"InvalidInput", "DataDeletionJobFailed", "AudienceExportJobFailed"}
    assert {i["error"] for i in state["invocations"] if i["error"]} <= expected


def test_every_aws_call_the_deployed_code_made_is_allowed_by_the_deployed_policies(deployment,
                                                                                 optional_iam_simulator):
    """The handlers' calls in the emulator (recorded there, tests/harness/aws_calls.py), evaluated with the
    IAM simulator against the deployed template, intrinsics resolved with the names the deployment gave
    (ListStackResources); plus the service principals' paths. See tests/iam for what that proves."""
    from tests.harness import iam_evaluation as iam
    from tests.harness.assembly import DeployedResolver
    from tests.harness.aws_calls import read
    from tests.harness.server import AWS_CALLS_FILE

    if optional_iam_simulator is None:
        pytest.skip(f"the IAM simulator cannot run: {iam.available()}")
    settle(deployment.emulator)
    calls, invocations = read(str(deployment.emulator.state_dir / AWS_CALLS_FILE))
    template = json.loads((deployment.cdk.assembly / f"{STACK_NAME}.template.json").read_text())
    pages = deployment.emulator.client("cloudformation").get_paginator("list_stack_resources").paginate(
        StackName=STACK_NAME)
    resolver = DeployedResolver(template, {r["LogicalResourceId"]: r["PhysicalResourceId"]
                                           for page in pages for r in page["StackResourceSummaries"]
                                           if r.get("LogicalResourceId") and r.get("PhysicalResourceId")})
    policies = iam.Policies(template, resolver)
    requests = iam.recorded_requests(policies, calls, [i.function for i in invocations]) + iam.service_paths(policies)
    decisions = iam.evaluate(optional_iam_simulator, requests, policies.account)
    assert iam.failures(decisions) == [], iam.failure_report(decisions)
    handlers = {k for k, r in policies.of_type("AWS::Lambda::Function").items()
                if str(r["Properties"].get("Runtime", "")).startswith("python")}
    evaluated = {d.request.source.split(" ", 1)[0] for d in decisions if d.request.kind == "call"}
    # the batch run's Summarize function is pure (lambda/batch_summary.py calls no service): it only has to have run
    pure = {k for k in handlers if k.startswith("DeletionRequestsSummaryFunction")}
    assert len(pure) == 1 and any(next(iter(pure)) in i.function for i in invocations)  # deployed names hold the id
    assert handlers - pure <= evaluated, f"deployed functions whose calls were not evaluated: {handlers - evaluated}"
    assert {c.params["Bucket"] for c in calls if c.service == "s3"} == {deployment.outputs["DataBucketName"]}
    assert len(decisions) > 40
    assert SAMPLE_USER_IDS[0] not in json.dumps([c.__dict__ for c in calls])


# ---- teardown --------------------------------------------------------------------------------------------
def test_destroy_leaves_nothing_behind(deployment):
    deployment.cdk.destroy()
    assert stack_leftovers(deployment.emulator, deployment.outputs) == []


def test_stopping_the_emulator_frees_its_port_and_state(deployment):
    emulator = deployment.emulator
    emulator.stop()
    assert not emulator.alive()
    assert not (emulator.state_dir / "server.json").exists()
    assert not (emulator.state_dir / "lambda-code").exists()
    with pytest.raises(OSError):
        socket.create_connection((HOST, emulator.port), timeout=1).close()

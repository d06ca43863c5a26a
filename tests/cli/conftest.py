"""CLI tier: the ml-data-jobs commands run end to end with click's CliRunner against moto (S3, Step Functions executor with the real handlers, faked Personalize and Clean Rooms ML).

Scope
    Every command (``delete-users``, ``export-audience``, ``status``, ``list``) is invoked as an operator would,
    through ``cdk_ml_data_jobs.cli.commands.cli`` and click's ``CliRunner``, in text and ``--json`` modes, and
    judged by its exit code, its output and what it did in the backend (objects in S3, executions, calls to the
    faked services). Nothing the CLI calls is mocked: its boto3 clients are created at command time inside
    moto's mock, so they reach the same moto backend as the harness.

Backend
    ``tests.harness.local.LocalWorkflows`` runs the sample app's synthesized state machines in moto's ASL
    executor with the real handler code and the virtual clock (executions finish in milliseconds of real
    time; commands run with ``--poll-seconds 0.01``). On top of it, this tier creates what a deployment would
    have and the harness does not need: the six functions in moto's Lambda (with their template environment,
    so ``--state-machine-arn`` can discover the bucket and prefix) and a CloudFormation stack whose outputs are
    the sample app's (for ``--stack``). The harness is set up once for the tier (package scope) and reset
    before each test; executions cannot be deleted, so :func:`executions` returns only the current test's.
    After each test, the AWS calls its handlers made are evaluated against the template's policies with the
    IAM simulator (the CLI's own calls are an operator's, not the library's: not evaluated; see tests/iam).

Privacy
    Every invocation's standard output and standard error are checked for the user IDs of the CSV files the
    tests write (see ``USER_IDS``); ``test_privacy.py`` adds the tricky files (IDs where a header should be,
    IDs with commas, undecodable IDs).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.harness.fakes import JobPlan
from tests.harness.iam_evaluation import evaluate_recording, failure_report, failures
from tests.harness.local import LocalWorkflows

STACK = "CdkMlDataJobs"
GROUP = "arn:aws:personalize:us-east-1:123456789012:dataset-group/shop"
#: Distinctive user IDs: none of them may ever appear in the CLI's output.
USER_IDS = ["cli-user-4f2a91-secret", "cli-user-b7c0e3-secret", "cli-user-19d8aa-secret"]
#: Every string a test wrote into a CSV; the per-invocation privacy check looks for all of them.
SECRETS: set[str] = set(USER_IDS)
POLL = ["--poll-seconds", "0.01"]


#: The sample app is deployed with its deletion request queue over these dataset groups (``requests`` commands).
QUEUE_GROUPS = (GROUP, "arn:aws:personalize:us-east-1:123456789012:dataset-group/news")


@pytest.fixture(scope="package")
def cli_template(local_sample_template) -> dict[str, Any]:
    """The sample app with ``-c requestQueueDatasetGroupArns=<shop>,<news>``."""
    # the queue opts out of the quiet period here (-c quietPeriod=false): the delete-users transcript is the README's
    # example of the default workflow; the deploy tier runs `requests status/report` with it on
    return local_sample_template(requestQueueDatasetGroupArns=",".join(QUEUE_GROUPS), quietPeriod="false")


@pytest.fixture(scope="package")
def backend(cli_template) -> Iterator[LocalWorkflows]:
    """One harness for the tier (its set-up costs ~0.7 s), with the deployed functions and the sample stack.

    Package-scoped: moto's mock ends with this folder's last test, before another tier runs.
    """
    from cdk_ml_data_jobs._assets import lambda_code_dir

    with LocalWorkflows(cli_template, str(lambda_code_dir())) as workflows:
        _deploy_functions(workflows)
        _deploy_stack(workflows)
        yield workflows


@pytest.fixture
def local(backend: LocalWorkflows, cli_template, optional_iam_simulator) -> Iterator[LocalWorkflows]:
    """The tier's harness, reset for this test: empty data bucket, short default jobs, no recorded calls;
    afterwards, the AWS calls the test's handlers made are evaluated with the IAM simulator (tests/iam).

    Executions cannot be deleted from Step Functions: :func:`executions` returns only this test's.
    """
    _empty_bucket(backend)
    # Short jobs (a few status checks): the CLI is under test here, the polling schedule is the e2e tier's.
    backend.personalize.default_plan = JobPlan(duration=120.0)
    backend.cleanroomsml.default_plan = JobPlan(duration=60.0)
    for fake in backend.fakes:
        fake.calls.clear()
        fake.violations.clear()
    backend.recorder.calls.clear()
    backend.recorder.invocations.clear()
    backend.earlier_executions = {  # type: ignore[attr-defined]
        e["executionArn"] for machine in backend.machine_arns.values()
        for e in backend.sfn.list_executions(stateMachineArn=machine)["executions"]}
    yield backend
    assert backend.personalize.violations == [], "a request broke the Personalize service model"
    assert backend.cleanroomsml.violations == [], "a request broke the Clean Rooms ML service model"
    if optional_iam_simulator is not None:
        decisions = evaluate_recording(optional_iam_simulator, cli_template, backend)
        assert failures(decisions) == [], failure_report(decisions)


def _empty_bucket(workflows: LocalWorkflows) -> None:
    bucket = workflows.bucket()
    listed = workflows.s3.list_object_versions(Bucket=bucket)
    doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]}
              for v in listed.get("Versions", []) + listed.get("DeleteMarkers", [])]
    if doomed:
        workflows.s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed, "Quiet": True})


def _deploy_functions(workflows: LocalWorkflows) -> None:
    import boto3

    role = boto3.client("iam").create_role(
        RoleName="cli-tier-functions", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "lambda.amazonaws.com"}}]}),
    )["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.py", "")  # the harness runs the real code in-process
    lambda_client = boto3.client("lambda")
    for spec in workflows.functions.values():
        created = lambda_client.create_function(
            FunctionName=spec.logical_id, Runtime="python3.12", Role=role, Handler=spec.handler,
            Code={"ZipFile": buffer.getvalue()}, Environment={"Variables": dict(spec.environment)},
        )
        assert created["FunctionArn"] == spec.arn


def stack_outputs(workflows: LocalWorkflows) -> dict[str, str]:
    """The sample app's stack outputs, resolved as CloudFormation would (the harness's names and ARNs)."""
    outputs = {}
    for key, output in workflows.template.get("Outputs", {}).items():
        try:
            outputs[key] = str(workflows.resolver.resolve(output["Value"]))
        except KeyError:
            continue  # an intrinsic the harness does not resolve: not an output the CLI reads
    return outputs


def _deploy_stack(workflows: LocalWorkflows, name: str = STACK, outputs: dict[str, str] | None = None) -> None:
    import warnings

    import boto3

    template = {
        "Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {key: {"Value": value} for key, value in (outputs or stack_outputs(workflows)).items()},
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # moto: "WaitConditionHandle not supported" (it needs no behaviour)
        boto3.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))


@pytest.fixture
def deploy_stack(local: LocalWorkflows) -> Any:
    """``deploy_stack(name, outputs)``: another stack in moto's CloudFormation."""
    return lambda name, outputs: _deploy_stack(local, name, outputs)


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str
    exception: BaseException | None

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture
def cli(local) -> Any:
    """``cli(*args)``: run ``ml-data-jobs`` with CliRunner; checks every output for the tests' user IDs."""
    from click.testing import CliRunner

    from cdk_ml_data_jobs.cli.commands import cli as group

    runner = CliRunner()

    def run(*args: str) -> Run:
        result = runner.invoke(group, [str(a) for a in args], catch_exceptions=True)
        run = Run(result.exit_code, result.stdout, result.stderr, result.exception)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"the CLI raised {result.exception!r}\n{run.output}") from result.exception
        leaked = sorted(s for s in SECRETS if s in run.output)
        assert not leaked, f"user IDs in the CLI's output: {leaked}\n{run.output}"
        return run

    return run


@pytest.fixture
def write_csv(tmp_path) -> Any:
    """``write_csv(lines or bytes, name)``: a local CSV file. Every ``...secret...`` token in it is a user ID
    that the per-invocation privacy check looks for."""

    def write(content: list[str] | bytes, name: str = "users.csv") -> Path:
        path = tmp_path / name
        data = content if isinstance(content, bytes) else ("\n".join(content) + "\n").encode("utf-8")
        path.write_bytes(data)
        SECRETS.update(token.decode() for token in re.findall(rb"[A-Za-z0-9_.-]*secret[A-Za-z0-9_.-]*", data))
        return path

    return write


def uploaded(local: LocalWorkflows, prefix: str = "") -> list[str]:
    """Keys of every object in the data bucket under ``prefix``."""
    listed = local.s3.list_objects_v2(Bucket=local.bucket(), Prefix=prefix)
    return [item["Key"] for item in listed.get("Contents", [])]


def executions(local: LocalWorkflows, machine: str = "DataDeletion") -> list[dict[str, Any]]:
    """The executions of ``machine`` started by the current test."""
    listed = local.sfn.list_executions(stateMachineArn=local.machine(machine))["executions"]
    return [e for e in listed if e["executionArn"] not in getattr(local, "earlier_executions", set())]

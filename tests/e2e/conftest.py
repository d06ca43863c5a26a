"""End-to-end tier: the sample app's synthesized state machines executed in a
real ASL interpreter (moto's Step Functions executor) with the real handler
code running in-process, S3 in moto, Personalize data deletion and Clean Rooms
ML answered by HTTP-level fakes checked against botocore's service models, on
a virtual clock (waits and retry back-off cost no real time). After each test, every AWS
call its handlers made is evaluated against the template's policies with the IAM simulator
(tests/harness/iam_evaluation.py; the IAM tier, tests/iam, says what that proves).
See tests/harness/local.py for how, and for what differs from AWS.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from tests.harness.iam_evaluation import evaluate_recording, failure_report, failures
from tests.harness.local import Execution, LocalWorkflows

GROUP = "arn:aws:personalize:us-east-1:123456789012:dataset-group/shop"
USER_IDS = ["user-7f3a9c-secret", "user-b81d20-secret", "user-0c4e77-secret"]


INCOMING = "deletions/incoming/shop/"


@pytest.fixture(scope="session")
def triggered_template(local_sample_template) -> dict[str, Any]:
    """The sample app with an upload trigger: a .csv under deletions/incoming/shop/ starts a deletion."""
    return local_sample_template(uploadTriggers=f"{INCOMING}={GROUP}")


#: What a Lambda error envelope or a Python stack trace leaves in a text.
_ENVELOPE_MARKS = ("stackTrace", "Traceback", '"errorType"', '"errorMessage"', '"requestId"', 'File "')


def assert_explained(ex: Execution) -> None:
    """A failed execution has an error name and a cause that is a message: no stack trace, no envelope."""
    assert ex.error, f"{ex.arn} ended {ex.status} without an error name"
    assert ex.cause, f"{ex.arn} ended {ex.status} ({ex.error}) without a cause"
    marks = [mark for mark in _ENVELOPE_MARKS if mark in ex.cause]
    assert not marks, f"{ex.error}: the cause carries {marks}: {ex.cause[:300]}"


def _workflows(template: dict[str, Any], simulator: Any) -> Iterator[LocalWorkflows]:
    from cdk_ml_data_jobs._assets import lambda_code_dir

    with LocalWorkflows(template, str(lambda_code_dir())) as workflows:
        yield workflows
        # Every scenario of this tier: each execution that did not succeed is explained.
        for ex in workflows.executions:
            if ex.status != "SUCCEEDED" and ex.error != "Harness.Timeout":
                assert_explained(ex)
        assert workflows.personalize.violations == [], "a request broke the Personalize service model"
        assert workflows.cleanroomsml.violations == [], "a request broke the Clean Rooms ML service model"
        assert workflows.dead_letters == [], "an event delivery failed"
        if simulator is not None:  # every AWS call the scenario's handlers made, evaluated (see tests/iam)
            decisions = evaluate_recording(simulator, template, workflows)
            assert failures(decisions) == [], failure_report(decisions)


@pytest.fixture
def local(local_template, optional_iam_simulator) -> Iterator[LocalWorkflows]:
    yield from _workflows(local_template, optional_iam_simulator)


@pytest.fixture
def triggered(triggered_template, optional_iam_simulator) -> Iterator[LocalWorkflows]:
    yield from _workflows(triggered_template, optional_iam_simulator)


def audit_records(local: LocalWorkflows) -> list[dict[str, Any]]:
    bucket = local.bucket()
    listed = local.s3.list_objects_v2(Bucket=bucket, Prefix="audit/").get("Contents", [])
    return [json.loads(local.s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()) for o in listed]


def everything_emitted(local: LocalWorkflows, *executions: Execution) -> str:
    """All text a scenario produced: outputs, errors, causes, full histories, function results, service calls,
    announced events and messages, audit records, the recorded AWS calls."""
    parts: list[Any] = [local.captured("events"), local.captured("notifications"), audit_records(local)]
    for ex in executions:
        parts += [ex.output, ex.error, ex.cause, ex.history]
    for inv in local.invocations:
        parts += [inv.result, inv.error]
    for fake in local.fakes:
        parts += [c.params for c in fake.calls]
    parts += [c.__dict__ for c in local.recorder.calls]  # what the IAM evaluation keeps of every AWS call
    return json.dumps(parts, default=str)

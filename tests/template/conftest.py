"""template tier: synthesized CloudFormation of the constructs and the sample app, asserted with aws_cdk.assertions, snapshot-tested with syrupy, and checked by cdk-nag 3, cfn-lint and checkov.

Scope: what ``cdk synth`` produces, never AWS itself. ``test_security`` and
``test_workflows`` assert the security properties and wiring of each construct,
``test_operations`` what the workflows add for operating them (notification
topic, alarms, outcome reporter, upload triggers), ``test_snapshot`` pins the sample app's (normalized) template, ``test_gates``
runs the three quality gates on the sample app and on other compositions a
library user might write, and ``test_packaging`` checks that the built wheel
works outside this checkout.

Synthesis is shared: the sample app comes from the session fixtures of
``tests/conftest.py``; every other stack is built once per session or module,
one ``cdk.App`` per stack, with cdk.json's pinned feature flags.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from .helpers import (
    CONFIGURED_MODEL_ARN,
    DATASET_GROUP_ARN,
    GENERATION_JOB_ARN,
    NOTIFICATION_EMAIL,
    QUEUE_DATASET_GROUP_ARNS,
    SOLUTION_ARNS,
    TRIGGER_DATASET_GROUP_ARN,
    TRIGGER_PREFIX,
    Synth,
)


@pytest.fixture(scope="session")
def synth_stack(make_app) -> Callable[..., Synth]:
    """``synth_stack(name, build, **context)``: a new App and Stack, ``build(stack) -> dict`` of parts, synthesized."""
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    def synth(name: str, build: Callable[[Any], dict], **context: Any) -> Synth:
        app = make_app(**context)
        stack = cdk.Stack(app, name)
        parts = build(stack) or {}
        template = Template.from_stack(stack)
        return Synth(app, stack, template, template.to_json(), parts)

    return synth


def _sample_parts(stack) -> dict:
    return {"deletion": stack.deletion, "export": stack.export, "data": stack.data, "notifications": stack.notifications}


@pytest.fixture(scope="session")
def sample(sample_stack, sample_template, sample_template_json) -> Synth:
    """The sample app (tests/conftest.py's session synthesis) in the same shape as the other stacks."""
    return Synth(sample_stack.node.root, sample_stack, sample_template, sample_template_json,
                 _sample_parts(sample_stack))


@pytest.fixture(scope="session")
def sample_with_triggers(make_app, sample_stack) -> Synth:
    """The sample app with ``-c uploadTriggers=<prefix>=<dataset group>`` and ``-c notificationEmail=<address>``."""
    from aws_cdk.assertions import Template

    import app as sample_app  # the sample_stack fixture (tests/conftest.py) put the project root on sys.path

    stack = sample_app.build(make_app(uploadTriggers=f"{TRIGGER_PREFIX}={TRIGGER_DATASET_GROUP_ARN}",
                                      notificationEmail=NOTIFICATION_EMAIL))
    template = Template.from_stack(stack)
    return Synth(stack.node.root, stack, template, template.to_json(), _sample_parts(stack))


@pytest.fixture(scope="session")
def own_topics(synth_stack) -> Synth:
    """A library user's stack: both workflows with ``create_topic=True`` (each its own topic and key).

    The deletion workflow also has an upload trigger, so the bucket it creates itself gets EventBridge notifications.
    """
    from cdk_ml_data_jobs import AudienceExportWorkflow, DataDeletionWorkflow

    return synth_stack("OwnTopics", lambda stack: {
        "deletion": DataDeletionWorkflow(stack, "Deletion", create_topic=True,
                                         upload_triggers={TRIGGER_PREFIX: TRIGGER_DATASET_GROUP_ARN}),
        "export": AudienceExportWorkflow(stack, "Export", create_topic=True),
    })


@pytest.fixture(scope="session")
def deletion_only(synth_stack) -> Synth:
    """A library user's stack: DataDeletionWorkflow with no props, alone."""
    from cdk_ml_data_jobs import DataDeletionWorkflow

    return synth_stack("DeletionOnly", lambda stack: {"deletion": DataDeletionWorkflow(stack, "Deletion")})


@pytest.fixture(scope="session")
def export_narrowed(synth_stack) -> Synth:
    """A library user's stack: AudienceExportWorkflow narrowed to one generation job and one configured model."""
    from cdk_ml_data_jobs import AudienceExportWorkflow

    return synth_stack("ExportNarrowed", lambda stack: {"export": AudienceExportWorkflow(
        stack, "Export",
        audience_generation_job_arns=[GENERATION_JOB_ARN],
        configured_audience_model_arns=[CONFIGURED_MODEL_ARN],
    )})


@pytest.fixture(scope="session")
def imported_bucket_deletion(synth_stack) -> Synth:
    """A library user's stack: DataDeletionWorkflow on a bucket that already exists (imported by name)."""
    from aws_cdk import aws_s3 as s3

    from cdk_ml_data_jobs import DataDeletionWorkflow

    def build(stack):
        bucket = s3.Bucket.from_bucket_name(stack, "Existing", "my-existing-user-id-bucket")
        return {"deletion": DataDeletionWorkflow(stack, "Deletion", bucket=bucket), "bucket": bucket}

    return synth_stack("ImportedBucketDeletion", build)


@pytest.fixture(scope="session")
def sample_with_queue(make_app, sample_stack) -> Synth:
    """The sample app with ``-c requestQueueDatasetGroupArns=<shop>,<news>``: a DeletionRequestQueue on the
    deletion workflow, its bucket and topic."""
    from aws_cdk.assertions import Template

    import app as sample_app  # the sample_stack fixture (tests/conftest.py) put the project root on sys.path

    stack = sample_app.build(make_app(requestQueueDatasetGroupArns=",".join(QUEUE_DATASET_GROUP_ARNS)))
    template = Template.from_stack(stack)
    return Synth(stack.node.root, stack, template, template.to_json(), {**_sample_parts(stack), "queue": stack.queue})


@pytest.fixture(scope="session")
def queue_minimal(synth_stack) -> Synth:
    """A library user's stack: a deletion workflow narrowed to two dataset groups, no topic, and a queue over one
    of them without a schedule, with every prop at an edge of its range and a principal allowed to submit."""
    from aws_cdk import Duration, RemovalPolicy
    from aws_cdk import aws_iam as iam

    from cdk_ml_data_jobs import DataDeletionWorkflow, DeletionRequestQueue

    def build(stack):
        deletion = DataDeletionWorkflow(stack, "Deletion", dataset_group_arns=list(QUEUE_DATASET_GROUP_ARNS),
                                        create_outcome_reporter=False)
        queue = DeletionRequestQueue(stack, "Queue", workflow=deletion, dataset_group_arns=[QUEUE_DATASET_GROUP_ARNS[0]],
                                     request_prefix="deletions/portal/", batch_interval=Duration.hours(6),
                                     max_batch_bytes=50 * 1024 * 1024, max_attempts=1, pending_job_limit=20,
                                     open_request_deadline=Duration.days(20), removal_policy=RemovalPolicy.DESTROY,
                                     create_schedule=False, quiet_period_enabled=False)
        portal = iam.Role(stack, "Portal", assumed_by=iam.AccountRootPrincipal())
        queue.grant_submit(portal)
        from cdk_ml_data_jobs._checks import nag_acknowledge, nag_resource

        # what a library user writes for their own principal: request files are named per request
        nag_acknowledge(portal.node.find_child("DefaultPolicy"),
                        f"AwsSolutions-IAM5[Resource::{nag_resource(stack, deletion.bucket.arn_for_objects('deletions/portal/*'))}]",
                        "The request portal puts one file per erasure request, named by the portal, under the "
                        "queue's request prefix only.")
        return {"deletion": deletion, "queue": queue, "portal": portal}

    return synth_stack("QueueMinimal", build)


@pytest.fixture(scope="session")
def models_forget(synth_stack) -> Synth:
    """A library user's stack: DataDeletionWorkflow narrowed to one dataset group, with every opt-in feature on
    (quiet period and overlap check, retraining of two solutions, campaign updates)."""
    from cdk_ml_data_jobs import DataDeletionWorkflow

    return synth_stack("ModelsForget", lambda stack: {"deletion": DataDeletionWorkflow(
        stack, "Deletion", dataset_group_arns=[DATASET_GROUP_ARN], quiet_period_enabled=True,
        retrain_solution_arns={DATASET_GROUP_ARN: SOLUTION_ARNS})})

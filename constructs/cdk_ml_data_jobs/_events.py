"""EventBridge deliveries to a function, with retries and a dead-letter queue."""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import Annotations, Aspects, Duration, IAspect
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

from ._checks import checkov_skip, nag_acknowledge
from ._contract import EVENT_SOURCE


def dead_letter_queue(scope: Construct, id: str, owner: str) -> sqs.Queue:
    """An SQS dead-letter queue for EventBridge deliveries and asynchronous invocations.

    SSE-SQS encrypted (EventBridge cannot deliver to a queue under the AWS
    managed SQS KMS key), TLS only, kept 14 days.
    """
    queue = sqs.Queue(scope, id, encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
                      retention_period=Duration.days(14))
    nag_acknowledge(queue, "AwsSolutions-SQS3", f"This queue is itself the dead-letter queue of the {owner}.")
    checkov_skip(queue, "CKV_AWS_27", "Encrypted with SSE-SQS (SqsManagedSseEnabled), which checkov does not "
                 "recognise; EventBridge cannot deliver to a queue under the AWS managed SQS KMS key.")
    return queue


def deliver_events(scope: Construct, id: str, *, description: str, event_pattern: dict[str, Any],
                   function: lambda_.IFunction, dead_letters: sqs.IQueue) -> events.Rule:
    """A rule delivering matching events to ``function``: 8 retries within 6 hours, then ``dead_letters``."""
    rule = events.Rule(scope, id, description=description, event_pattern=events.EventPattern(**event_pattern))
    rule.add_target(targets.LambdaFunction(function, dead_letter_queue=dead_letters, retry_attempts=8,
                                           max_event_age=Duration.hours(6)))
    return rule


@jsii.implements(IAspect)
class _KeepEventBridgeOn:
    """At synthesis, tell CDK's notification custom resource (if the bucket has one) to keep EventBridge on."""

    def __init__(self, bucket: s3.IBucket) -> None:
        self._bucket = bucket

    def visit(self, node: IConstruct) -> None:
        if node is self._bucket and isinstance(node, s3.Bucket) and node.node.try_find_child("Notifications"):
            node.enable_event_bridge_notification()


def enable_event_bridge(scope: Construct, bucket: s3.IBucket, otherwise: str) -> None:
    """Have ``bucket`` send its events to EventBridge: set on a bucket created in this app (kept on if CDK's
    notification custom resource is added later), a synth warning for an imported one (``otherwise`` says what
    then does not happen)."""
    cfn_bucket = bucket.node.default_child
    if isinstance(cfn_bucket, s3.CfnBucket):
        # Plain CloudFormation (no notification custom resource): send all events to EventBridge.
        cfn_bucket.add_property_override(
            "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True)
        # If the app also adds CDK-managed notifications to this bucket (at any time), CDK's custom
        # resource rewrites the bucket's whole notification configuration: have it keep EventBridge on.
        Aspects.of(bucket).add(_KeepEventBridgeOn(bucket))
    else:
        Annotations.of(scope).add_warning_v2(
            "cdk-ml-data-jobs:eventBridgeNotAdded",
            f"Bucket {bucket.bucket_name} is not created in this app: turn on its Amazon EventBridge "
            f"notifications (S3 console, Properties → Event notifications) or {otherwise}.",
        )


def put_events_statement(stack: Stack, sid: str) -> iam.PolicyStatement:
    """``events:PutEvents`` on the default bus, for events of this library's source only.

    ``events:source`` is typed multivalued in the Service Authorization Reference and documented
    single-valued by EventBridge: ``ForAllValues:StringEquals`` with ``Null = false`` reads the same under
    both (exactly one source, ours), where a plain ``StringEquals`` matches nothing under the first.
    """
    return iam.PolicyStatement(
        sid=sid, actions=["events:PutEvents"],
        resources=[stack.format_arn(service="events", resource="event-bus", resource_name="default")],
        conditions={"ForAllValues:StringEquals": {"events:source": [EVENT_SOURCE]},
                    "Null": {"events:source": "false"}})

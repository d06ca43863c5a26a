"""EventBridge deliveries to a function, with retries and a dead-letter queue."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ._checks import checkov_skip, nag_acknowledge


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

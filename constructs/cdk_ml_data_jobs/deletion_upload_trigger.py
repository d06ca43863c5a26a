"""DeletionUploadTrigger: start a data deletion when a user-ID file is uploaded."""

from __future__ import annotations

from typing import Mapping, Optional

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from ._contract import Env
from ._events import dead_letter_queue, deliver_events, enable_event_bridge
from .function_options import FunctionOptions
from .job_function import JobFunction


class DeletionUploadTrigger(Construct):
    """A ``.csv`` created under one of ``upload_triggers``' prefixes starts a deletion for
    that prefix's dataset group (S3 → EventBridge → a small function →
    ``StartExecution``). The execution is named after the bucket, key and object
    version, so the same object version never starts two deletions.

    EventBridge notifications are switched on for a bucket created in this app;
    for an imported bucket a warning says to switch them on.

    Attributes: ``function`` (``lambda.Function``), ``role``, ``rule``, ``dead_letter_queue``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        state_machine: sfn.IStateMachine,
        bucket: s3.IBucket,
        upload_triggers: Mapping[str, str],
        function_options: Optional[FunctionOptions] = None,
    ) -> None:
        """
        :param state_machine: the deletion workflow's state machine.
        :param bucket: the bucket the files are uploaded to.
        :param upload_triggers: key prefix → dataset group ARN, e.g.
            ``{"deletions/incoming/shop/": "arn:aws:personalize:...:dataset-group/shop"}``.
        :param function_options: runtime and log settings. Default ``FunctionOptions()``.
        """
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.dead_letter_queue: sqs.Queue = dead_letter_queue(self, "DeadLetters", "upload trigger's deliveries")
        trigger = JobFunction(
            self, "Trigger", handler="upload_trigger.handler",
            description="cdk-ml-data-jobs: start a data deletion for an uploaded user-ID file",
            environment={Env.UPLOAD_TRIGGERS: stack.to_json_string(dict(upload_triggers)),
                         Env.STATE_MACHINE_ARN: state_machine.state_machine_arn},
            timeout=Duration.seconds(30), function_options=function_options,
            dead_letter_queue=self.dead_letter_queue,
        )
        self.function: lambda_.Function = trigger.function
        self.role: iam.IRole = trigger.role
        state_machine.grant_start_execution(self.role)

        self.rule: events.Rule = deliver_events(
            self, "Uploaded",
            description="cdk-ml-data-jobs: a user-ID file was uploaded under a deletion trigger prefix",
            event_pattern={"source": ["aws.s3"], "detail_type": ["Object Created"],
                           "detail": {"bucket": {"name": [bucket.bucket_name]},
                                      "object": {"key": [{"prefix": prefix}
                                                         for prefix in sorted(upload_triggers)]}}},
            function=self.function, dead_letters=self.dead_letter_queue,
        )

        enable_event_bridge(self, bucket, "uploads will not start deletions")

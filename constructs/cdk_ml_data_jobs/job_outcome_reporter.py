"""JobOutcomeReporter: announce every finished execution of a workflow."""

from __future__ import annotations

from typing import Optional

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from ._contract import DEFAULT_AUDIT_PREFIX, TERMINAL_STATUSES, WORKFLOWS, Env
from ._events import dead_letter_queue, deliver_events, put_events_statement
from ._iam import attach_policy
from .errors import PropsError
from .function_options import FunctionOptions
from .job_function import JobFunction


class JobOutcomeReporter(Construct):
    """On every terminal status of the state machine's executions (SUCCEEDED,
    FAILED, TIMED_OUT, ABORTED), a function reads the execution back and
    publishes an EventBridge event (source ``cdk-ml-data-jobs``), a short SNS
    message when a topic is given, and a JSON audit record when an audit bucket
    is given. Deliveries that fail after retries land in a dead-letter queue.

    Attributes: ``function`` (``lambda.Function``), ``role``, ``rule``, ``dead_letter_queue``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        state_machine: sfn.StateMachine,
        workflow: str,
        topic: Optional[sns.ITopic] = None,
        audit_bucket: Optional[s3.IBucket] = None,
        audit_prefix: str = DEFAULT_AUDIT_PREFIX,
        function_options: Optional[FunctionOptions] = None,
    ) -> None:
        """
        :param state_machine: the workflow's state machine.
        :param workflow: ``"data-deletion"`` or ``"audience-export"``.
        :param topic: SNS topic for human-readable messages. Default: none.
        :param audit_bucket: bucket for audit records. Default: none.
        :param audit_prefix: key prefix of audit records. Default ``"audit/"``.
        :param function_options: runtime and log settings. Default ``FunctionOptions()``.
        """
        super().__init__(scope, id)
        if workflow not in WORKFLOWS:
            raise PropsError("JobOutcomeReporter", [f"workflow must be one of {', '.join(WORKFLOWS)}"])
        stack = Stack.of(self)
        self.dead_letter_queue: sqs.Queue = dead_letter_queue(self, "DeadLetters", "outcome reporter's deliveries")
        environment = {Env.WORKFLOW: workflow}
        if topic is not None:
            environment[Env.TOPIC_ARN] = topic.topic_arn
        if audit_bucket is not None:
            environment.update({Env.AUDIT_BUCKET: audit_bucket.bucket_name, Env.AUDIT_PREFIX: audit_prefix})
        reporter = JobFunction(
            self, "Reporter", handler="outcome_report.handler",
            description=f"cdk-ml-data-jobs: announce finished {workflow} executions",
            environment=environment, timeout=Duration.seconds(30), function_options=function_options,
            dead_letter_queue=self.dead_letter_queue,
        )
        self.function: lambda_.Function = reporter.function
        self.role: iam.IRole = reporter.role
        executions = stack.format_arn(service="states", resource="execution",
                                      resource_name=f"{state_machine.state_machine_name}:*",
                                      arn_format=ArnFormat.COLON_RESOURCE_NAME)
        wildcards = {executions: "Executions are named at start; the reporter reads only this state machine's "
                                 "executions."}
        statements = [
            iam.PolicyStatement(sid="ReadFinishedExecutions",
                                actions=["states:DescribeExecution", "states:GetExecutionHistory"],
                                resources=[executions]),
            put_events_statement(stack, "PublishOutcomeEvents"),
        ]
        if audit_bucket is not None:
            audit_records = audit_bucket.arn_for_objects(f"{audit_prefix}*")
            statements.append(iam.PolicyStatement(sid="WriteAuditRecords", actions=["s3:PutObject"],
                                                  resources=[audit_records]))
            wildcards[audit_records] = ("One audit record per execution, named after it; writes only under the "
                                        "audit prefix.")
        if topic is not None:
            statements.append(iam.PolicyStatement(sid="PublishOutcomeMessages", actions=["sns:Publish"],
                                                  resources=[topic.topic_arn]))
            key = topic.master_key  # an encrypted topic needs its key for publishing (no action wildcard)
            if key is not None:
                statements.append(iam.PolicyStatement(sid="EncryptOutcomeMessages",
                                                      actions=["kms:Decrypt", "kms:GenerateDataKey"],
                                                      resources=[key.key_arn]))
        attach_policy(self, "Permissions", role=self.role, statements=statements, wildcards=wildcards,
                      dependent=self.function)

        self.rule: events.Rule = deliver_events(
            self, "Finished",
            description=f"cdk-ml-data-jobs: an execution of the {workflow} workflow finished",
            event_pattern={"source": ["aws.states"], "detail_type": ["Step Functions Execution Status Change"],
                           "detail": {"stateMachineArn": [state_machine.state_machine_arn],
                                      "status": list(TERMINAL_STATUSES)}},
            function=self.function, dead_letters=self.dead_letter_queue,
        )


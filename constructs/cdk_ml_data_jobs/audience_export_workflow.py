"""AudienceExportWorkflow: export a segment of a Clean Rooms ML lookalike audience."""

from __future__ import annotations

from typing import Optional, Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from ._checks import PropsError
from ._iam import attach_policy
from ._workflow import Polling, add_operations, json_list
from .job_outcome_reporter import JobOutcomeReporter
from .job_function import JobFunction
from .job_state_machine import JobStateMachine, TaskSpec, TransientRetry

#: Clean Rooms ML errors retried with back-off; the quota error (HTTP 402) clears as other exports finish.
TRANSIENT_ERRORS = ("ThrottlingException", "InternalServiceException", "ServiceQuotaExceededException")

#: Named errors the functions raise; the execution fails with the name and the message as cause.
EXPLAINED_ERRORS = (
    "InvalidInput",
    "SdkTooOld",
    "ValidationException",
    "AccessDeniedException",
    "ResourceNotFoundException",
    "ConflictException",
    "ServiceError",
    *TRANSIENT_ERRORS,
)

#: IAM's service prefix. The boto3 client is ``cleanroomsml``; a wrong prefix deploys fine and fails at run time.
IAM_PREFIX = "cleanrooms-ml"


class AudienceExportWorkflow(Construct):
    """A Step Functions workflow that exports a Clean Rooms ML audience segment and follows it to ACTIVE.

    Execution input: ``{"audienceGenerationJobArn", "audienceSize": {"type", "value"},
    "name"?, "description"?}``; output on success: ``name``,
    ``audienceGenerationJobArn``, ``audienceSize``, ``status`` (``ACTIVE``),
    ``outputLocation``, ISO-8601 timestamps, ``sizeCheck``. Failure errors:
    ``InvalidInput``, ``AudienceExportJobFailed``, ``AudienceExportJobNotFound``,
    ``AudienceExportJobUnexpectedStatus``, ``AudienceExportJobTimedOut`` (see the README).

    Operating it: outcome events and messages (``outcome_reporter``), alarms
    (``alarms``), an optional notification topic (``notification_topic``).

    Attributes: ``state_machine``, ``log_group``, ``validate_function``,
    ``start_function``, ``poll_function`` (each a ``JobFunction``).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        audience_generation_job_arns: Optional[Sequence[str]] = None,
        configured_audience_model_arns: Optional[Sequence[str]] = None,
        job_timeout: Duration = Duration.hours(6),
        min_poll_interval: Duration = Duration.seconds(30),
        max_poll_interval: Duration = Duration.minutes(5),
        poll_growth: float = 0.1,
        not_listed_grace: Duration = Duration.minutes(5),
        retry_max_attempts: int = 12,
        retry_max_delay: Duration = Duration.minutes(15),
        runtime: Optional[lambda_.Runtime] = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        log_removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
        notification_topic: Optional[sns.ITopic] = None,
        create_notification_topic: bool = False,
        report_outcomes: bool = True,
        alarms: bool = True,
    ) -> None:
        """
        :param audience_generation_job_arns: generation jobs the workflow may
            export (ARNs, ``*`` wildcards allowed). Default: every audience
            generation job of the stack's account and Region.
        :param configured_audience_model_arns: configured audience models whose
            size bins the workflow may read (usually another account's). Default:
            every configured audience model in the stack's Region, any account.
        :param job_timeout: how long to follow an export, from its creation,
            before failing with ``AudienceExportJobTimedOut``. Default 6 hours.
        :param min_poll_interval: shortest wait between status checks. Default 30 s.
        :param max_poll_interval: longest wait between status checks. Default 5 minutes.
        :param poll_growth: wait as a fraction of the export's age. Default 0.1.
        :param not_listed_grace: how long an export may stay unlisted after the
            start call before failing with ``AudienceExportJobNotFound``. Default 5 minutes.
        :param retry_max_attempts: retries of a transient error (throttling,
            internal errors, the 20-pending-exports quota). Default 12.
        :param retry_max_delay: cap on one retry delay (exponential back-off,
            full jitter, from 5 s). Default 15 minutes.
        :param runtime: Lambda runtime. Default ``Runtime.PYTHON_3_14``.
        :param log_retention: retention of all log groups. Default one year.
        :param log_removal_policy: Default ``DESTROY``.
        :param notification_topic: SNS topic for outcome messages and alarms
            (bring your own). Default: none.
        :param create_notification_topic: create an encrypted topic instead.
            Default False.
        :param report_outcomes: on every finished execution publish an
            EventBridge event (source ``cdk-ml-data-jobs``, detail-type
            ``Audience Export Finished``) and an SNS message when there is a
            topic. Default True.
        :param alarms: CloudWatch alarms for failed, timed-out and throttled
            executions (``alarms`` attribute). Default True.
        """
        super().__init__(scope, id)
        polling = Polling(min_poll_interval, max_poll_interval, poll_growth, job_timeout)
        problems = polling.problems()
        if not_listed_grace.to_seconds() < 1:
            problems.append("not_listed_grace must be at least 1 second")
        for name, value in (("audience_generation_job_arns", audience_generation_job_arns),
                            ("configured_audience_model_arns", configured_audience_model_arns)):
            if value is not None and len(value) == 0:
                problems.append(f"{name} must not be empty (omit it for the default)")
        if retry_max_attempts < 0:
            problems.append("retry_max_attempts must not be negative")
        if notification_topic is not None and create_notification_topic:
            problems.append("notification_topic cannot be combined with create_notification_topic")
        if problems:
            raise PropsError("AudienceExportWorkflow", problems)

        stack = Stack.of(self)
        generation_jobs = list(audience_generation_job_arns or [
            stack.format_arn(service=IAM_PREFIX, resource="audience-generation-job", resource_name="*")])
        models = list(configured_audience_model_arns or [
            stack.format_arn(service=IAM_PREFIX, resource="configured-audience-model", resource_name="*",
                             account="*")])
        def function(name: str, handler: str, description: str, environment: dict[str, str]) -> JobFunction:
            return JobFunction(self, name, handler=handler, description=description, timeout=Duration.seconds(60),
                               environment=environment, runtime=runtime, log_retention=log_retention,
                               log_removal_policy=log_removal_policy)

        self.validate_function = function("Validate", "export_validate.handler",
                                          "cdk-ml-data-jobs: validate an audience export request",
                                          {"ALLOWED_GENERATION_JOB_ARNS": json_list(stack, generation_jobs)})
        self.start_function = function("Start", "export_start.handler",
                                       "cdk-ml-data-jobs: start (or adopt) a Clean Rooms ML audience export",
                                       polling.environment())
        self.poll_function = function("Poll", "export_poll.handler",
                                      "cdk-ml-data-jobs: find an audience export and compute the next wait",
                                      {**polling.environment(),
                                       "NOT_LISTED_GRACE_SECONDS": str(int(not_listed_grace.to_seconds()))})

        def action(*names: str) -> list[str]:
            return [f"{IAM_PREFIX}:{n}" for n in names]

        jobs_reason = ("Default scope: every audience generation job of this account and Region (export jobs have "
                       "no resource type of their own); narrow it with the audience_generation_job_arns prop.")
        job_wildcards = {generation_jobs[0]: jobs_reason} if audience_generation_job_arns is None else {}
        model_wildcards = {models[0]: "The configured audience model usually belongs to the other party's account "
                                      "and is known only per request; read-only access to its size bins. Narrow it "
                                      "with the configured_audience_model_arns prop."
                           } if configured_audience_model_arns is None else {}
        for fn, id, statements, wildcards in (
            (self.validate_function, "ValidatePermissions", [
                iam.PolicyStatement(sid="ReadGenerationJob", actions=action("GetAudienceGenerationJob"),
                                    resources=generation_jobs),
                iam.PolicyStatement(sid="ReadSizeBins", actions=action("GetConfiguredAudienceModel"),
                                    resources=models),
            ], {**job_wildcards, **model_wildcards}),
            (self.start_function, "StartPermissions", [
                iam.PolicyStatement(sid="StartExport",
                                    actions=action("StartAudienceExportJob", "ListAudienceExportJobs"),
                                    resources=generation_jobs),
            ], job_wildcards),
            (self.poll_function, "PollPermissions", [
                iam.PolicyStatement(sid="FindExport", actions=action("ListAudienceExportJobs"),
                                    resources=generation_jobs),
            ], job_wildcards),
        ):
            attach_policy(self, id, role=fn.role, statements=statements, wildcards=wildcards, dependent=fn.function)

        self._machine = JobStateMachine(
            self,
            "Workflow",
            comment="cdk-ml-data-jobs: AWS Clean Rooms ML audience export (validate, start, adaptive polling)",
            validate=TaskSpec(self.validate_function.function,
                              {"input.$": "$", "executionName.$": "$$.Execution.Name"}, "$.request"),
            launch=TaskSpec(self.start_function.function, {"request.$": "$.request"}, "$.tracker"),
            poll=TaskSpec(self.poll_function.function,
                          {"request.$": "$.request", "tracker.$": "$.tracker"}, "$.tracker"),
            explained_errors=EXPLAINED_ERRORS,
            transient_retry=TransientRetry(errors=TRANSIENT_ERRORS, max_attempts=retry_max_attempts,
                                           max_delay=retry_max_delay),
            timeout=polling.state_machine_timeout(Duration.hours(4)),
            log_retention=log_retention,
            log_removal_policy=log_removal_policy,
        )
        self.state_machine: sfn.StateMachine = self._machine.state_machine
        self.log_group: logs.LogGroup = self._machine.log_group

        operations = add_operations(
            self, state_machine=self.state_machine, workflow="audience-export",
            notification_topic=notification_topic, create_notification_topic=create_notification_topic,
            report_outcomes=report_outcomes, alarms=alarms, runtime=runtime, log_retention=log_retention,
            log_removal_policy=log_removal_policy,
        )
        self.notification_topic: Optional[sns.ITopic] = operations.topic
        self.outcome_reporter: Optional[JobOutcomeReporter] = operations.reporter
        self.alarms: list[cloudwatch.Alarm] = operations.alarms

    def grant_start_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` start executions of this workflow."""
        return self.state_machine.grant_start_execution(grantee)

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` list and describe this workflow's executions and their history."""
        return self.state_machine.grant_read(grantee)

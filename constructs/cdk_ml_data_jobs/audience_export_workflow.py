"""AudienceExportWorkflow: export a segment of a Clean Rooms ML lookalike audience."""

from __future__ import annotations

from typing import Optional, Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from ._contract import AUDIENCE_EXPORT, Env
from ._iam import attach_policy
from ._workflow import JobWorkflow, Polling, common_problems, json_list, not_empty
from .errors import PropsError
from .function_options import FunctionOptions
from .job_function import JobFunction
from .job_state_machine import TransientRetry

#: Clean Rooms ML errors retried with back-off; the quota error (HTTP 402) clears as other exports finish.
TRANSIENT_ERRORS = ("ThrottlingException", "InternalServiceException", "ServiceQuotaExceededException")

#: IAM's service prefix. The boto3 client is ``cleanroomsml``; a wrong prefix deploys fine and fails at run time.
IAM_PREFIX = "cleanrooms-ml"


class AudienceExportWorkflow(JobWorkflow):
    """A Step Functions workflow that exports a Clean Rooms ML audience segment and follows it to ACTIVE.

    Execution input: ``{"audienceGenerationJobArn", "audienceSize": {"type", "value"},
    "name"?, "description"?}``; output on success: ``name``,
    ``audienceGenerationJobArn``, ``audienceSize``, ``status`` (``ACTIVE``),
    ``outputLocation``, ISO-8601 timestamps, ``sizeCheck``. Failure errors:
    ``InvalidInput``, ``AudienceExportJobFailed``, ``AudienceExportJobNotFound``,
    ``AudienceExportJobUnexpectedStatus``, ``AudienceExportJobTimedOut`` (see the README).

    Operating it: outcome events and messages (``outcome_reporter``), alarms
    (``alarms``), an optional notification topic (``topic``).

    Attributes: ``state_machine``, ``log_group``, ``validate_function``,
    ``launch_function``, ``poll_function`` (each a ``lambda.Function``; ``.role``
    is its own role), ``outcome_reporter``, ``alarms``, ``topic``.
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
        function_options: Optional[FunctionOptions] = None,
        topic: Optional[sns.ITopic] = None,
        create_topic: bool = False,
        create_outcome_reporter: bool = True,
        create_alarms: bool = True,
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
        :param function_options: runtime and log settings of every function and
            log group this workflow creates (see ``FunctionOptions``). Default
            ``FunctionOptions()``.
        :param topic: SNS topic for outcome messages and alarms (bring your
            own). Default: none.
        :param create_topic: create an encrypted ``NotificationTopic`` instead
            (``topic`` attribute). Default False.
        :param create_outcome_reporter: on every finished execution publish an
            EventBridge event (source ``cdk-ml-data-jobs``, detail-type
            ``Audience Export Finished``) and an SNS message when there is a
            topic (``outcome_reporter`` attribute). Default True.
        :param create_alarms: CloudWatch alarms for failed, timed-out and
            throttled executions (``alarms`` attribute). Default True.
        """
        super().__init__(scope, id)
        polling = Polling(min_poll_interval, max_poll_interval, poll_growth, job_timeout)
        problems = [
            *polling.problems(),
            *(["not_listed_grace must be at least 1 second"] if not_listed_grace.to_seconds() < 1 else []),
            *not_empty("audience_generation_job_arns", audience_generation_job_arns),
            *not_empty("configured_audience_model_arns", configured_audience_model_arns),
            *common_problems(retry_max_attempts=retry_max_attempts, topic=topic, create_topic=create_topic),
        ]
        if problems:
            raise PropsError("AudienceExportWorkflow", problems)

        scope_arns = _Scope(Stack.of(self), audience_generation_job_arns, configured_audience_model_arns)
        self._create_functions(polling, not_listed_grace, scope_arns, function_options)
        self._grant_functions(scope_arns)
        self._follow_jobs(
            workflow=AUDIENCE_EXPORT,
            comment="cdk-ml-data-jobs: AWS Clean Rooms ML audience export (validate, start, adaptive polling)",
            transient_retry=TransientRetry(errors=TRANSIENT_ERRORS, max_attempts=retry_max_attempts,
                                           max_delay=retry_max_delay),
            timeout=polling.state_machine_timeout(Duration.hours(4)),
            function_options=function_options, topic=topic, create_topic=create_topic,
            create_outcome_reporter=create_outcome_reporter, create_alarms=create_alarms,
        )

    # ---- the steps of the constructor ---------------------------------------------------------

    def _create_functions(self, polling: Polling, not_listed_grace: Duration, scope_arns: "_Scope",
                          function_options: Optional[FunctionOptions]) -> None:
        def function(name: str, handler: str, description: str, environment: dict[str, str]) -> lambda_.Function:
            return JobFunction(self, name, handler=handler, description=f"cdk-ml-data-jobs: {description}",
                               timeout=Duration.seconds(60), environment=environment,
                               function_options=function_options).function

        self.validate_function = function(
            "Validate", "export_validate.handler", "validate an audience export request",
            {Env.ALLOWED_GENERATION_JOB_ARNS: json_list(Stack.of(self), scope_arns.generation_jobs)})
        # The construct id stays "Start" (not "Launch") so that existing stacks keep their logical ids.
        self.launch_function = function(
            "Start", "export_start.handler", "start (or adopt) a Clean Rooms ML audience export",
            polling.environment())
        self.poll_function = function(
            "Poll", "export_poll.handler", "find an audience export and compute the next wait",
            {**polling.environment(), Env.NOT_LISTED_GRACE_SECONDS: str(int(not_listed_grace.to_seconds()))})

    def _grant_functions(self, scope_arns: "_Scope") -> None:
        """Each function's own policy: exactly the calls its handler makes."""
        jobs, models = scope_arns.generation_jobs, scope_arns.models
        job_wildcards = {jobs[0]: "Default scope: every audience generation job of this account and Region "
                                  "(export jobs have no resource type of their own); narrow it with the "
                                  "audience_generation_job_arns prop."} if scope_arns.default_jobs else {}
        model_wildcards = {models[0]: "The configured audience model usually belongs to the other party's account "
                                      "and is known only per request; read-only access to its size bins. Narrow it "
                                      "with the configured_audience_model_arns prop."
                           } if scope_arns.default_models else {}
        for fn, id, statements, wildcards in (
            (self.validate_function, "ValidatePermissions", [
                iam.PolicyStatement(sid="ReadGenerationJob", actions=_actions("GetAudienceGenerationJob"),
                                    resources=jobs),
                iam.PolicyStatement(sid="ReadSizeBins", actions=_actions("GetConfiguredAudienceModel"),
                                    resources=models),
            ], {**job_wildcards, **model_wildcards}),
            (self.launch_function, "StartPermissions", [
                iam.PolicyStatement(sid="StartExport",
                                    actions=_actions("StartAudienceExportJob", "ListAudienceExportJobs"),
                                    resources=jobs),
            ], job_wildcards),
            (self.poll_function, "PollPermissions", [
                iam.PolicyStatement(sid="FindExport", actions=_actions("ListAudienceExportJobs"), resources=jobs),
            ], job_wildcards),
        ):
            assert fn.role is not None  # every JobFunction has its own role
            attach_policy(self, id, role=fn.role, statements=statements, wildcards=wildcards, dependent=fn)


def _actions(*names: str) -> list[str]:
    return [f"{IAM_PREFIX}:{n}" for n in names]


class _Scope:
    """The Clean Rooms ML resources the workflow may touch: generation jobs, and configured models' size bins."""

    def __init__(self, stack: Stack, generation_job_arns: Optional[Sequence[str]],
                 model_arns: Optional[Sequence[str]]) -> None:
        self.default_jobs = generation_job_arns is None
        self.default_models = model_arns is None
        self.generation_jobs = list(generation_job_arns or [
            stack.format_arn(service=IAM_PREFIX, resource="audience-generation-job", resource_name="*")])
        self.models = list(model_arns or [
            stack.format_arn(service=IAM_PREFIX, resource="configured-audience-model", resource_name="*",
                             account="*")])

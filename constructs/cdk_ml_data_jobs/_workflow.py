"""What the two workflow constructs share: polling settings, prop rules, the machinery, operations, grants."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from ._contract import DEFAULT_AUDIT_PREFIX, Env
from .function_options import FunctionOptions
from .job_outcome_reporter import JobOutcomeReporter
from .job_state_machine import JobStateMachine, TransientRetry
from .notification_topic import NotificationTopic
from .workflow_alarms import WorkflowAlarms


@dataclass(frozen=True)
class Polling:
    """Adaptive polling bounds (see ``lambda/jobkit/schedule.py``)."""

    min_interval: Duration
    max_interval: Duration
    growth: float
    job_timeout: Duration

    def problems(self) -> list[str]:
        found = []
        low, high = self.min_interval.to_seconds(), self.max_interval.to_seconds()
        if low < 1:
            found.append("min_poll_interval must be at least 1 second")
        if high < low:
            found.append("max_poll_interval must not be shorter than min_poll_interval")
        if high > 86400:
            found.append("max_poll_interval must be at most 24 hours")
        if not 0 < self.growth <= 1:
            found.append("poll_growth must be in (0, 1]")
        if self.job_timeout.to_seconds() <= low:
            found.append("job_timeout must be longer than min_poll_interval")
        if self.job_timeout.to_seconds() > 364 * 86400:
            found.append("job_timeout must be under a year (the Step Functions limit)")
        return found

    def environment(self) -> dict[str, str]:
        return {
            Env.POLL_MIN_WAIT_SECONDS: str(int(self.min_interval.to_seconds())),
            Env.POLL_MAX_WAIT_SECONDS: str(int(self.max_interval.to_seconds())),
            Env.POLL_GROWTH: repr(float(self.growth)),
            Env.JOB_TIMEOUT_SECONDS: str(int(self.job_timeout.to_seconds())),
        }

    def state_machine_timeout(self, margin: Duration) -> Duration:
        """Backstop for the whole execution: the job timeout plus time for validation and retries."""
        return Duration.seconds(self.job_timeout.to_seconds() + margin.to_seconds())


def json_list(stack: Stack, values: Sequence[str]) -> str:
    """A list of (possibly token) strings as a JSON array for an environment variable."""
    return stack.to_json_string(list(values))


def common_problems(*, retry_max_attempts: int, topic: Optional[sns.ITopic], create_topic: bool) -> list[str]:
    """The prop rules both workflows share."""
    found = []
    if retry_max_attempts < 0:
        found.append("retry_max_attempts must not be negative")
    if topic is not None and create_topic:
        found.append("topic cannot be combined with create_topic")
    return found


def not_empty(name: str, value: Optional[Sequence[str]], default: str = "for the default") -> list[str]:
    """The rule for optional allow-lists: omitted means the default, empty is a mistake."""
    return [f"{name} must not be empty (omit it {default})"] if value is not None and len(value) == 0 else []


class JobWorkflow(Construct):
    """What both workflow constructs are: three functions, the shared job state machine, operations, grants.

    A subclass creates its functions (``validate_function``, ``launch_function``,
    ``poll_function``) and their policies, then calls :meth:`_follow_jobs`.
    """

    validate_function: lambda_.Function
    launch_function: lambda_.Function
    poll_function: lambda_.Function

    def _follow_jobs(
        self,
        *,
        workflow: str,
        comment: str,
        transient_retry: TransientRetry,
        timeout: Duration,
        function_options: Optional[FunctionOptions],
        topic: Optional[sns.ITopic],
        create_topic: bool,
        create_outcome_reporter: bool,
        create_alarms: bool,
        audit_bucket: Optional[s3.IBucket] = None,
        audit_prefix: str = DEFAULT_AUDIT_PREFIX,
        launch_may_wait: bool = False,
        follow_through_function: Optional[lambda_.IFunction] = None,
    ) -> None:
        """The state machine over the three functions, then the topic (given or created), the outcome reporter and
        the alarms the props ask for."""
        machine = JobStateMachine(
            self, "Workflow", comment=comment, validate_function=self.validate_function,
            launch_function=self.launch_function, poll_function=self.poll_function,
            transient_retry=transient_retry, timeout=timeout,
            function_options=function_options, launch_may_wait=launch_may_wait,
            follow_through_function=follow_through_function,
        )
        self.state_machine: sfn.StateMachine = machine.state_machine
        self.log_group: logs.LogGroup = machine.log_group
        if create_topic:
            topic = NotificationTopic(self, "Notifications").topic
        self.topic: Optional[sns.ITopic] = topic
        self.outcome_reporter: Optional[JobOutcomeReporter] = None
        if create_outcome_reporter:
            self.outcome_reporter = JobOutcomeReporter(
                self, "Outcomes", state_machine=self.state_machine, workflow=workflow, topic=topic,
                audit_bucket=audit_bucket, audit_prefix=audit_prefix, function_options=function_options,
            )
        self.alarms: list[cloudwatch.Alarm] = (
            WorkflowAlarms(self, "Alarms", state_machine=self.state_machine, topic=topic).alarms if create_alarms else [])

    def grant_start_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` start executions of this workflow."""
        return self.state_machine.grant_start_execution(grantee)

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` list and describe this workflow's executions and their history."""
        return self.state_machine.grant_read(grantee)

"""What the two workflow constructs share: polling settings, function environments, operations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .job_outcome_reporter import JobOutcomeReporter
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
            "POLL_MIN_WAIT_SECONDS": str(int(self.min_interval.to_seconds())),
            "POLL_MAX_WAIT_SECONDS": str(int(self.max_interval.to_seconds())),
            "POLL_GROWTH": repr(float(self.growth)),
            "JOB_TIMEOUT_SECONDS": str(int(self.job_timeout.to_seconds())),
        }

    def state_machine_timeout(self, margin: Duration) -> Duration:
        """Backstop for the whole execution: the job timeout plus time for validation and retries."""
        return Duration.seconds(self.job_timeout.to_seconds() + margin.to_seconds())


def json_list(stack: Stack, values: Sequence[str]) -> str:
    """A list of (possibly token) strings as a JSON array for an environment variable."""
    return stack.to_json_string(list(values))


@dataclass
class Operations:
    """What a workflow adds for operating it: a topic, an outcome reporter, alarms."""

    topic: Optional[sns.ITopic]
    reporter: Optional[JobOutcomeReporter]
    alarms: list[cloudwatch.Alarm]


def add_operations(
    scope: Construct,
    *,
    state_machine: sfn.StateMachine,
    workflow: str,
    notification_topic: Optional[sns.ITopic],
    create_notification_topic: bool,
    report_outcomes: bool,
    alarms: bool,
    audit_bucket: Optional[s3.IBucket] = None,
    audit_prefix: str = "audit/",
    runtime: Optional[lambda_.Runtime] = None,
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
    log_removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
) -> Operations:
    topic = NotificationTopic(scope, "Notifications").topic if create_notification_topic else notification_topic
    reporter = None
    if report_outcomes:
        reporter = JobOutcomeReporter(
            scope, "Outcomes", state_machine=state_machine, workflow=workflow, topic=topic,
            audit_bucket=audit_bucket, audit_prefix=audit_prefix, runtime=runtime, log_retention=log_retention,
            log_removal_policy=log_removal_policy,
        )
    watch = WorkflowAlarms(scope, "Alarms", state_machine=state_machine, topic=topic) if alarms else None
    return Operations(topic, reporter, watch.alarms if watch else [])

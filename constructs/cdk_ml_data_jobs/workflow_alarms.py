"""WorkflowAlarms: CloudWatch alarms for a state machine's failed, timed-out and throttled executions."""

from __future__ import annotations

from typing import Optional

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct


class WorkflowAlarms(Construct):
    """One alarm each for failed, timed-out and throttled executions (any in a
    5-minute period), wired to ``topic`` when given.

    Attributes: ``alarms`` (list), ``failed``, ``timed_out``, ``throttled``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        state_machine: sfn.IStateMachine,
        topic: Optional[sns.ITopic] = None,
        period: Duration = Duration.minutes(5),
    ) -> None:
        """
        :param state_machine: the workflow's state machine.
        :param topic: where alarm and OK notifications go. Default: none.
        :param period: evaluation period. Default 5 minutes.
        """
        super().__init__(scope, id)

        def alarm(name: str, metric: cloudwatch.Metric, what: str) -> cloudwatch.Alarm:
            created = cloudwatch.Alarm(
                self,
                name,
                metric=metric,
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=f"cdk-ml-data-jobs: {what} (see the README's troubleshooting section)",
            )
            if topic is not None:
                created.add_alarm_action(actions.SnsAction(topic))
                created.add_ok_action(actions.SnsAction(topic))
            return created

        self.failed = alarm("ExecutionsFailed", state_machine.metric_failed(period=period, statistic="Sum"),
                            "an execution failed")
        self.timed_out = alarm("ExecutionsTimedOut", state_machine.metric_timed_out(period=period, statistic="Sum"),
                               "an execution timed out")
        self.throttled = alarm("ExecutionsThrottled",
                               state_machine.metric_throttled(period=period, statistic="Sum"),
                               "Step Functions throttled the workflow")
        self.alarms = [self.failed, self.timed_out, self.throttled]

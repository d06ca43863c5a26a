#!/usr/bin/env python3
"""Sample app: deploys both workflows with the library's defaults.

Environment-agnostic (deploys into whatever account and Region the CLI's
credentials point at). Configured through CDK context keys (``-c key=value`` or
``cdk.json``); see the README's "Sample app" section:

- ``stackName``: CloudFormation stack name (default ``CdkMlDataJobs``)
- ``deletionPrefix``: key prefix of user-ID files (default ``deletions/``)
- ``datasetGroupArns``: comma-separated dataset group ARNs the deletion workflow may use (default: all)
- ``audienceGenerationJobArns``: comma-separated generation job ARNs the export workflow may use (default: all)
- ``configuredAudienceModelArns``: comma-separated configured audience model ARNs (default: all in the Region)
- ``destroyOnRemoval``: ``true`` for dev stacks: buckets are emptied and deleted with the stack (default ``false``)
- ``notificationEmail``: comma-separated e-mail addresses subscribed to the outcome and alarm topic (default: none)
- ``uploadTriggers``: comma-separated ``prefix=datasetGroupArn`` pairs; a ``.csv`` uploaded under a prefix starts a
  deletion for that dataset group (default: none)
- ``requestQueueDatasetGroupArns``: comma-separated dataset group ARNs; when set, a ``DeletionRequestQueue`` carries
  out every request file under ``<deletionPrefix>requests/`` in each of them (default: no queue)
- ``requestBatchIntervalHours``: hours between the queue's batch runs (default 24)
- ``quietPeriod``: ``true`` to wait for a quiet dataset group before each deletion and start one more job after an
  overlapping training or import (default ``false``; ``true`` when ``requestQueueDatasetGroupArns`` adds the queue,
  which requires it unless ``quietPeriod=false``)
- ``retrainSolutionArns``: comma-separated ``datasetGroupArn=solutionArn|solutionArn`` pairs; after a deletion in
  that group, retrain those solutions and update their campaigns (default: none)
"""

from __future__ import annotations

from typing import Optional

import aws_cdk as cdk
from constructs import Construct

from cdk_ml_data_jobs import (
    AudienceExportWorkflow,
    DataDeletionWorkflow,
    DeletionRequestQueue,
    JobDataBucket,
    NotificationTopic,
)

DEFAULT_STACK_NAME = "CdkMlDataJobs"


def _list(node: Construct, key: str) -> Optional[list[str]]:
    value = node.node.try_get_context(key)
    if value is None or value == "":
        return None
    if isinstance(value, list):
        return [str(v) for v in value]
    return [part.strip() for part in str(value).split(",") if part.strip()]


class MlDataJobsStack(cdk.Stack):
    """The bucket, the Personalize data access role and both workflows, with outputs."""

    def __init__(self, scope: Construct, id: str, **kwargs) -> None:
        super().__init__(scope, id, description="cdk-ml-data-jobs sample: Personalize data deletion and "
                         "Clean Rooms ML audience export workflows", **kwargs)
        prefix = self.node.try_get_context("deletionPrefix") or "deletions/"
        destroy = str(self.node.try_get_context("destroyOnRemoval") or "false").lower() == "true"
        data = JobDataBucket(
            self, "Data", deletion_prefix=prefix,
            removal_policy=cdk.RemovalPolicy.DESTROY if destroy else None, auto_delete_objects=destroy,
        )
        self.notifications = NotificationTopic(self, "Notifications",
                                               email_subscriptions=_list(self, "notificationEmail"))
        triggers = dict(pair.split("=", 1) for pair in _list(self, "uploadTriggers") or [])
        retrain = {group: solutions.split("|") for group, solutions in
                   (pair.split("=", 1) for pair in _list(self, "retrainSolutionArns") or [])}
        queue_groups = _list(self, "requestQueueDatasetGroupArns")
        # the queue requires the quiet period unless the app says quietPeriod=false
        quiet = str(self.node.try_get_context("quietPeriod") or ("true" if queue_groups else "false")).lower() == "true"
        self.deletion = DataDeletionWorkflow(
            self, "DataDeletion", bucket=data.bucket, deletion_prefix=prefix,
            dataset_group_arns=_list(self, "datasetGroupArns"),
            topic=self.notifications.topic, upload_triggers=triggers or None,
            quiet_period_enabled=quiet, retrain_solution_arns=retrain or None,
        )
        self.export = AudienceExportWorkflow(
            self, "AudienceExport",
            audience_generation_job_arns=_list(self, "audienceGenerationJobArns"),
            configured_audience_model_arns=_list(self, "configuredAudienceModelArns"),
            topic=self.notifications.topic,
        )
        self.data = data
        self.queue: Optional[DeletionRequestQueue] = None
        if queue_groups:
            hours = float(self.node.try_get_context("requestBatchIntervalHours") or 24)
            self.queue = DeletionRequestQueue(
                self, "DeletionRequests", workflow=self.deletion, dataset_group_arns=queue_groups,
                batch_interval=cdk.Duration.minutes(round(hours * 60)),
                removal_policy=cdk.RemovalPolicy.DESTROY if destroy else cdk.RemovalPolicy.RETAIN,
                quiet_period_enabled=quiet,
            )
        for name, value, description in (
            ("DataBucketName", data.bucket.bucket_name, "Bucket for user-ID files (under the deletion prefix)"),
            ("DeletionPrefix", prefix, "Key prefix of user-ID files"),
            ("DataAccessRoleArn", self.deletion.data_access_role.role_arn, "Role Personalize assumes"),
            ("DataDeletionStateMachineArn", self.deletion.state_machine.state_machine_arn, "Deletion workflow"),
            ("AudienceExportStateMachineArn", self.export.state_machine.state_machine_arn, "Export workflow"),
            ("NotificationTopicArn", self.notifications.topic.topic_arn, "Outcome messages and alarms"),
        ):
            cdk.CfnOutput(self, name, value=value, description=description)
        if self.queue is not None:
            for name, value, description in (
                ("RequestPrefix", self.queue.request_prefix, "Key prefix of deletion request files"),
                ("RequestRecordPrefix", self.queue.record_prefix, "Key prefix of the per-request records"),
                ("RequestLedgerTableName", self.queue.table.table_name, "Deletion request ledger"),
                ("RequestBatchStateMachineArn", self.queue.batch_state_machine.state_machine_arn,
                 "Batch run of the deletion request queue"),
            ):
                cdk.CfnOutput(self, name, value=value, description=description)


def build(app: cdk.App) -> MlDataJobsStack:
    return MlDataJobsStack(app, app.node.try_get_context("stackName") or DEFAULT_STACK_NAME)


if __name__ == "__main__":
    sample = cdk.App()
    build(sample)
    sample.synth()

"""NotificationTopic: an encrypted, TLS-only SNS topic for the workflows' outcome messages."""

from __future__ import annotations

from typing import Optional, Sequence

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct


class NotificationTopic(Construct):
    """An SNS topic for outcome messages and alarms: encrypted with its own
    customer managed KMS key (rotated yearly; CloudWatch alarms cannot publish
    to a topic under the AWS managed SNS key), publishing over TLS only, with
    optional e-mail subscriptions.

    Attributes: ``topic``, ``key`` (when created).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        display_name: str = "cdk-ml-data-jobs",
        email_subscriptions: Optional[Sequence[str]] = None,
        master_key: Optional[kms.IKey] = None,
    ) -> None:
        """
        :param display_name: Default ``"cdk-ml-data-jobs"``.
        :param email_subscriptions: addresses to subscribe (each confirms by
            e-mail). Default: none.
        :param master_key: KMS key for the topic; its policy must let
            ``cloudwatch.amazonaws.com`` use it for alarms to arrive. Default: a
            key is created with that policy and yearly rotation.
        """
        super().__init__(scope, id)
        self.key: Optional[kms.IKey] = master_key
        if master_key is None:
            key = kms.Key(
                self,
                "Key",
                description="cdk-ml-data-jobs: encrypts the workflows' notification topic",
                enable_key_rotation=True,
            )
            key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="AllowCloudWatchAlarmsToPublish",
                    principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                    actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                    resources=["*"],
                    conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
                )
            )
            self.key = key
        self.topic = sns.Topic(self, "Topic", display_name=display_name, master_key=self.key, enforce_ssl=True)
        # The TLS-only statement creates a topic policy, which replaces SNS's default one: say explicitly that
        # this account's CloudWatch alarms may publish.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsOfThisAccount",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "ArnLike": {"aws:SourceArn": Stack.of(self).format_arn(
                        service="cloudwatch", resource="alarm", resource_name="*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME)},
                    "StringEquals": {"aws:SourceAccount": Stack.of(self).account},
                },
            )
        )
        for address in email_subscriptions or []:
            self.topic.add_subscription(subscriptions.EmailSubscription(address))

"""JobFunction: one of the workflows' Lambda functions, with its own log-only role."""

from __future__ import annotations

from typing import Mapping, Optional

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ._assets import lambda_code
from ._checks import checkov_skip, checkov_skips
from .function_options import FunctionOptions


class JobFunction(Construct):
    """A Lambda function running one handler module of the library's code asset.

    Each function has its own role that can write only to its own log group
    (no managed ``AWSLambdaBasicExecutionRole``), its own log group, arm64, the
    newest Python runtime and JSON logs. Callers add the service permissions
    the handler needs to ``role``.

    Attributes: ``function`` (``lambda.Function``), ``role`` (``iam.Role``),
    ``log_group`` (``logs.LogGroup``).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        handler: str,
        description: str,
        environment: Optional[Mapping[str, str]] = None,
        timeout: Duration = Duration.seconds(60),
        memory_size: int = 256,
        function_options: Optional[FunctionOptions] = None,
        dead_letter_queue: Optional[sqs.IQueue] = None,
    ) -> None:
        """
        :param handler: ``module.function`` inside the code asset.
        :param description: the function's description.
        :param environment: environment variables. Default: none.
        :param timeout: Default 60 seconds.
        :param memory_size: MiB. Default 256.
        :param function_options: runtime and log settings (see
            ``FunctionOptions``). Default ``FunctionOptions()``.
        :param dead_letter_queue: where failed asynchronous invocations go.
            Default: none (the workflow functions are invoked synchronously).
        """
        super().__init__(scope, id)
        options = function_options or FunctionOptions()
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{description} (writes its own logs only; service permissions added per action)",
        )
        self.log_group = logs.LogGroup(self, "Logs", retention=options.log_retention,
                                       removal_policy=options.log_removal_policy)
        checkov_skip(
            self.log_group,
            "CKV_AWS_158",
            "Function logs hold no user IDs or secrets; CloudWatch Logs encrypts them at rest with AWS-managed keys.",
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            code=lambda_code(),
            handler=handler,
            runtime=options.effective_runtime,
            architecture=lambda_.Architecture.ARM_64,
            memory_size=memory_size,
            timeout=timeout,
            role=self.role,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            environment=dict(environment or {}),
            dead_letter_queue=dead_letter_queue,
        )
        self.log_group.grant_write(self.role)
        skips = [
            ("CKV_AWS_115", "A few calls per workflow step or event; reserving concurrency would fail to deploy in "
             "accounts with the default concurrency quota."),
            ("CKV_AWS_116", "Invoked synchronously by Step Functions, which retries and records failures; a dead-letter "
             "queue applies to asynchronous invocations only.") if dead_letter_queue is None else None,
            ("CKV_AWS_117", "Calls only public AWS service endpoints; no VPC resources are reached."),
            ("CKV_AWS_173", "Environment variables hold resource names, ARNs and polling bounds, no secrets."),
        ]
        checkov_skips(self.function, filter(None, skips))

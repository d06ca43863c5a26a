"""FunctionOptions: the settings every Lambda function and log group of a construct shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from aws_cdk import RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

#: Newest Python runtime known to this aws-cdk-lib (cdk-nag's L1 checks for it).
DEFAULT_RUNTIME = lambda_.Runtime.PYTHON_3_14


@dataclass(frozen=True)
class FunctionOptions:
    """Settings shared by every function a construct creates, documented once.

    Every construct of this library that creates Lambda functions takes them as
    its ``function_options`` prop; a workflow passes them on to the functions,
    the outcome reporter and the upload trigger it creates, and applies the log
    settings to its state machine's log group too.

    :param runtime: the Python runtime. Default ``Runtime.PYTHON_3_14`` (the
        functions use the runtime's boto3 and check at first use that it has
        the operations they call).
    :param log_retention: retention of every log group. Default one year.
    :param log_removal_policy: what happens to the log groups when the stack
        deletes them. Default ``RemovalPolicy.DESTROY`` (a re-created stack
        never collides with a retained log group of the same name).
    """

    runtime: Optional[lambda_.Runtime] = None
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR
    log_removal_policy: RemovalPolicy = RemovalPolicy.DESTROY

    @property
    def effective_runtime(self) -> lambda_.Runtime:
        """``runtime``, or the default when none was given."""
        return self.runtime or DEFAULT_RUNTIME

"""JobStateMachine: the launch → wait → poll → decide machinery both workflows use."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from aws_cdk import Duration, Names
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from . import _contract as contract
from ._checks import checkov_skip, nag_acknowledge
from .function_options import FunctionOptions

#: Errors of the Lambda service itself, retried on every task.
LAMBDA_SERVICE_ERRORS = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)


@dataclass(frozen=True)
class TransientRetry:
    """How the state machine retries a transient service error (exponential back-off, full jitter).

    ``errors``: error names (the service's error codes). ``interval``: first
    delay. ``backoff_rate``: growth of the delay. ``max_delay``: cap on one
    delay. ``max_attempts``: retries before the execution fails with the error.
    """

    errors: Sequence[str]
    interval: Duration = field(default_factory=lambda: Duration.seconds(5))
    backoff_rate: float = 2.0
    max_delay: Duration = field(default_factory=lambda: Duration.minutes(5))
    max_attempts: int = 10


#: What each step receives and where its result goes: the same for every workflow. The validate function
#: gets the execution input (whatever JSON value it is, read from the context object) and name and returns
#: the normalised request; the launch and poll functions get
#: the request (and the tracker) and return the tracker the Decide state reads.
_VALIDATE_PAYLOAD = ({"input.$": "$$.Execution.Input", "executionName.$": "$$.Execution.Name"}, "$.request")
_LAUNCH_PAYLOAD = ({"request.$": "$.request"}, "$.tracker")
_POLL_PAYLOAD = ({"request.$": "$.request", "tracker.$": "$.tracker"}, "$.tracker")
#: The launch function run again (``LaunchAgain``) and the follow-through function get the tracker too.
_TRACKER_PAYLOAD = _POLL_PAYLOAD


class JobStateMachine(Construct):
    """A STANDARD state machine that validates, launches and follows one job.

    Definition (JSONPath)::

        ReadInput ─▶ Validate ─▶ Launch ─▶ WaitForJob ─▶ CheckJob ─▶ Decide ─┬─ RUNNING ──▶ WaitForJob
                                                                              ├─ SUCCEEDED ▶ Succeeded (output: $.tracker.result)
                                                                              └─ otherwise ▶ JobDidNotSucceed (error/cause from the tracker)
        any step's error, after its retries ─▶ ExplainError ─▶ Failed / FailedWithCause / FailedWithoutMessage
                                                          (the error name, and its message as cause)

    ``ReadInput`` holds the execution input under ``$.input``, so that any JSON
    value (a string, ``null``, a list) reaches the validate function, which
    rejects it with ``InvalidInput``, instead of failing a path of the
    definition. Every error of every step, named or not, is caught after its
    retries and explained.

    The wait before each check is computed by the poll function from the job's
    age (``$.tracker.waitSeconds``), so the loop needs no fixed interval. The
    construct grants the state machine ``lambda:InvokeFunction`` on exactly the
    three functions (no version wildcards).

    The three functions follow one contract (``lambda/jobkit/tracker.py``): the
    validate function receives ``{"input", "executionName"}`` and returns the
    request; the launch function receives ``{"request"}`` and the poll function
    ``{"request", "tracker"}``, and both return the tracker.

    Two opt-in extensions, absent from the definition unless asked for (so the
    default definition does not change):

    - ``launch_may_wait``: the launch function may answer ``WAIT_TO_LAUNCH``
      (for example, a resource is busy). ``Launch`` then goes to ``Decide``,
      which routes ``WAIT_TO_LAUNCH`` to ``WaitToLaunch`` (``$.tracker.waitSeconds``)
      and ``LaunchAgain`` (the launch function with ``{"request", "tracker"}``),
      back to ``Decide``.
    - ``follow_through_function``: when the job succeeded, ``FollowThrough``
      runs it with ``{"request", "tracker"}`` instead of succeeding at once;
      ``DecideFollowThrough`` routes ``FOLLOW_THROUGH`` to ``WaitForFollowThrough``
      and back, ``WAIT_TO_LAUNCH`` to ``WaitToLaunch`` (another job, when
      ``launch_may_wait``), ``SUCCEEDED`` to ``Succeeded`` and anything else to
      ``JobDidNotSucceed``.

    Attributes: ``state_machine``, ``log_group``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        validate_function: lambda_.IFunction,
        launch_function: lambda_.IFunction,
        poll_function: lambda_.IFunction,
        transient_retry: TransientRetry,
        timeout: Duration,
        comment: str,
        function_options: Optional[FunctionOptions] = None,
        launch_may_wait: bool = False,
        follow_through_function: Optional[lambda_.IFunction] = None,
    ) -> None:
        """
        :param validate_function: checks the input; starts nothing.
        :param launch_function: starts (or adopts) the job.
        :param poll_function: reads the job's status and computes the next wait.
        :param transient_retry: how transient service errors are retried.
        :param timeout: the whole execution's backstop.
        :param comment: the state machine's comment.
        :param function_options: its log settings apply to the state machine's
            log group. Default ``FunctionOptions()``.
        :param launch_may_wait: the launch function may return ``WAIT_TO_LAUNCH``
            (adds ``WaitToLaunch`` and ``LaunchAgain``). Default False.
        :param follow_through_function: run after the job succeeded, until it
            returns ``SUCCEEDED`` or stops (adds ``FollowThrough``,
            ``WaitForFollowThrough``, ``DecideFollowThrough``). Default: none.
        """
        super().__init__(scope, id)
        options = function_options or FunctionOptions()
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name="/aws/vendedlogs/states/" + Names.unique_resource_name(self, max_length=400, separator="-"),
            retention=options.log_retention,
            removal_policy=options.log_removal_policy,
        )
        checkov_skip(
            self.log_group,
            "CKV_AWS_158",
            "Execution logs hold the documented inputs and outputs (ARNs, S3 locations, counts), never user IDs; "
            "CloudWatch Logs encrypts them at rest with AWS-managed keys.",
        )

        explain = _explain_error_chain(self)
        read_input = sfn.Pass(
            self,
            "ReadInput",
            comment="Hold the execution input, whatever JSON value it is, inside an object so that every later "
                    "ResultPath and Catch can write beside it (a string, a number, null or a list could not).",
            parameters={"input.$": "$$.Execution.Input"},
        )

        def task(name: str, function: lambda_.IFunction, payload: tuple[dict[str, Any], str],
                 comment: str) -> sfn.CustomState:
            parameters, result_path = payload
            state = sfn.CustomState(
                self,
                name,
                state_json={
                    "Type": "Task",
                    "Comment": comment,
                    "Resource": function.function_arn,
                    "Parameters": parameters,
                    "ResultPath": result_path,
                },
            )
            state.add_retry(
                errors=list(LAMBDA_SERVICE_ERRORS),
                interval=Duration.seconds(2),
                backoff_rate=2,
                max_delay=Duration.seconds(60),
                max_attempts=6,
                jitter_strategy=sfn.JitterType.FULL,
            )
            state.add_retry(
                errors=list(transient_retry.errors),
                interval=transient_retry.interval,
                backoff_rate=transient_retry.backoff_rate,
                max_delay=transient_retry.max_delay,
                max_attempts=transient_retry.max_attempts,
                jitter_strategy=sfn.JitterType.FULL,
            )
            # Every error, named or not, is explained (Retry is evaluated first, so transient errors keep
            # their retries): an unexpected one keeps its name and its message, never an envelope.
            state.add_catch(explain, errors=["States.ALL"], result_path="$.failure")
            return state

        validate_task = task(contract.STATE_VALIDATE, validate_function, _VALIDATE_PAYLOAD,
                             "Check the input and pre-flight the data; nothing is started.")
        launch_task = task(contract.STATE_LAUNCH, launch_function, _LAUNCH_PAYLOAD,
                           "Start the job, or adopt the one this execution already started.")
        poll_task = task(contract.STATE_CHECK, poll_function, _POLL_PAYLOAD,
                         "Read the job's status and compute the next wait from its age.")
        wait = sfn.Wait(
            self,
            contract.STATE_WAIT,
            comment="Adaptive wait: grows with the job's age, between the polling bounds.",
            time=sfn.WaitTime.seconds_path("$.tracker.waitSeconds"),
        )
        succeeded = sfn.Succeed(self, "Succeeded", output_path="$.tracker.result")
        not_succeeded = sfn.Fail(
            self, "JobDidNotSucceed", comment="The job failed, timed out, vanished or reported an unknown status.",
            error_path="$.tracker.error", cause_path="$.tracker.cause",
        )
        def phase(name: str) -> sfn.Condition:
            return sfn.Condition.string_equals("$.tracker.phase", name)

        def adaptive_wait(name: str, comment: str) -> sfn.Wait:
            return sfn.Wait(self, name, comment=comment, time=sfn.WaitTime.seconds_path("$.tracker.waitSeconds"))

        decide = sfn.Choice(self, contract.STATE_DECIDE).when(phase(contract.PHASE_RUNNING), wait)
        wait_to_launch: Optional[sfn.Wait] = None
        if launch_may_wait:
            wait_to_launch = adaptive_wait(contract.STATE_WAIT_TO_LAUNCH,
                                           "Adaptive wait before launching again (e.g. a busy resource).")
            launch_again = task(contract.STATE_LAUNCH_AGAIN, launch_function, _TRACKER_PAYLOAD,
                                "Launch again after the wait, with what the previous attempt recorded.")
            wait_to_launch.next(launch_again)
            launch_again.next(decide)
            decide.when(phase(contract.PHASE_WAIT_TO_LAUNCH), wait_to_launch)
        if follow_through_function is not None:
            follow = task(contract.STATE_FOLLOW_THROUGH, follow_through_function, _TRACKER_PAYLOAD,
                          "After the job succeeded: what follows it (checks, further jobs), until done.")
            wait_follow = adaptive_wait(contract.STATE_WAIT_FOR_FOLLOW_THROUGH,
                                        "Adaptive wait: grows with the age of what is being followed through.")
            decide_follow = sfn.Choice(self, contract.STATE_DECIDE_FOLLOW_THROUGH).when(
                phase(contract.PHASE_FOLLOW_THROUGH), wait_follow)
            if wait_to_launch is not None:
                decide_follow.when(phase(contract.PHASE_WAIT_TO_LAUNCH), wait_to_launch)
            decide_follow.when(phase(contract.PHASE_SUCCEEDED), succeeded).otherwise(not_succeeded)
            wait_follow.next(follow)
            follow.next(decide_follow)
            decide.when(phase(contract.PHASE_SUCCEEDED), follow)
        else:
            decide.when(phase(contract.PHASE_SUCCEEDED), succeeded)
        decide.otherwise(not_succeeded)
        definition = read_input.next(validate_task).next(launch_task)
        if launch_may_wait:
            launch_task.next(decide)
            wait.next(poll_task).next(decide)
        else:
            launch_task.next(wait).next(poll_task).next(decide)

        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            comment=comment,
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=timeout,
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )
        functions = [validate_function, launch_function, poll_function,
                     *([follow_through_function] if follow_through_function is not None else [])]
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="InvokeJobFunctions",
                actions=["lambda:InvokeFunction"],
                resources=[f.function_arn for f in functions],
            )
        )
        policy = self.state_machine.role.node.try_find_child("DefaultPolicy")
        nag_acknowledge(
            policy or self.state_machine.role,
            "AwsSolutions-IAM5[Resource::*]",
            "Only the X-Ray (PutTraceSegments, PutTelemetryRecords, GetSampling*) and CloudWatch Logs "
            "log-delivery actions (CreateLogDelivery, DescribeResourcePolicies, ...) that Step Functions needs for "
            "tracing and logging use '*'; these actions do not support resource-level permissions.",
        )


#: The JSON envelope of a Lambda function error (``{"errorMessage": ..., "errorType": ..., "stackTrace": ...}``)
#: as the Lambda runtimes serialise it: an object whose first member is an error field.
_LAMBDA_ENVELOPE = '{"error*}'


def _explain_error_chain(scope: Construct) -> sfn.Choice:
    """States that turn any caught error (``$.failure``: ``Error``, ``Cause``) into the execution's failure.

    The error name is kept. The cause is the Lambda error envelope's ``errorMessage`` (never its
    ``stackTrace``), or Step Functions' own cause when it is not an envelope (``States.Timeout``,
    ``Lambda.*`` service errors), or a fixed sentence when there is no message at all. No state here can
    fail on what it is given: the envelope is parsed only when it is one, and every path is tested first.
    """
    cause = "$.failure.Cause"
    message = "$.failure.Cause.errorMessage"
    failed = sfn.Fail(
        scope, "Failed", comment="A step failed; the cause is its error message.",
        error_path="$.failure.Error", cause_path=message,
    )
    failed_with_cause = sfn.Fail(
        scope, "FailedWithCause", comment="A step failed with a cause that is not a Lambda error envelope.",
        error_path="$.failure.Error", cause_path=cause,
    )
    failed_without_message = sfn.Fail(
        scope, "FailedWithoutMessage", comment="A step failed without a message.",
        error_path="$.failure.Error", cause="The step failed without an error message; its error name says what.",
    )
    has_message = (
        sfn.Choice(scope, "HasErrorMessage")
        .when(sfn.Condition.and_(sfn.Condition.is_present(message), sfn.Condition.is_string(message)), failed)
        .otherwise(failed_without_message)
    )
    lift = sfn.Pass(
        scope,
        "LiftErrorMessage",
        comment="Parse the Lambda error envelope so that only its message becomes the cause (no stack trace).",
        parameters={"Error.$": "$.failure.Error", "Cause.$": f"States.StringToJson({cause})"},
        result_path="$.failure",
    ).next(has_message)
    is_text = sfn.Condition.and_(sfn.Condition.is_present(cause), sfn.Condition.is_string(cause))
    return (
        sfn.Choice(scope, "ExplainError", comment="What kind of cause the caught error carries.")
        .when(sfn.Condition.and_(is_text, sfn.Condition.string_matches(cause, _LAMBDA_ENVELOPE)), lift)
        .when(is_text, failed_with_cause)
        .otherwise(failed_without_message)
    )

"""DataDeletionWorkflow: make Amazon Personalize forget the users listed in a CSV file."""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from ._contract import DATA_DELETION, DEFAULT_AUDIT_PREFIX, DEFAULT_DELETION_PREFIX, FALSE, TRUE, Env
from ._iam import attach_policy
from ._workflow import JobWorkflow, Polling, common_problems, json_list, not_empty
from .deletion_upload_trigger import DeletionUploadTrigger
from .errors import PropsError
from .function_options import FunctionOptions
from .job_data_bucket import JobDataBucket, validate_prefix
from .job_function import JobFunction
from .job_state_machine import TransientRetry
from .personalize_data_access_role import PersonalizeDataAccessRole

#: Errors retried with back-off: Personalize's rate limits and 5-pending-jobs quota, a busy dataset
#: group, throttling, and Personalize or S3 server errors that outlasted the SDK's own retries.
TRANSIENT_ERRORS = ("LimitExceededException", "ResourceInUseException", "ThrottlingException",
                    "InternalFailure", "ServiceUnavailable", "SlowDown", "InternalError")

class DataDeletionWorkflow(JobWorkflow):
    """A Step Functions workflow that runs a Personalize data deletion job to its end.

    Execution input: ``{"datasetGroupArn", "dataLocation", "jobName"?, "tags"?}``;
    output on success: ``dataDeletionJobArn``, ``jobName``, ``datasetGroupArn``,
    ``dataLocation``, ``status`` (``COMPLETED``), ``numDeleted``, ISO-8601
    timestamps. Failure errors: ``InvalidInput``, ``DataDeletionJobFailed``,
    ``DataDeletionJobUnexpectedStatus``, ``DataDeletionJobTimedOut`` (see the README).

    Operating it: outcome events, messages and audit records
    (``outcome_reporter``), alarms (``alarms``), an optional notification topic
    (``topic``) and upload-triggered deletions (``upload_trigger``).

    Attributes: ``state_machine``, ``log_group``, ``bucket``, ``job_data_bucket``
    (when created), ``data_access_role``, ``data_access`` (the
    ``PersonalizeDataAccessRole``), ``validate_function``, ``launch_function``,
    ``poll_function`` (each a ``lambda.Function``; ``.role`` is its own role),
    ``outcome_reporter``, ``alarms``, ``topic``, ``upload_trigger``,
    ``deletion_prefix``, ``audit_prefix``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        bucket: Optional[s3.IBucket] = None,
        data_access_role: Optional[iam.IRole] = None,
        dataset_group_arns: Optional[Sequence[str]] = None,
        deletion_prefix: str = DEFAULT_DELETION_PREFIX,
        allow_tags: bool = True,
        job_timeout: Duration = Duration.hours(72),
        min_poll_interval: Duration = Duration.seconds(60),
        max_poll_interval: Duration = Duration.minutes(30),
        poll_growth: float = 0.1,
        retry_max_attempts: int = 10,
        retry_max_delay: Duration = Duration.minutes(5),
        function_options: Optional[FunctionOptions] = None,
        upload_triggers: Optional[Mapping[str, str]] = None,
        topic: Optional[sns.ITopic] = None,
        create_topic: bool = False,
        create_outcome_reporter: bool = True,
        audit_prefix: str = DEFAULT_AUDIT_PREFIX,
        create_alarms: bool = True,
    ) -> None:
        """
        :param bucket: the bucket holding the user-ID files (any ``IBucket``).
            Default: a ``JobDataBucket`` is created.
        :param data_access_role: the role Personalize assumes to read the files.
            Default: a ``PersonalizeDataAccessRole`` is created.
        :param dataset_group_arns: the dataset groups the workflow may delete
            from (ARNs, ``*`` wildcards allowed). Default: every dataset group
            of the stack's account and Region.
        :param deletion_prefix: key prefix of the user-ID files; ``dataLocation``
            must lie under it. Default ``"deletions/"``.
        :param allow_tags: allow ``tags`` in the input (grants
            ``personalize:TagResource`` on data deletion jobs). Default True.
        :param job_timeout: how long to follow a job, from its creation, before
            failing with ``DataDeletionJobTimedOut``. Default 72 hours. The state
            machine's own timeout is this plus one hour.
        :param min_poll_interval: shortest wait between status checks. Default 60 s.
        :param max_poll_interval: longest wait between status checks (the cap on
            how late completion is noticed). Default 30 minutes.
        :param poll_growth: wait as a fraction of the job's age. Default 0.1.
        :param retry_max_attempts: retries of a transient Personalize error
            (``LimitExceededException``, ``ResourceInUseException``, throttling).
            Default 10.
        :param retry_max_delay: cap on one retry delay (exponential back-off,
            full jitter, from 5 s). Default 5 minutes.
        :param function_options: runtime and log settings of every function and
            log group this workflow creates (see ``FunctionOptions``). Default
            ``FunctionOptions()``.
        :param upload_triggers: start a deletion when a ``.csv`` is created under
            a key prefix: ``{prefix: dataset group ARN}``; each prefix must lie
            under ``deletion_prefix``. Default: none (start executions yourself).
        :param topic: SNS topic for outcome messages and alarms (bring your
            own). Default: none.
        :param create_topic: create an encrypted ``NotificationTopic`` instead
            (``topic`` attribute). Default False.
        :param create_outcome_reporter: on every finished execution publish an
            EventBridge event (source ``cdk-ml-data-jobs``, detail-type ``Data
            Deletion Finished``), an SNS message when there is a topic, and an
            audit record under ``audit_prefix`` (``outcome_reporter``
            attribute). Default True.
        :param audit_prefix: key prefix of audit records in the bucket; must not
            lie under ``deletion_prefix`` (whose files expire). Default ``"audit/"``.
        :param create_alarms: CloudWatch alarms for failed, timed-out and
            throttled executions (``alarms`` attribute). Default True.
        """
        super().__init__(scope, id)
        polling = Polling(min_poll_interval, max_poll_interval, poll_growth, job_timeout)
        problems = [
            *polling.problems(),
            *_prefix_problems(deletion_prefix, audit_prefix, upload_triggers),
            *not_empty("dataset_group_arns", dataset_group_arns, "to allow every dataset group"),
            *common_problems(retry_max_attempts=retry_max_attempts, topic=topic, create_topic=create_topic),
        ]
        if problems:
            raise PropsError("DataDeletionWorkflow", problems)

        self.deletion_prefix = deletion_prefix
        self.audit_prefix = audit_prefix
        #: The dataset groups the workflow may delete from, as given (None: every one of the account and Region).
        self.dataset_group_arns: Optional[list[str]] = list(dataset_group_arns) if dataset_group_arns else None
        #: The upload triggers, as given (prefix → dataset group ARN).
        self.upload_triggers: dict[str, str] = dict(upload_triggers or {})
        #: The state machine's timeout (``job_timeout`` plus one hour).
        self.execution_timeout: Duration = polling.state_machine_timeout(Duration.hours(1))
        self.job_data_bucket: Optional[JobDataBucket] = None
        if bucket is None:
            self.job_data_bucket = JobDataBucket(self, "Data", deletion_prefix=deletion_prefix)
            bucket = self.job_data_bucket.bucket
        self.bucket: s3.IBucket = bucket
        self.data_access = PersonalizeDataAccessRole(
            self, "DataAccess", bucket=bucket, deletion_prefix=deletion_prefix, role=data_access_role)
        self.data_access_role: iam.IRole = self.data_access.role

        scope_arns = _Scope(Stack.of(self), dataset_group_arns)
        self._create_functions(polling, scope_arns, allow_tags, function_options)
        self._grant_functions(scope_arns, allow_tags)
        self._follow_jobs(
            workflow=DATA_DELETION,
            comment="cdk-ml-data-jobs: Amazon Personalize data deletion (validate, launch, adaptive polling)",
            transient_retry=TransientRetry(errors=TRANSIENT_ERRORS, max_attempts=retry_max_attempts,
                                           max_delay=retry_max_delay),
            timeout=self.execution_timeout,
            function_options=function_options, topic=topic, create_topic=create_topic,
            create_outcome_reporter=create_outcome_reporter, create_alarms=create_alarms,
            audit_bucket=bucket, audit_prefix=audit_prefix,
        )
        self.upload_trigger: Optional[DeletionUploadTrigger] = None
        if upload_triggers:
            self.upload_trigger = DeletionUploadTrigger(
                self, "UploadTrigger", state_machine=self.state_machine, bucket=bucket,
                upload_triggers=dict(upload_triggers), function_options=function_options,
            )

    def grant_upload(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` put user-ID files under the deletion prefix (and nowhere else)."""
        return self.bucket.grant_put(grantee, f"{self.deletion_prefix}*")

    # ---- the steps of the constructor ---------------------------------------------------------

    def _create_functions(self, polling: Polling, scope_arns: "_Scope", allow_tags: bool,
                          function_options: Optional[FunctionOptions]) -> None:
        def function(name: str, handler: str, description: str, timeout: Duration,
                     environment: dict[str, str]) -> lambda_.Function:
            return JobFunction(self, name, handler=handler, description=f"cdk-ml-data-jobs: {description}",
                               timeout=timeout, environment=environment,
                               function_options=function_options).function

        self.validate_function = function(
            "Validate", "deletion_validate.handler",
            "validate a data deletion request and pre-flight its user-ID files", Duration.minutes(5), {
                Env.DATA_BUCKET: self.bucket.bucket_name,
                Env.DELETION_PREFIX: self.deletion_prefix,
                Env.ALLOWED_DATASET_GROUP_ARNS: json_list(Stack.of(self), scope_arns.groups),
                Env.TAGS_ALLOWED: TRUE if allow_tags else FALSE,
            })
        self.launch_function = function(
            "Launch", "deletion_launch.handler", "start (or adopt) a Personalize data deletion job",
            Duration.seconds(60), {**polling.environment(), Env.DATA_ACCESS_ROLE_ARN: self.data_access_role.role_arn})
        self.poll_function = function(
            "Poll", "deletion_poll.handler", "check a Personalize data deletion job and compute the next wait",
            Duration.seconds(30), polling.environment())

    def _grant_functions(self, scope_arns: "_Scope", allow_tags: bool) -> None:
        """Each function's own policy: exactly the calls its handler makes."""
        user_id_files = self.bucket.arn_for_objects(f"{self.deletion_prefix}*")
        attach_policy(self, "ValidatePermissions", role=_role(self.validate_function), statements=[
            iam.PolicyStatement(sid="ReadUserIdFiles", actions=["s3:GetObject"], resources=[user_id_files]),
            iam.PolicyStatement(sid="ListUserIdFiles", actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn],
                                conditions={"StringLike": {"s3:prefix": [f"{self.deletion_prefix}*"]}}),
        ], wildcards={
            user_id_files: "The pre-flight reads the user-ID files named in each request, only under the deletion "
                           "prefix.",
        }, dependent=self.validate_function)

        jobs = scope_arns.jobs
        launch_statements = [
            iam.PolicyStatement(sid="CreateDataDeletionJob", actions=["personalize:CreateDataDeletionJob"],
                                resources=[*scope_arns.groups, jobs]),
            iam.PolicyStatement(sid="AdoptExistingJob", actions=["personalize:DescribeDataDeletionJob"],
                                resources=[jobs]),
            iam.PolicyStatement(sid="FindJobByName", actions=["personalize:ListDataDeletionJobs"], resources=["*"]),
            iam.PolicyStatement(sid="PassDataAccessRole", actions=["iam:PassRole"],
                                resources=[self.data_access_role.role_arn],
                                conditions={"StringEquals": {"iam:PassedToService": "personalize.amazonaws.com"}}),
        ]
        if allow_tags:
            launch_statements.append(iam.PolicyStatement(
                sid="TagNewJobs", actions=["personalize:TagResource"], resources=[jobs]))
        launch_wildcards = {
            jobs: _JOBS_REASON,
            "*": "personalize:ListDataDeletionJobs supports no resource-level permissions; it is used only to find "
                 "this execution's job by name.",
        }
        if scope_arns.default:
            launch_wildcards[scope_arns.groups[0]] = ("Default scope: every dataset group of this account and "
                                                      "Region; narrow it with the dataset_group_arns prop.")
        attach_policy(self, "LaunchPermissions", role=_role(self.launch_function), statements=launch_statements,
                      wildcards=launch_wildcards, dependent=self.launch_function)
        attach_policy(self, "PollPermissions", role=_role(self.poll_function), statements=[
            iam.PolicyStatement(sid="DescribeDataDeletionJob", actions=["personalize:DescribeDataDeletionJob"],
                                resources=[jobs]),
        ], wildcards={jobs: _JOBS_REASON}, dependent=self.poll_function)


_JOBS_REASON = ("Data deletion job ARNs are generated by Personalize at creation; CreateDataDeletionJob requires the "
                "data-deletion-job resource type, and only this account's and Region's jobs are covered.")


class _Scope:
    """The Personalize resources the workflow may touch: the allowed dataset groups and this Region's jobs."""

    def __init__(self, stack: Stack, dataset_group_arns: Optional[Sequence[str]]) -> None:
        self.default = dataset_group_arns is None
        self.groups = list(dataset_group_arns or [
            stack.format_arn(service="personalize", resource="dataset-group", resource_name="*")])
        self.jobs = stack.format_arn(service="personalize", resource="data-deletion-job", resource_name="*")


def _role(function: lambda_.Function) -> iam.IRole:
    assert function.role is not None  # every JobFunction has its own role
    return function.role


def _prefix_problems(deletion_prefix: str, audit_prefix: str, upload_triggers: Optional[Mapping[str, str]]) -> list[str]:
    """The rules for the key prefixes: well formed, audit records outside the expiring user-ID files, triggers
    inside them."""
    found = list(filter(None, [validate_prefix("deletion_prefix", deletion_prefix)]))
    audit_problem = validate_prefix("audit_prefix", audit_prefix)
    if audit_problem:
        found.append(audit_problem)
    elif audit_prefix.startswith(deletion_prefix) or deletion_prefix.startswith(audit_prefix):
        found.append("audit_prefix must not overlap deletion_prefix (user-ID files expire; audit records stay)")
    for prefix in sorted(upload_triggers or {}):
        if validate_prefix("upload_triggers prefix", prefix) or not prefix.startswith(deletion_prefix):
            found.append(f"upload_triggers prefix {prefix!r} must end with '/' and lie under "
                         f"deletion_prefix {deletion_prefix!r} (Personalize may read only there)")
    found += not_empty("upload_triggers", upload_triggers, "for no triggers")
    return found

"""DataDeletionWorkflow: make Amazon Personalize forget the users listed in a CSV file."""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from ._checks import PropsError
from ._iam import attach_policy
from ._workflow import Polling, add_operations, json_list
from .deletion_upload_trigger import DeletionUploadTrigger
from .job_data_bucket import DEFAULT_AUDIT_PREFIX, DEFAULT_DELETION_PREFIX, JobDataBucket, validate_prefix
from .job_outcome_reporter import JobOutcomeReporter
from .job_function import JobFunction
from .job_state_machine import JobStateMachine, TaskSpec, TransientRetry
from .personalize_data_access_role import PersonalizeDataAccessRole

#: Errors retried with back-off: Personalize's rate limits and 5-pending-jobs quota, a busy dataset
#: group, throttling, and Personalize or S3 server errors that outlasted the SDK's own retries.
TRANSIENT_ERRORS = ("LimitExceededException", "ResourceInUseException", "ThrottlingException",
                    "InternalFailure", "ServiceUnavailable", "SlowDown", "InternalError")

#: Named errors the functions raise; the execution fails with the name and the message as cause.
EXPLAINED_ERRORS = (
    "InvalidInput",
    "JobNameInUse",
    "SdkTooOld",
    "InvalidInputException",
    "ResourceNotFoundException",
    "TooManyTagsException",
    "InvalidNextTokenException",
    "AccessDeniedException",
    "ServiceError",
    *TRANSIENT_ERRORS,
)


class DataDeletionWorkflow(Construct):
    """A Step Functions workflow that runs a Personalize data deletion job to its end.

    Execution input: ``{"datasetGroupArn", "dataLocation", "jobName"?, "tags"?}``;
    output on success: ``dataDeletionJobArn``, ``jobName``, ``datasetGroupArn``,
    ``dataLocation``, ``status`` (``COMPLETED``), ``numDeleted``, ISO-8601
    timestamps. Failure errors: ``InvalidInput``, ``DataDeletionJobFailed``,
    ``DataDeletionJobUnexpectedStatus``, ``DataDeletionJobTimedOut`` (see the README).

    Operating it: outcome events, messages and audit records
    (``outcome_reporter``), alarms (``alarms``), an optional notification topic
    (``notification_topic``) and upload-triggered deletions (``upload_trigger``).

    Attributes: ``state_machine``, ``log_group``, ``bucket``, ``job_data_bucket``
    (when created), ``data_access_role``, ``data_access`` (the
    ``PersonalizeDataAccessRole``, when created or when the bucket policy was
    added), ``validate_function``, ``launch_function``, ``poll_function`` (each a
    ``JobFunction`` with ``.function``, ``.role``, ``.log_group``).
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
        runtime: Optional[lambda_.Runtime] = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        log_removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
        upload_triggers: Optional[Mapping[str, str]] = None,
        notification_topic: Optional[sns.ITopic] = None,
        create_notification_topic: bool = False,
        report_outcomes: bool = True,
        audit_prefix: str = DEFAULT_AUDIT_PREFIX,
        alarms: bool = True,
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
        :param runtime: Lambda runtime. Default ``Runtime.PYTHON_3_14``.
        :param log_retention: retention of all log groups. Default one year.
        :param log_removal_policy: what happens to the log groups when the stack
            deletes them. Default ``DESTROY``.
        :param upload_triggers: start a deletion when a ``.csv`` is created under
            a key prefix: ``{prefix: dataset group ARN}``; each prefix must lie
            under ``deletion_prefix``. Default: none (start executions yourself).
        :param notification_topic: SNS topic for outcome messages and alarms
            (bring your own). Default: none.
        :param create_notification_topic: create an encrypted topic instead
            (``notification_topic`` attribute). Default False.
        :param report_outcomes: on every finished execution publish an
            EventBridge event (source ``cdk-ml-data-jobs``, detail-type ``Data
            Deletion Finished``), an SNS message when there is a topic, and an
            audit record under ``audit_prefix``. Default True.
        :param audit_prefix: key prefix of audit records in the bucket; must not
            lie under ``deletion_prefix`` (whose files expire). Default ``"audit/"``.
        :param alarms: CloudWatch alarms for failed, timed-out and throttled
            executions (``alarms`` attribute). Default True.
        """
        super().__init__(scope, id)
        polling = Polling(min_poll_interval, max_poll_interval, poll_growth, job_timeout)
        problems = polling.problems()
        prefix_problem = validate_prefix("deletion_prefix", deletion_prefix)
        if prefix_problem:
            problems.append(prefix_problem)
        if dataset_group_arns is not None and len(dataset_group_arns) == 0:
            problems.append("dataset_group_arns must not be empty (omit it to allow every dataset group)")
        if retry_max_attempts < 0:
            problems.append("retry_max_attempts must not be negative")
        audit_problem = validate_prefix("audit_prefix", audit_prefix)
        if audit_problem:
            problems.append(audit_problem)
        elif audit_prefix.startswith(deletion_prefix) or deletion_prefix.startswith(audit_prefix):
            problems.append("audit_prefix must not overlap deletion_prefix (user-ID files expire; audit records stay)")
        for prefix in sorted(upload_triggers or {}):
            if validate_prefix("upload_triggers prefix", prefix) or not prefix.startswith(deletion_prefix):
                problems.append(f"upload_triggers prefix {prefix!r} must end with '/' and lie under "
                                f"deletion_prefix {deletion_prefix!r} (Personalize may read only there)")
        if upload_triggers is not None and len(upload_triggers) == 0:
            problems.append("upload_triggers must not be empty (omit it for no triggers)")
        if notification_topic is not None and create_notification_topic:
            problems.append("notification_topic cannot be combined with create_notification_topic")
        if problems:
            raise PropsError("DataDeletionWorkflow", problems)

        stack = Stack.of(self)
        self.job_data_bucket: Optional[JobDataBucket] = None
        if bucket is None:
            self.job_data_bucket = JobDataBucket(self, "Data", deletion_prefix=deletion_prefix)
            bucket = self.job_data_bucket.bucket
        self.bucket = bucket

        self.data_access = PersonalizeDataAccessRole(
            self, "DataAccess", bucket=bucket, deletion_prefix=deletion_prefix, existing_role=data_access_role
        )
        self.data_access_role = self.data_access.role

        groups = list(dataset_group_arns or [stack.format_arn(service="personalize", resource="dataset-group",
                                                              resource_name="*")])
        jobs_arn = stack.format_arn(service="personalize", resource="data-deletion-job", resource_name="*")
        validate_env = {
            "DATA_BUCKET": bucket.bucket_name,
            "DELETION_PREFIX": deletion_prefix,
            "ALLOWED_DATASET_GROUP_ARNS": json_list(stack, groups),
            "TAGS_ALLOWED": "true" if allow_tags else "false",
        }

        def function(name: str, handler: str, description: str, timeout: Duration, extra: dict) -> JobFunction:
            return JobFunction(self, name, handler=handler, description=description, timeout=timeout,
                               environment=extra, runtime=runtime, log_retention=log_retention,
                               log_removal_policy=log_removal_policy)

        self.validate_function = function(
            "Validate", "deletion_validate.handler",
            "cdk-ml-data-jobs: validate a data deletion request and pre-flight its user-ID files",
            Duration.minutes(5), validate_env)
        self.launch_function = function(
            "Launch", "deletion_launch.handler",
            "cdk-ml-data-jobs: start (or adopt) a Personalize data deletion job",
            Duration.seconds(60), {**polling.environment(), "DATA_ACCESS_ROLE_ARN": self.data_access_role.role_arn})
        self.poll_function = function(
            "Poll", "deletion_poll.handler",
            "cdk-ml-data-jobs: check a Personalize data deletion job and compute the next wait",
            Duration.seconds(30), polling.environment())

        # Validate: read the user-ID files' sizes and first bytes, under the deletion prefix only.
        user_id_files = bucket.arn_for_objects(f"{deletion_prefix}*")
        attach_policy(self, "ValidatePermissions", role=self.validate_function.role, statements=[
            iam.PolicyStatement(sid="ReadUserIdFiles", actions=["s3:GetObject"], resources=[user_id_files]),
            iam.PolicyStatement(sid="ListUserIdFiles", actions=["s3:ListBucket"], resources=[bucket.bucket_arn],
                                conditions={"StringLike": {"s3:prefix": [f"{deletion_prefix}*"]}}),
        ], wildcards={
            user_id_files: "The pre-flight reads the user-ID files named in each request, only under the deletion "
                           "prefix.",
        }, dependent=self.validate_function.function)

        jobs_reason = ("Data deletion job ARNs are generated by Personalize at creation; CreateDataDeletionJob "
                       "requires the data-deletion-job resource type, and only this account's and Region's jobs "
                       "are covered.")
        launch_statements = [
            iam.PolicyStatement(sid="CreateDataDeletionJob", actions=["personalize:CreateDataDeletionJob"],
                                resources=[*groups, jobs_arn]),
            iam.PolicyStatement(sid="AdoptExistingJob", actions=["personalize:DescribeDataDeletionJob"],
                                resources=[jobs_arn]),
            iam.PolicyStatement(sid="FindJobByName", actions=["personalize:ListDataDeletionJobs"], resources=["*"]),
            iam.PolicyStatement(sid="PassDataAccessRole", actions=["iam:PassRole"],
                                resources=[self.data_access_role.role_arn],
                                conditions={"StringEquals": {"iam:PassedToService": "personalize.amazonaws.com"}}),
        ]
        if allow_tags:
            launch_statements.append(iam.PolicyStatement(
                sid="TagNewJobs", actions=["personalize:TagResource"], resources=[jobs_arn]))
        launch_wildcards = {
            jobs_arn: jobs_reason,
            "*": "personalize:ListDataDeletionJobs supports no resource-level permissions; it is used only to find "
                 "this execution's job by name.",
        }
        if dataset_group_arns is None:
            launch_wildcards[groups[0]] = ("Default scope: every dataset group of this account and Region; narrow "
                                           "it with the dataset_group_arns prop.")
        attach_policy(self, "LaunchPermissions", role=self.launch_function.role, statements=launch_statements,
                      wildcards=launch_wildcards, dependent=self.launch_function.function)
        attach_policy(self, "PollPermissions", role=self.poll_function.role, statements=[
            iam.PolicyStatement(sid="DescribeDataDeletionJob", actions=["personalize:DescribeDataDeletionJob"],
                                resources=[jobs_arn]),
        ], wildcards={jobs_arn: jobs_reason}, dependent=self.poll_function.function)

        self._machine = JobStateMachine(
            self,
            "Workflow",
            comment="cdk-ml-data-jobs: Amazon Personalize data deletion (validate, launch, adaptive polling)",
            validate=TaskSpec(self.validate_function.function,
                              {"input.$": "$", "executionName.$": "$$.Execution.Name"}, "$.request"),
            launch=TaskSpec(self.launch_function.function, {"request.$": "$.request"}, "$.tracker"),
            poll=TaskSpec(self.poll_function.function,
                          {"request.$": "$.request", "tracker.$": "$.tracker"}, "$.tracker"),
            explained_errors=EXPLAINED_ERRORS,
            transient_retry=TransientRetry(errors=TRANSIENT_ERRORS, max_attempts=retry_max_attempts,
                                           max_delay=retry_max_delay),
            timeout=polling.state_machine_timeout(Duration.hours(1)),
            log_retention=log_retention,
            log_removal_policy=log_removal_policy,
        )
        self.state_machine: sfn.StateMachine = self._machine.state_machine
        self.log_group: logs.LogGroup = self._machine.log_group

        operations = add_operations(
            self, state_machine=self.state_machine, workflow="data-deletion",
            notification_topic=notification_topic, create_notification_topic=create_notification_topic,
            report_outcomes=report_outcomes, alarms=alarms, audit_bucket=bucket, audit_prefix=audit_prefix,
            runtime=runtime, log_retention=log_retention, log_removal_policy=log_removal_policy,
        )
        self.notification_topic: Optional[sns.ITopic] = operations.topic
        self.outcome_reporter: Optional[JobOutcomeReporter] = operations.reporter
        self.alarms: list[cloudwatch.Alarm] = operations.alarms
        self.audit_prefix = audit_prefix
        self.upload_trigger: Optional[DeletionUploadTrigger] = None
        if upload_triggers:
            self.upload_trigger = DeletionUploadTrigger(
                self, "UploadTrigger", state_machine=self.state_machine, bucket=bucket,
                triggers=dict(upload_triggers), runtime=runtime, log_retention=log_retention,
                log_removal_policy=log_removal_policy,
            )

    def grant_start_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` start executions of this workflow."""
        return self.state_machine.grant_start_execution(grantee)

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` list and describe this workflow's executions and their history."""
        return self.state_machine.grant_read(grantee)

    def grant_upload(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` put user-ID files under the deletion prefix (and nowhere else)."""
        return self.bucket.grant_put(grantee, f"{self.data_access.deletion_prefix}*")


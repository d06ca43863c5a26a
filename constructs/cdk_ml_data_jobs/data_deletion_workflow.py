"""DataDeletionWorkflow: make Amazon Personalize forget the users listed in a CSV file."""

from __future__ import annotations

import fnmatch
import json
from typing import Mapping, Optional, Sequence

from aws_cdk import Duration, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from ._assets import load_lambda_module
from ._contract import (DATA_DELETION, DEFAULT_AUDIT_PREFIX, DEFAULT_DELETION_PREFIX, DELETION_TRANSIENT_ERRORS, FALSE,
                        TRUE, Env)
from ._iam import attach_policy
from ._workflow import JobWorkflow, Polling, common_problems, json_list, not_empty
from .deletion_upload_trigger import DeletionUploadTrigger
from .errors import PropsError
from .function_options import FunctionOptions
from .job_data_bucket import JobDataBucket, validate_prefix
from .job_function import JobFunction
from .job_state_machine import TransientRetry
from .personalize_data_access_role import PersonalizeDataAccessRole

#: Errors retried with back-off (written once in the contract: the follow-through function uses them too).
TRANSIENT_ERRORS = DELETION_TRANSIENT_ERRORS

_ARNS = load_lambda_module("jobkit/arns.py")

#: Step Functions' limit on one execution's duration (a year).
_MAX_EXECUTION = Duration.days(365)


class DataDeletionWorkflow(JobWorkflow):
    """A Step Functions workflow that runs a Personalize data deletion job to its end.

    Execution input: ``{"datasetGroupArn", "dataLocation", "jobName"?, "tags"?}``;
    output on success: ``dataDeletionJobArn``, ``jobName``, ``datasetGroupArn``,
    ``dataLocation``, ``status`` (``COMPLETED``), ``numDeleted``, ISO-8601
    timestamps. Failure errors: ``InvalidInput``, ``DataDeletionJobFailed``,
    ``DataDeletionJobUnexpectedStatus``, ``DataDeletionJobTimedOut`` (see the README).

    Opt-in, so that the models forget too (Personalize's guidelines for data
    deletion): ``quiet_period_enabled`` waits until the dataset group runs no
    training, import or batch job before the deletion job (``DatasetGroupBusy``
    past ``quiet_period_timeout``) and starts one more job when a training or an
    import was created while it ran; ``retrain_solution_arns`` trains a new
    solution version of each listed solution after the job(s) COMPLETED and,
    with ``update_campaigns``, points their campaigns at it
    (``ModelRetrainingFailed`` when that fails). The output then also has
    ``dataDeletionJobArns``, ``dataDeletionJobs``, ``quietPeriod``, ``overlap``,
    ``followThrough``, ``solutionVersionArns``, ``campaignArns``,
    ``modelsRetrainedAt``.

    Operating it: outcome events, messages and audit records
    (``outcome_reporter``), alarms (``alarms``), an optional notification topic
    (``topic``) and upload-triggered deletions (``upload_trigger``).

    Attributes: ``state_machine``, ``log_group``, ``bucket``, ``job_data_bucket``
    (when created), ``data_access_role``, ``data_access`` (the
    ``PersonalizeDataAccessRole``), ``validate_function``, ``launch_function``,
    ``poll_function`` (each a ``lambda.Function``; ``.role`` is its own role),
    ``follow_through_function`` (None unless a follow-through feature is on),
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
        quiet_period_enabled: bool = False,
        quiet_period_timeout: Duration = Duration.hours(6),
        retrain_solution_arns: Optional[Mapping[str, Sequence[str]]] = None,
        update_campaigns: bool = True,
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
        :param quiet_period_enabled: before the deletion job, wait until the
            dataset group has no solution version or dataset import job being
            created and no batch inference or batch segment job running; after
            it COMPLETED, start one more job (once) when a solution version or a
            dataset import job was created while it ran. Default False.
        :param quiet_period_timeout: how long a launch waits for the group to
            be quiet, from its first check, before failing with
            ``DatasetGroupBusy`` (no job started). Default 6 hours.
        :param retrain_solution_arns: ``{dataset group ARN: [solution ARN, ...]}``:
            after the group's deletion job(s) COMPLETED, create a solution
            version (``trainingMode`` ``FULL``) of each listed solution and wait
            until it is ACTIVE. Each group must be allowed by
            ``dataset_group_arns``. Default: none (training costs money).
        :param update_campaigns: with ``retrain_solution_arns``, update every
            campaign of a retrained solution to the new version and wait until
            the update is ACTIVE. Default True.
        """
        super().__init__(scope, id)
        polling = Polling(min_poll_interval, max_poll_interval, poll_growth, job_timeout)
        problems = [
            *polling.problems(),
            *_prefix_problems(deletion_prefix, audit_prefix, upload_triggers),
            *not_empty("dataset_group_arns", dataset_group_arns, "to allow every dataset group"),
            *common_problems(retry_max_attempts=retry_max_attempts, topic=topic, create_topic=create_topic),
            *_quiet_period_problems(quiet_period_timeout, min_poll_interval),
            *_retrain_problems(retrain_solution_arns, dataset_group_arns, Stack.of(scope)),
        ]
        if problems:
            raise PropsError("DataDeletionWorkflow", problems)

        self.deletion_prefix = deletion_prefix
        self.audit_prefix = audit_prefix
        #: The dataset groups the workflow may delete from, as given (None: every one of the account and Region).
        self.dataset_group_arns: Optional[list[str]] = list(dataset_group_arns) if dataset_group_arns else None
        #: The upload triggers, as given (prefix → dataset group ARN).
        self.upload_triggers: dict[str, str] = dict(upload_triggers or {})
        self.job_data_bucket: Optional[JobDataBucket] = None
        if bucket is None:
            self.job_data_bucket = JobDataBucket(self, "Data", deletion_prefix=deletion_prefix)
            bucket = self.job_data_bucket.bucket
        self.bucket: s3.IBucket = bucket
        self.data_access = PersonalizeDataAccessRole(
            self, "DataAccess", bucket=bucket, deletion_prefix=deletion_prefix, role=data_access_role)
        self.data_access_role: iam.IRole = self.data_access.role

        scope_arns = _Scope(Stack.of(self), dataset_group_arns)
        #: Whether the quiet period and overlap check are on (a ``DeletionRequestQueue`` requires it by default).
        self.quiet_period_enabled: bool = bool(quiet_period_enabled)
        follow = _FollowThrough(quiet_period_enabled, quiet_period_timeout,
                                {group: list(arns) for group, arns in (retrain_solution_arns or {}).items()},
                                update_campaigns)
        self._create_functions(polling, scope_arns, allow_tags, function_options, follow)
        self._grant_functions(scope_arns, allow_tags)
        self._grant_follow_through(follow)
        #: The state machine's timeout: ``job_timeout`` plus one hour, plus what the quiet period and the
        #: follow-through may add when they are on.
        self.execution_timeout: Duration = follow.state_machine_timeout(
            polling.state_machine_timeout(Duration.hours(1)), job_timeout)
        self._follow_jobs(
            workflow=DATA_DELETION,
            comment="cdk-ml-data-jobs: Amazon Personalize data deletion (validate, launch, adaptive polling)",
            transient_retry=TransientRetry(errors=TRANSIENT_ERRORS, max_attempts=retry_max_attempts,
                                           max_delay=retry_max_delay),
            timeout=self.execution_timeout,
            function_options=function_options, topic=topic, create_topic=create_topic,
            create_outcome_reporter=create_outcome_reporter, create_alarms=create_alarms,
            audit_bucket=bucket, audit_prefix=audit_prefix,
            launch_may_wait=follow.quiet, follow_through_function=self.follow_through_function,
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
                          function_options: Optional[FunctionOptions], follow: "_FollowThrough") -> None:
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
        launch_environment = {**polling.environment(), Env.DATA_ACCESS_ROLE_ARN: self.data_access_role.role_arn}
        if follow.quiet:
            self.launch_function = function(
                "Launch", "deletion_quiet_launch.handler",
                "start (or adopt) a Personalize data deletion job once the dataset group is quiet",
                Duration.seconds(60), {**launch_environment, Env.QUIET_PERIOD_TIMEOUT_SECONDS: str(
                    int(follow.quiet_timeout.to_seconds()))})
        else:
            self.launch_function = function(
                "Launch", "deletion_launch.handler", "start (or adopt) a Personalize data deletion job",
                Duration.seconds(60), launch_environment)
        self.poll_function = function(
            "Poll", "deletion_poll.handler", "check a Personalize data deletion job and compute the next wait",
            Duration.seconds(30), polling.environment())
        self.follow_through_function: Optional[lambda_.Function] = None
        if follow.enabled:
            self.follow_through_function = function(
                "FollowThrough", "deletion_follow_through.handler",
                "after a data deletion: check for overlapping training, retrain solutions, update campaigns",
                Duration.seconds(60), {
                    **polling.environment(),
                    Env.CHECK_OVERLAP: TRUE if follow.quiet else FALSE,
                    Env.RETRAIN_SOLUTION_ARNS: _json_map(follow.retrain),
                    Env.UPDATE_CAMPAIGNS: TRUE if follow.update_campaigns else FALSE,
                })

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


    def _grant_follow_through(self, follow: "_FollowThrough") -> None:
        """The quiet period's and the follow-through's calls, each in the function that makes it (own policies,
        so the default template is unchanged)."""
        if follow.quiet:
            attach_policy(self, "QuietPeriodPermissions", role=_role(self.launch_function), statements=[
                iam.PolicyStatement(sid="CheckDatasetGroupIsQuiet", actions=[
                    f"personalize:{action}" for action in _BUSY_ACTIONS], resources=["*"]),
            ], wildcards={"*": _LIST_REASON}, dependent=self.launch_function)
        if self.follow_through_function is None:
            return
        lists = [*(_OVERLAP_ACTIONS if follow.quiet else ()),
                 *(("ListSolutionVersions", "ListCampaigns") if follow.retrain else ())]
        statements = [iam.PolicyStatement(sid="ListGroupActivity", actions=[
            f"personalize:{action}" for action in sorted(set(lists))], resources=["*"])]
        wildcards = {"*": _LIST_REASON}
        solutions = sorted({arn for arns in follow.retrain.values() for arn in arns})
        if solutions:
            versions = [f"{arn}/*" for arn in solutions]
            statements += [
                iam.PolicyStatement(sid="TrainSolutionVersions", actions=["personalize:CreateSolutionVersion"],
                                    resources=solutions),
                iam.PolicyStatement(sid="FollowSolutionVersions", actions=["personalize:DescribeSolutionVersion"],
                                    resources=versions),
            ]
            wildcards.update({arn: "Solution version ARNs are <solution ARN>/<id>, made by Personalize at creation; "
                                   "only versions of the solutions listed in retrain_solution_arns are covered."
                              for arn in versions})
            if follow.update_campaigns:
                campaigns = sorted({_campaigns_of(arn) for arn in solutions})
                statements.append(iam.PolicyStatement(
                    sid="UpdateCampaigns", actions=["personalize:DescribeCampaign", "personalize:UpdateCampaign"],
                    resources=campaigns))
                wildcards.update({arn: "The campaigns to update are those ListCampaigns returns for the retrained "
                                       "solutions, not known at synthesis; only this account's and Region's "
                                       "campaigns are covered." for arn in campaigns})
        attach_policy(self, "FollowThroughPermissions", role=_role(self.follow_through_function),
                      statements=statements, wildcards=wildcards, dependent=self.follow_through_function)


#: The List operations the quiet period (launch function) and the overlap check (follow-through function) call:
#: none of them supports a resource type (Service Authorization Reference for Amazon Personalize).
_BUSY_ACTIONS = ("ListSolutions", "ListSolutionVersions", "ListDatasets", "ListDatasetImportJobs",
                 "ListBatchInferenceJobs", "ListBatchSegmentJobs")
_OVERLAP_ACTIONS = ("ListSolutions", "ListSolutionVersions", "ListDatasets", "ListDatasetImportJobs")
_LIST_REASON = ("Personalize's List operations (solutions, solution versions, datasets, dataset import, batch "
                "inference and batch segment jobs, campaigns) support no resource-level permissions; they read ARNs "
                "and statuses to see what runs in the dataset group, never data.")


def _campaigns_of(solution_arn: str) -> str:
    """``arn:<partition>:personalize:<region>:<account>:campaign/*`` for a solution ARN."""
    prefix = solution_arn.split(":solution/", 1)[0]
    return f"{prefix}:campaign/*"


def _json_map(mapping: Mapping[str, Sequence[str]]) -> str:
    """``{group: [solution, ...]}`` as compact JSON for an environment variable (plain strings only)."""
    return json.dumps({group: list(arns) for group, arns in sorted(mapping.items())}, separators=(",", ":"))


class _FollowThrough:
    """The opt-in steps around the deletion job: the quiet period and overlap check, retraining, campaigns."""

    def __init__(self, quiet: bool, quiet_timeout: Duration, retrain: dict[str, list[str]],
                 update_campaigns: bool) -> None:
        self.quiet, self.quiet_timeout, self.retrain, self.update_campaigns = (
            quiet, quiet_timeout, retrain, update_campaigns)
        self.enabled = quiet or bool(retrain)

    def state_machine_timeout(self, default: Duration, job_timeout: Duration) -> Duration:
        """The default backstop, plus two quiet periods and a second job's timeout with the quiet period,
        plus a follow-through timeout (``job_timeout``) with retraining, at most a year."""
        extra = 0.0
        if self.quiet:
            extra += 2 * self.quiet_timeout.to_seconds() + job_timeout.to_seconds()
        if self.retrain:
            extra += job_timeout.to_seconds()
        if not extra:
            return default
        return Duration.seconds(min(default.to_seconds() + extra, _MAX_EXECUTION.to_seconds()))


def _quiet_period_problems(timeout: Duration, min_poll_interval: Duration) -> list[str]:
    """The rule for ``quiet_period_timeout``: longer than one wait, at most 30 days."""
    seconds = timeout.to_seconds()
    if seconds <= min_poll_interval.to_seconds() or seconds > 30 * 86400:
        return ["quiet_period_timeout must be longer than min_poll_interval and at most 30 days"]
    return []


def _retrain_problems(retrain: Optional[Mapping[str, Sequence[str]]], allowed: Optional[Sequence[str]],
                      stack: Stack) -> list[str]:
    """The rules for ``retrain_solution_arns``: dataset group ARNs the workflow may delete from, each with
    at least one solution ARN of the same account and Region, none listed twice."""
    if retrain is None:
        return []
    if len(retrain) == 0:
        return ["retrain_solution_arns must not be empty (omit it for no retraining)"]
    found = []
    patterns = list(allowed) if allowed is not None else None
    for group in sorted(retrain):
        match = _ARNS.DATASET_GROUP_ARN.fullmatch(group) if isinstance(group, str) else None
        if not match:
            found.append(f"retrain_solution_arns key {group!r} must be {_ARNS.DATASET_GROUP_FORM}")
            continue
        known = [p for p in patterns or [] if not Token.is_unresolved(p)]
        if patterns is not None and not any(fnmatch.fnmatchcase(group, p) for p in known):
            found.append(f"retrain_solution_arns key {group} is not allowed by dataset_group_arns")
        if patterns is None:
            for key, value in (("region", stack.region), ("account", stack.account)):
                if not Token.is_unresolved(value) and match[key] != value:
                    found.append(f"retrain_solution_arns key {group} is not in this stack's {key} {value} "
                                 "(dataset_group_arns allows only those by default)")
        solutions = list(retrain[group]) if not isinstance(retrain[group], str) else [retrain[group]]
        if not solutions:
            found.append(f"retrain_solution_arns[{group}] must list at least one solution ARN")
        for arn in solutions:
            solution = _ARNS.SOLUTION_ARN.fullmatch(arn) if isinstance(arn, str) else None
            if not solution:
                found.append(f"retrain_solution_arns[{group}] entry {arn!r} must be {_ARNS.SOLUTION_FORM}")
            elif (solution["region"], solution["account"]) != (match["region"], match["account"]):
                found.append(f"retrain_solution_arns[{group}] entry {arn} is in another account or Region "
                             "than its dataset group")
        if len(set(solutions)) != len(solutions):
            found.append(f"retrain_solution_arns[{group}] lists a solution more than once")
    return found


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

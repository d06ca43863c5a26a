"""DeletionRequestQueue: batch any number of erasure requests into few data deletion jobs, in every dataset group."""

from __future__ import annotations

import fnmatch
from typing import Optional, Sequence

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_events_targets as events_targets
from constructs import Construct

from . import _contract as contract
from ._assets import load_lambda_module
from ._checks import checkov_skip, nag_acknowledge, nag_resource
from ._contract import Env
from ._events import dead_letter_queue, deliver_events, enable_event_bridge, put_events_statement
from ._iam import attach_policy
from ._workflow import json_list
from .data_deletion_workflow import DataDeletionWorkflow
from .errors import PropsError
from .function_options import FunctionOptions
from .job_data_bucket import validate_prefix
from .job_function import JobFunction
from .job_state_machine import LAMBDA_SERVICE_ERRORS
from .workflow_alarms import WorkflowAlarms

_ARNS = load_lambda_module("jobkit/arns.py")
_CSV_RULES = load_lambda_module("jobkit/csv_rules.py")

#: One intake transaction holds the request and one target per dataset group (TransactWriteItems: 100 items).
MAX_DATASET_GROUPS = 99
#: Errors of the ledger and S3 the batch functions retry with back-off.
TRANSIENT_ERRORS = ("ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
                    "TransactionConflictException", "InternalServerError", "ServiceUnavailable", "SlowDown",
                    "InternalError", "LimitExceededException")


class DeletionRequestQueue(Construct):
    """A queue of deletion requests, carried out in batches by a ``DataDeletionWorkflow``, in each of
    ``dataset_group_arns``, within Personalize's quota of PENDING jobs, with a record per request.

    - **A request** is one user-ID ``.csv`` created under ``request_prefix``
      (S3 → EventBridge → ``intake_function``). Its ID is the object's
      ``request-id`` metadata, else derived from the key. Files the workflow's
      pre-flight would reject are ``REJECTED``; the same object version
      delivered twice registers once; another object with a registered ID is
      refused (an event).
    - **A batch run** (``schedule``, every ``batch_interval``, or started by
      hand with input ``{}``) claims the queued requests per dataset group
      (conditional writes), writes one immutable input per job under
      ``batch_prefix`` (split at ``max_batch_bytes``) and runs the workflow's
      state machine on each (``startExecution.sync:2``, named after the batch,
      so a redriven run adopts). A group with ``pending_job_limit`` PENDING
      jobs is deferred. A FAILED job requeues its requests until
      ``max_attempts``; then they are FAILED (event, message, alarm).
    - **Records**: ``<audit prefix>deletion-requests/<requestId>.json`` in the
      workflow's bucket, rewritten at each change; the ledger (``table``)
      holds the same facts. No user ID is kept outside the request files and
      the batch inputs, both under the deletion prefix (expiring).

    Attributes: ``table``, ``intake_function``, ``claim_function``,
    ``record_function``, ``summary_function``, ``deadline_function`` (each a
    ``lambda.Function``), ``batch_state_machine``, ``batch_log_group``,
    ``schedule``, ``deadline_schedule``, ``rule``, ``dead_letter_queue``,
    ``request_prefix``, ``batch_prefix``, ``record_prefix``, ``topic``,
    ``open_request_alarm``, ``failed_request_alarm``, ``alarms``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        workflow: DataDeletionWorkflow,
        dataset_group_arns: Sequence[str],
        request_prefix: Optional[str] = None,
        batch_prefix: Optional[str] = None,
        batch_interval: Duration = Duration.hours(24),
        max_batch_bytes: int = _CSV_RULES.MAX_TOTAL_BYTES,
        max_attempts: int = 3,
        pending_job_limit: int = 5,
        open_request_deadline: Duration = Duration.days(25),
        table: Optional[dynamodb.ITable] = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        create_schedule: bool = True,
        topic: Optional[sns.ITopic] = None,
        create_alarms: bool = True,
        function_options: Optional[FunctionOptions] = None,
        quiet_period_enabled: bool = True,
    ) -> None:
        """
        :param workflow: the ``DataDeletionWorkflow`` whose bucket, data access
            role and state machine carry out each batch.
        :param dataset_group_arns: every request is carried out in each of
            these dataset groups (1 to 99 ARNs, no wildcards; each must be
            allowed by the workflow's ``dataset_group_arns``).
        :param request_prefix: where request files are created; must lie under
            the workflow's deletion prefix (so the lifecycle rule expires request
            files too). Default ``"<deletion prefix>requests/"``
            (``"deletions/requests/"``).
        :param batch_prefix: where each batch's user-ID inputs are written; under
            the deletion prefix, not overlapping ``request_prefix``. Default
            ``"<deletion prefix>batches/"``.
        :param batch_interval: how often the schedule starts a batch run
            (EventBridge Scheduler, ``rate``). Default 24 hours.
        :param max_batch_bytes: the largest input of one data deletion job (a
            batch with more is split; a request file larger is REJECTED).
            Default Personalize's 100 MB (104,857,600 bytes).
        :param max_attempts: data deletion jobs tried per request and dataset
            group before the request is FAILED. Default 3.
        :param pending_job_limit: the PENDING data deletion jobs a dataset group
            may have (Personalize's quota; raise it for accounts whose quota was
            raised). Default 5.
        :param open_request_deadline: the alarm fires when a request has been
            open (QUEUED or IN_PROGRESS) longer. Default 25 days.
        :param table: the ledger (bring your own: partition key ``pk``, sort key
            ``sk``, both strings, and the indexes ``queued``, ``claimed`` and
            ``open`` of the README). Default: a table is created
            (pay-per-request, point-in-time recovery, deletion protection, SSE).
        :param removal_policy: of the created table. Default ``RETAIN`` (with
            deletion protection; any other value turns deletion protection off).
        :param create_schedule: create the batch schedule (``schedule``).
            Default True; without it, start batch runs yourself with input ``{}``.
        :param topic: SNS topic for FAILED requests and the alarms. Default: the
            workflow's topic (none if it has none).
        :param create_alarms: alarms for requests open too long, FAILED requests
            and failed batch runs (``alarms``). Default True.
        :param function_options: runtime and log settings of every function and
            log group this queue creates. Default ``FunctionOptions()``.
        :param quiet_period_enabled: require the workflow's quiet period and
            overlap check (``DataDeletionWorkflow(quiet_period_enabled=True)``)
            before each batch job, as Personalize's deletion guidelines ask. A
            part whose dataset group stays busy past the workflow's
            ``quiet_period_timeout`` leaves its requests QUEUED for the next run
            (no attempt counted). Default True; False opts out explicitly.
        """
        super().__init__(scope, id)
        self.workflow = workflow
        self.bucket = workflow.bucket
        self.request_prefix: str = request_prefix or f"{workflow.deletion_prefix}{contract.DEFAULT_REQUEST_FOLDER}"
        self.batch_prefix: str = batch_prefix or f"{workflow.deletion_prefix}{contract.DEFAULT_BATCH_FOLDER}"
        self.record_prefix: str = f"{workflow.audit_prefix}{contract.REQUEST_RECORD_FOLDER}"
        self.dataset_group_arns = list(dataset_group_arns)
        self.quiet_period_enabled: bool = bool(quiet_period_enabled)
        problems = [
            *_prefix_problems(workflow, self.request_prefix, self.batch_prefix),
            *_dataset_group_problems(workflow, self.dataset_group_arns),
            *_quiet_period_problems(workflow, quiet_period_enabled),
            *_limit_problems(batch_interval=batch_interval, max_batch_bytes=max_batch_bytes, max_attempts=max_attempts,
                             pending_job_limit=pending_job_limit, open_request_deadline=open_request_deadline),
        ]
        if problems:
            raise PropsError("DeletionRequestQueue", problems)
        self.topic: Optional[sns.ITopic] = topic or workflow.topic

        self._create_ledger(table, removal_policy)
        self._create_functions(max_batch_bytes, max_attempts, pending_job_limit, function_options)
        self._grant_functions()
        self._receive_requests()
        self._create_batch_state_machine(function_options)
        self._create_schedules(batch_interval, create_schedule)
        self._create_alarms(open_request_deadline, create_alarms)

    def grant_submit(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` put request files under ``request_prefix`` (``s3:PutObject`` there, nothing else)."""
        return iam.Grant.add_to_principal(grantee=grantee, actions=["s3:PutObject"],
                                          resource_arns=[self.bucket.arn_for_objects(f"{self.request_prefix}*")])

    def grant_start_batch(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` start a batch run by hand (``states:StartExecution`` on the batch state machine)."""
        return self.batch_state_machine.grant_start_execution(grantee)

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` read the ledger (the operator CLI's ``requests`` commands)."""
        return self.table.grant_read_data(grantee)

    # ---- the steps of the constructor ---------------------------------------------------------

    def _create_ledger(self, table: Optional[dynamodb.ITable], removal_policy: RemovalPolicy) -> None:
        if table is not None:
            self.table: dynamodb.ITable = table
            return
        string = dynamodb.AttributeType.STRING
        created = dynamodb.Table(
            self, "Ledger",
            partition_key=dynamodb.Attribute(name=contract.LEDGER_PK, type=string),
            sort_key=dynamodb.Attribute(name=contract.LEDGER_SK, type=string),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            deletion_protection=removal_policy == RemovalPolicy.RETAIN,
            removal_policy=removal_policy,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
        )
        created.add_global_secondary_index(
            index_name=contract.LEDGER_QUEUED_INDEX,
            partition_key=dynamodb.Attribute(name=contract.LEDGER_QUEUED_GROUP, type=string),
            sort_key=dynamodb.Attribute(name=contract.LEDGER_RECEIVED_AT, type=string),
            projection_type=dynamodb.ProjectionType.ALL)
        created.add_global_secondary_index(
            index_name=contract.LEDGER_CLAIMED_INDEX,
            partition_key=dynamodb.Attribute(name=contract.LEDGER_CLAIMED_PART, type=string),
            projection_type=dynamodb.ProjectionType.ALL)
        created.add_global_secondary_index(
            index_name=contract.LEDGER_OPEN_INDEX,
            partition_key=dynamodb.Attribute(name=contract.LEDGER_OPEN_FLAG, type=string),
            sort_key=dynamodb.Attribute(name=contract.LEDGER_RECEIVED_AT, type=string),
            projection_type=dynamodb.ProjectionType.KEYS_ONLY)
        checkov_skip(created, "CKV_AWS_119", "Encrypted at rest with the AWS managed DynamoDB key; the ledger holds "
                     "request IDs, object keys, counts and statuses, never user IDs.")
        self.table = created

    def _create_functions(self, max_batch_bytes: int, max_attempts: int, pending_job_limit: int,
                          function_options: Optional[FunctionOptions]) -> None:
        stack = Stack.of(self)
        base = {Env.LEDGER_TABLE: self.table.table_name, Env.DATA_BUCKET: self.bucket.bucket_name,
                Env.RECORD_PREFIX: self.record_prefix, Env.METRIC_DIMENSION: self.table.table_name}
        if self.topic is not None:
            base[Env.TOPIC_ARN] = self.topic.topic_arn
        self.dead_letter_queue: sqs.Queue = dead_letter_queue(self, "DeadLetters", "request intake's deliveries")

        def function(name: str, handler: str, description: str, timeout: Duration, environment: dict[str, str],
                     memory_size: int = 256, dead_letters: Optional[sqs.IQueue] = None) -> lambda_.Function:
            return JobFunction(self, name, handler=handler, description=f"cdk-ml-data-jobs: {description}",
                               timeout=timeout, environment=environment, memory_size=memory_size,
                               function_options=function_options, dead_letter_queue=dead_letters).function

        self.intake_function = function(
            "Intake", "request_intake.handler", "register a deletion request file in the ledger",
            Duration.minutes(5), {**base, Env.REQUEST_PREFIX: self.request_prefix,
                                  Env.TARGET_DATASET_GROUP_ARNS: json_list(stack, self.dataset_group_arns),
                                  Env.MAX_BATCH_BYTES: str(max_batch_bytes)},
            dead_letters=self.dead_letter_queue)
        self.claim_function = function(
            "Claim", "batch_claim.handler", "claim every dataset group's queued deletion requests and write the "
            "batch inputs", Duration.minutes(15), {**base, Env.BATCH_PREFIX: self.batch_prefix,
                                            Env.MAX_BATCH_BYTES: str(max_batch_bytes),
                                            Env.PENDING_JOB_LIMIT: str(pending_job_limit)}, memory_size=1024)
        self.record_function = function(
            "Record", "batch_record.handler", "record a batch's deletion outcomes on its requests",
            Duration.minutes(15), {**base, Env.MAX_ATTEMPTS: str(max_attempts),
                                   Env.STATE_MACHINE_ARN: self.workflow.state_machine.state_machine_arn},
            memory_size=512)
        self.summary_function = function(
            "Summary", "batch_summary.handler", "summarize a batch run of the deletion request queue",
            Duration.seconds(30), {})
        self.deadline_function = function(
            "Deadline", "request_deadline.handler", "measure the age of the oldest open deletion request",
            Duration.seconds(60), {Env.LEDGER_TABLE: self.table.table_name,
                                   Env.METRIC_DIMENSION: self.table.table_name})

    def _grant_functions(self) -> None:
        """Each function's own policy: exactly the calls its handler makes."""
        stack = Stack.of(self)
        table_arn = self.table.table_arn
        index = {name: f"{table_arn}/index/{name}" for name in (
            contract.LEDGER_QUEUED_INDEX, contract.LEDGER_CLAIMED_INDEX, contract.LEDGER_OPEN_INDEX)}
        request_files = self.bucket.arn_for_objects(f"{self.request_prefix}*")
        batch_files = self.bucket.arn_for_objects(f"{self.batch_prefix}*")
        records = self.bucket.arn_for_objects(f"{self.record_prefix}*")
        wildcards = {
            request_files: "Request files are named by whoever submits them; read only under the request prefix.",
            batch_files: "Batch inputs are named per batch run; written only under the batch prefix.",
            records: "One record per request, named after its request ID; written only under the record prefix.",
        }

        def ledger(actions: list[str], *indexes: str) -> iam.PolicyStatement:
            return iam.PolicyStatement(sid="Ledger", actions=[f"dynamodb:{a}" for a in actions],
                                       resources=[table_arn, *(index[i] for i in indexes)])

        write_records = iam.PolicyStatement(sid="WriteRequestRecords", actions=["s3:PutObject"], resources=[records])
        read_requests = iam.PolicyStatement(sid="ReadRequestFiles", actions=["s3:GetObject", "s3:GetObjectVersion"],
                                            resources=[request_files])
        put_events = put_events_statement(stack, "PublishRequestEvents")
        metrics = iam.PolicyStatement(sid="PublishQueueMetrics", actions=["cloudwatch:PutMetricData"],
                                      resources=["*"],
                                      conditions={"StringEquals": {"cloudwatch:namespace": contract.METRIC_NAMESPACE}})
        metrics_reason = ("cloudwatch:PutMetricData supports no resource-level permissions; it is limited to the "
                          "cdk-ml-data-jobs namespace by condition.")
        announce = [put_events, metrics, *self._publish_statements()]

        def attach(name: str, function: lambda_.Function, statements: list[iam.PolicyStatement],
                   used: dict[str, str]) -> None:
            assert function.role is not None
            attach_policy(self, name, role=function.role, statements=statements, wildcards=used, dependent=function)

        attach("IntakePermissions", self.intake_function, [
            ledger(["PutItem", "UpdateItem", "Query"]), read_requests, write_records, put_events,
        ], {request_files: wildcards[request_files], records: wildcards[records]})
        attach("ClaimPermissions", self.claim_function, [
            ledger(["UpdateItem", "Query", "BatchGetItem"], contract.LEDGER_QUEUED_INDEX, contract.LEDGER_CLAIMED_INDEX),
            read_requests,
            iam.PolicyStatement(sid="WriteBatchInputs", actions=["s3:PutObject", "s3:GetObject"],
                                resources=[batch_files]),
            iam.PolicyStatement(sid="FindBatchInputs", actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn],
                                conditions={"StringLike": {"s3:prefix": [f"{self.batch_prefix}*"]}}),
            write_records,
            iam.PolicyStatement(sid="CountPendingJobs", actions=["personalize:ListDataDeletionJobs"],
                                resources=["*"]),
            *announce,
        ], {**wildcards, "*": "personalize:ListDataDeletionJobs and cloudwatch:PutMetricData support no "
                              "resource-level permissions (the metric is limited to its namespace by condition)."})
        executions = stack.format_arn(
            service="states", resource="execution", arn_format=ArnFormat.COLON_RESOURCE_NAME,
            resource_name=f"{self.workflow.state_machine.state_machine_name}:*")
        attach("RecordPermissions", self.record_function, [
            ledger(["UpdateItem", "Query", "BatchGetItem"], contract.LEDGER_CLAIMED_INDEX), write_records,
            iam.PolicyStatement(sid="AdoptExistingExecution", actions=["states:DescribeExecution"],
                                resources=[executions]),
            *announce,
        ], {records: wildcards[records], "*": metrics_reason,
            executions: "Batch executions of the deletion workflow are named per batch; only that state machine's "
                        "executions are read, to adopt one a redriven batch run already started."})
        attach("DeadlinePermissions", self.deadline_function, [
            ledger(["Query"], contract.LEDGER_OPEN_INDEX), metrics,
        ], {"*": metrics_reason})

    def _publish_statements(self) -> list[iam.PolicyStatement]:
        if self.topic is None:
            return []
        statements = [iam.PolicyStatement(sid="PublishFailedRequests", actions=["sns:Publish"],
                                          resources=[self.topic.topic_arn])]
        key = self.topic.master_key
        if key is not None:
            statements.append(iam.PolicyStatement(sid="EncryptFailedRequestMessages",
                                                  actions=["kms:Decrypt", "kms:GenerateDataKey"],
                                                  resources=[key.key_arn]))
        return statements

    def _receive_requests(self) -> None:
        self.rule: events.Rule = deliver_events(
            self, "Submitted",
            description="cdk-ml-data-jobs: a deletion request file was created under the request prefix",
            event_pattern={"source": ["aws.s3"], "detail_type": ["Object Created"],
                           "detail": {"bucket": {"name": [self.bucket.bucket_name]},
                                      "object": {"key": [{"prefix": self.request_prefix}]}}},
            function=self.intake_function, dead_letters=self.dead_letter_queue,
        )
        enable_event_bridge(self, self.bucket, "uploads will not register deletion requests")

    def _create_batch_state_machine(self, function_options: Optional[FunctionOptions]) -> None:
        options = function_options or FunctionOptions()
        scope = Construct(self, "Batch")
        self.batch_log_group = logs.LogGroup(scope, "Logs", retention=options.log_retention,
                                             removal_policy=options.log_removal_policy,
                                             log_group_name="/aws/vendedlogs/states/" + _unique(scope))
        checkov_skip(self.batch_log_group, "CKV_AWS_158", "Batch run logs hold request counts, batch IDs, S3 "
                     "locations and ARNs, never user IDs; CloudWatch Logs encrypts them with AWS-managed keys.")

        def task(name: str, function: lambda_.IFunction, parameters: dict, comment: str,
                 result_path: str = "$", retried: Sequence[str] = ()) -> sfn.CustomState:
            state = sfn.CustomState(scope, name, state_json={
                "Type": "Task", "Comment": comment, "Resource": function.function_arn,
                "Parameters": parameters, "ResultPath": result_path})
            state.add_retry(errors=list(LAMBDA_SERVICE_ERRORS), interval=Duration.seconds(2), backoff_rate=2,
                            max_delay=Duration.seconds(60), max_attempts=6, jitter_strategy=sfn.JitterType.FULL)
            state.add_retry(errors=list(TRANSIENT_ERRORS), interval=Duration.seconds(5), backoff_rate=2,
                            max_delay=Duration.minutes(5), max_attempts=10, jitter_strategy=sfn.JitterType.FULL)
            for error in retried:
                state.add_retry(errors=[error], interval=Duration.minutes(5), backoff_rate=1, max_attempts=12)
            state.add_catch(_explained(scope, name), errors=["States.ALL"], result_path="$.failure")
            return state

        groups = sfn.Pass(scope, contract.STATE_BATCH_GROUPS, comment="The queue's dataset groups.",
                          parameters={"datasetGroupArns": self.dataset_group_arns})
        claim = task(contract.STATE_BATCH_CLAIM, self.claim_function, {
            "datasetGroupArns.$": "$.datasetGroupArns", "executionName.$": "$$.Execution.Name",
            "startTime.$": "$$.Execution.StartTime"},
            "Per dataset group: check the quota, claim the queued requests; write the inputs; record IN_PROGRESS.",
            result_path="$.claimed", retried=["ClaimedPartsNotVisibleYet", contract.ERROR_LEDGER_CONTENDED])
        run = sfn.CustomState(scope, contract.STATE_BATCH_RUN, state_json={
            "Type": "Task",
            "Comment": "Run the data deletion workflow on this part's input (named after the batch: a redrive "
                       "adopts).",
            "Resource": f"arn:{Stack.of(self).partition}:states:::states:startExecution.sync:2",
            "Parameters": {
                "StateMachineArn": self.workflow.state_machine.state_machine_arn,
                "Name.$": "$.part.executionName",
                "Input": {"datasetGroupArn.$": "$.datasetGroupArn", "dataLocation.$": "$.part.dataLocation"},
            },
            # Status and ARN only, as the part's result: the Record step pairs the results with the group's parts
            # and reads each execution back (DescribeExecution), so the payload grows by about 350 bytes a part
            # whatever the workflow's output.
            "ResultSelector": {"status.$": "$.Status", "executionArn.$": "$.ExecutionArn"},
            "ResultPath": "$.execution",
            "OutputPath": "$.execution",
        })
        run.add_catch(sfn.Pass(scope, contract.STATE_BATCH_RUN_CAUGHT, comment="The Record step reads the "
                               "execution back: its error is the part's outcome.", output_path="$.execution"),
                      errors=["States.ALL"], result_path="$.execution")
        each_part = sfn.Map(
            scope, contract.STATE_BATCH_EACH_PART, comment="One data deletion job per part (at most the free "
            "PENDING slots).", items_path="$.parts", max_concurrency=0, result_path="$.results",
            item_selector={"datasetGroupArn.$": "$.datasetGroupArn", "part.$": "$$.Map.Item.Value"})
        each_part.item_processor(run)
        no_job = sfn.Pass(scope, "NoJobThisRun", comment="Nothing queued, or the quota deferred the group.")
        has_parts = sfn.Choice(scope, contract.STATE_BATCH_HAS_PARTS).when(
            sfn.Condition.is_present("$.parts[0]"), each_part).otherwise(no_job)
        # The payload holds each group once: the groups' results replace the claim's groups, Record's output
        # replaces the state.
        each_group = sfn.Map(
            scope, contract.STATE_BATCH_EACH_GROUP, comment="Every dataset group in parallel.",
            items_path="$.claimed.groups", max_concurrency=0, result_path="$.claimed.groups")
        each_group.item_processor(has_parts)
        record = task(contract.STATE_BATCH_RECORD, self.record_function, {
            "groups.$": "$.claimed.groups", "claimFailed.$": "$.claimed.requestsFailed"},
            "Record every part's outcome on its requests (completed, requeued or failed); rewrite each "
            "request's record once.", retried=["ExecutionStillRunning", contract.ERROR_LEDGER_CONTENDED])
        summary = task(contract.STATE_BATCH_SUMMARY, self.summary_function, {
            "groups.$": "$.groups", "requestsCompleted.$": "$.requestsCompleted",
            "requestsFailed.$": "$.requestsFailed"},
            "Per dataset group: batch ID, requests, jobs, status; the groups deferred and why.")
        self.batch_state_machine: sfn.StateMachine = sfn.StateMachine(
            scope, "StateMachine",
            comment="cdk-ml-data-jobs: a batch run of the deletion request queue (claim, run the deletion "
                    "workflow per dataset group, record)",
            definition_body=sfn.DefinitionBody.from_chainable(
                groups.next(claim).next(each_group).next(record).next(summary)),
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=Duration.seconds(self.workflow.execution_timeout.to_seconds() + Duration.hours(2).to_seconds()),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.batch_log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )
        self.batch_state_machine.add_to_role_policy(iam.PolicyStatement(
            sid="InvokeBatchFunctions", actions=["lambda:InvokeFunction"],
            resources=[f.function_arn for f in (self.claim_function, self.record_function, self.summary_function)]))
        stack = Stack.of(self)
        executions = stack.format_arn(
            service="states", resource="execution", arn_format=ArnFormat.COLON_RESOURCE_NAME,
            resource_name=f"{self.workflow.state_machine.state_machine_name}:*")
        for statement in (
            iam.PolicyStatement(sid="StartDeletionWorkflow", actions=["states:StartExecution"],
                                resources=[self.workflow.state_machine.state_machine_arn]),
            iam.PolicyStatement(sid="FollowDeletionWorkflow", actions=["states:DescribeExecution",
                                                                       "states:StopExecution"],
                                resources=[executions]),
            iam.PolicyStatement(sid="SyncIntegrationRule", actions=["events:PutTargets", "events:PutRule",
                                                                    "events:DescribeRule"],
                                resources=[stack.format_arn(
                                    service="events", resource="rule",
                                    resource_name="StepFunctionsGetEventsForStepFunctionsExecutionRule")]),
        ):
            self.batch_state_machine.add_to_role_policy(statement)
        policy = self.batch_state_machine.role.node.try_find_child("DefaultPolicy")
        target = policy or self.batch_state_machine.role
        nag_acknowledge(target, "AwsSolutions-IAM5[Resource::*]",
                        "Only the X-Ray and CloudWatch Logs log-delivery actions Step Functions needs for tracing "
                        "and logging use '*'; these actions do not support resource-level permissions.")
        nag_acknowledge(target, f"AwsSolutions-IAM5[Resource::{nag_resource(stack, executions)}]",
                        "startExecution.sync:2 describes (and on a stop, stops) the deletion workflow's executions "
                        "it started; they are named per batch, so only that state machine's executions are covered.")

    def _create_schedules(self, batch_interval: Duration, create_schedule: bool) -> None:
        self.schedule: Optional[scheduler.Schedule] = None
        if create_schedule:
            self.schedule = scheduler.Schedule(
                self, "Schedule", description="cdk-ml-data-jobs: start a batch run of the deletion request queue",
                schedule=scheduler.ScheduleExpression.rate(batch_interval),
                target=scheduler_targets.StepFunctionsStartExecution(
                    self.batch_state_machine, input=scheduler.ScheduleTargetInput.from_object({})))
        # An EventBridge rule, not a Scheduler schedule: the function is invoked through its resource policy
        # (this rule only), so no role with a function-version wildcard is needed.
        self.deadline_schedule: events.Rule = events.Rule(
            self, "DeadlineSchedule", description="cdk-ml-data-jobs: measure the oldest open deletion request",
            schedule=events.Schedule.rate(Duration.hours(1)))
        self.deadline_schedule.add_target(events_targets.LambdaFunction(
            self.deadline_function, event=events.RuleTargetInput.from_object({}), retry_attempts=2))

    def _create_alarms(self, open_request_deadline: Duration, create_alarms: bool) -> None:
        self.alarms: list[cloudwatch.Alarm] = []
        self.open_request_alarm: Optional[cloudwatch.Alarm] = None
        self.failed_request_alarm: Optional[cloudwatch.Alarm] = None
        if not create_alarms:
            return
        dimensions = {contract.METRIC_DIMENSION_NAME: self.table.table_name}

        def alarm(name: str, metric: cloudwatch.Metric, threshold: float, what: str, *, periods: int = 1,
                  missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
                  comparison: cloudwatch.ComparisonOperator =
                  cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD) -> cloudwatch.Alarm:
            created = cloudwatch.Alarm(self, name, metric=metric, threshold=threshold, evaluation_periods=periods,
                                       datapoints_to_alarm=periods, comparison_operator=comparison,
                                       treat_missing_data=missing,
                                       alarm_description=f"cdk-ml-data-jobs: {what} (see the README)")
            if self.topic is not None:
                created.add_alarm_action(actions.SnsAction(self.topic))
                created.add_ok_action(actions.SnsAction(self.topic))
            return created

        self.open_request_alarm = alarm(
            "RequestOpenTooLong",
            cloudwatch.Metric(namespace=contract.METRIC_NAMESPACE, metric_name=contract.METRIC_OLDEST_OPEN_REQUEST,
                              dimensions_map=dimensions, statistic="Maximum", period=Duration.hours(1)),
            open_request_deadline.to_seconds(),
            f"a deletion request has been open longer than {open_request_deadline.to_human_string()}, or the hourly "
            "check stopped reporting for 3 hours", periods=3, missing=cloudwatch.TreatMissingData.BREACHING,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD)
        self.failed_request_alarm = alarm(
            "RequestsFailed",
            cloudwatch.Metric(namespace=contract.METRIC_NAMESPACE, metric_name=contract.METRIC_FAILED_REQUESTS,
                              dimensions_map=dimensions, statistic="Sum", period=Duration.minutes(5)),
            1, "a deletion request FAILED after all its attempts")
        batch_alarms = WorkflowAlarms(self, "BatchAlarms", state_machine=self.batch_state_machine, topic=self.topic)
        self.alarms = [self.open_request_alarm, self.failed_request_alarm, *batch_alarms.alarms]


def _explained(scope: Construct, step: str) -> sfn.Choice:
    """Where a step's error ends the run: a function's error payload is reduced to its message (a cause never
    carries a stack trace); any other cause is kept as it is."""
    failed = sfn.Fail(scope, f"{step}Failed", comment=f"The {step} step failed after its retries.",
                      error_path="$.failure.Error", cause_path="$.failure.Cause")
    explain = sfn.Pass(scope, f"Explain{step}Error", comment="Keep the function's error message, not its trace.",
                       parameters={"Error.$": "$.failure.Error",
                                   "Cause.$": "States.StringToJson($.failure.Cause)"},
                       result_path="$.failure")
    message = sfn.Fail(scope, f"{step}FailedWithMessage", comment=f"The {step} step's function failed.",
                       error_path="$.failure.Error", cause_path="$.failure.Cause.errorMessage")
    return sfn.Choice(scope, f"Is{step}ErrorAFunctionError").when(
        sfn.Condition.and_(sfn.Condition.is_present("$.failure.Cause"),
                           sfn.Condition.string_matches("$.failure.Cause", "{*\"errorMessage\"*")),
        explain.next(message)).otherwise(failed)


def _unique(scope: Construct) -> str:
    from aws_cdk import Names

    return Names.unique_resource_name(scope, max_length=400, separator="-")


# --------------------------------------------------------------------------- prop rules


def _quiet_period_problems(workflow: DataDeletionWorkflow, quiet_period_enabled: bool) -> list[str]:
    if quiet_period_enabled and not getattr(workflow, "quiet_period_enabled", False):
        return ["quiet_period_enabled (default True) needs a workflow with the quiet period: create it with "
                "DataDeletionWorkflow(quiet_period_enabled=True), or give the queue quiet_period_enabled=False "
                "to run deletions while trainings or imports may run"]
    return []


def _prefix_problems(workflow: DataDeletionWorkflow, request_prefix: str, batch_prefix: str) -> list[str]:
    """Request files and batch inputs hold user IDs: both under the deletion prefix (they expire), apart from
    each other (a batch input is not a request), and no upload trigger watches the request files."""
    found = list(filter(None, [validate_prefix("request_prefix", request_prefix),
                               validate_prefix("batch_prefix", batch_prefix)]))
    if found:
        return found
    deletion = workflow.deletion_prefix
    for name, prefix in (("request_prefix", request_prefix), ("batch_prefix", batch_prefix)):
        if not prefix.startswith(deletion) or prefix == deletion:
            found.append(f"{name} {prefix!r} must lie under the workflow's deletion_prefix {deletion!r} (its "
                         "lifecycle rule expires user-ID files)")
    if request_prefix.startswith(batch_prefix) or batch_prefix.startswith(request_prefix):
        found.append("request_prefix and batch_prefix must not overlap (a batch input is not a request)")
    for trigger in sorted(workflow.upload_triggers):
        if trigger.startswith(request_prefix) or request_prefix.startswith(trigger) or \
                trigger.startswith(batch_prefix) or batch_prefix.startswith(trigger):
            found.append(f"the workflow's upload trigger prefix {trigger!r} overlaps the queue's prefixes (a request "
                         "file or batch input would also start a deletion of its own)")
    return found


def _dataset_group_problems(workflow: DataDeletionWorkflow, arns: Sequence[str]) -> list[str]:
    """At least one, at most 99, no duplicates, no wildcards, each a dataset group ARN the workflow allows."""
    if not arns:
        return ["dataset_group_arns must name at least one dataset group"]
    found = []
    if len(arns) > MAX_DATASET_GROUPS:
        found.append(f"dataset_group_arns may name at most {MAX_DATASET_GROUPS} dataset groups")
    if len(set(arns)) != len(arns):
        found.append("dataset_group_arns must not repeat an ARN")
    allowed = workflow.dataset_group_arns
    for arn in arns:
        if Token.is_unresolved(arn):
            continue
        if "*" in arn or not _ARNS.DATASET_GROUP_ARN.fullmatch(arn):
            found.append(f"dataset_group_arns: {arn!r} must be {_ARNS.DATASET_GROUP} (no wildcards)")
        elif allowed is not None and not any(Token.is_unresolved(p) or fnmatch.fnmatchcase(arn, p) for p in allowed):
            found.append(f"dataset_group_arns: {arn} is not allowed by the workflow's dataset_group_arns")
    return found


def _limit_problems(*, batch_interval: Duration, max_batch_bytes: int, max_attempts: int, pending_job_limit: int,
                    open_request_deadline: Duration) -> list[str]:
    found = []
    if batch_interval.to_seconds() < 60:
        found.append("batch_interval must be at least 1 minute")
    if not 1 <= max_batch_bytes <= _CSV_RULES.MAX_TOTAL_BYTES:
        found.append(f"max_batch_bytes must be between 1 and {_CSV_RULES.MAX_TOTAL_BYTES} (Personalize's limit)")
    if max_attempts < 1:
        found.append("max_attempts must be at least 1")
    if pending_job_limit < 1:
        found.append("pending_job_limit must be at least 1")
    if open_request_deadline.to_seconds() < 3600:
        found.append("open_request_deadline must be at least 1 hour")
    return found

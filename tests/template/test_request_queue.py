"""DeletionRequestQueue: the ledger's settings, least privilege of every new function, the batch state machine's
wiring, the schedule, the alarms, grant_submit, the contract with its handlers, and the prop rules."""

from __future__ import annotations

import pytest

from cdk_ml_data_jobs import _contract as contract

from .helpers import (
    QUEUE_DATASET_GROUP_ARNS,
    actions,
    as_list,
    definition,
    function_role_lid,
    logical_id,
    props,
    render,
    resource_strings,
    resources,
    role_statements,
)
from .test_contract import variables_read

SHOP, NEWS = QUEUE_DATASET_GROUP_ARNS


@pytest.fixture(scope="module")
def queue(sample_with_queue):
    return sample_with_queue.parts["queue"]


@pytest.fixture(scope="module")
def tpl(sample_with_queue):
    return sample_with_queue.json


def _lid(construct) -> str:
    return logical_id(construct)


def _statements(tpl, function) -> list[dict]:
    """The function's own permissions (without its log-only statements)."""
    return [s for s in role_statements(tpl, function_role_lid(tpl, _lid(function)))
            if not set(actions(s)) <= {"logs:CreateLogStream", "logs:PutLogEvents", "sqs:SendMessage"}]


def _by_sid(statements: list[dict]) -> dict[str, dict]:
    return {s.get("Sid"): s for s in statements}


def _grants(statements: list[dict]) -> set[tuple[str, str]]:
    return {(a, r) for s in statements for a in actions(s) for r in resource_strings(s)}


# --------------------------------------------------------------------------- the ledger


def test_the_ledger_is_pay_per_request_recoverable_protected_retained_and_encrypted(tpl, queue):
    lid = _lid(queue.table)
    table = tpl["Resources"][lid]
    assert table["DeletionPolicy"] == "Retain" and table["UpdateReplacePolicy"] == "Retain"
    p = table["Properties"]
    assert p["BillingMode"] == "PAY_PER_REQUEST"
    assert p["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert p["DeletionProtectionEnabled"] is True
    assert p["SSESpecification"] == {"SSEEnabled": True}
    assert p["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
    indexes = {i["IndexName"]: i for i in p["GlobalSecondaryIndexes"]}
    assert set(indexes) == {contract.LEDGER_QUEUED_INDEX, contract.LEDGER_CLAIMED_INDEX, contract.LEDGER_OPEN_INDEX}
    assert [k["AttributeName"] for k in indexes["queued"]["KeySchema"]] == ["queuedGroup", "receivedAt"]
    assert [k["AttributeName"] for k in indexes["claimed"]["KeySchema"]] == ["claimedPart"]
    assert [k["AttributeName"] for k in indexes["open"]["KeySchema"]] == ["openFlag", "receivedAt"]
    assert indexes["open"]["Projection"] == {"ProjectionType": "KEYS_ONLY"}


def test_a_destroyed_ledger_has_no_deletion_protection(queue_minimal):
    tpl = queue_minimal.json
    [(lid, table)] = resources(tpl, "AWS::DynamoDB::Table").items()
    assert table["DeletionPolicy"] == "Delete" and table["Properties"]["DeletionProtectionEnabled"] is False


# --------------------------------------------------------------------------- least privilege


TABLE = "${DeletionRequestsLedger9D810730.Arn}"
BUCKET = "${DataBucketE6B0FAA8.Arn}"
EVENT_BUS = "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"


def test_the_intake_reads_request_files_and_writes_the_ledger_and_records_only(tpl, queue):
    statements = _statements(tpl, queue.intake_function)
    assert _grants(statements) == {
        ("dynamodb:PutItem", TABLE), ("dynamodb:Query", TABLE), ("dynamodb:UpdateItem", TABLE),
        ("s3:GetObject", f"{BUCKET}/deletions/requests/*"), ("s3:GetObjectVersion", f"{BUCKET}/deletions/requests/*"),
        ("s3:PutObject", f"{BUCKET}/audit/deletion-requests/*"), ("events:PutEvents", EVENT_BUS),
    }
    assert _by_sid(statements)["PublishRequestEvents"]["Condition"] == {
        "ForAllValues:StringEquals": {"events:source": [contract.EVENT_SOURCE]}, "Null": {"events:source": "false"}}


def test_the_claim_counts_jobs_claims_requests_and_writes_batch_inputs_only(tpl, queue):
    statements = _statements(tpl, queue.claim_function)
    grants = _grants(statements)
    assert grants >= {
        ("dynamodb:Query", f"{TABLE}/index/queued"), ("dynamodb:Query", f"{TABLE}/index/claimed"),
        ("dynamodb:UpdateItem", TABLE), ("personalize:ListDataDeletionJobs", "*"),
        ("s3:GetObject", f"{BUCKET}/deletions/requests/*"), ("s3:PutObject", f"{BUCKET}/deletions/batches/*"),
        ("s3:PutObject", f"{BUCKET}/audit/deletion-requests/*"), ("cloudwatch:PutMetricData", "*"),
    }
    assert {g for g in grants if g[0].startswith("dynamodb:")} == {  # BatchGetItem: many requests' items at once
        (f"dynamodb:{a}", r) for a in ("Query", "UpdateItem", "BatchGetItem")
        for r in (TABLE, f"{TABLE}/index/queued", f"{TABLE}/index/claimed")}
    writes = {r for a, r in grants if a == "s3:PutObject"}
    assert writes == {f"{BUCKET}/deletions/batches/*", f"{BUCKET}/audit/deletion-requests/*"}
    reads = {r for a, r in grants if a.startswith("s3:Get")}
    assert reads == {f"{BUCKET}/deletions/requests/*", f"{BUCKET}/deletions/batches/*"}
    listing = _by_sid(statements)["FindBatchInputs"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["deletions/batches/*"]}}
    assert _by_sid(statements)["PublishQueueMetrics"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": contract.METRIC_NAMESPACE}}
    assert not any(a.startswith(("personalize:Create", "states:", "iam:")) for a, _ in grants)


def test_the_record_reads_only_the_workflows_executions(tpl, queue):
    grants = _grants(_statements(tpl, queue.record_function))
    executions = ("arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:"
                  "${DataDeletionWorkflowStateMachine442CEB36.Name}:*")
    assert ("states:DescribeExecution", executions) in grants
    assert {g for g in grants if g[0].startswith("dynamodb:")} == {
        (f"dynamodb:{a}", r) for a in ("Query", "UpdateItem", "BatchGetItem") for r in (TABLE, f"{TABLE}/index/claimed")}
    assert {a for a, _ in grants if a.startswith("states:")} == {"states:DescribeExecution"}
    assert ("sns:Publish", "${NotificationsTopicAE679CBD}") in grants
    assert {r for a, r in grants if a == "s3:PutObject"} == {f"{BUCKET}/audit/deletion-requests/*"}
    assert not any(a.startswith("s3:Get") for a, _ in grants)


def test_the_deadline_check_queries_the_open_index_only(tpl, queue):
    assert _grants(_statements(tpl, queue.deadline_function)) == {
        ("dynamodb:Query", TABLE), ("dynamodb:Query", f"{TABLE}/index/open"), ("cloudwatch:PutMetricData", "*")}


def test_the_summary_has_no_permissions_beyond_its_logs(tpl, queue):
    assert _statements(tpl, queue.summary_function) == []


def test_the_batch_state_machine_starts_exactly_the_deletion_workflow(tpl, queue):
    role = props(tpl, _lid(queue.batch_state_machine))["RoleArn"]["Fn::GetAtt"][0]
    grants = _grants(role_statements(tpl, role))
    assert {r for a, r in grants if a == "states:StartExecution"} == {"${DataDeletionWorkflowStateMachine442CEB36}"}
    assert {r for a, r in grants if a == "lambda:InvokeFunction"} == {
        f"${{{_lid(f)}.Arn}}" for f in (queue.claim_function, queue.record_function, queue.summary_function)}
    follows = {r for a, r in grants if a in ("states:DescribeExecution", "states:StopExecution")}
    assert follows == {"arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:"
                       "${DataDeletionWorkflowStateMachine442CEB36.Name}:*"}


def test_grant_submit_allows_put_object_under_the_request_prefix_and_nothing_else(queue_minimal):
    tpl = queue_minimal.json
    statements = role_statements(tpl, _lid(queue_minimal.parts["portal"]))
    bucket = _lid(queue_minimal.parts["deletion"].bucket)
    assert [(actions(s), resource_strings(s)) for s in statements] == [
        (["s3:PutObject"], [f"${{{bucket}.Arn}}/deletions/portal/*"])]


# --------------------------------------------------------------------------- wiring


def test_request_files_created_under_the_prefix_reach_the_intake(tpl, queue):
    rule = props(tpl, _lid(queue.rule))
    assert rule["EventPattern"]["detail"]["object"] == {"key": [{"prefix": "deletions/requests/"}]}
    assert rule["EventPattern"]["detail-type"] == ["Object Created"]
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": [_lid(queue.intake_function), "Arn"]}
    assert "DeadLetterConfig" in rule["Targets"][0]
    bucket = props(tpl, "DataBucketE6B0FAA8")
    assert bucket["NotificationConfiguration"]["EventBridgeConfiguration"] == {"EventBridgeEnabled": True}


def test_request_files_and_batch_inputs_expire_with_the_deletion_prefix(tpl):
    rules = props(tpl, "DataBucketE6B0FAA8")["LifecycleConfiguration"]["Rules"]
    [expire] = [r for r in rules if r.get("Id") == "expire-user-id-files"]
    assert "deletions/requests/".startswith(expire["Prefix"]) and "deletions/batches/".startswith(expire["Prefix"])
    assert not "audit/deletion-requests/".startswith(expire["Prefix"])


def test_the_batch_runs_the_deletion_workflow_per_dataset_group_and_part(tpl, queue):
    asl = definition(tpl, _lid(queue.batch_state_machine))
    assert asl["StartAt"] == contract.STATE_BATCH_GROUPS
    assert asl["States"][contract.STATE_BATCH_GROUPS]["Parameters"] == {"datasetGroupArns": [SHOP, NEWS]}
    each_group = asl["States"][contract.STATE_BATCH_EACH_GROUP]
    assert each_group["Type"] == "Map" and each_group["MaxConcurrency"] == 0 if "MaxConcurrency" in each_group \
        else each_group["Type"] == "Map"
    inner = each_group["ItemProcessor"]["States"]
    each_part = inner[contract.STATE_BATCH_EACH_PART]["ItemProcessor"]["States"]
    run = each_part[contract.STATE_BATCH_RUN]
    assert run["Resource"] == "arn:${AWS::Partition}:states:::states:startExecution.sync:2"
    assert run["Parameters"]["StateMachineArn"] == "${DataDeletionWorkflowStateMachine442CEB36}"
    assert run["Parameters"]["Name.$"] == "$.part.executionName"
    assert set(run["Parameters"]["Input"]) == {"datasetGroupArn.$", "dataLocation.$"}
    # a part's result is the child's status and ARN (or the caught error), not its output: Record reads each
    # execution back, so the payload grows with parts, not with what the workflow returns
    assert run["ResultSelector"] == {"status.$": "$.Status", "executionArn.$": "$.ExecutionArn"}
    assert run["OutputPath"] == "$.execution"
    assert run["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.execution",
                             "Next": contract.STATE_BATCH_RUN_CAUGHT}]
    assert run["End"] is True and each_part[contract.STATE_BATCH_RUN_CAUGHT] == {
        "Type": "Pass", "Comment": each_part[contract.STATE_BATCH_RUN_CAUGHT]["Comment"], "OutputPath": "$.execution",
        "End": True}
    # one Claim before the groups' runs, one Record after all of them, then the summary
    states = asl["States"]
    assert states[contract.STATE_BATCH_GROUPS]["Next"] == contract.STATE_BATCH_CLAIM
    assert states[contract.STATE_BATCH_CLAIM]["Parameters"] == {
        "datasetGroupArns.$": "$.datasetGroupArns", "executionName.$": "$$.Execution.Name",
        "startTime.$": "$$.Execution.StartTime"}
    assert states[contract.STATE_BATCH_CLAIM]["Next"] == contract.STATE_BATCH_EACH_GROUP
    # each group is in the payload once: its results replace its claim, Record's output replaces the state
    assert each_group["ItemsPath"] == each_group["ResultPath"] == "$.claimed.groups"
    assert states[contract.STATE_BATCH_EACH_GROUP]["Next"] == contract.STATE_BATCH_RECORD
    assert states[contract.STATE_BATCH_RECORD]["Parameters"] == {"groups.$": "$.claimed.groups",
                                                                 "claimFailed.$": "$.claimed.requestsFailed"}
    assert states[contract.STATE_BATCH_RECORD]["ResultPath"] == "$"
    assert states[contract.STATE_BATCH_SUMMARY]["Parameters"] == {
        "groups.$": "$.groups", "requestsCompleted.$": "$.requestsCompleted", "requestsFailed.$": "$.requestsFailed"}
    assert states[contract.STATE_BATCH_RECORD]["Next"] == contract.STATE_BATCH_SUMMARY
    # the errors their handlers raise to be tried again later (the names pinned to the classes in tests/unit)
    for state, own in ((contract.STATE_BATCH_CLAIM, "ClaimedPartsNotVisibleYet"),
                       (contract.STATE_BATCH_RECORD, "ExecutionStillRunning")):
        retried = [r for retry in states[state]["Retry"] for r in retry["ErrorEquals"]]
        assert {own, contract.ERROR_LEDGER_CONTENDED} <= set(retried)
    assert asl["States"][contract.STATE_BATCH_SUMMARY]["End"] is True
    machine = props(tpl, _lid(queue.batch_state_machine))
    assert machine["StateMachineType"] == "STANDARD" and machine["TracingConfiguration"] == {"Enabled": True}
    assert machine["LoggingConfiguration"]["Level"] == "ALL"


def test_the_schedule_starts_a_batch_run_with_empty_input(tpl, queue):
    schedule = props(tpl, _lid(queue.schedule))
    assert schedule["ScheduleExpression"] == "rate(1 day)" and schedule["State"] == "ENABLED"
    assert schedule["Target"]["Arn"] == {"Ref": _lid(queue.batch_state_machine)}
    assert schedule["Target"]["Input"] == "{}"
    role = schedule["Target"]["RoleArn"]["Fn::GetAtt"][0]
    assert _grants(role_statements(tpl, role)) == {("states:StartExecution", f"${{{_lid(queue.batch_state_machine)}}}")}


def test_without_a_schedule_there_is_none(queue_minimal):
    assert resources(queue_minimal.json, "AWS::Scheduler::Schedule") == {}
    assert queue_minimal.parts["queue"].schedule is None


def test_the_alarms_watch_open_requests_failed_requests_and_batch_runs(tpl, queue):
    assert len(queue.alarms) == 5
    old = props(tpl, _lid(queue.open_request_alarm))
    assert (old["MetricName"], old["Threshold"], old["Period"], old["TreatMissingData"]) == (
        contract.METRIC_OLDEST_OPEN_REQUEST, 25 * 86400, 3600, "breaching")
    assert old["Dimensions"] == [{"Name": "Queue", "Value": {"Ref": _lid(queue.table)}}]
    failed = props(tpl, _lid(queue.failed_request_alarm))
    assert (failed["MetricName"], failed["Statistic"], failed["Threshold"]) == (
        contract.METRIC_FAILED_REQUESTS, "Sum", 1)
    for alarm in queue.alarms:
        assert props(tpl, _lid(alarm))["AlarmActions"] == [{"Ref": "NotificationsTopicAE679CBD"}]
    check = props(tpl, _lid(queue.deadline_schedule))
    assert check["ScheduleExpression"] == "rate(1 hour)"


# --------------------------------------------------------------------------- the contract with the handlers


def test_each_queue_function_gets_exactly_the_variables_its_handler_reads(tpl, queue):
    for function in (queue.intake_function, queue.claim_function, queue.record_function, queue.summary_function,
                     queue.deadline_function):
        p = props(tpl, _lid(function))
        given = set(p.get("Environment", {}).get("Variables", {}))
        required, optional = variables_read(p["Handler"].removesuffix(".handler"))
        assert required <= given <= required | optional, p["Handler"]


def test_the_environment_carries_the_props(tpl, queue, queue_minimal):
    intake = props(tpl, _lid(queue.intake_function))["Environment"]["Variables"]
    assert intake[contract.Env.REQUEST_PREFIX] == "deletions/requests/"
    assert render(intake[contract.Env.TARGET_DATASET_GROUP_ARNS]) == f'["{SHOP}","{NEWS}"]'
    assert intake[contract.Env.MAX_BATCH_BYTES] == str(100 * 1024 * 1024)
    assert intake[contract.Env.RECORD_PREFIX] == "audit/deletion-requests/"
    claim = props(tpl, _lid(queue.claim_function))["Environment"]["Variables"]
    assert (claim[contract.Env.BATCH_PREFIX], claim[contract.Env.PENDING_JOB_LIMIT]) == ("deletions/batches/", "5")
    assert props(tpl, _lid(queue.record_function))["Environment"]["Variables"][contract.Env.MAX_ATTEMPTS] == "3"
    minimal = queue_minimal.parts["queue"]
    claim = props(queue_minimal.json, _lid(minimal.claim_function))["Environment"]["Variables"]
    assert (claim[contract.Env.PENDING_JOB_LIMIT], claim[contract.Env.MAX_BATCH_BYTES]) == ("20", str(50 * 1024 ** 2))
    assert contract.Env.TOPIC_ARN not in claim  # no topic anywhere


# --------------------------------------------------------------------------- prop rules


def _queue(make_app, **props_):
    import aws_cdk as cdk

    from cdk_ml_data_jobs import DataDeletionWorkflow, DeletionRequestQueue

    stack = cdk.Stack(make_app(), "Props")
    triggers = props_.pop("upload_triggers", None)
    workflow = DataDeletionWorkflow(stack, "Deletion", dataset_group_arns=props_.pop("allowed", None),
                                    upload_triggers=triggers,
                                    quiet_period_enabled=props_.pop("workflow_quiet_period", True))
    return DeletionRequestQueue(stack, "Queue", workflow=workflow, **props_)


def test_invalid_props_are_listed_at_once(make_app):
    from aws_cdk import Duration

    from cdk_ml_data_jobs import PropsError

    with pytest.raises(PropsError) as raised:
        _queue(make_app, dataset_group_arns=[SHOP, SHOP, "arn:aws:personalize:us-east-1:123456789012:dataset-group/*",
                                             NEWS.replace("news", "other")],
               allowed=[SHOP, NEWS], request_prefix="requests/", batch_interval=Duration.seconds(30),
               max_batch_bytes=200 * 1024 * 1024, max_attempts=0, pending_job_limit=0,
               open_request_deadline=Duration.minutes(5), workflow_quiet_period=False)
    problems = raised.value.problems
    assert problems == [
        "request_prefix 'requests/' must lie under the workflow's deletion_prefix 'deletions/' (its lifecycle rule "
        "expires user-ID files)",
        "dataset_group_arns must not repeat an ARN",
        "dataset_group_arns: 'arn:aws:personalize:us-east-1:123456789012:dataset-group/*' must be a dataset group "
        "ARN: arn:aws:personalize:REGION:ACCOUNT:dataset-group/NAME (no wildcards)",
        "dataset_group_arns: arn:aws:personalize:us-east-1:123456789012:dataset-group/other is not allowed by the "
        "workflow's dataset_group_arns",
        "quiet_period_enabled (default True) needs a workflow with the quiet period: create it with "
        "DataDeletionWorkflow(quiet_period_enabled=True), or give the queue quiet_period_enabled=False "
        "to run deletions while trainings or imports may run",
        "batch_interval must be at least 1 minute",
        "max_batch_bytes must be between 1 and 104857600 (Personalize's limit)",
        "max_attempts must be at least 1",
        "pending_job_limit must be at least 1",
        "open_request_deadline must be at least 1 hour",
    ]


def test_prefixes_must_not_overlap_each_other_or_an_upload_trigger(make_app):
    from cdk_ml_data_jobs import PropsError

    with pytest.raises(PropsError) as raised:
        _queue(make_app, dataset_group_arns=[SHOP], request_prefix="deletions/in/", batch_prefix="deletions/in/b/",
               upload_triggers={"deletions/in/shop/": SHOP})
    assert raised.value.problems == [
        "request_prefix and batch_prefix must not overlap (a batch input is not a request)",
        "the workflow's upload trigger prefix 'deletions/in/shop/' overlaps the queue's prefixes (a request file or "
        "batch input would also start a deletion of its own)",
    ]
    with pytest.raises(PropsError, match="must name at least one dataset group"):
        _queue(make_app, dataset_group_arns=[])


def test_the_quiet_period_is_on_by_default_and_opting_out_is_explicit(make_app):
    from cdk_ml_data_jobs import PropsError

    assert _queue(make_app, dataset_group_arns=[SHOP]).quiet_period_enabled is True
    with pytest.raises(PropsError, match="quiet_period_enabled \\(default True\\) needs a workflow"):
        _queue(make_app, dataset_group_arns=[SHOP], workflow_quiet_period=False)
    opted_out = _queue(make_app, dataset_group_arns=[SHOP], workflow_quiet_period=False, quiet_period_enabled=False)
    assert opted_out.quiet_period_enabled is False and opted_out.workflow.quiet_period_enabled is False

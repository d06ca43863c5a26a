"""Operating the workflows: NotificationTopic, WorkflowAlarms, JobOutcomeReporter and DeletionUploadTrigger.

Asserted on the sample app (a NotificationTopic shared by both workflows), the
sample app with upload triggers and an e-mail subscription, workflows that
create their own topic, workflows with the defaults (no topic), workflows with
the operations switched off, and the props that must be refused.
"""

from __future__ import annotations

import json

import pytest
import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Annotations, Match

from cdk_ml_data_jobs import AudienceExportWorkflow, DataDeletionWorkflow, PropsError

from .helpers import (
    DATASET_GROUP_ARN,
    NOTIFICATION_EMAIL,
    TRIGGER_DATASET_GROUP_ARN,
    TRIGGER_PREFIX,
    acknowledgments,
    actions,
    all_statements,
    as_list,
    function_role_lid,
    logical_id,
    operations_functions,
    props,
    resource_strings,
    resources,
    role_statements,
)

EXECUTIONS = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${%s.Name}:*"
DEFAULT_BUS = "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"
EVENT_SOURCE_CONDITION = {"ForAllValues:StringEquals": {"events:source": ["cdk-ml-data-jobs"]},
                          "Null": {"events:source": "false"}}
TERMINAL_STATUSES = ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]
#: WorkflowAlarms' alarms in attribute order, by the AWS/States metric each watches.
ALARM_METRICS = ["ExecutionsFailed", "ExecutionsTimedOut", "ExecutionThrottled"]
IMPORTED_BUCKET_NAME = "my-existing-user-id-bucket"  # conftest.imported_bucket_deletion's bucket
OTHER_GROUP_ARN = "arn:aws:personalize:us-east-1:111122223333:dataset-group/books"
ACCOUNT_ROOT = {"AWS": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"},
                                          ":root"]]}}


# --------------------------------------------------------------------------- stacks (one App each, built once)


@pytest.fixture(scope="module")
def no_operations(synth_stack):
    """Both workflows with ``create_outcome_reporter=False`` and ``create_alarms=False``."""
    return synth_stack("NoOperations", lambda stack: {
        "deletion": DataDeletionWorkflow(stack, "Deletion", create_outcome_reporter=False, create_alarms=False),
        "export": AudienceExportWorkflow(stack, "Export", create_outcome_reporter=False, create_alarms=False),
    })


@pytest.fixture(scope="module")
def custom_prefixes(synth_stack):
    """A deletion workflow with its own prefixes and two upload triggers (no topic)."""
    return synth_stack("CustomPrefixes", lambda stack: {"deletion": DataDeletionWorkflow(
        stack, "Deletion", deletion_prefix="gdpr/user-ids/", audit_prefix="gdpr-audit/",
        upload_triggers={"gdpr/user-ids/shop/": DATASET_GROUP_ARN, "gdpr/user-ids/books/": OTHER_GROUP_ARN},
    )})


@pytest.fixture(scope="module")
def imported_with_triggers(synth_stack):
    """Upload triggers on a bucket that already exists (imported by name)."""

    def build(stack):
        bucket = s3.Bucket.from_bucket_name(stack, "Existing", IMPORTED_BUCKET_NAME)
        return {"deletion": DataDeletionWorkflow(stack, "Deletion", bucket=bucket,
                                                 upload_triggers={TRIGGER_PREFIX: TRIGGER_DATASET_GROUP_ARN})}

    return synth_stack("ImportedWithTriggers", build)


@pytest.fixture(scope="module")
def bucket_with_cdk_notifications(synth_stack):
    """Upload triggers on your own bucket that also sends S3 notifications set up with CDK (to a queue)."""
    from aws_cdk import aws_s3_notifications as notifications
    from aws_cdk import aws_sqs as sqs

    def build(stack):
        bucket = s3.Bucket(stack, "UserBucket")
        queue = sqs.Queue(stack, "Uploads")
        bucket.add_event_notification(s3.EventType.OBJECT_CREATED, notifications.SqsDestination(queue),
                                      s3.NotificationKeyFilter(prefix="reports/"))
        return {"bucket": bucket, "deletion": DataDeletionWorkflow(
            stack, "Deletion", bucket=bucket, upload_triggers={TRIGGER_PREFIX: TRIGGER_DATASET_GROUP_ARN})}

    return synth_stack("BucketWithCdkNotifications", build)


def _synth(request, which):
    return request.getfixturevalue(which)


def _throwaway_stack():
    """A stack for constructs that must fail validation (never synthesized)."""
    return cdk.Stack(cdk.App(), "Invalid")


def _normalized(statements: list[dict]) -> list[tuple]:
    """(sorted actions, sorted rendered resources, condition) per statement, in a stable order."""
    found = [(tuple(sorted(actions(s))), tuple(sorted(resource_strings(s))), json.dumps(s.get("Condition"),
                                                                                       sort_keys=True))
             for s in statements]
    return sorted(found)


def _statement(action_list, resource_list, condition=None) -> tuple:
    return tuple(sorted(action_list)), tuple(sorted(resource_list)), json.dumps(condition, sort_keys=True)


def _workflows(synth):
    return [synth.parts[k] for k in ("deletion", "export") if k in synth.parts]


# --------------------------------------------------------------------------- NotificationTopic

#: Stacks with a NotificationTopic, and where the topics are: the sample's shared one, or each workflow's own.
TOPIC_STACKS = ["sample", "sample_with_triggers", "own_topics"]


def _topics(synth) -> list:
    if "notifications" in synth.parts:
        topic = synth.parts["notifications"].topic
        assert all(wf.topic is topic for wf in _workflows(synth))
        return [topic]
    return [wf.topic for wf in _workflows(synth)]


@pytest.mark.parametrize("which", TOPIC_STACKS)
def test_topic_is_encrypted_with_its_own_rotated_key(request, which):
    synth = _synth(request, which)
    topics = _topics(synth)
    topic_lids = {logical_id(t) for t in topics}
    key_lids = {logical_id(t.master_key) for t in topics}
    assert set(resources(synth.json, "AWS::SNS::Topic")) == topic_lids
    assert set(resources(synth.json, "AWS::KMS::Key")) == key_lids
    assert len(key_lids) == len(topic_lids) == len(topics), "one key per topic"
    for topic in topics:
        key_lid = logical_id(topic.master_key)
        assert props(synth.json, logical_id(topic))["KmsMasterKeyId"] == {"Fn::GetAtt": [key_lid, "Arn"]}
        assert props(synth.json, key_lid)["EnableKeyRotation"] is True
    if "notifications" in synth.parts:
        assert synth.parts["notifications"].key is topics[0].master_key


@pytest.mark.parametrize("which", TOPIC_STACKS)
def test_key_policy_lets_cloudwatch_of_this_account_use_the_key(request, which):
    synth = _synth(request, which)
    for topic in _topics(synth):
        statements = as_list(props(synth.json, logical_id(topic.master_key))["KeyPolicy"]["Statement"])
        assert all(s["Effect"] == "Allow" for s in statements)
        # the account's own administration of the key (CDK's default) and CloudWatch; nobody else
        assert sorted(json.dumps(s["Principal"], sort_keys=True) for s in statements) == sorted(
            [json.dumps(ACCOUNT_ROOT, sort_keys=True), json.dumps({"Service": "cloudwatch.amazonaws.com"})])
        (cloudwatch,) = [s for s in statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
        assert sorted(actions(cloudwatch)) == ["kms:Decrypt", "kms:GenerateDataKey*"]
        assert cloudwatch["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


@pytest.mark.parametrize("which", TOPIC_STACKS)
def test_topic_policy_denies_publishing_without_tls(request, which):
    synth = _synth(request, which)
    for topic in _topics(synth):
        topic_lid = logical_id(topic)
        policies = [r for r in resources(synth.json, "AWS::SNS::TopicPolicy").values()
                    if r["Properties"]["Topics"] == [{"Ref": topic_lid}]]
        assert len(policies) == 1, policies
        denies = [s for s in as_list(policies[0]["Properties"]["PolicyDocument"]["Statement"]) if s["Effect"] == "Deny"]
        assert len(denies) == 1, denies
        deny = denies[0]
        assert actions(deny) == ["sns:Publish"]
        assert deny["Principal"] == "*"
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert resource_strings(deny) == ["${%s}" % topic_lid]


@pytest.mark.parametrize("which", TOPIC_STACKS)
def test_topic_policy_lets_cloudwatch_alarms_of_this_account_publish(request, which):
    """A topic policy replaces SNS's default one, which let services acting for the account (CloudWatch alarms
    among them) publish; without an Allow for ``cloudwatch.amazonaws.com`` the alarm actions are refused with
    "is not authorized to perform: SNS:Publish ... because no resource-based policy allows"."""
    synth = _synth(request, which)
    for topic in _topics(synth):
        topic_lid = logical_id(topic)
        statements = [s for r in resources(synth.json, "AWS::SNS::TopicPolicy").values()
                      if r["Properties"]["Topics"] == [{"Ref": topic_lid}]
                      for s in as_list(r["Properties"]["PolicyDocument"]["Statement"])]
        allows = [s for s in statements if s["Effect"] == "Allow"
                  and s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
        assert len(allows) == 1, (topic.node.path, statements)
        assert actions(allows[0]) == ["sns:Publish"]
        assert resource_strings(allows[0]) == ["${%s}" % topic_lid]
        assert json.dumps(allows[0].get("Condition", {})).count("aws:Source") >= 1, (
            "limit it to this account's alarms (aws:SourceAccount / aws:SourceArn)")


def test_email_subscriptions_only_when_asked(sample, sample_with_triggers):
    topic_lid = logical_id(sample_with_triggers.parts["notifications"].topic)
    subscriptions = [r["Properties"] for r in resources(sample_with_triggers.json, "AWS::SNS::Subscription").values()]
    assert subscriptions == [{"Endpoint": NOTIFICATION_EMAIL, "Protocol": "email", "TopicArn": {"Ref": topic_lid}}]
    sample.template.resource_count_is("AWS::SNS::Subscription", 0)


@pytest.mark.parametrize("which", ["sample", "sample_with_triggers"])
def test_sample_app_outputs_the_topic_arn(request, which):
    synth = _synth(request, which)
    output = synth.json["Outputs"]["NotificationTopicArn"]
    assert output["Value"] == {"Ref": logical_id(synth.parts["notifications"].topic)}


# --------------------------------------------------------------------------- WorkflowAlarms

ALARM_STACKS = ["sample", "sample_with_triggers", "own_topics", "deletion_only", "export_narrowed"]


@pytest.mark.parametrize("which", ALARM_STACKS)
def test_three_alarms_per_state_machine_on_its_step_functions_metrics(request, which):
    synth = _synth(request, which)
    exposed = set()
    for wf in _workflows(synth):
        assert len(wf.alarms) == 3
        machine_lid = logical_id(wf.state_machine)
        for alarm, metric in zip(wf.alarms, ALARM_METRICS):
            alarm_lid = logical_id(alarm)
            exposed.add(alarm_lid)
            alarm_props = props(synth.json, alarm_lid)
            assert alarm_props["Namespace"] == "AWS/States", alarm_lid
            assert alarm_props["MetricName"] == metric, alarm_lid
            assert alarm_props["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": machine_lid}}]
            assert alarm_props["Statistic"] == "Sum"
            assert alarm_props["Period"] == 300
            assert alarm_props["Threshold"] == 1
            assert alarm_props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
            assert alarm_props["EvaluationPeriods"] == 1
            assert alarm_props["TreatMissingData"] == "notBreaching"
            assert alarm_props["AlarmDescription"].startswith("cdk-ml-data-jobs: ")
    assert set(resources(synth.json, "AWS::CloudWatch::Alarm")) == exposed
    assert len(exposed) == 3 * len(_workflows(synth))


@pytest.mark.parametrize("which", ["sample", "sample_with_triggers", "own_topics"])
def test_alarm_and_ok_actions_notify_the_topic(request, which):
    synth = _synth(request, which)
    for wf in _workflows(synth):
        topic = {"Ref": logical_id(wf.topic)}
        for alarm in wf.alarms:
            alarm_props = props(synth.json, logical_id(alarm))
            assert alarm_props["AlarmActions"] == [topic]
            assert alarm_props["OKActions"] == [topic]
            assert "InsufficientDataActions" not in alarm_props
            assert alarm_props.get("ActionsEnabled", True) is True


@pytest.mark.parametrize("which", ["deletion_only", "export_narrowed"])
def test_alarms_have_no_actions_without_a_topic(request, which):
    synth = _synth(request, which)
    (wf,) = _workflows(synth)
    assert wf.topic is None
    for alarm in wf.alarms:
        alarm_props = props(synth.json, logical_id(alarm))
        assert not {"AlarmActions", "OKActions", "InsufficientDataActions"} & set(alarm_props), alarm_props
    synth.template.resource_count_is("AWS::SNS::Topic", 0)
    synth.template.resource_count_is("AWS::KMS::Key", 0)


def test_alarms_false_creates_no_alarm(no_operations):
    for wf in _workflows(no_operations):
        assert wf.alarms == []
    no_operations.template.resource_count_is("AWS::CloudWatch::Alarm", 0)


# --------------------------------------------------------------------------- JobOutcomeReporter

#: (stack, workflow) pairs whose workflows report outcomes to a topic.
WITH_TOPIC = [("sample", "deletion"), ("sample", "export"), ("own_topics", "deletion"), ("own_topics", "export")]
WITHOUT_TOPIC = [("deletion_only", "deletion"), ("export_narrowed", "export")]


@pytest.mark.parametrize("which, name", WITH_TOPIC + WITHOUT_TOPIC)
def test_reporter_rule_matches_the_terminal_statuses_of_this_state_machine(request, which, name):
    synth = _synth(request, which)
    wf = synth.parts[name]
    rule = props(synth.json, logical_id(wf.outcome_reporter.rule))
    assert rule["EventPattern"] == {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"stateMachineArn": [{"Ref": logical_id(wf.state_machine)}], "status": TERMINAL_STATUSES},
    }
    assert rule["State"] == "ENABLED"
    assert "EventBusName" not in rule  # the default bus, where Step Functions sends its events


def _assert_targets_function_with_dead_letters(synth, part) -> None:
    """``part`` (a reporter or an upload trigger): its rule invokes its function, failures go to its queue."""
    rule_lid, function_lid = logical_id(part.rule), logical_id(part.function)
    queue_lid = logical_id(part.dead_letter_queue)
    (target,) = props(synth.json, rule_lid)["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [function_lid, "Arn"]}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_lid, "Arn"]}}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 6 * 3600}
    assert not {"Input", "InputPath", "InputTransformer", "RoleArn"} & set(target)
    # the function accepts the rule's invocations (and nobody else's)
    permissions = [r["Properties"] for r in resources(synth.json, "AWS::Lambda::Permission").values()
                   if r["Properties"]["FunctionName"] == {"Fn::GetAtt": [function_lid, "Arn"]}]
    assert permissions == [{"Action": "lambda:InvokeFunction", "FunctionName": {"Fn::GetAtt": [function_lid, "Arn"]},
                            "Principal": "events.amazonaws.com", "SourceArn": {"Fn::GetAtt": [rule_lid, "Arn"]}}]
    # asynchronous invocations that fail land in the same queue
    assert props(synth.json, function_lid)["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": [queue_lid, "Arn"]}}


@pytest.mark.parametrize("which, name", WITH_TOPIC + WITHOUT_TOPIC)
def test_reporter_rule_targets_the_reporter_with_a_dead_letter_queue_and_retries(request, which, name):
    synth = _synth(request, which)
    _assert_targets_function_with_dead_letters(synth, synth.parts[name].outcome_reporter)


def _expected_reporter_statements(wf, *, audit: str | None, topic: bool) -> list[tuple]:
    reporter = wf.outcome_reporter
    expected = [
        # JobFunction: its own log group only
        _statement(["logs:CreateLogStream", "logs:PutLogEvents"], ["${%s.Arn}" % logical_id(reporter.function.log_group)]),
        # Lambda's asynchronous-invocation dead-letter queue (JobFunction's dead_letter_queue): its own queue only
        _statement(["sqs:SendMessage"], ["${%s.Arn}" % logical_id(reporter.dead_letter_queue)]),
        _statement(["states:DescribeExecution", "states:GetExecutionHistory"],
                   [EXECUTIONS % logical_id(wf.state_machine)]),
        _statement(["events:PutEvents"], [DEFAULT_BUS], EVENT_SOURCE_CONDITION),
    ]
    if audit is not None:
        expected.append(_statement(["s3:PutObject"], [audit]))
    if topic:
        expected += [
            _statement(["sns:Publish"], ["${%s}" % logical_id(wf.topic)]),
            _statement(["kms:Decrypt", "kms:GenerateDataKey"],
                       ["${%s.Arn}" % logical_id(wf.topic.master_key)]),
        ]
    return sorted(expected)


def _reporter_statements(synth, wf) -> list[dict]:
    reporter = wf.outcome_reporter
    role_lid = logical_id(reporter.function.role)
    assert function_role_lid(synth.json, logical_id(reporter.function)) == role_lid
    role = props(synth.json, role_lid)
    assert "ManagedPolicyArns" not in role and "Policies" not in role
    assert [s["Principal"] for s in role["AssumeRolePolicyDocument"]["Statement"]] == [
        {"Service": "lambda.amazonaws.com"}]
    statements = role_statements(synth.json, role_lid)
    assert all(s["Effect"] == "Allow" for s in statements)
    assert not any(a == "*" or a.endswith(":*") for s in statements for a in actions(s)), statements
    return statements


@pytest.mark.parametrize("which, name", WITH_TOPIC + WITHOUT_TOPIC)
def test_reporter_permissions_are_exactly_what_it_needs(request, which, name):
    synth = _synth(request, which)
    wf = synth.parts[name]
    audit = "${%s.Arn}/audit/*" % logical_id(wf.bucket) if name == "deletion" else None
    assert _normalized(_reporter_statements(synth, wf)) == _expected_reporter_statements(
        wf, audit=audit, topic=wf.topic is not None)


@pytest.mark.parametrize("which, name", WITH_TOPIC + WITHOUT_TOPIC)
def test_reporter_environment(request, which, name):
    synth = _synth(request, which)
    wf = synth.parts[name]
    variables = props(synth.json, logical_id(wf.outcome_reporter.function))["Environment"]["Variables"]
    expected = {"WORKFLOW": {"deletion": "data-deletion", "export": "audience-export"}[name]}
    if wf.topic is not None:
        expected["TOPIC_ARN"] = {"Ref": logical_id(wf.topic)}
    if name == "deletion":
        expected.update({"AUDIT_BUCKET": {"Ref": logical_id(wf.bucket)}, "AUDIT_PREFIX": "audit/"})
        assert wf.audit_prefix == "audit/"
    assert variables == expected


@pytest.mark.parametrize("which", ["sample", "own_topics", "export_narrowed"])
def test_export_reporter_has_no_s3_permission_and_no_audit_bucket(request, which):
    synth = _synth(request, which)
    export = synth.parts["export"]
    statements = _reporter_statements(synth, export)
    assert not [s for s in statements if any(a.startswith("s3:") for a in actions(s))]
    variables = props(synth.json, logical_id(export.outcome_reporter.function))["Environment"]["Variables"]
    assert not {"AUDIT_BUCKET", "AUDIT_PREFIX"} & set(variables)


@pytest.mark.parametrize("which", ["sample", "sample_with_triggers", "own_topics", "deletion_only", "custom_prefixes",
                                   "imported_bucket_deletion"])
def test_no_role_may_put_objects_outside_the_audit_prefix(request, which):
    """Only the deletion reporter writes objects, and only its audit records."""
    synth = _synth(request, which)
    deletion = synth.parts["deletion"]
    bucket = ("arn:${AWS::Partition}:s3:::%s" % IMPORTED_BUCKET_NAME if which == "imported_bucket_deletion"
              else "${%s.Arn}" % logical_id(deletion.bucket))
    identity = [s for r in resources(synth.json, "AWS::IAM::Policy").values()
                for s in as_list(r["Properties"]["PolicyDocument"]["Statement"])]
    puts = [s for s in identity if any(a in ("*", "s3:*") or a.startswith("s3:PutObject") for a in actions(s))]
    assert [resource_strings(s) for s in puts] == [[f"{bucket}/{deletion.audit_prefix}*"]]
    assert puts[0]["Sid"] == "WriteAuditRecords"


def test_custom_audit_prefix_is_used_for_permissions_and_environment(custom_prefixes):
    deletion = custom_prefixes.parts["deletion"]
    assert deletion.audit_prefix == "gdpr-audit/"
    variables = props(custom_prefixes.json, logical_id(deletion.outcome_reporter.function))[
        "Environment"]["Variables"]
    assert variables["AUDIT_PREFIX"] == "gdpr-audit/"
    assert variables["AUDIT_BUCKET"] == {"Ref": logical_id(deletion.bucket)}


def test_create_outcome_reporter_false_creates_no_reporter(no_operations):
    for wf in _workflows(no_operations):
        assert wf.outcome_reporter is None
    no_operations.template.resource_count_is("AWS::Events::Rule", 0)
    no_operations.template.resource_count_is("AWS::SQS::Queue", 0)
    no_operations.template.resource_count_is("AWS::Lambda::Permission", 0)
    no_operations.template.resource_count_is("AWS::Lambda::Function", 3 + 3)
    # (the access-log bucket's policy still lets S3 server access logging put its log files)
    granted = {a for r in resources(no_operations.json, "AWS::IAM::Policy").values()
               for s in as_list(r["Properties"]["PolicyDocument"]["Statement"]) for a in actions(s)}
    assert "personalize:CreateDataDeletionJob" in granted
    assert not {"events:PutEvents", "states:DescribeExecution", "states:GetExecutionHistory", "s3:PutObject",
                "sns:Publish"} & granted


# --------------------------------------------------------------------------- dead-letter queues


@pytest.mark.parametrize("which", ["sample_with_triggers", "own_topics", "custom_prefixes"])
def test_dead_letter_queues_are_sse_sqs_tls_only_and_reasoned(request, which):
    synth = _synth(request, which)
    parts = [p for wf in _workflows(synth) for p in (wf.outcome_reporter, getattr(wf, "upload_trigger", None))
             if p is not None]
    queue_lids = {logical_id(p.dead_letter_queue): logical_id(p.rule) for p in parts}
    assert set(resources(synth.json, "AWS::SQS::Queue")) == set(queue_lids)
    acknowledged = {(logical_id(c), rule.removeprefix("Annotation::")) for c, rule, _ in acknowledgments(synth.stack)
                    if isinstance(c, cdk.CfnResource) or isinstance(c.node.default_child, cdk.CfnResource)}
    for queue_lid, rule_lid in queue_lids.items():
        queue = synth.json["Resources"][queue_lid]
        assert queue["Properties"] == {"SqsManagedSseEnabled": True, "MessageRetentionPeriod": 14 * 86400}
        (skip,) = queue["Metadata"]["checkov"]["skip"]
        assert skip["id"] == "CKV_AWS_27" and "SSE-SQS" in skip["comment"]
        assert (queue_lid, "AwsSolutions-SQS3") in acknowledged
        policies = [r["Properties"]["PolicyDocument"] for r in resources(synth.json, "AWS::SQS::QueuePolicy").values()
                    if r["Properties"]["Queues"] == [{"Ref": queue_lid}]]
        assert len(policies) == 1
        statements = as_list(policies[0]["Statement"])
        (deny,) = [s for s in statements if s["Effect"] == "Deny"]
        assert actions(deny) == ["sqs:*"] and deny["Principal"] == {"AWS": "*"}
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        # EventBridge may send this queue the failed deliveries of its own rule, nothing else
        (allow,) = [s for s in statements if s["Effect"] == "Allow"]
        assert allow["Principal"] == {"Service": "events.amazonaws.com"}
        assert actions(allow) == ["sqs:SendMessage"]
        assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_lid, "Arn"]}}}
        assert resource_strings(allow) == ["${%s.Arn}" % queue_lid]


# --------------------------------------------------------------------------- DeletionUploadTrigger

#: (stack, {prefix: dataset group}) of the compositions with upload triggers on a bucket created in the app.
TRIGGER_STACKS = {
    "sample_with_triggers": {TRIGGER_PREFIX: TRIGGER_DATASET_GROUP_ARN},
    "own_topics": {TRIGGER_PREFIX: TRIGGER_DATASET_GROUP_ARN},
    "custom_prefixes": {"gdpr/user-ids/shop/": DATASET_GROUP_ARN, "gdpr/user-ids/books/": OTHER_GROUP_ARN},
}


@pytest.mark.parametrize("which", sorted(TRIGGER_STACKS))
def test_bucket_sends_its_events_to_eventbridge(request, which):
    synth = _synth(request, which)
    bucket_lid = logical_id(synth.parts["deletion"].bucket)
    assert props(synth.json, bucket_lid)["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    # plain CloudFormation: no notification custom resource that could overwrite it
    synth.template.resource_count_is("Custom::S3BucketNotifications", 0)
    others = [lid for lid in resources(synth.json, "AWS::S3::Bucket") if lid != bucket_lid]
    assert all("NotificationConfiguration" not in props(synth.json, lid) for lid in others)


@pytest.mark.parametrize("which", ["sample", "deletion_only"])
def test_bucket_notifications_stay_off_without_upload_triggers(request, which):
    synth = _synth(request, which)
    assert synth.parts["deletion"].upload_trigger is None
    for lid in resources(synth.json, "AWS::S3::Bucket"):
        assert "NotificationConfiguration" not in props(synth.json, lid), lid
    rules = [r["Properties"]["EventPattern"]["source"] for r in resources(synth.json, "AWS::Events::Rule").values()]
    assert ["aws.s3"] not in rules


@pytest.mark.parametrize("which", sorted(TRIGGER_STACKS))
def test_upload_rule_matches_objects_created_under_the_trigger_prefixes(request, which):
    synth = _synth(request, which)
    deletion = synth.parts["deletion"]
    rule = props(synth.json, logical_id(deletion.upload_trigger.rule))
    assert rule["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [{"Ref": logical_id(deletion.bucket)}]},
                   "object": {"key": [{"prefix": p} for p in sorted(TRIGGER_STACKS[which])]}},
    }
    assert rule["State"] == "ENABLED"
    assert "EventBusName" not in rule  # S3 sends its events to the default bus
    _assert_targets_function_with_dead_letters(synth, deletion.upload_trigger)


def test_upload_rule_on_an_imported_bucket_matches_its_name(imported_with_triggers):
    deletion = imported_with_triggers.parts["deletion"]
    pattern = props(imported_with_triggers.json, logical_id(deletion.upload_trigger.rule))["EventPattern"]
    assert pattern["detail"] == {"bucket": {"name": [IMPORTED_BUCKET_NAME]},
                                 "object": {"key": [{"prefix": TRIGGER_PREFIX}]}}


@pytest.mark.parametrize("which", sorted(TRIGGER_STACKS))
def test_trigger_function_environment(request, which):
    synth = _synth(request, which)
    deletion = synth.parts["deletion"]
    variables = props(synth.json, logical_id(deletion.upload_trigger.function))["Environment"]["Variables"]
    assert set(variables) == {"UPLOAD_TRIGGERS", "STATE_MACHINE_ARN"}
    assert isinstance(variables["UPLOAD_TRIGGERS"], str)
    assert json.loads(variables["UPLOAD_TRIGGERS"]) == TRIGGER_STACKS[which]
    assert variables["STATE_MACHINE_ARN"] == {"Ref": logical_id(deletion.state_machine)}


@pytest.mark.parametrize("which", sorted(TRIGGER_STACKS))
def test_trigger_may_only_start_the_deletion_state_machine(request, which):
    synth = _synth(request, which)
    deletion = synth.parts["deletion"]
    trigger = deletion.upload_trigger
    role_lid = logical_id(trigger.function.role)
    assert function_role_lid(synth.json, logical_id(trigger.function)) == role_lid
    role = props(synth.json, role_lid)
    assert "ManagedPolicyArns" not in role and "Policies" not in role
    statements = role_statements(synth.json, role_lid)
    assert all(s["Effect"] == "Allow" for s in statements)
    assert _normalized(statements) == sorted([
        _statement(["logs:CreateLogStream", "logs:PutLogEvents"], ["${%s.Arn}" % logical_id(trigger.function.log_group)]),
        _statement(["sqs:SendMessage"], ["${%s.Arn}" % logical_id(trigger.dead_letter_queue)]),
        _statement(["states:StartExecution"], ["${%s}" % logical_id(deletion.state_machine)]),
    ])
    # and nobody else in the template may start a deletion
    starters = [s for s in all_statements(synth.json) if "states:StartExecution" in actions(s)]
    assert len(starters) == 1, starters


def test_sample_app_with_triggers_has_one_trigger_and_one_more_function(sample, sample_with_triggers):
    deletion = sample_with_triggers.parts["deletion"]
    assert set(operations_functions(deletion)) == {"reporter", "trigger"}
    assert set(operations_functions(sample.parts["deletion"])) == {"reporter"}
    assert (len(resources(sample_with_triggers.json, "AWS::Lambda::Function"))
            == len(resources(sample.json, "AWS::Lambda::Function")) + 1)


def test_imported_bucket_with_upload_triggers_gets_a_warning(imported_with_triggers, imported_bucket_deletion):
    trigger = imported_with_triggers.parts["deletion"].upload_trigger
    warnings = Annotations.from_stack(imported_with_triggers.stack).find_warning(
        "/" + trigger.node.path, Match.string_like_regexp("cdk-ml-data-jobs:eventBridgeNotAdded"))
    assert len(warnings) == 1, [w.entry.data for w in warnings]
    message = str(warnings[0].entry.data)
    assert IMPORTED_BUCKET_NAME in message and "EventBridge" in message
    # the trigger is still created; the bucket cannot be changed from here
    imported_with_triggers.template.resource_count_is("AWS::S3::Bucket", 0)
    assert "NotificationConfiguration" not in json.dumps(imported_with_triggers.json)
    # no warning without upload triggers
    assert Annotations.from_stack(imported_bucket_deletion.stack).find_warning(
        "*", Match.string_like_regexp("eventBridgeNotAdded")) == []


def test_upload_triggers_keep_eventbridge_on_when_the_bucket_also_has_cdk_notifications(
        bucket_with_cdk_notifications):
    """CDK applies ``add_event_notification`` with a custom resource that *replaces* the bucket's whole
    notification configuration (PutBucketNotificationConfiguration) after the bucket is created: whatever
    sends the bucket's events to EventBridge must be part of that configuration, or it is switched off again
    at deployment and uploads never start a deletion."""
    synth = bucket_with_cdk_notifications
    bucket_lid = logical_id(synth.parts["bucket"])
    (custom,) = [r["Properties"] for r in resources(synth.json, "Custom::S3BucketNotifications").values()
                 if r["Properties"]["BucketName"] == {"Ref": bucket_lid}]
    assert custom["Managed"] is True
    assert "QueueConfigurations" in custom["NotificationConfiguration"]
    assert "EventBridgeConfiguration" in custom["NotificationConfiguration"], (
        "the bucket's EventBridge notifications are set on AWS::S3::Bucket only: "
        f"{props(synth.json, bucket_lid).get('NotificationConfiguration')}, overwritten by {custom}")


# --------------------------------------------------------------------------- props


def test_deletion_props_error_lists_every_operations_problem_at_once():
    stack = _throwaway_stack()
    topic = sns.Topic.from_topic_arn(stack, "Mine", "arn:aws:sns:us-east-1:111122223333:mine")
    with pytest.raises(PropsError) as raised:
        DataDeletionWorkflow(stack, "Deletion",
                             upload_triggers={"elsewhere/": DATASET_GROUP_ARN, "deletions/no-slash": DATASET_GROUP_ARN,
                                              "deletions/fine/": DATASET_GROUP_ARN},
                             audit_prefix="deletions/audit/",
                             topic=topic, create_topic=True)
    problems = raised.value.problems
    expected_subjects = ["'elsewhere/'", "'deletions/no-slash'", "audit_prefix", "create_topic"]
    for subject in expected_subjects:
        assert sum(subject in p for p in problems) == 1, (subject, problems)
        assert subject in str(raised.value)
    assert len(problems) == len(expected_subjects), problems
    assert not any("deletions/fine/" in p for p in problems), problems
    assert all("deletion_prefix" in p for p in problems if "upload_triggers" in p)
    assert f"{len(problems)} invalid prop" in str(raised.value)


def test_deletion_props_error_for_empty_upload_triggers_and_an_equal_audit_prefix():
    with pytest.raises(PropsError) as raised:
        DataDeletionWorkflow(_throwaway_stack(), "Deletion", upload_triggers={}, audit_prefix="deletions/")
    problems = raised.value.problems
    assert len(problems) == 2, problems
    assert any("upload_triggers" in p and "empty" in p for p in problems)
    assert any("audit_prefix" in p and "deletion_prefix" in p for p in problems)


@pytest.mark.parametrize("deletion_prefix, audit_prefix", [
    ("deletions/", "deletions/audit/"),        # audit records under the expiring prefix
    ("audit/user-ids/", "audit/"),             # user-ID files under the audit prefix
    ("records/", "records/"),
])
def test_audit_prefix_must_not_overlap_the_deletion_prefix(deletion_prefix, audit_prefix):
    with pytest.raises(PropsError) as raised:
        DataDeletionWorkflow(_throwaway_stack(), "Deletion", deletion_prefix=deletion_prefix, audit_prefix=audit_prefix)
    assert len(raised.value.problems) == 1, raised.value.problems
    assert "audit_prefix" in raised.value.problems[0] and "deletion_prefix" in raised.value.problems[0]


def test_audit_prefix_sharing_only_leading_characters_is_accepted(custom_prefixes):
    """``gdpr-audit/`` and ``gdpr/user-ids/`` share ``gdpr`` but no key can be under both."""
    assert custom_prefixes.parts["deletion"].audit_prefix == "gdpr-audit/"


def test_export_props_error_for_a_topic_and_create_topic():
    stack = _throwaway_stack()
    topic = sns.Topic.from_topic_arn(stack, "Mine", "arn:aws:sns:us-east-1:111122223333:mine")
    with pytest.raises(PropsError) as raised:
        AudienceExportWorkflow(stack, "Export", topic=topic, create_topic=True,
                               poll_growth=0)
    problems = raised.value.problems
    assert len(problems) == 2, problems
    assert any("topic cannot be combined with create_topic" in p for p in problems)
    assert any("poll_growth" in p for p in problems)


# --------------------------------------------------------------------------- lifecycle versus audit records

#: Lifecycle actions that delete current or previous versions of objects.
EXPIRING = ("ExpirationInDays", "ExpirationDate", "NoncurrentVersionExpiration", "NoncurrentVersionExpirationInDays")


def _rule_prefix(rule: dict) -> str:
    if "Prefix" in rule:
        return rule["Prefix"]
    return rule.get("Filter", {}).get("Prefix", "")


@pytest.mark.parametrize("which", ["sample", "sample_with_triggers", "own_topics", "deletion_only", "custom_prefixes"])
def test_lifecycle_expires_user_id_files_but_never_audit_records(request, which):
    synth = _synth(request, which)
    deletion = synth.parts["deletion"]
    audit, user_ids = deletion.audit_prefix, deletion.data_access.deletion_prefix
    rules = props(synth.json, logical_id(deletion.bucket))["LifecycleConfiguration"]["Rules"]
    expiring = [r for r in rules if r["Status"] == "Enabled" and set(EXPIRING) & set(r)]
    assert [_rule_prefix(r) for r in expiring] == [user_ids], rules
    for rule in expiring:
        prefix = _rule_prefix(rule)
        assert not audit.startswith(prefix), (audit, rule)
        assert not rule.get("Filter", {}).get("TagFilters") and "TagFilters" not in rule
    # the bucket-wide rule only clears delete markers left without versions; it deletes no data
    for rule in rules:
        if not _rule_prefix(rule):
            assert not set(EXPIRING) & set(rule) and "Transitions" not in rule, rule

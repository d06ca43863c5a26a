"""Least privilege, evaluated: what the code does is allowed, what it must not do is refused, and every
statement of every function's policy is needed."""

from __future__ import annotations

import json

import pytest

from tests.harness import iam_evaluation as iam

from . import scenarios



# ---- what the code does is allowed ---------------------------------------------------------------------
def test_the_scenarios_ran_every_path(recording):
    assert recording.statuses == {
        "deletion": "SUCCEEDED", "folder": "SUCCEEDED", "adopted": "SUCCEEDED", "job-fails": "FAILED",
        "rejected": "FAILED", "triggered": "SUCCEEDED", "export": "SUCCEEDED", "export-unreadable-model": "SUCCEEDED",
    }
    operations = {(c.service, c.operation) for c in recording.calls}
    assert {("s3", "ListObjectsV2"), ("personalize", "ListDataDeletionJobs"), ("stepfunctions", "StartExecution"),
            ("cleanroomsml", "GetConfiguredAudienceModel"), ("s3", "PutObject")} <= operations


def test_every_recorded_call_is_allowed(decisions):
    recorded = [d for d in decisions if d.request.kind in ("call", "dependent", "runtime")]
    assert len(recorded) > 50
    assert iam.failures(recorded) == [], iam.failure_report(recorded)
    assert [(d.request.source, d.ignored_context_keys) for d in decisions if d.ignored_context_keys] == []


def test_every_service_path_is_allowed_and_step_functions_invokes_only_its_functions(decisions):
    paths = [d for d in decisions if d.request.kind in ("service", "refused")]
    assert iam.failures(paths) == [], iam.failure_report(paths)


def test_personalize_assumes_the_data_access_role_and_reads_each_input(decisions, recording):
    jobs = [c for c in recording.calls if c.operation == "CreateDataDeletionJob" and not c.error]
    assert len(jobs) >= 3
    personalize = [d for d in decisions if d.request.source.startswith("Personalize job")]
    assumed = [d for d in personalize if d.request.action == "sts:AssumeRole"]
    assert len(assumed) == len(jobs) and all(d.allowed for d in assumed)
    assert all(d.request.context["aws:SourceArn"].startswith("arn:aws:personalize:") for d in assumed)
    reads = {(d.request.principal, d.request.resource) for d in personalize if d.request.action == "s3:GetObject"}
    keys = {r.rsplit(":::", 1)[1].split("/", 1)[1] for _, r in reads}
    assert {"deletions/2026-12/users.csv", "deletions/batch/a.csv", "deletions/batch/sub/b.csv"} <= keys
    assert {p for p, _ in reads} >= {"personalize.amazonaws.com"}  # and the role session
    assert all(d.allowed for d in personalize)


def test_no_user_id_is_recorded(recording):
    text = json.dumps([c.__dict__ for c in recording.calls])
    assert not [u for u in scenarios.USER_IDS if u in text]


# ---- coverage comes from the template ---------------------------------------------------------------
def test_every_function_in_the_template_ran_and_its_calls_were_evaluated(decisions, policies):
    functions = set(policies.of_type("AWS::Lambda::Function"))
    evaluated = {d.request.source.split(" ", 1)[0] for d in decisions if d.request.kind == "call"}
    assert functions - evaluated == set(), "functions whose AWS calls no scenario evaluated"
    runtime = {d.request.source.split(" ", 1)[0] for d in decisions if d.request.kind == "runtime"}
    assert functions <= runtime


def test_every_state_machine_task_was_evaluated_as_an_invocation(decisions, policies):
    for machine_id, resource in policies.of_type("AWS::StepFunctions::StateMachine").items():
        definition = json.loads(policies.resolver.resolve(resource["Properties"]["DefinitionString"]))
        tasks = iam.task_functions(definition)
        assert tasks, machine_id
        invoked = {d.request.resource for d in decisions if d.request.source == f"{machine_id} Task" and d.allowed
                   and d.request.action == "lambda:InvokeFunction"}
        assert invoked == set(tasks)


def test_every_rule_target_and_alarm_action_was_evaluated(decisions, policies):
    sources = {d.request.source.split(" ", 1)[0] for d in decisions if d.request.kind == "service" and d.allowed}
    assert set(policies.of_type("AWS::Events::Rule")) <= sources
    assert set(policies.of_type("AWS::CloudWatch::Alarm")) <= sources


# ---- what must be refused ---------------------------------------------------------------------------
def test_requests_outside_each_functions_scope_are_refused(iam_simulator, policies):
    refused = scenarios.refusals(policies)
    assert len(refused) > 20
    decisions = iam.evaluate(iam_simulator, refused, policies.account)
    assert iam.failures(decisions) == [], iam.failure_report(decisions)


def test_outside_the_narrowed_allow_lists_is_refused(iam_simulator, narrowed_policies):
    policies = narrowed_policies
    requests = []
    for launch in scenarios.functions(policies, "deletion_launch.handler"):
        role = policies.function_role(launch)
        for group, expect in ((scenarios.OTHER_GROUP, "Denied"), (scenarios.GROUP, "Allowed")):
            requests.append(iam.role_request(policies, f"{launch} CreateDataDeletionJob", role, launch,
                                             "personalize:CreateDataDeletionJob", group, {}, expect=expect,
                                             kind="refused"))
    for start in scenarios.functions(policies, "export_start.handler"):
        role = policies.function_role(start)
        other = scenarios.ALLOWED_GENERATION_JOB.replace("/allowed", "/someone-elses")
        for job, expect in ((other, "Denied"), (scenarios.ALLOWED_GENERATION_JOB, "Allowed")):
            for action in ("cleanrooms-ml:StartAudienceExportJob", "cleanrooms-ml:ListAudienceExportJobs"):
                requests.append(iam.role_request(policies, f"{start} {action}", role, start, action, job, {},
                                                 expect=expect, kind="refused"))
    for validate in scenarios.functions(policies, "export_validate.handler"):
        role = policies.function_role(validate)
        requests.append(iam.role_request(policies, f"{validate} GetAudienceGenerationJob", role, validate,
                                         "cleanrooms-ml:GetAudienceGenerationJob",
                                         scenarios.ALLOWED_GENERATION_JOB.replace("/allowed", "/other"), {},
                                         expect="Denied", kind="refused"))
    decisions = iam.evaluate(iam_simulator, requests, policies.account)
    assert iam.failures(decisions) == [], iam.failure_report(decisions)


def test_every_request_without_tls_is_refused_by_the_resource_policy(iam_simulator, decisions):
    """Each allowed request on a resource whose policy enforces TLS (buckets, topic, queues), replayed
    over plain HTTP: refused by an explicit deny."""
    replayed = []
    for d in decisions:
        r = d.request
        if d.allowed and r.resource_policy and "aws:SecureTransport" in json.dumps(r.resource_policy):
            replayed.append(iam.Request("refused", f"{r.source} without TLS", r.principal, r.action, r.resource,
                                        {**r.context, "aws:SecureTransport": "false"}, r.role, r.resource_account,
                                        r.resource_policy, expect="Denied", identity_policies=r.identity_policies))
    services = {r.action.split(":")[0] for r in replayed}
    assert {"s3", "sns", "sqs"} <= services
    answers = iam.evaluate(iam_simulator, replayed, "123456789012")
    assert iam.failures(answers) == [], iam.failure_report(answers)
    assert {a.decision for a in answers} == {"ExplicitlyDenied"}


# ---- these tests bite: every statement is needed ---------------------------------------------------------
def _mutants(policies: iam.Policies, decisions: list[iam.Decision]):
    """Per statement of every role that made evaluated requests (the functions' and the data access
    role): the requests of that role that were allowed, and the same under the policies without it."""
    roles = sorted({d.request.role for d in decisions if d.request.role and d.request.kind != "refused"}
                   & (set(policies.of_type("AWS::IAM::Role"))))
    function_roles = {policies.function_role(f) for f in policies.of_type("AWS::Lambda::Function")}
    for role in roles:
        if role not in function_roles and role not in scenarios.data_access_roles(policies):
            continue  # the state machines' roles: their Task invocations are checked above
        mine = [d for d in decisions if d.request.role == role and d.request.kind != "refused"]
        for policy_id, index, statement in policies.statements(role):
            yield role, policy_id, index, statement, mine


def test_deleting_any_statement_of_any_functions_policy_denies_a_recorded_request(iam_simulator, policies,
                                                                                 decisions):
    """Each statement in turn deleted from the synthesized policies: at least one request of its role that
    was as expected is no longer."""
    mutants = list(_mutants(policies, decisions))
    assert len(mutants) >= 20
    survivors = []
    for role, policy_id, index, statement, mine in mutants:
        expected = [d for d in mine if d.as_expected]
        mutated = iam.rebind([d.request for d in expected], iam.without_statement(policies, policy_id, index))
        after = iam.evaluate(iam_simulator, mutated, policies.account)
        if all(a.as_expected for a in after):
            survivors.append(f"{policy_id} statement {index} ({statement.get('Sid', 'no Sid')}): "
                             f"{json.dumps(statement['Action'])}")
    assert survivors == [], "statements no evaluated request needs:\n" + "\n".join(survivors)


def test_outcome_events_are_allowed_only_under_our_source(iam_simulator, policies, decisions):
    """events:source is multivalued for the Service Authorization Reference and single-valued in EventBridge's
    guide: the reporters' ForAllValues + Null condition allows our source under either reading and nothing else."""
    put_events = [d for d in decisions if d.request.action == "events:PutEvents"]
    assert len(put_events) >= 2 and all(d.allowed for d in put_events)
    request = put_events[0].request
    for other in ("not-ours", ["cdk-ml-data-jobs", "not-ours"]):
        wrong = iam.Request(**{**request.__dict__, "context": {**request.context, "events:source": other}})
        [decision] = iam.evaluate(iam_simulator, [wrong], policies.account)
        assert not decision.allowed, other
    missing = iam.Request(**{**request.__dict__, "context": {k: v for k, v in request.context.items()
                                                             if k != "events:source"}})
    [decision] = iam.evaluate(iam_simulator, [missing], policies.account)
    assert not decision.allowed


@pytest.mark.parametrize("handler", ["deletion_validate.handler", "deletion_launch.handler",
                                     "outcome_report.handler"])
def test_a_denied_call_names_the_call_the_missing_action_and_the_closest_statement(iam_simulator, policies,
                                                                                  decisions, handler):
    """What a developer sees when a statement is missing: the first statement of the function's own
    permissions policy deleted, the failure names the call, the action and resource, and the closest
    statement."""
    function = scenarios.functions(policies, handler)[0]
    role = policies.function_role(function)
    statements = [(p, i, s) for p, i, s in policies.statements(role) if "Sid" in s]
    policy_id, index, statement = statements[0]
    mine = [d for d in decisions if d.request.role == role and d.allowed and d.request.kind != "refused"]
    after = iam.evaluate(iam_simulator, iam.rebind([d.request for d in mine],
                                                   iam.without_statement(policies, policy_id, index)),
                         policies.account)
    report = iam.failure_report([a for a in after if not a.allowed])
    denied = [a for a in after if not a.allowed]
    assert denied, f"deleting {statement['Sid']} denied nothing"
    assert function in report and denied[0].request.action in report and denied[0].request.resource in report
    assert "decisive:" in report


# ---- the mapping itself ----------------------------------------------------------------------------------
def test_calls_map_to_actions_resources_and_dependents_from_the_authorization_data(policies, recording):
    mapper = iam.Mapper(policies, iam.CATALOG)
    by_operation: dict = {}
    for call in recording.calls:  # the first of each
        by_operation.setdefault((call.service, call.operation), call)
    head = mapper.requests_for_call(by_operation[("s3", "HeadObject")])
    assert [(r.action, r.resource.split("/", 1)[1]) for r in head] == [("s3:GetObject", "deletions/2026-12/users.csv")]
    [listing] = mapper.requests_for_call(by_operation[("s3", "ListObjectsV2")])
    assert listing.action == "s3:ListBucket" and listing.context["s3:prefix"] == "deletions/batch/"
    [create] = [c for c in recording.calls if c.operation == "CreateDataDeletionJob" and c.params.get("tags")]
    requests = mapper.requests_for_call(create)
    assert {(r.action, r.resource.rsplit(":", 1)[1]) for r in requests} == {
        ("personalize:CreateDataDeletionJob", "dataset-group/shop"),
        ("personalize:CreateDataDeletionJob", "data-deletion-job/iam-deletion"),
        ("iam:PassRole", f"role/{policies.resolver.physical_name(scenarios.data_access_roles(policies)[0])}"),
        ("personalize:TagResource", "data-deletion-job/iam-deletion"),
    }
    [pass_role] = [r for r in requests if r.action == "iam:PassRole"]
    assert pass_role.context["iam:PassedToService"] == "personalize.amazonaws.com"
    put_call = by_operation[("s3", "PutObject")]
    encrypted = iam.AwsCall(put_call.function, "s3", "PutObject", {**put_call.params, "ServerSideEncryption": "aws:kms"})
    [put] = mapper.requests_for_call(encrypted)
    assert put.context["s3:x-amz-server-side-encryption"] == "aws:kms"  # a header's condition key
    [put_events] = mapper.requests_for_call(by_operation[("events", "PutEvents")])
    assert put_events.resource.endswith(":event-bus/default") and put_events.context["events:source"]
    keys = {"Keys": [{"pk": {"S": "R1"}, "sk": {"S": "REQUEST"}}]}
    batch_get = iam.AwsCall(put_call.function, "dynamodb", "BatchGetItem", {"RequestItems": {"ledger": keys,
                                                                                            "archive": keys}})
    assert [(r.action, r.resource.split(":")[-1]) for r in mapper.requests_for_call(batch_get)] == [
        ("dynamodb:BatchGetItem", "table/ledger"), ("dynamodb:BatchGetItem", "table/archive")]  # one per table
    item = {"TableName": "ledger", "Key": keys["Keys"][0]}
    transaction = iam.AwsCall(put_call.function, "dynamodb", "TransactWriteItems", {"TransactItems": [
        {"Update": {**item, "UpdateExpression": "SET a = :a"}}, {"ConditionCheck": {**item, "ConditionExpression": "x"}},
        {"Put": {"TableName": "archive", "Item": keys["Keys"][0]}}]})
    assert [(r.action, r.resource.split(":")[-1]) for r in mapper.requests_for_call(transaction)] == [
        ("dynamodb:UpdateItem", "table/ledger"), ("dynamodb:ConditionCheckItem", "table/ledger"),
        ("dynamodb:PutItem", "table/archive")]  # one per item, as its member's action


def test_a_call_whose_resource_cannot_be_named_fails_loudly(policies, recording):
    call = next(c for c in recording.calls if c.service == "s3")
    unknown = iam.AwsCall(call.function, "s3", "GetBucketLocation", {"Bucket": call.params["Bucket"]})
    mapper = iam.Mapper(policies, iam.CATALOG)
    assert mapper.action_for(unknown) == "GetBucketLocation"
    bogus = iam.AwsCall(call.function, "s3", "WriteGetObjectResponse", {"RequestRoute": "x", "RequestToken": "y"})
    with pytest.raises(AssertionError, match="could be filled|no IAM action"):
        mapper.requests_for_call(bogus)

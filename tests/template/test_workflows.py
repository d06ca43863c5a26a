"""DataDeletionWorkflow and AudienceExportWorkflow: state machines, functions, IAM and the ASL definition."""

from __future__ import annotations

import json

import pytest
import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from aws_cdk import aws_lambda as lambda_
from cdk_ml_data_jobs import AudienceExportWorkflow, DataDeletionWorkflow, PropsError

from .helpers import (
    CONFIGURED_MODEL_ARN,
    DATASET_GROUP_ARN,
    GENERATION_JOB_ARN,
    actions,
    all_statements,
    as_list,
    definition,
    function_role_lid,
    logical_id,
    operations_functions,
    policies_of_role,
    policy_documents,
    props,
    resource_strings,
    resources,
    role_statements,
    statements_with_action,
)

#: The functions of each workflow, by attribute name (``<name>_function``), in step order.
FUNCTIONS = {"deletion": ("validate", "launch", "poll"), "export": ("validate", "launch", "poll")}
#: Which function each Task state runs.
TASK_FUNCTIONS = {
    "deletion": {"Validate": "validate", "Launch": "launch", "CheckJob": "poll"},
    "export": {"Validate": "validate", "Launch": "launch", "CheckJob": "poll"},
}
#: The service actions each function needs (aws-apis.md §1.6 and §2.6); nothing else is allowed.
SERVICE_ACTIONS = {
    ("deletion", "validate"): {"s3:GetObject", "s3:ListBucket"},
    ("deletion", "launch"): {"personalize:CreateDataDeletionJob", "personalize:DescribeDataDeletionJob",
                             "personalize:ListDataDeletionJobs", "iam:PassRole", "personalize:TagResource"},
    ("deletion", "poll"): {"personalize:DescribeDataDeletionJob"},
    ("export", "validate"): {"cleanrooms-ml:GetAudienceGenerationJob", "cleanrooms-ml:GetConfiguredAudienceModel"},
    ("export", "launch"): {"cleanrooms-ml:StartAudienceExportJob", "cleanrooms-ml:ListAudienceExportJobs"},
    ("export", "poll"): {"cleanrooms-ml:ListAudienceExportJobs"},
}
LAMBDA_SERVICE_ERRORS = {"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
                         "Lambda.TooManyRequestsException"}
#: Transient service errors to retry with back-off (aws-apis.md §2.7).
TRANSIENT_ERRORS = {
    "deletion": {"LimitExceededException", "ResourceInUseException"},
    "export": {"ThrottlingException", "InternalServiceException", "ServiceQuotaExceededException"},
}
#: Errors that must never be retried but end the execution with an explanation (aws-apis.md §2.7).
NAMED_ERRORS = {
    "deletion": {"InvalidInput", "InvalidInputException", "ResourceNotFoundException", "TooManyTagsException",
                 "InvalidNextTokenException"},
    "export": {"InvalidInput", "ValidationException", "AccessDeniedException", "ResourceNotFoundException"},
}
#: The environment of each function: exactly the variables its handler reads (lambda/*.py, jobkit/tracker.py).
POLLING_VARIABLES = {"POLL_MIN_WAIT_SECONDS", "POLL_MAX_WAIT_SECONDS", "POLL_GROWTH", "JOB_TIMEOUT_SECONDS"}
ENVIRONMENTS = {
    ("deletion", "validate"): {"DATA_BUCKET", "DELETION_PREFIX", "ALLOWED_DATASET_GROUP_ARNS", "TAGS_ALLOWED"},
    ("deletion", "launch"): POLLING_VARIABLES | {"DATA_ACCESS_ROLE_ARN"},
    ("deletion", "poll"): POLLING_VARIABLES,
    ("export", "validate"): {"ALLOWED_GENERATION_JOB_ARNS"},
    ("export", "launch"): POLLING_VARIABLES,
    ("export", "poll"): POLLING_VARIABLES | {"NOT_LISTED_GRACE_SECONDS"},
}
STATES = {"ReadInput", "Validate", "Launch", "WaitForJob", "CheckJob", "Decide", "Succeeded", "JobDidNotSucceed",
          "ExplainError", "LiftErrorMessage", "HasErrorMessage", "Failed", "FailedWithCause", "FailedWithoutMessage"}
DELETION_JOBS = "arn:${AWS::Partition}:personalize:${AWS::Region}:${AWS::AccountId}:data-deletion-job/*"
DATASET_GROUPS = "arn:${AWS::Partition}:personalize:${AWS::Region}:${AWS::AccountId}:dataset-group/*"
GENERATION_JOBS = "arn:${AWS::Partition}:cleanrooms-ml:${AWS::Region}:${AWS::AccountId}:audience-generation-job/*"
CONFIGURED_MODELS = "arn:${AWS::Partition}:cleanrooms-ml:${AWS::Region}:*:configured-audience-model/*"


def kind(workflow) -> str:
    return "deletion" if isinstance(workflow, DataDeletionWorkflow) else "export"


def functions(workflow) -> dict[str, lambda_.Function]:
    return {name: getattr(workflow, f"{name}_function") for name in FUNCTIONS[kind(workflow)]}


def function_statements(synth, workflow, name) -> list[dict]:
    return role_statements(synth.json, logical_id(functions(workflow)[name].role))


def variables(synth, fn: lambda_.Function) -> dict:
    return props(synth.json, logical_id(fn))["Environment"]["Variables"]


def machine(synth, workflow) -> dict:
    return props(synth.json, logical_id(workflow.state_machine))


# --------------------------------------------------------------------------- stacks


@pytest.fixture(scope="module")
def byo(synth_stack):
    """Bring your own bucket (a plain s3.Bucket) and data access role, narrowed, no tags, a caller role."""

    def build(stack):
        bucket = s3.Bucket(stack, "UserBucket")
        role = iam.Role(stack, "UserRole", assumed_by=iam.ServicePrincipal("personalize.amazonaws.com"))
        deletion = DataDeletionWorkflow(stack, "Deletion", bucket=bucket, data_access_role=role,
                                        dataset_group_arns=[DATASET_GROUP_ARN], allow_tags=False,
                                        deletion_prefix="incoming/")
        caller = iam.Role(stack, "Caller", assumed_by=iam.AccountRootPrincipal())
        deletion.grant_start_execution(caller)
        return {"bucket": bucket, "role": role, "deletion": deletion, "caller": caller}

    return synth_stack("BringYourOwn", build)


@pytest.fixture(scope="module")
def twin_exports(synth_stack):
    """Two workflows of the same kind in one stack."""
    return synth_stack("TwinExports", lambda stack: {
        "a": AudienceExportWorkflow(stack, "ExportA"), "b": AudienceExportWorkflow(stack, "ExportB")})


@pytest.fixture(params=["deletion", "export"])
def workflow(request, sample):
    """(the sample app's synthesis, one of its workflows)."""
    return sample, sample.parts[request.param]


# --------------------------------------------------------------------------- state machine


def test_exactly_one_standard_state_machine_per_workflow(sample, deletion_only, export_narrowed):
    machines = resources(sample.json, "AWS::StepFunctions::StateMachine")
    assert set(machines) == {logical_id(sample.parts["deletion"].state_machine),
                             logical_id(sample.parts["export"].state_machine)}
    assert {m["Properties"]["StateMachineType"] for m in machines.values()} == {"STANDARD"}
    for synth, name in ((deletion_only, "deletion"), (export_narrowed, "export")):
        synth.template.resource_count_is("AWS::StepFunctions::StateMachine", 1)
        synth.template.has_resource_properties("AWS::StepFunctions::StateMachine", {"StateMachineType": "STANDARD"})
        assert set(resources(synth.json, "AWS::StepFunctions::StateMachine")) == {
            logical_id(synth.parts[name].state_machine)}


def test_execution_logging_is_all_to_a_vendedlogs_log_group(workflow):
    synth, wf = workflow
    logging = machine(synth, wf)["LoggingConfiguration"]
    assert logging["Level"] == "ALL"
    assert logging["IncludeExecutionData"] is True
    log_lid = logical_id(wf.log_group)
    assert logging["Destinations"] == [{"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": [log_lid, "Arn"]}}}]
    name = props(synth.json, log_lid)["LogGroupName"]
    assert isinstance(name, str) and name.startswith("/aws/vendedlogs/states/") and len(name) > 23


def test_two_workflows_in_one_stack_log_to_different_groups(sample, twin_exports):
    for synth, (a, b) in ((sample, ("deletion", "export")), (twin_exports, ("a", "b"))):
        names = [props(synth.json, logical_id(synth.parts[k].log_group))["LogGroupName"] for k in (a, b)]
        assert all(n.startswith("/aws/vendedlogs/states/") for n in names)
        assert names[0] != names[1], names


def test_xray_tracing_is_enabled(workflow):
    synth, wf = workflow
    assert machine(synth, wf)["TracingConfiguration"] == {"Enabled": True}


def test_deletion_state_machine_outlasts_72_hours_plus_a_margin(sample):
    timeout = definition(sample.json, logical_id(sample.parts["deletion"].state_machine))["TimeoutSeconds"]
    assert timeout >= 72 * 3600 + 30 * 60, timeout


def test_state_machine_timeout_exceeds_the_job_timeout_of_its_functions(workflow):
    synth, wf = workflow
    timeout = definition(synth.json, logical_id(wf.state_machine))["TimeoutSeconds"]
    following = {name: int(variables(synth, fn)["JOB_TIMEOUT_SECONDS"]) for name, fn in functions(wf).items()
                 if "JOB_TIMEOUT_SECONDS" in ENVIRONMENTS[(kind(wf), name)]}
    assert len(following) == 2, following  # the functions that start and check the job
    assert all(timeout > job_timeout for job_timeout in following.values()), (timeout, following)


def test_every_function_gets_exactly_the_environment_its_handler_reads(workflow):
    synth, wf = workflow
    for name, fn in functions(wf).items():
        assert set(variables(synth, fn)) == ENVIRONMENTS[(kind(wf), name)], name


# --------------------------------------------------------------------------- functions and their roles


def test_functions_are_arm64_python_3_14(workflow):
    synth, wf = workflow
    for name, fn in {**functions(wf), **operations_functions(wf)}.items():
        function = props(synth.json, logical_id(fn))
        assert function["Architectures"] == ["arm64"], name
        assert function["Runtime"] == "python3.14", name


@pytest.mark.parametrize("which, count", [("sample", 3 + 3 + 2), ("sample_with_triggers", 3 + 3 + 2 + 1)])
def test_every_function_has_its_own_role_and_log_group(request, which, count):
    """The three step functions of each workflow, plus each outcome reporter and the upload trigger (when set)."""
    synth = request.getfixturevalue(which)
    all_functions = [fn for k in ("deletion", "export")
                     for fn in (*functions(synth.parts[k]).values(), *operations_functions(synth.parts[k]).values())]
    lambda_ids = set(resources(synth.json, "AWS::Lambda::Function"))
    assert {logical_id(fn) for fn in all_functions} == lambda_ids
    roles = {function_role_lid(synth.json, logical_id(fn)) for fn in all_functions}
    assert roles == {logical_id(fn.role) for fn in all_functions}
    assert len(roles) == len(all_functions) == count
    log_groups = {json.dumps(props(synth.json, logical_id(fn))["LoggingConfig"]["LogGroup"])
                  for fn in all_functions}
    assert log_groups == {json.dumps({"Ref": logical_id(fn.log_group)}) for fn in all_functions}
    assert len(log_groups) == count


def test_function_roles_have_only_own_log_writes_and_their_service_permissions(workflow):
    synth, wf = workflow
    for name, fn in functions(wf).items():
        function_lid = logical_id(fn)
        role_lid = function_role_lid(synth.json, function_lid)
        assert role_lid == logical_id(fn.role)
        role = props(synth.json, role_lid)
        assert "ManagedPolicyArns" not in role, name
        assert "Policies" not in role, name
        assert [s["Principal"] for s in role["AssumeRolePolicyDocument"]["Statement"]] == [
            {"Service": "lambda.amazonaws.com"}]
        log_lid = logical_id(fn.log_group)
        assert props(synth.json, function_lid)["LoggingConfig"]["LogGroup"] == {"Ref": log_lid}

        statements = function_statements(synth, wf, name)
        assert all(s["Effect"] == "Allow" for s in statements)
        log_statements = [s for s in statements if any(a.startswith("logs:") for a in actions(s))]
        assert len(log_statements) == 1, (name, log_statements)
        assert sorted(actions(log_statements[0])) == ["logs:CreateLogStream", "logs:PutLogEvents"]
        assert resource_strings(log_statements[0]) == ["${%s.Arn}" % log_lid]
        service = {a for s in statements if s not in log_statements for a in actions(s)}
        assert service == SERVICE_ACTIONS[(kind(wf), name)], name
        assert not any(a == "*" or a.endswith(":*") for s in statements for a in actions(s)), name


# --------------------------------------------------------------------------- deletion IAM


def test_deletion_launch_statements(sample):
    deletion = sample.parts["deletion"]
    statements = function_statements(sample, deletion, "launch")

    create = statements_with_action(statements, "personalize:CreateDataDeletionJob")
    assert len(create) == 1
    assert set(resource_strings(create[0])) == {DATASET_GROUPS, DELETION_JOBS}

    describe = statements_with_action(statements, "personalize:DescribeDataDeletionJob")
    assert [resource_strings(s) for s in describe] == [[DELETION_JOBS]]
    listing = statements_with_action(statements, "personalize:ListDataDeletionJobs")
    assert [resource_strings(s) for s in listing] == [["*"]]
    tag = statements_with_action(statements, "personalize:TagResource")
    assert [resource_strings(s) for s in tag] == [[DELETION_JOBS]]

    pass_role = statements_with_action(statements, "iam:PassRole")
    assert len(pass_role) == 1
    assert actions(pass_role[0]) == ["iam:PassRole"]
    assert resource_strings(pass_role[0]) == ["${%s.Arn}" % logical_id(deletion.data_access_role)]
    assert pass_role[0]["Condition"] == {"StringEquals": {"iam:PassedToService": "personalize.amazonaws.com"}}


def test_deletion_poll_may_only_describe_deletion_jobs(sample):
    statements = function_statements(sample, sample.parts["deletion"], "poll")
    service = [s for s in statements if not actions(s)[0].startswith("logs:")]
    assert [(actions(s), resource_strings(s)) for s in service] == [
        (["personalize:DescribeDataDeletionJob"], [DELETION_JOBS])]


def test_no_tag_permission_when_tags_are_not_allowed(byo):
    tagging = [s for s in all_statements(byo.json) if "personalize:TagResource" in actions(s)]
    assert tagging == []
    assert variables(byo, byo.parts["deletion"].validate_function)["TAGS_ALLOWED"] == "false"


@pytest.mark.parametrize("which", ["sample", "byo"])
def test_validate_function_reads_only_the_deletion_prefix(which, sample, byo):
    synth = {"sample": sample, "byo": byo}[which]
    deletion = synth.parts["deletion"]
    prefix = "deletions/" if which == "sample" else "incoming/"
    bucket_lid = logical_id(deletion.bucket)
    statements = [s for s in function_statements(synth, deletion, "validate") if actions(s)[0].startswith("s3:")]
    by_action = {tuple(actions(s)): s for s in statements}
    assert set(by_action) == {("s3:GetObject",), ("s3:ListBucket",)}
    assert resource_strings(by_action[("s3:GetObject",)]) == ["${%s.Arn}/%s*" % (bucket_lid, prefix)]
    listing = by_action[("s3:ListBucket",)]
    assert resource_strings(listing) == ["${%s.Arn}" % bucket_lid]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": [f"{prefix}*"]}}


def test_dataset_group_arns_narrow_the_create_permission(byo):
    deletion = byo.parts["deletion"]
    create = statements_with_action(function_statements(byo, deletion, "launch"), "personalize:CreateDataDeletionJob")
    assert len(create) == 1
    assert set(resource_strings(create[0])) == {DATASET_GROUP_ARN, DELETION_JOBS}
    assert "dataset-group/*" not in json.dumps([doc for _, doc in policy_documents(byo.json)])
    assert json.loads(variables(byo, deletion.validate_function)["ALLOWED_DATASET_GROUP_ARNS"]) == [DATASET_GROUP_ARN]


# --------------------------------------------------------------------------- export IAM


def test_no_policy_anywhere_uses_the_sdk_name_cleanroomsml(sample, deletion_only, export_narrowed, twin_exports,
                                                          byo, imported_bucket_deletion, sample_with_triggers,
                                                          own_topics):
    for synth in (sample, deletion_only, export_narrowed, twin_exports, byo, imported_bucket_deletion,
                  sample_with_triggers, own_topics):
        documents = [doc for _, doc in policy_documents(synth.json)]
        assert documents, synth.stack.stack_name
        assert "cleanroomsml:" not in json.dumps(documents), synth.stack.stack_name


@pytest.mark.parametrize("which", ["sample", "export_narrowed"])
def test_export_actions_all_use_the_cleanrooms_ml_iam_prefix(which, sample, export_narrowed):
    synth = {"sample": sample, "export_narrowed": export_narrowed}[which]
    export = synth.parts["export"]
    service = [a for name in FUNCTIONS["export"] for s in function_statements(synth, export, name)
               for a in actions(s) if not a.startswith("logs:")]
    assert len(service) == 5
    assert all(a.startswith("cleanrooms-ml:") for a in service), service


def _export_grants(synth) -> dict[str, set[str]]:
    """action -> resources, over the export workflow's three function roles."""
    export = synth.parts["export"]
    grants: dict[str, set[str]] = {}
    for name in FUNCTIONS["export"]:
        for statement in function_statements(synth, export, name):
            for action in actions(statement):
                if not action.startswith("logs:"):
                    grants.setdefault(action, set()).update(resource_strings(statement))
    return grants


def test_export_permissions_default_scope(sample):
    assert _export_grants(sample) == {
        "cleanrooms-ml:StartAudienceExportJob": {GENERATION_JOBS},
        "cleanrooms-ml:ListAudienceExportJobs": {GENERATION_JOBS},
        "cleanrooms-ml:GetAudienceGenerationJob": {GENERATION_JOBS},
        "cleanrooms-ml:GetConfiguredAudienceModel": {CONFIGURED_MODELS},
    }


def test_export_permissions_narrowed_to_the_given_arns(export_narrowed):
    assert _export_grants(export_narrowed) == {
        "cleanrooms-ml:StartAudienceExportJob": {GENERATION_JOB_ARN},
        "cleanrooms-ml:ListAudienceExportJobs": {GENERATION_JOB_ARN},
        "cleanrooms-ml:GetAudienceGenerationJob": {GENERATION_JOB_ARN},
        "cleanrooms-ml:GetConfiguredAudienceModel": {CONFIGURED_MODEL_ARN},
    }
    validate = export_narrowed.parts["export"].validate_function
    assert json.loads(variables(export_narrowed, validate)["ALLOWED_GENERATION_JOB_ARNS"]) == [GENERATION_JOB_ARN]


def test_export_workflow_never_passes_a_role(sample, export_narrowed):
    export = sample.parts["export"]
    roles = [logical_id(fn.role) for fn in functions(export).values()] + [logical_id(export.state_machine.role)]
    assert not any("iam:PassRole" in actions(s) for r in roles for s in role_statements(sample.json, r))
    assert not any("iam:PassRole" in actions(s) for s in all_statements(export_narrowed.json))


# --------------------------------------------------------------------------- state machine role


@pytest.mark.parametrize("which", ["deletion", "export", "byo"])
def test_state_machine_role_invokes_exactly_its_three_functions(which, sample, byo):
    synth, wf = (byo, byo.parts["deletion"]) if which == "byo" else (sample, sample.parts[which])
    statements = role_statements(synth.json, logical_id(wf.state_machine.role))
    invoke = [s for s in statements if any(a.startswith("lambda:") for a in actions(s))]
    assert all(actions(s) == ["lambda:InvokeFunction"] for s in invoke), invoke
    invoked = [r for s in invoke for r in resource_strings(s)]
    expected = {"${%s.Arn}" % logical_id(fn) for fn in functions(wf).values()}
    assert sorted(invoked) == sorted(expected)
    assert not any(":*" in r or r == "*" for r in invoked), invoked
    # everything else the role may do is X-Ray tracing and log delivery
    others = {a for s in statements if s not in invoke for a in actions(s)}
    assert others and all(a.startswith(("xray:", "logs:")) for a in others), others


# --------------------------------------------------------------------------- ASL definition


def test_definition_states_and_transitions(workflow):
    synth, wf = workflow
    asl = definition(synth.json, logical_id(wf.state_machine))
    states = asl["States"]
    assert set(states) == STATES
    assert asl["StartAt"] == "ReadInput"
    read_input = states["ReadInput"]
    assert (read_input["Type"], read_input["Next"]) == ("Pass", "Validate")
    assert read_input["Parameters"] == {"input.$": "$$.Execution.Input"} and "ResultPath" not in read_input
    # the validate function reads the execution input from the context object: any JSON value reaches it
    assert states["Validate"]["Parameters"] == {"input.$": "$$.Execution.Input", "executionName.$": "$$.Execution.Name"}
    assert all(states[name].get("InputPath", "$") == "$" for name in ("Validate", "Launch", "CheckJob"))
    fns = functions(wf)
    for state, fn_name in TASK_FUNCTIONS[kind(wf)].items():
        assert states[state]["Type"] == "Task"
        assert states[state]["Resource"] == "${%s.Arn}" % logical_id(fns[fn_name]), state
    assert states["Validate"]["Next"] == "Launch"
    assert states["Launch"]["Next"] == "WaitForJob"
    wait = states["WaitForJob"]
    assert wait["Type"] == "Wait"
    assert wait["SecondsPath"] == "$.tracker.waitSeconds"
    assert not {"Seconds", "Timestamp", "TimestampPath"} & set(wait)
    assert wait["Next"] == "CheckJob"
    assert states["CheckJob"]["Next"] == "Decide"
    decide = states["Decide"]
    assert decide["Type"] == "Choice"
    assert {(c["Variable"], c["StringEquals"], c["Next"]) for c in decide["Choices"]} == {
        ("$.tracker.phase", "RUNNING", "WaitForJob"), ("$.tracker.phase", "SUCCEEDED", "Succeeded")}
    assert decide["Default"] == "JobDidNotSucceed"
    assert states["Succeeded"]["Type"] == "Succeed"
    not_succeeded = states["JobDidNotSucceed"]
    assert not_succeeded["Type"] == "Fail"
    assert not_succeeded["ErrorPath"] and not_succeeded["CausePath"]
    explain = states["ExplainError"]
    assert explain["Type"] == "Choice"
    envelope, text = explain["Choices"]
    assert envelope["Next"] == "LiftErrorMessage" and text["Next"] == "FailedWithCause"
    assert {"Variable": "$.failure.Cause", "StringMatches": '{"error*}'} in envelope["And"]
    is_text = {"And": [{"Variable": "$.failure.Cause", "IsPresent": True},
                       {"Variable": "$.failure.Cause", "IsString": True}]}
    assert is_text in envelope["And"] and text == {**is_text, "Next": "FailedWithCause"}
    assert explain["Default"] == "FailedWithoutMessage"
    lift = states["LiftErrorMessage"]
    assert (lift["Type"], lift["Next"], lift["ResultPath"]) == ("Pass", "HasErrorMessage", "$.failure")
    assert lift["Parameters"]["Cause.$"] == "States.StringToJson($.failure.Cause)"
    [has_message] = states["HasErrorMessage"]["Choices"]
    assert has_message["Next"] == "Failed" and states["HasErrorMessage"]["Default"] == "FailedWithoutMessage"
    assert {"Variable": "$.failure.Cause.errorMessage", "IsString": True} in has_message["And"]
    for name, cause_path in (("Failed", "$.failure.Cause.errorMessage"), ("FailedWithCause", "$.failure.Cause")):
        assert states[name]["Type"] == "Fail" and states[name]["ErrorPath"] == "$.failure.Error"
        assert states[name]["CausePath"] == cause_path
    assert states["FailedWithoutMessage"]["ErrorPath"] == "$.failure.Error"
    assert states["FailedWithoutMessage"]["Cause"] and "CausePath" not in states["FailedWithoutMessage"]


def test_every_task_retries_lambda_and_transient_errors_with_full_jitter(workflow):
    synth, wf = workflow
    states = definition(synth.json, logical_id(wf.state_machine))["States"]
    for name in TASK_FUNCTIONS[kind(wf)]:
        retries = states[name]["Retry"]
        retried = {e for r in retries for e in r["ErrorEquals"]}
        assert LAMBDA_SERVICE_ERRORS <= retried, name
        assert TRANSIENT_ERRORS[kind(wf)] <= retried, name
        assert not retried & (NAMED_ERRORS[kind(wf)] | {"States.ALL", "States.TaskFailed"}), name
        for retrier in retries:
            assert retrier["JitterStrategy"] == "FULL", (name, retrier)
            assert retrier["MaxDelaySeconds"] > 0, (name, retrier)
            assert retrier["BackoffRate"] > 1, (name, retrier)
            assert retrier["MaxAttempts"] >= 1, (name, retrier)
            assert retrier["IntervalSeconds"] >= 1, (name, retrier)


def test_every_task_routes_every_error_to_explain_error(workflow):
    """Named or not: States.ALL, after the task's retries (Retry is evaluated before Catch)."""
    synth, wf = workflow
    states = definition(synth.json, logical_id(wf.state_machine))["States"]
    for name in TASK_FUNCTIONS[kind(wf)]:
        assert states[name]["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure",
                                          "Next": "ExplainError"}], name
        assert states[name]["Retry"], name


# --------------------------------------------------------------------------- props, grants, bring your own, attributes


def test_deletion_props_error_lists_every_polling_problem():
    with pytest.raises(PropsError) as raised:
        DataDeletionWorkflow(cdk.Stack(cdk.App(), "Invalid"), "Deletion",
                             min_poll_interval=cdk.Duration.minutes(10), max_poll_interval=cdk.Duration.minutes(1),
                             poll_growth=0, dataset_group_arns=[])
    problems = raised.value.problems
    assert len(problems) == 3, problems
    assert any("max_poll_interval" in p and "min_poll_interval" in p for p in problems)
    assert any("poll_growth" in p for p in problems)
    assert any("dataset_group_arns" in p for p in problems)


def test_export_props_error_lists_every_polling_problem():
    with pytest.raises(PropsError) as raised:
        AudienceExportWorkflow(cdk.Stack(cdk.App(), "Invalid"), "Export",
                               min_poll_interval=cdk.Duration.minutes(10), max_poll_interval=cdk.Duration.minutes(1),
                               poll_growth=0, audience_generation_job_arns=[], configured_audience_model_arns=[])
    problems = raised.value.problems
    assert len(problems) == 4, problems
    assert any("max_poll_interval" in p for p in problems)
    assert any("poll_growth" in p for p in problems)
    assert any("audience_generation_job_arns" in p for p in problems)
    assert any("configured_audience_model_arns" in p for p in problems)


def test_grant_start_execution_lets_a_role_start_the_state_machine(byo):
    statements = role_statements(byo.json, logical_id(byo.parts["caller"]))
    start = statements_with_action(statements, "states:StartExecution")
    assert len(start) == 1
    assert start[0]["Effect"] == "Allow"
    assert start[0]["Resource"] == {"Ref": logical_id(byo.parts["deletion"].state_machine)}


def test_bring_your_own_bucket_and_role_are_used(byo):
    deletion, bucket, role = byo.parts["deletion"], byo.parts["bucket"], byo.parts["role"]
    bucket_lid, role_lid = logical_id(bucket), logical_id(role)
    assert deletion.bucket is bucket
    assert deletion.job_data_bucket is None
    assert deletion.data_access_role is role
    # no second bucket, no second role for Personalize
    assert set(resources(byo.json, "AWS::S3::Bucket")) == {bucket_lid}
    personalize_roles = [lid for lid, r in resources(byo.json, "AWS::IAM::Role").items()
                         if "personalize.amazonaws.com" in json.dumps(r["Properties"]["AssumeRolePolicyDocument"])]
    assert personalize_roles == [role_lid]
    # yours, the caller, 3 functions, the state machine and the outcome reporter (on by default)
    assert set(resources(byo.json, "AWS::IAM::Role")) == {
        role_lid, logical_id(byo.parts["caller"]), *(logical_id(fn.role) for fn in functions(deletion).values()),
        logical_id(deletion.state_machine.role), logical_id(deletion.outcome_reporter.function.role)}
    assert policies_of_role(byo.json, role_lid) == {}, "the library must not change a role you own"
    # nor switch on notifications of a bucket you own when no upload trigger asks for it
    assert "NotificationConfiguration" not in props(byo.json, bucket_lid)
    # the workflow is wired to them
    validate_variables = variables(byo, deletion.validate_function)
    assert validate_variables["DATA_BUCKET"] == {"Ref": bucket_lid}
    assert validate_variables["DELETION_PREFIX"] == "incoming/"
    assert variables(byo, deletion.launch_function)["DATA_ACCESS_ROLE_ARN"] == {"Fn::GetAtt": [role_lid, "Arn"]}
    pass_role = statements_with_action(function_statements(byo, deletion, "launch"), "iam:PassRole")
    assert [resource_strings(s) for s in pass_role] == [["${%s.Arn}" % role_lid]]
    # and Personalize may read your bucket's prefix through its bucket policy
    policies = [r for r in resources(byo.json, "AWS::S3::BucketPolicy").values()
                if r["Properties"]["Bucket"] == {"Ref": bucket_lid}]
    assert len(policies) == 1
    personalize = [s for s in as_list(policies[0]["Properties"]["PolicyDocument"]["Statement"])
                   if s.get("Principal") == {"Service": "personalize.amazonaws.com"}]
    assert len(personalize) == 1
    assert set(resource_strings(personalize[0])) == {"${%s.Arn}" % bucket_lid, "${%s.Arn}/incoming/*" % bucket_lid}
    # the outcome reporter writes its audit records into your bucket, under the audit prefix only
    reporter = role_statements(byo.json, logical_id(deletion.outcome_reporter.function.role))
    assert [resource_strings(s) for s in reporter if any(a.startswith("s3:") for a in actions(s))] == [
        ["${%s.Arn}/audit/*" % bucket_lid]]


def _exposed(workflow) -> dict[str, str]:
    """logical id -> resource type of everything a workflow exposes as an attribute (or an attribute's attribute)."""
    found = {
        logical_id(workflow.state_machine): "AWS::StepFunctions::StateMachine",
        logical_id(workflow.state_machine.role): "AWS::IAM::Role",
        logical_id(workflow.log_group): "AWS::Logs::LogGroup",
    }
    for fn in (*functions(workflow).values(), *operations_functions(workflow).values()):
        found[logical_id(fn)] = "AWS::Lambda::Function"
        found[logical_id(fn.role)] = "AWS::IAM::Role"
        found[logical_id(fn.log_group)] = "AWS::Logs::LogGroup"
    for part in (workflow.outcome_reporter, getattr(workflow, "upload_trigger", None)):
        if part is not None:
            found[logical_id(part.rule)] = "AWS::Events::Rule"
            found[logical_id(part.dead_letter_queue)] = "AWS::SQS::Queue"
    for alarm in workflow.alarms:
        found[logical_id(alarm)] = "AWS::CloudWatch::Alarm"
    topic = workflow.topic
    if topic is not None and topic.node.path.startswith(workflow.node.path + "/"):  # created, not brought
        found[logical_id(topic)] = "AWS::SNS::Topic"
        found[logical_id(topic.master_key)] = "AWS::KMS::Key"
    return found


def test_deletion_workflow_exposes_everything_it_creates(deletion_only):
    deletion = deletion_only.parts["deletion"]
    assert deletion.job_data_bucket is not None
    assert deletion.bucket is deletion.job_data_bucket.bucket
    assert deletion.data_access_role is deletion.data_access.role
    # the defaults: an outcome reporter and three alarms, no topic, no upload trigger
    assert deletion.outcome_reporter is not None and len(deletion.alarms) == 3
    assert deletion.topic is None and deletion.upload_trigger is None
    exposed = _exposed(deletion)
    exposed.update(_deletion_buckets_and_role(deletion))
    _assert_exposes_everything(deletion_only.json, exposed)


def test_export_workflow_exposes_everything_it_creates(export_narrowed):
    export = export_narrowed.parts["export"]
    assert export.outcome_reporter is not None and len(export.alarms) == 3
    assert export.topic is None
    _assert_exposes_everything(export_narrowed.json, _exposed(export))


def test_workflows_with_their_own_topic_and_an_upload_trigger_expose_everything_they_create(own_topics):
    deletion, export = own_topics.parts["deletion"], own_topics.parts["export"]
    assert deletion.upload_trigger is not None
    assert deletion.topic is not None and export.topic is not None
    assert deletion.topic is not export.topic
    exposed = {**_exposed(deletion), **_deletion_buckets_and_role(deletion), **_exposed(export)}
    assert len(resources(own_topics.json, "AWS::SNS::Topic")) == 2
    _assert_exposes_everything(own_topics.json, exposed)


def _deletion_buckets_and_role(deletion) -> dict[str, str]:
    return {logical_id(deletion.bucket): "AWS::S3::Bucket",
            logical_id(deletion.job_data_bucket.log_bucket): "AWS::S3::Bucket",
            logical_id(deletion.data_access_role): "AWS::IAM::Role"}


def _refs(value) -> list[str]:
    """Logical ids referenced (Ref / Fn::GetAtt ... Arn) by a property value or a list of them."""
    found = []
    for item in as_list(value):
        if isinstance(item, dict) and set(item) == {"Ref"}:
            found.append(item["Ref"])
        elif isinstance(item, dict) and set(item) == {"Fn::GetAtt"} and item["Fn::GetAtt"][1] == "Arn":
            found.append(item["Fn::GetAtt"][0])
        else:
            found.append(json.dumps(item))  # never an exposed logical id
    return found


#: Resources that only attach a policy to another resource, and the property naming what they attach to.
#: They are reachable through that resource (e.g. ``bucket.policy``) and are accepted only when it is exposed.
_ATTACHED = {
    "AWS::IAM::Policy": ("Roles", "AWS::IAM::Role"),
    "AWS::S3::BucketPolicy": ("Bucket", "AWS::S3::Bucket"),
    "AWS::SQS::QueuePolicy": ("Queues", "AWS::SQS::Queue"),
    "AWS::SNS::TopicPolicy": ("Topics", "AWS::SNS::Topic"),
}


def _assert_exposes_everything(template: dict, exposed: dict[str, str]) -> None:
    for lid, type_ in exposed.items():
        assert template["Resources"][lid]["Type"] == type_, lid
    created = set()
    for lid, resource in template["Resources"].items():
        type_, properties = resource["Type"], resource.get("Properties", {})
        if type_ in _ATTACHED:
            key, target_type = _ATTACHED[type_]
            targets = _refs(properties[key])
            assert targets and all(exposed.get(t) == target_type for t in targets), (lid, targets)
        elif type_ == "AWS::Lambda::Permission":
            # The resource-based policy statement letting an EventBridge rule invoke its target: created by
            # ``rule.add_target`` under the rule, it is the function's policy (like a bucket policy is the
            # bucket's) and is accepted only when both the function and the rule it names are exposed.
            (function,), (rule,) = _refs(properties["FunctionName"]), _refs(properties["SourceArn"])
            assert exposed.get(function) == "AWS::Lambda::Function", (lid, function)
            assert exposed.get(rule) == "AWS::Events::Rule", (lid, rule)
            assert properties["Principal"] == "events.amazonaws.com", lid
            assert properties["Action"] == "lambda:InvokeFunction", lid
        else:
            created.add(lid)
    # every other resource must be reachable from an attribute
    assert created == set(exposed), created ^ set(exposed)

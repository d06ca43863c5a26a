"""DataDeletionWorkflow with the quiet period and the follow-through on: the definition, functions, IAM, props.

Actions and resource types from the Service Authorization Reference for Amazon Personalize: every List
operation used here (ListSolutions, ListSolutionVersions, ListDatasets, ListDatasetImportJobs,
ListBatchInferenceJobs, ListBatchSegmentJobs, ListCampaigns) supports no resource type ("*");
CreateSolutionVersion and DescribeSolutionVersion take the ``solution`` type (a version's ARN is
``<solution ARN>/<id>``); UpdateCampaign and DescribeCampaign take ``campaign``. None needs iam:PassRole.
"""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest

from cdk_ml_data_jobs import DataDeletionWorkflow, PropsError

from .helpers import (DATASET_GROUP_ARN, SOLUTION_ARNS, actions, all_statements, definition, logical_id, props,
                      resource_strings, role_statements)

LISTS_QUIET = {"personalize:ListSolutions", "personalize:ListSolutionVersions", "personalize:ListDatasets",
               "personalize:ListDatasetImportJobs", "personalize:ListBatchInferenceJobs",
               "personalize:ListBatchSegmentJobs"}
LISTS_FOLLOW = {"personalize:ListSolutions", "personalize:ListSolutionVersions", "personalize:ListDatasets",
                "personalize:ListDatasetImportJobs", "personalize:ListCampaigns"}
CAMPAIGNS = "arn:aws:personalize:us-east-1:111122223333:campaign/*"
NEW_STATES = {"WaitToLaunch", "LaunchAgain", "WaitForFollowThrough", "FollowThrough", "DecideFollowThrough"}


def _service(synth, fn) -> list[dict]:
    return [s for s in role_statements(synth.json, logical_id(fn.role)) if not actions(s)[0].startswith("logs:")]


def _by_sid(statements) -> dict[str, dict]:
    return {s["Sid"]: s for s in statements}


def test_default_definition_has_none_of_the_new_states(sample, deletion_only):
    for synth in (sample, deletion_only):
        deletion = synth.parts["deletion"]
        states = definition(synth.json, logical_id(deletion.state_machine))["States"]
        assert not NEW_STATES & set(states)
        assert deletion.follow_through_function is None
        assert props(synth.json, logical_id(deletion.launch_function))["Handler"] == "deletion_launch.handler"


def test_definition_routes_the_new_phases(models_forget):
    deletion = models_forget.parts["deletion"]
    states = definition(models_forget.json, logical_id(deletion.state_machine))["States"]
    assert NEW_STATES <= set(states)
    assert states["Launch"]["Next"] == "Decide"

    def routes(choice):
        return {c["StringEquals"]: c["Next"] for c in states[choice]["Choices"]}

    assert routes("Decide") == {"RUNNING": "WaitForJob", "WAIT_TO_LAUNCH": "WaitToLaunch",
                                "SUCCEEDED": "FollowThrough"}
    assert routes("DecideFollowThrough") == {"FOLLOW_THROUGH": "WaitForFollowThrough",
                                             "WAIT_TO_LAUNCH": "WaitToLaunch", "SUCCEEDED": "Succeeded"}
    assert states["Decide"]["Default"] == states["DecideFollowThrough"]["Default"] == "JobDidNotSucceed"
    for wait, task in (("WaitToLaunch", "LaunchAgain"), ("WaitForFollowThrough", "FollowThrough")):
        assert states[wait]["SecondsPath"] == "$.tracker.waitSeconds" and states[wait]["Next"] == task
        assert states[task]["Parameters"] == {"request.$": "$.request", "tracker.$": "$.tracker"}
        assert states[task]["ResultPath"] == "$.tracker"
        assert states[task]["Catch"][0]["Next"] == "ExplainError" and states[task]["Retry"]
    assert states["LaunchAgain"]["Resource"] == "${%s.Arn}" % logical_id(deletion.launch_function)
    assert states["LaunchAgain"]["Next"] == "Decide"
    assert states["FollowThrough"]["Resource"] == "${%s.Arn}" % logical_id(deletion.follow_through_function)
    assert states["FollowThrough"]["Next"] == "DecideFollowThrough"


def test_functions_and_their_environment(models_forget):
    deletion = models_forget.parts["deletion"]
    launch = props(models_forget.json, logical_id(deletion.launch_function))
    assert launch["Handler"] == "deletion_quiet_launch.handler"
    assert launch["Environment"]["Variables"]["QUIET_PERIOD_TIMEOUT_SECONDS"] == "21600"
    follow = props(models_forget.json, logical_id(deletion.follow_through_function))
    env = follow["Environment"]["Variables"]
    assert follow["Handler"] == "deletion_follow_through.handler"
    assert env["CHECK_OVERLAP"] == "true" and env["UPDATE_CAMPAIGNS"] == "true"
    assert json.loads(env["RETRAIN_SOLUTION_ARNS"]) == {DATASET_GROUP_ARN: SOLUTION_ARNS}


def test_state_machine_timeout_covers_the_quiet_periods_the_second_job_and_the_training(models_forget):
    deletion = models_forget.parts["deletion"]
    timeout = props(models_forget.json, logical_id(deletion.state_machine))["DefinitionString"]
    hours = json.loads("".join(p for p in timeout["Fn::Join"][1] if isinstance(p, str)))["TimeoutSeconds"] / 3600
    assert hours == 72 + 1 + 2 * 6 + 72 + 72


def test_launch_lists_what_runs_in_the_group_on_star(models_forget):
    statements = _by_sid(_service(models_forget, models_forget.parts["deletion"].launch_function))
    quiet = statements["CheckDatasetGroupIsQuiet"]
    assert set(actions(quiet)) == LISTS_QUIET and resource_strings(quiet) == ["*"]
    assert {"CreateDataDeletionJob", "AdoptExistingJob", "FindJobByName", "PassDataAccessRole",
            "TagNewJobs"} <= set(statements)


def test_follow_through_statements(models_forget):
    deletion = models_forget.parts["deletion"]
    statements = _by_sid(_service(models_forget, deletion.follow_through_function))
    assert set(statements) == {"ListGroupActivity", "TrainSolutionVersions", "FollowSolutionVersions",
                               "UpdateCampaigns"}
    assert set(actions(statements["ListGroupActivity"])) == LISTS_FOLLOW
    assert resource_strings(statements["ListGroupActivity"]) == ["*"]
    assert actions(statements["TrainSolutionVersions"]) == ["personalize:CreateSolutionVersion"]
    assert sorted(resource_strings(statements["TrainSolutionVersions"])) == SOLUTION_ARNS
    assert actions(statements["FollowSolutionVersions"]) == ["personalize:DescribeSolutionVersion"]
    assert sorted(resource_strings(statements["FollowSolutionVersions"])) == [f"{a}/*" for a in SOLUTION_ARNS]
    assert sorted(actions(statements["UpdateCampaigns"])) == ["personalize:DescribeCampaign",
                                                              "personalize:UpdateCampaign"]
    assert resource_strings(statements["UpdateCampaigns"]) == [CAMPAIGNS]


def test_no_new_pass_role(models_forget, deletion_only):
    def passing(synth):
        return [s for s in all_statements(synth.json) if "iam:PassRole" in actions(s)]

    assert len(passing(models_forget)) == len(passing(deletion_only)) == 1
    follow_role = logical_id(models_forget.parts["deletion"].follow_through_function.role)
    assert not [s for s in role_statements(models_forget.json, follow_role) if "iam:PassRole" in actions(s)]


def test_the_state_machine_invokes_the_follow_through_function(models_forget):
    deletion = models_forget.parts["deletion"]
    invoked = [r for s in all_statements(models_forget.json) if "lambda:InvokeFunction" in actions(s)
               for r in resource_strings(s)]
    assert "${%s.Arn}" % logical_id(deletion.follow_through_function) in invoked


@pytest.fixture(scope="module")
def variants(synth_stack):
    def build(stack):
        return {
            "quiet": DataDeletionWorkflow(stack, "Quiet", quiet_period_enabled=True,
                                          quiet_period_timeout=cdk.Duration.hours(1)),
            "retrain": DataDeletionWorkflow(stack, "Retrain", dataset_group_arns=[DATASET_GROUP_ARN],
                                            retrain_solution_arns={DATASET_GROUP_ARN: SOLUTION_ARNS[:1]},
                                            update_campaigns=False),
        }
    return synth_stack("ForgetVariants", build)


def test_quiet_period_alone_checks_overlap_but_trains_nothing(variants):
    quiet = variants.parts["quiet"]
    env = props(variants.json, logical_id(quiet.follow_through_function))["Environment"]["Variables"]
    assert env["CHECK_OVERLAP"] == "true" and json.loads(env["RETRAIN_SOLUTION_ARNS"]) == {}
    assert props(variants.json, logical_id(quiet.launch_function))["Environment"]["Variables"][
        "QUIET_PERIOD_TIMEOUT_SECONDS"] == "3600"
    statements = _by_sid(_service(variants, quiet.follow_through_function))
    assert set(statements) == {"ListGroupActivity"}
    assert "personalize:ListCampaigns" not in actions(statements["ListGroupActivity"])


def test_retraining_alone_has_no_quiet_period_and_no_campaign_permissions(variants):
    retrain = variants.parts["retrain"]
    assert props(variants.json, logical_id(retrain.launch_function))["Handler"] == "deletion_launch.handler"
    states = definition(variants.json, logical_id(retrain.state_machine))["States"]
    assert not {"WaitToLaunch", "LaunchAgain"} & set(states) and "FollowThrough" in states
    assert states["Launch"]["Next"] == "WaitForJob"
    assert "WAIT_TO_LAUNCH" not in {c["StringEquals"] for c in states["DecideFollowThrough"]["Choices"]}
    statements = _by_sid(_service(variants, retrain.follow_through_function))
    assert set(statements) == {"ListGroupActivity", "TrainSolutionVersions", "FollowSolutionVersions"}
    assert set(actions(statements["ListGroupActivity"])) == {"personalize:ListSolutionVersions",
                                                            "personalize:ListCampaigns"}
    env = props(variants.json, logical_id(retrain.follow_through_function))["Environment"]["Variables"]
    assert env["CHECK_OVERLAP"] == "false" and env["UPDATE_CAMPAIGNS"] == "false"


def test_props_errors_list_every_follow_through_problem():
    other_group = "arn:aws:personalize:us-east-1:111122223333:dataset-group/other"
    with pytest.raises(PropsError) as raised:
        DataDeletionWorkflow(cdk.Stack(cdk.App(), "Invalid"), "Deletion", dataset_group_arns=[DATASET_GROUP_ARN],
                             quiet_period_timeout=cdk.Duration.seconds(30), retrain_solution_arns={
                                 other_group: [SOLUTION_ARNS[0]],
                                 "not-an-arn": [SOLUTION_ARNS[0]],
                                 DATASET_GROUP_ARN: ["arn:aws:personalize:us-east-1:111122223333:campaign/x",
                                                     "arn:aws:personalize:eu-west-1:111122223333:solution/s",
                                                     SOLUTION_ARNS[0], SOLUTION_ARNS[0]],
                             })
    problems = raised.value.problems
    assert len(problems) == 6, problems
    assert any("quiet_period_timeout" in p for p in problems)
    assert any(other_group in p and "not allowed by dataset_group_arns" in p for p in problems)
    assert any("'not-an-arn'" in p for p in problems)
    assert any("campaign/x" in p and "solution/NAME" in p for p in problems)
    assert any("eu-west-1" in p and "another account or Region" in p for p in problems)
    assert any("more than once" in p for p in problems)


def test_empty_retrain_mapping_and_empty_solution_list_are_mistakes():
    for given, expected in (({}, "must not be empty"), ({DATASET_GROUP_ARN: []}, "at least one solution")):
        with pytest.raises(PropsError) as raised:
            DataDeletionWorkflow(cdk.Stack(cdk.App(), "Invalid"), "Deletion", retrain_solution_arns=given)
        assert any(expected in p for p in raised.value.problems), raised.value.problems

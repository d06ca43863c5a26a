"""The committed pictures (docs/*.dot, rendered to SVG/PNG by `make diagrams`) match the current sample app."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdk_ml_data_jobs.diagrams import architecture_dot, definition_of, state_machine_dot

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture(scope="module")
def cli_template(sample_stack, sample_template_json):
    """The sample app's template as `cdk synth` writes it: with each resource's construct path in its metadata."""
    import copy

    from aws_cdk import CfnResource

    template = copy.deepcopy(sample_template_json)
    for construct in sample_stack.node.find_all():
        if isinstance(construct, CfnResource):
            logical_id = sample_stack.resolve(construct.logical_id)
            template["Resources"][logical_id].setdefault("Metadata", {})["aws:cdk:path"] = construct.node.path
    return template


def test_architecture_picture_is_current(cli_template):
    assert (DOCS / "architecture.dot").read_text() == architecture_dot(cli_template), "run `make diagrams`"
    assert (DOCS / "architecture.svg").is_file()


@pytest.mark.parametrize("name, part", [("datadeletion", "DataDeletion"), ("audienceexport", "AudienceExport")])
def test_state_machine_pictures_are_current(cli_template, name, part):
    [resource] = [r for r in cli_template["Resources"].values()
                  if r["Type"] == "AWS::StepFunctions::StateMachine" and f"/{part}/" in r["Metadata"]["aws:cdk:path"]]
    expected = state_machine_dot(definition_of(resource), part)
    assert (DOCS / f"{name}-state-machine.dot").read_text() == expected, "run `make diagrams`"
    assert (DOCS / f"{name}-state-machine.svg").is_file()


def test_the_state_machine_picture_shows_every_state(cli_template):
    for resource in cli_template["Resources"].values():
        if resource["Type"] == "AWS::StepFunctions::StateMachine":
            definition = definition_of(resource)
            dot = state_machine_dot(definition, "x")
            for state in definition["States"]:
                assert f'"{state}" [label=' in dot

"""Helpers for reading synthesized CloudFormation in the template tier.

CloudFormation intrinsics are rendered to readable strings so assertions can
compare ARNs: ``{"Ref": "X"}`` -> ``${X}``, ``{"Fn::GetAtt": ["X", "Arn"]}`` ->
``${X.Arn}``, ``Fn::Join`` -> the joined rendering of its parts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

import aws_cdk as cdk
from constructs import IConstruct

#: Narrowed ARNs used by compositions that do not take the defaults.
GENERATION_JOB_ARN = "arn:aws:cleanrooms-ml:us-east-1:111122223333:audience-generation-job/1a2b3c4d-aaaa-bbbb-cccc-1234567890ab"
CONFIGURED_MODEL_ARN = "arn:aws:cleanrooms-ml:us-east-1:444455556666:configured-audience-model/9f8e7d6c-aaaa-bbbb-cccc-1234567890ab"
DATASET_GROUP_ARN = "arn:aws:personalize:us-east-1:111122223333:dataset-group/shop-recommendations"
SOLUTION_ARNS = ["arn:aws:personalize:us-east-1:111122223333:solution/shop-recs",
                 "arn:aws:personalize:us-east-1:111122223333:solution/shop-similar"]
#: The sample app's ``uploadTriggers`` and ``notificationEmail`` context in the ``sample_with_triggers`` gate stack.
TRIGGER_PREFIX = "deletions/incoming/shop/"
TRIGGER_DATASET_GROUP_ARN = "arn:aws:personalize:us-east-1:123456789012:dataset-group/shop"
NOTIFICATION_EMAIL = "privacy@example.com"


@dataclass
class Synth:
    """One synthesized stack: its app, the stack, its Template, the template JSON, and named constructs."""

    app: Any
    stack: Any
    template: Any
    json: dict
    parts: dict = field(default_factory=dict)


def render(value: Any) -> str:
    """A readable string for a (possibly intrinsic) template value."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref":
            return "${%s}" % arg
        if key == "Fn::GetAtt":
            return "${%s.%s}" % (arg[0], arg[1])
        if key == "Fn::Join":
            return arg[0].join(render(part) for part in arg[1])
        if key == "Fn::Sub" and isinstance(arg, str):
            return arg
    return json.dumps(value, sort_keys=True)


def as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def logical_id(construct: IConstruct) -> str:
    """The logical id of a CfnResource, or of an L2 construct's default child."""
    element = construct if isinstance(construct, cdk.CfnElement) else construct.node.default_child
    assert isinstance(element, cdk.CfnElement), f"{construct.node.path} has no CloudFormation resource"
    return cdk.Stack.of(element).get_logical_id(element)


def resources(template: dict, type_: Optional[str] = None) -> dict[str, dict]:
    return {lid: r for lid, r in template["Resources"].items() if type_ is None or r["Type"] == type_}


def props(template: dict, lid: str) -> dict:
    return template["Resources"][lid].get("Properties", {})


def policies_of_role(template: dict, role_lid: str) -> dict[str, dict]:
    """Every AWS::IAM::Policy attached to the role (by ``Roles: [{Ref: role}]``)."""
    return {
        lid: r for lid, r in resources(template, "AWS::IAM::Policy").items()
        if {"Ref": role_lid} in r["Properties"].get("Roles", [])
    }


def role_statements(template: dict, role_lid: str) -> list[dict]:
    """Every permission statement attached to a role: its inline policies and every attached AWS::IAM::Policy."""
    found = []
    for inline in props(template, role_lid).get("Policies", []):
        found += as_list(inline["PolicyDocument"]["Statement"])
    for policy in policies_of_role(template, role_lid).values():
        found += as_list(policy["Properties"]["PolicyDocument"]["Statement"])
    return found


def actions(statement: dict) -> list[str]:
    return as_list(statement.get("Action"))


def resource_strings(statement: dict) -> list[str]:
    return [render(r) for r in as_list(statement.get("Resource"))]


def statements_with_action(statements: list[dict], action: str) -> list[dict]:
    return [s for s in statements if action in actions(s)]


def policy_documents(template: dict) -> Iterator[tuple[str, dict]]:
    """Every IAM policy document in the template (identity, trust and resource policies, inline or not)."""

    def walk(lid: str, node: Any) -> Iterator[tuple[str, dict]]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("PolicyDocument", "AssumeRolePolicyDocument", "KeyPolicy") and isinstance(value, dict):
                    yield lid, value
                else:
                    yield from walk(lid, value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(lid, item)

    for lid, resource in template["Resources"].items():
        yield from walk(lid, resource)


def all_statements(template: dict) -> list[dict]:
    return [s for _, doc in policy_documents(template) for s in as_list(doc.get("Statement"))]


def function_role_lid(template: dict, function_lid: str) -> str:
    role = props(template, function_lid)["Role"]
    assert set(role) == {"Fn::GetAtt"} and role["Fn::GetAtt"][1] == "Arn", role
    return role["Fn::GetAtt"][0]


def definition(template: dict, state_machine_lid: str) -> dict:
    """The state machine's ASL: the DefinitionString's Fn::Join parts joined, tokens rendered as placeholders."""
    raw = props(template, state_machine_lid)["DefinitionString"]
    if isinstance(raw, str):
        return json.loads(raw)
    separator, parts = raw["Fn::Join"]
    return json.loads(separator.join(part if isinstance(part, str) else render(part) for part in parts))


def acknowledgments(scope: IConstruct) -> list[tuple[IConstruct, str, Any]]:
    """``(construct, rule id, reason)`` for every validation acknowledgment in the construct tree."""
    found = []
    for construct in scope.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for rule, reason in dict(entry.data).items():
                    found.append((construct, rule, reason))
    return found


def operations_functions(workflow: Any) -> dict[str, Any]:
    """The ``JobFunction``\\ s a workflow adds for operating it: ``reporter`` and ``trigger``, when created."""
    found = {}
    if getattr(workflow, "outcome_reporter", None) is not None:
        found["reporter"] = workflow.outcome_reporter.function
    if getattr(workflow, "upload_trigger", None) is not None:
        found["trigger"] = workflow.upload_trigger.function
    return found

#: The sample app's deletion request queue in the template tier (``-c requestQueueDatasetGroupArns=...``).
QUEUE_DATASET_GROUP_ARNS = ("arn:aws:personalize:us-east-1:123456789012:dataset-group/shop",
                            "arn:aws:personalize:us-east-1:123456789012:dataset-group/news")

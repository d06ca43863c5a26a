"""Narrow, reasoned acknowledgments for the gates (cdk-nag, checkov)."""

from __future__ import annotations

from typing import Any, Iterable

from aws_cdk import Acknowledgment, CfnResource, Stack, Validations
from constructs import IConstruct



def nag_acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on one construct, with its reason."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def _cfn(construct: IConstruct) -> CfnResource:
    if isinstance(construct, CfnResource):
        return construct
    child = construct.node.default_child
    if not isinstance(child, CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource")
    return child


def checkov_skip(construct: IConstruct, check_id: str, reason: str) -> None:
    """Skip one checkov check on one resource, with its reason in the template metadata."""
    checkov_skips(construct, [(check_id, reason)])


def checkov_skips(construct: IConstruct, skips: Iterable[tuple[str, str]]) -> None:
    """Skip checkov checks on one resource, each with its reason (one metadata write)."""
    resource = _cfn(construct)
    current = resource.get_metadata("checkov") or {}
    merged = {s["id"]: s["comment"] for s in current.get("skip", [])}
    merged.update(dict(skips))
    resource.add_metadata("checkov", {"skip": [{"id": k, "comment": v} for k, v in sorted(merged.items())]})


def nag_resource(stack: Stack, value: str) -> str:
    """``value`` (an ARN, possibly with tokens) written the way cdk-nag writes it in a finding id.

    ``Fn::GetAtt`` becomes ``<LogicalId.Attr>``, ``Ref`` becomes ``<LogicalId>``
    (``<AWS::Partition>`` for pseudo parameters) and ``Fn::Join`` is joined, so
    an acknowledgment matches created and imported resources alike.
    """
    return _render(stack.resolve(value))


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref":
            return f"<{arg}>"
        if key == "Fn::GetAtt":
            return f"<{arg[0]}.{arg[1]}>"
        if key == "Fn::Join":
            return str(arg[0]).join(_render(part) for part in arg[1])
    raise ValueError(f"cannot render {value!r} for a cdk-nag finding id")


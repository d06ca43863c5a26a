"""Prop validation errors and narrow, reasoned acknowledgments for the gates."""

from __future__ import annotations

from typing import Iterable

from aws_cdk import Acknowledgment, CfnResource, Validations
from constructs import IConstruct


class PropsError(ValueError):
    """Invalid construct props; the message lists every problem at once."""

    def __init__(self, construct: str, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        listed = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{construct}: {len(self.problems)} invalid prop(s):\n{listed}")


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
    resource = _cfn(construct)
    current = resource.get_metadata("checkov") or {}
    skips = [s for s in current.get("skip", []) if s["id"] != check_id]
    skips.append({"id": check_id, "comment": reason})
    resource.add_metadata("checkov", {"skip": sorted(skips, key=lambda s: s["id"])})

"""Attach a policy to a role, with narrow, reasoned acknowledgments of its wildcard resources."""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct, IConstruct

from ._checks import nag_acknowledge, nag_resource


def attach_policy(
    scope: Construct,
    id: str,
    *,
    role: iam.IRole,
    statements: Sequence[iam.PolicyStatement],
    wildcards: Optional[Mapping[str, str]] = None,
    dependent: Optional[IConstruct] = None,
) -> iam.Policy:
    """A policy ``scope/id`` attached to ``role``.

    ``wildcards`` maps each wildcard resource of the statements (an ARN, tokens
    allowed, or ``"*"``) to the reason it is needed; each becomes the granular
    ``AwsSolutions-IAM5[Resource::...]`` acknowledgment cdk-nag expects, written
    from the resolved ARN, so it matches in any stack or environment.
    ``dependent`` (a function) is deployed only after the policy exists.
    """
    policy = iam.Policy(scope, id, statements=list(statements))
    policy.attach_to_role(role)
    stack = Stack.of(scope)
    for resource, reason in (wildcards or {}).items():
        rendered = resource if resource == "*" else nag_resource(stack, resource)
        nag_acknowledge(policy, f"AwsSolutions-IAM5[Resource::{rendered}]", reason)
    if dependent is not None:
        dependent.node.add_dependency(policy)
    return policy

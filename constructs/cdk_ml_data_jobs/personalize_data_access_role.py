"""PersonalizeDataAccessRole: the role Amazon Personalize assumes to read the user-ID files."""

from __future__ import annotations

import json
from typing import Optional

from aws_cdk import Annotations, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from ._contract import DEFAULT_DELETION_PREFIX
from ._iam import attach_policy
from .errors import PropsError
from .job_data_bucket import validate_prefix

PERSONALIZE_PRINCIPAL = "personalize.amazonaws.com"


class PersonalizeDataAccessRole(Construct):
    """The IAM role Amazon Personalize assumes to read the user-ID CSV files.

    Trust: ``personalize.amazonaws.com``, only on behalf of this account
    (``aws:SourceAccount``) and of Personalize resources of this account and
    Region (``aws:SourceArn``), the confused-deputy protection AWS recommends.

    Permissions: ``s3:GetObject`` on the objects under ``deletion_prefix`` and
    ``s3:ListBucket`` on the bucket; nothing else.

    Personalize also requires a bucket-policy statement for its service
    principal (``s3:GetObject`` and ``s3:ListBucket``); this construct adds it
    when the bucket's policy can be changed, and otherwise says in a warning
    annotation which statement the bucket's owner must add (``bucket_policy_statement``).

    Attributes: ``role``, ``bucket``, ``deletion_prefix``, ``bucket_policy_statement``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        bucket: s3.IBucket,
        deletion_prefix: str = DEFAULT_DELETION_PREFIX,
        role: Optional[iam.IRole] = None,
        role_name: Optional[str] = None,
        bucket_policy_source_account_condition: bool = True,
    ) -> None:
        """
        :param bucket: the bucket holding the user-ID files (any ``IBucket``).
        :param deletion_prefix: key prefix of the user-ID files. Default ``"deletions/"``.
        :param role: a role you manage yourself. Default: none, a role is
            created. When given, no role permissions are added (it is yours);
            the bucket-policy statement is still added.
        :param role_name: physical name of the created role. Default: generated
            by CloudFormation.
        :param bucket_policy_source_account_condition: restrict the bucket-policy
            statement for ``personalize.amazonaws.com`` to requests made on behalf
            of this account (``aws:SourceAccount``). Default True. AWS's
            Personalize documentation shows the statement without a condition;
            set False to match it exactly if your account's deletions are refused.
        """
        super().__init__(scope, id)
        problems = list(filter(None, [validate_prefix("deletion_prefix", deletion_prefix)]))
        if role is not None and role_name is not None:
            problems.append("role_name cannot be combined with role")
        if problems:
            raise PropsError("PersonalizeDataAccessRole", problems)

        self.bucket = bucket
        self.deletion_prefix = deletion_prefix
        self.role: iam.IRole = role or self._create_role(role_name)
        self.bucket_policy_statement = self._bucket_policy_statement(bucket_policy_source_account_condition)
        self._add_to_bucket_policy()

    @property
    def _user_id_files(self) -> str:
        return self.bucket.arn_for_objects(f"{self.deletion_prefix}*")

    def _create_role(self, role_name: Optional[str]) -> iam.Role:
        """The role, trusted by Personalize on behalf of this account only, reading the user-ID files only."""
        stack = Stack.of(self)
        role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            description="Assumed by Amazon Personalize to read user-ID files for data deletion jobs",
            assumed_by=iam.ServicePrincipal(
                PERSONALIZE_PRINCIPAL,
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": stack.format_arn(service="personalize", resource="*")},
                },
            ),
        )
        attach_policy(self, "ReadUserIdFiles", role=role, statements=[
            iam.PolicyStatement(sid="ReadUserIdFiles", actions=["s3:GetObject"], resources=[self._user_id_files]),
            iam.PolicyStatement(sid="ListJobDataBucket", actions=["s3:ListBucket"],
                                resources=[self.bucket.bucket_arn]),
        ], wildcards={
            self._user_id_files: "Personalize reads user-ID files whose names are chosen per request; access is "
                                 "limited to GetObject on the deletion prefix only.",
        })
        return role

    def _bucket_policy_statement(self, source_account_condition: bool) -> iam.PolicyStatement:
        """The statement Personalize's service principal needs in the bucket's policy."""
        conditions = (
            {"StringEquals": {"aws:SourceAccount": Stack.of(self).account}} if source_account_condition else None
        )
        return iam.PolicyStatement(
            sid="PersonalizeReadUserIdFiles",
            principals=[iam.ServicePrincipal(PERSONALIZE_PRINCIPAL)],
            actions=["s3:GetObject", "s3:ListBucket"],
            resources=[self.bucket.bucket_arn, self._user_id_files],
            conditions=conditions,
        )

    def _add_to_bucket_policy(self) -> None:
        """Add the statement, or say in a warning which statement the bucket's owner must add."""
        added = self.bucket.add_to_resource_policy(self.bucket_policy_statement)
        if not added.statement_added:
            Annotations.of(self).add_warning_v2(
                "cdk-ml-data-jobs:bucketPolicyNotAdded",
                "The bucket's policy cannot be changed from this stack (imported bucket). Amazon Personalize "
                "needs this statement in the policy of bucket "
                f"{self.bucket.bucket_name}: "
                + json.dumps(Stack.of(self).resolve(self.bucket_policy_statement.to_statement_json()),
                             sort_keys=True),
            )

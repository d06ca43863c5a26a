"""The acknowledgments hold in a stack deployed to an explicit account and Region too.

cdk-nag writes a finding's resource as the template has it: tokens for an
environment-agnostic stack, literal ARNs for a stack with an ``env``. The
library writes acknowledgments from the resolved ARNs, so both match.
"""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from cdk_ml_data_jobs import AudienceExportWorkflow, DataDeletionWorkflow


def test_cdk_nag_finds_nothing_in_a_stack_with_an_explicit_environment(make_app):
    app = make_app()
    stack = cdk.Stack(app, "WithEnv", env=cdk.Environment(account="111122223333", region="eu-west-1"))
    DataDeletionWorkflow(stack, "Deletion", upload_triggers={
        "deletions/incoming/": "arn:aws:personalize:eu-west-1:111122223333:dataset-group/shop"})
    AudienceExportWorkflow(stack, "Export", create_topic=True)

    report = AwsSolutionsChecks(app).validate_scope(stack)

    assert [v.rule_name for v in report.violations] == []

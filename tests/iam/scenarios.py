"""What the IAM tier runs to record the handlers' AWS calls: one pass through every path of both
workflows, the outcome reporters and the upload trigger, in the in-process harness.

Shared by the tier's fixtures (``conftest.py``) and ``make iam-report`` (``report.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tests.harness import iam_evaluation as iam
from tests.harness.aws_calls import AwsCall
from tests.harness.fakes import ConfiguredModel, JobPlan
from tests.harness.local import LocalWorkflows

GROUP = "arn:aws:personalize:us-east-1:123456789012:dataset-group/shop"
OTHER_GROUP = "arn:aws:personalize:us-east-1:123456789012:dataset-group/not-allowed"
INCOMING = "deletions/incoming/shop/"
OTHER_ACCOUNT = "999988887777"
#: Made up; the tier asserts none of them appears in a record.
USER_IDS = ["iam-user-4a1f-secret", "iam-user-93c0-secret"]
#: Context for the template the tier evaluates: the sample app with an upload trigger (every kind of function).
CONTEXT = {"uploadTriggers": f"{INCOMING}={GROUP}"}
#: The same, with the allow-lists narrowed, for the refusals outside them.
ALLOWED_GENERATION_JOB = "arn:aws:cleanrooms-ml:us-east-1:123456789012:audience-generation-job/allowed"
NARROWED_CONTEXT = {**CONTEXT, "datasetGroupArns": GROUP, "audienceGenerationJobArns": ALLOWED_GENERATION_JOB}


@dataclass
class Recording:
    template: dict[str, Any]
    calls: list[AwsCall]
    invoked: list[str]  # logical ids of the functions that ran
    statuses: dict[str, str]  # scenario -> execution status


def _csv(ids: list[str]) -> bytes:
    return ("USER_ID\n" + "\n".join(ids) + "\n").encode()


def record(template: dict[str, Any]) -> Recording:
    """Run the scenarios on ``template``; returns every call the handlers made."""
    from cdk_ml_data_jobs._assets import lambda_code_dir

    statuses = {}
    with LocalWorkflows(template, str(lambda_code_dir())) as local:
        bucket = local.bucket()
        # a deletion of one file, with tags (CreateDataDeletionJob, PassRole, TagResource)
        location = local.put_csv("deletions/2026-12/users.csv", USER_IDS)
        statuses["deletion"] = local.run("DataDeletion", {"datasetGroupArn": GROUP, "dataLocation": location,
                                                          "tags": [{"tagKey": "team", "tagValue": "privacy"}]},
                                         name="iam-deletion").status
        # a folder (ListObjectsV2 with a prefix, every .csv below it)
        local.put_csv("deletions/batch/a.csv", USER_IDS[:1])
        local.put_csv("deletions/batch/sub/b.csv", USER_IDS[1:])
        statuses["folder"] = local.run("DataDeletion", {"datasetGroupArn": GROUP,
                                                        "dataLocation": f"s3://{bucket}/deletions/batch/"}).status
        # a lost response: the retried launch adopts its job (ListDataDeletionJobs, DescribeDataDeletionJob)
        local.lose_responses("DataDeletion/Launch", times=1)
        statuses["adopted"] = local.run("DataDeletion", {"datasetGroupArn": GROUP, "dataLocation": location}).status
        # a job Personalize fails, and input rejected before any job (reported and audited)
        local.personalize.plans["iam-fails"] = JobPlan(duration=600, outcome="failure", failure_reason="not ACTIVE")
        statuses["job-fails"] = local.run("DataDeletion", {"datasetGroupArn": GROUP, "dataLocation": location},
                                          name="iam-fails").status
        statuses["rejected"] = local.run("DataDeletion", {"datasetGroupArn": GROUP,
                                                          "dataLocation": f"s3://{bucket}/deletions/none.csv"}).status
        # an upload under the trigger prefix starts a deletion (StartExecution)
        [delivery] = local.upload(f"{INCOMING}weekly.csv", _csv(USER_IDS))
        statuses["triggered"] = local.wait(delivery.result["executionArn"]).status
        # exports: readable model bins, then a partner's model that cannot be read
        generation_job = local.cleanroomsml.add_generation_job("iam-gen")
        statuses["export"] = local.run("AudienceExport", {"audienceGenerationJobArn": generation_job,
                                                          "audienceSize": {"type": "ABSOLUTE", "value": 5000}}).status
        unreadable = local.cleanroomsml.add_generation_job("iam-gen-partner", model=ConfiguredModel("", readable=False))
        statuses["export-unreadable-model"] = local.run(
            "AudienceExport", {"audienceGenerationJobArn": unreadable,
                               "audienceSize": {"type": "ABSOLUTE", "value": 5000}}).status
        return Recording(template, list(local.recorder.calls), [i.function for i in local.recorder.invocations],
                         statuses)


def evaluate_all(simulator: iam.Simulator, recording: Recording) -> list[iam.Decision]:
    """The recorded calls with their dependent and Lambda-service requests, and every service path."""
    from tests.harness.assembly import Resolver

    policies = iam.Policies(recording.template, Resolver(recording.template))
    requests = iam.recorded_requests(policies, recording.calls, recording.invoked) + iam.service_paths(policies)
    return iam.evaluate(simulator, requests, policies.account)


# ---- what must be refused --------------------------------------------------------------------------
def functions(policies: iam.Policies, handler: str) -> list[str]:
    """Logical ids of the template's functions running ``handler`` (the handler module is the stable name)."""
    found = [k for k, r in policies.of_type("AWS::Lambda::Function").items() if r["Properties"]["Handler"] == handler]
    assert found, f"no function runs {handler}"
    return sorted(found)


def data_bucket(policies: iam.Policies) -> str:
    """The bucket the Personalize data access role reads (the one holding user-ID files)."""
    [role] = data_access_roles(policies)
    for _, _, statement in policies.statements(role):
        resource = policies.resolver.resolve(statement["Resource"])
        for arn in resource if isinstance(resource, list) else [resource]:
            if arn.startswith("arn:aws:s3:::"):
                return arn[len("arn:aws:s3:::"):].split("/", 1)[0]
    raise AssertionError("the data access role names no bucket")


def data_access_roles(policies: iam.Policies) -> list[str]:
    return sorted(k for k, r in policies.of_type("AWS::IAM::Role").items()
                  if "personalize.amazonaws.com" in json.dumps(r["Properties"]["AssumeRolePolicyDocument"]))


def refusals(policies: iam.Policies) -> list[iam.Request]:
    """Requests each function, and anyone outside the account, must be refused."""
    bucket = data_bucket(policies)
    obj = f"arn:aws:s3:::{bucket}"
    out = []

    def deny(function: str, action: str, resource: str, context: dict | None = None, what: str = "") -> None:
        role = policies.function_role(function)
        out.append(iam.role_request(policies, f"{function} {what}", role, function, action, resource, context or {},
                                    expect="Denied", kind="refused"))

    for validate in functions(policies, "deletion_validate.handler"):
        deny(validate, "s3:GetObject", f"{obj}/audit/data-deletion/2026/12/01/x.json", what="reads an audit record")
        deny(validate, "s3:ListBucket", obj, {"s3:prefix": "audit/"}, "lists outside the deletion prefix")
        deny(validate, "s3:ListBucket", obj, {}, "lists without a prefix")
        deny(validate, "s3:PutObject", f"{obj}/deletions/x.csv", what="writes a user-ID file")
        deny(validate, "s3:DeleteObject", f"{obj}/deletions/x.csv", what="deletes a user-ID file")
    for reporter in functions(policies, "outcome_report.handler"):
        deny(reporter, "s3:GetObject", f"{obj}/deletions/2026-12/users.csv", what="reads a user-ID file")
        deny(reporter, "s3:PutObject", f"{obj}/deletions/x.csv", what="writes under the deletion prefix")
        deny(reporter, "s3:ListBucket", obj, {"s3:prefix": "deletions/"}, "lists user-ID files")
    data_access = set(data_access_roles(policies))
    for launch in functions(policies, "deletion_launch.handler"):
        for role in sorted(set(policies.of_type("AWS::IAM::Role")) - data_access):
            deny(launch, "iam:PassRole", policies.resolver.arn(role),
                 {"iam:PassedToService": "personalize.amazonaws.com"}, "passes another role")
        for role in sorted(data_access):
            for service in ("lambda.amazonaws.com", "states.amazonaws.com", "cleanrooms-ml.amazonaws.com"):
                deny(launch, "iam:PassRole", policies.resolver.arn(role), {"iam:PassedToService": service},
                     f"passes the data access role to {service}")
    for poll in functions(policies, "deletion_poll.handler"):
        deny(poll, "personalize:CreateDataDeletionJob", GROUP, what="creates a job")
    for trigger in functions(policies, "upload_trigger.handler"):
        for machine in policies.of_type("AWS::StepFunctions::StateMachine"):
            if "Export" in machine:
                deny(trigger, "states:StartExecution", policies.resolver.arn(machine), what="starts an export")
    # nobody outside the account reads the bucket, signed or not
    for action, resource in (("s3:GetObject", f"{obj}/deletions/2026-12/users.csv"), ("s3:ListBucket", obj)):
        out.append(iam.Request("refused", "anonymous read", "anonymous", action, resource,
                               {"aws:SecureTransport": "true"}, resource_account=policies.account,
                               resource_policy=policies.bucket_policy(bucket), expect="Denied"))
        admin = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        out.append(iam.Request("refused", "other-account administrator",
                               f"arn:aws:iam::{OTHER_ACCOUNT}:role/admin", action, resource,
                               {"aws:SecureTransport": "true"}, resource_account=policies.account,
                               resource_policy=policies.bucket_policy(bucket), expect="Denied",
                               identity_policies=[("admin", admin)]))
    return out

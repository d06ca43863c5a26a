"""What the IAM tier runs to record the handlers' AWS calls: one pass through every path of both
workflows, the outcome reporters and the upload trigger, in the in-process harness.

Shared by the tier's fixtures (``conftest.py``) and ``make iam-report`` (``report.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.harness import iam_evaluation as iam
from tests.harness.aws_calls import AwsCall
from tests.harness.fakes import ConfiguredModel, JobPlan
from tests.harness.local import LocalWorkflows

GROUP = "arn:aws:personalize:us-east-1:123456789012:dataset-group/shop"
OTHER_GROUP = "arn:aws:personalize:us-east-1:123456789012:dataset-group/not-allowed"
INCOMING = "deletions/incoming/shop/"
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

"""The two polling patterns users would otherwise write, built inside the benchmark only.

- ``fixed_wait_loop``: Submit → Wait 30 s → Get Status → Choice (the AWS CDK
  examples' Step Functions poller).
- ``retry_on_pending``: Submit → Get Status, where Get Status raises
  ``ResourcePending`` while the job runs and a Retry re-invokes it every 60 s
  with back-off 1.02, at most 100 attempts (the AWS Personalize solution).

Both run the same kind of Lambda handlers (here in-process callables) against
the same faked services as this library's state machines.
"""

from __future__ import annotations

from typing import Any, Callable

import boto3

GROUP = "arn:aws:personalize:us-east-1:123456789012:dataset-group/bench"


class ResourcePending(Exception):
    """Raised while the job is still running (the retry-on-pending pattern)."""


def fixed_wait_loop(submit: str, status: str) -> dict[str, Any]:
    return {
        "Comment": "Reference: fixed 30 s Wait loop",
        "StartAt": "Submit",
        "States": {
            "Submit": {"Type": "Task", "Resource": submit, "ResultPath": "$.job", "Next": "Wait30"},
            "Wait30": {"Type": "Wait", "Seconds": 30, "Next": "GetStatus"},
            "GetStatus": {"Type": "Task", "Resource": status, "ResultPath": "$.job", "Next": "Done?"},
            "Done?": {"Type": "Choice", "Choices": [
                {"Variable": "$.job.done", "BooleanEquals": True, "Next": "Outcome?"}], "Default": "Wait30"},
            "Outcome?": {"Type": "Choice", "Choices": [
                {"Variable": "$.job.ok", "BooleanEquals": True, "Next": "Succeeded"}], "Default": "Failed"},
            "Succeeded": {"Type": "Succeed"},
            "Failed": {"Type": "Fail", "Error": "JobFailed"},
        },
    }


def retry_on_pending(submit: str, status: str) -> dict[str, Any]:
    return {
        "Comment": "Reference: raise ResourcePending, Retry every 60 s (x1.02), 100 attempts",
        "StartAt": "Submit",
        "States": {
            "Submit": {"Type": "Task", "Resource": submit, "ResultPath": "$.job", "Next": "GetStatus"},
            "GetStatus": {
                "Type": "Task", "Resource": status, "ResultPath": "$.job", "Next": "Outcome?",
                "Retry": [{"ErrorEquals": ["ResourcePending"], "IntervalSeconds": 60, "BackoffRate": 1.02,
                           "MaxAttempts": 100}],
            },
            "Outcome?": {"Type": "Choice", "Choices": [
                {"Variable": "$.job.ok", "BooleanEquals": True, "Next": "Succeeded"}], "Default": "Failed"},
            "Succeeded": {"Type": "Succeed"},
            "Failed": {"Type": "Fail", "Error": "JobFailed"},
        },
    }


def deletion_handlers(raise_pending: bool) -> tuple[Callable, Callable]:
    def submit(event: dict[str, Any], context: Any) -> dict[str, Any]:
        api = boto3.client("personalize")
        arn = api.create_data_deletion_job(
            jobName=event["jobName"], datasetGroupArn=GROUP, dataSource={"dataLocation": event["dataLocation"]},
            roleArn="arn:aws:iam::123456789012:role/bench")["dataDeletionJobArn"]
        return {"arn": arn}

    def status(event: dict[str, Any], context: Any) -> dict[str, Any]:
        job = boto3.client("personalize").describe_data_deletion_job(
            dataDeletionJobArn=event["job"]["arn"])["dataDeletionJob"]
        done = job["status"] in ("COMPLETED", "FAILED")
        if raise_pending and not done:
            raise ResourcePending(job["status"])
        return {"arn": event["job"]["arn"], "done": done, "ok": job["status"] == "COMPLETED"}

    return submit, status


def export_handlers(raise_pending: bool) -> tuple[Callable, Callable]:
    def submit(event: dict[str, Any], context: Any) -> dict[str, Any]:
        boto3.client("cleanroomsml").start_audience_export_job(
            name=event["name"], audienceGenerationJobArn=event["generation"],
            audienceSize={"type": "ABSOLUTE", "value": 5000})
        return {"name": event["name"], "generation": event["generation"]}

    def status(event: dict[str, Any], context: Any) -> dict[str, Any]:
        pages = boto3.client("cleanroomsml").get_paginator("list_audience_export_jobs").paginate(
            audienceGenerationJobArn=event["job"]["generation"])
        found = [j for page in pages for j in page["audienceExportJobs"] if j["name"] == event["job"]["name"]]
        state = found[0]["status"] if found else "CREATE_PENDING"
        done = state in ("ACTIVE", "CREATE_FAILED")
        if raise_pending and not done:
            raise ResourcePending(state)
        return {**event["job"], "done": done, "ok": state == "ACTIVE"}

    return submit, status

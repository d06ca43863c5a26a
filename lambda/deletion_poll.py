"""Check a data deletion job and decide: wait again, succeed, or stop with a named error.

Event: ``{"request": ..., "tracker": {"job": {"dataDeletionJobArn": ...}, ...}}``.
Returns the next tracker. The wait before the next check grows with the job's
age as Personalize reports it (``creationDateTime``).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from jobkit import clients, clock, tracker
from jobkit.errors import service_error
from jobkit.jsonsafe import iso

RUNNING = ("PENDING", "IN_PROGRESS")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request, job = event["request"], event["tracker"]["job"]
    settings = tracker.PollSettings.from_env()
    try:
        described = clients.client("personalize").describe_data_deletion_job(
            dataDeletionJobArn=job["dataDeletionJobArn"]
        )["dataDeletionJob"]
    except ClientError as error:
        raise service_error(error, "DescribeDataDeletionJob") from None

    status = str(described.get("status", ""))
    created = described.get("creationDateTime") or clock.now()
    age = (clock.now() - created).total_seconds()
    summary = {
        "dataDeletionJobArn": job["dataDeletionJobArn"],
        "jobName": described.get("jobName", job["jobName"]),
        "datasetGroupArn": described.get("datasetGroupArn", request["datasetGroupArn"]),
        "dataLocation": described.get("dataSource", {}).get("dataLocation", request["dataLocation"]),
        "status": status,
        "creationDateTime": iso(described.get("creationDateTime")),
        "lastUpdatedDateTime": iso(described.get("lastUpdatedDateTime")),
    }

    if status == "COMPLETED":
        result = {**summary, "numDeleted": described.get("numDeleted"), "adopted": job.get("adopted", False),
                  "inputData": request.get("inputData")}
        return tracker.succeeded(job, status, result)
    if status == "FAILED":
        return tracker.stopped(job, status, "DataDeletionJobFailed",
                               {**summary, "failureReason": described.get("failureReason", "")})
    return tracker.follow(job, status, age, settings, summary, running_statuses=RUNNING, unexpected=(
        "DataDeletionJobUnexpectedStatus",
        "Personalize reported status {status!r}; expected one of PENDING, IN_PROGRESS, COMPLETED, FAILED. "
        "The workflow stopped following the job instead of guessing.",
    ), timed_out=(
        "DataDeletionJobTimedOut",
        "The job is still {status} after {age} s (job timeout {timeout} s). Personalize keeps working on it: "
        "follow it with DescribeDataDeletionJob.",
    ))

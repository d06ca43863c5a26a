"""Start the Personalize data deletion job, or adopt the one this execution already started.

Event: ``{"request": <validated request>}``. Returns the tracker (phase RUNNING).
``CreateDataDeletionJob`` is not idempotent; a retried or redriven execution
uses the same job name, gets ``ResourceAlreadyExistsException`` and adopts the
existing job after checking it is the same request.
"""

from __future__ import annotations

import os
from typing import Any

from botocore.exceptions import ClientError

from jobkit import clients, sdk, tracker
from jobkit.contract import Env
from jobkit.errors import JobNameInUse, error_code, service_error

OPERATIONS = sdk.DELETION_OPERATIONS
MIN_BOTOCORE = sdk.DELETION_MIN_BOTOCORE


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    personalize = clients.client("personalize")
    clients.require_operations(personalize, OPERATIONS, MIN_BOTOCORE)
    job = start_job(personalize, event["request"], event["request"]["jobName"])
    return tracker.running(job, "PENDING", tracker.PollSettings.from_env().min_wait)


def start_job(personalize: Any, request: dict[str, Any], name: str) -> dict[str, Any]:
    """Create the data deletion job ``name`` for ``request`` (or adopt it); the tracker's ``job``."""
    params: dict[str, Any] = {
        "jobName": name,
        "datasetGroupArn": request["datasetGroupArn"],
        "dataSource": {"dataLocation": request["dataLocation"]},
        "roleArn": os.environ[Env.DATA_ACCESS_ROLE_ARN],
    }
    if request.get("tags"):
        params["tags"] = request["tags"]
    adopted = False
    try:
        arn = personalize.create_data_deletion_job(**params)["dataDeletionJobArn"]
    except ClientError as error:
        if error_code(error) != "ResourceAlreadyExistsException":
            raise service_error(error, "CreateDataDeletionJob") from None
        arn = _adopt(personalize, request, name)
        adopted = True
    return {"dataDeletionJobArn": arn, "jobName": name, "adopted": adopted}


def _adopt(personalize: Any, request: dict[str, Any], name: str) -> str:
    """ARN of the existing job named ``name``, if it is ours (same dataset group and data)."""
    group = request["datasetGroupArn"]
    arn = find_job(personalize, name, group)
    if arn is None:
        raise JobNameInUse(
            f"A data deletion job named {name} already exists, but not in dataset group {group}; "
            "choose another jobName"
        )
    try:
        existing = personalize.describe_data_deletion_job(dataDeletionJobArn=arn)["dataDeletionJob"]
    except ClientError as error:
        raise service_error(error, "DescribeDataDeletionJob") from None
    if existing.get("dataSource", {}).get("dataLocation") != request["dataLocation"]:
        raise JobNameInUse(
            f"A data deletion job named {name} already exists in this dataset group for another dataLocation; "
            "choose another jobName"
        )
    return arn


def find_job(personalize: Any, name: str, group: str) -> str | None:
    """Follow ``nextToken`` through ListDataDeletionJobs (boto3 has no paginator for it)."""
    kwargs: dict[str, Any] = {"datasetGroupArn": group, "maxResults": 100}
    while True:
        try:
            page = personalize.list_data_deletion_jobs(**kwargs)
        except ClientError as error:
            raise service_error(error, "ListDataDeletionJobs") from None
        for job in page.get("dataDeletionJobs", []):
            if job.get("jobName") == name and job.get("datasetGroupArn", group) == group:
                return job["dataDeletionJobArn"]
        token = page.get("nextToken")
        if not token:
            return None
        kwargs["nextToken"] = token

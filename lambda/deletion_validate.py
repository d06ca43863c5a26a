"""Validate a data deletion request and pre-flight its data. Starts nothing.

Event: ``{"input": <execution input>, "executionName": <name>}``.
Returns the normalised request the launch step uses. Raises ``InvalidInput``
listing every problem found, before any job exists.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import deletion_preflight
from jobkit import arns, clients, model_rules, names, sdk
from jobkit.contract import FALSE, Env
from jobkit.errors import InvalidInput

OPERATION = "CreateDataDeletionJob"
#: What an execution input looks like, for the message rejecting one that is not an object.
EXAMPLE = ('{"datasetGroupArn": "arn:aws:personalize:REGION:ACCOUNT:dataset-group/NAME", '
           '"dataLocation": "s3://BUCKET/PREFIX/users.csv"}')
FIELDS = ("datasetGroupArn", "dataLocation", "jobName", "tags")
_S3_URI = re.compile(r"s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<key>.+)")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    data = event.get("input")
    if not isinstance(data, dict):
        raise InvalidInput(model_rules.object_problems(data, EXAMPLE))
    personalize = clients.model("personalize")  # only its constraints are needed, not a client
    clients.require_operations(personalize, sdk.DELETION_OPERATIONS, sdk.DELETION_MIN_BOTOCORE)
    problems = model_rules.unknown_fields(data, FIELDS)

    group = data.get("datasetGroupArn")
    location = data.get("dataLocation")
    for field, path, value in (("datasetGroupArn", ("datasetGroupArn",), group),
                               ("dataLocation", ("dataSource", "dataLocation"), location)):
        if value is None:
            problems.append(f"{field} is required")
        else:
            problems += model_rules.problems(model_rules.member_shape(personalize, OPERATION, *path), value, field)
    if isinstance(group, str):
        problems += _dataset_group_problems(group)

    job_name = data.get("jobName")
    if job_name is None:
        job_name = names.personalize_job_name(str(event["executionName"]))
    else:
        problems += model_rules.problems(model_rules.member_shape(personalize, OPERATION, "jobName"), job_name, "jobName")
    tags = data.get("tags")
    if tags is not None:
        problems += model_rules.problems(model_rules.member_shape(personalize, OPERATION, "tags"), tags, "tags")
        if tags and os.environ[Env.TAGS_ALLOWED] == FALSE:
            problems.append("tags are not allowed by this workflow (it was deployed with allow_tags=False)")

    bucket = key = None
    if isinstance(location, str):
        bucket, key, location_problems = _location(location)
        problems += location_problems
    if problems:
        raise InvalidInput(problems)

    summary, data_problems = deletion_preflight.check(bucket, key)
    if data_problems:
        raise InvalidInput(data_problems)

    request: dict[str, Any] = {
        "datasetGroupArn": group,
        "dataLocation": location,
        "jobName": job_name,
        "inputData": summary.as_dict(),
    }
    if tags:
        request["tags"] = tags
    return request


def _dataset_group_problems(arn: str) -> list[str]:
    return arns.problems("datasetGroupArn", arn, arns.DATASET_GROUP_ARN, arns.DATASET_GROUP,
                         region=os.environ.get("AWS_REGION"),
                         allowed=json.loads(os.environ[Env.ALLOWED_DATASET_GROUP_ARNS]),
                         allowed_as="the dataset groups this workflow may delete from")


def _location(location: str) -> tuple[str | None, str | None, list[str]]:
    bucket_name = os.environ[Env.DATA_BUCKET]
    prefix = os.environ[Env.DELETION_PREFIX]
    match = _S3_URI.fullmatch(location)
    if not match:
        return None, None, [f"dataLocation must be s3://{bucket_name}/{prefix}... (a .csv file or a folder ending in /)"]
    bucket, key = match["bucket"], match["key"]
    problems = []
    if bucket != bucket_name:
        problems.append(f"dataLocation must be in this workflow's bucket {bucket_name}")
    if not key.startswith(prefix):
        problems.append(f"dataLocation must be under s3://{bucket_name}/{prefix} (Personalize may read only there)")
    if not (key.endswith("/") or key.endswith(".csv")):
        problems.append("dataLocation must name a .csv file or a folder ending in /")
    return bucket, key, problems

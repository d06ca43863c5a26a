"""Execution inputs of both workflows (the README's contracts) and their local checks.

The checks are the cheap, certain subset of the workflows' Validate steps
(ARN shapes, names, sizes), run before anything is uploaded or started; the
workflow still validates everything (Region, allowed scopes, the service's
own state) and its ``InvalidInput`` is reported like a local rejection.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from typing import Any, Optional, Sequence

from .._assets import load_lambda_module
from .._contract import AUDIENCE_EXPORT, DATA_DELETION

# The ARN shapes the Validate functions accept: lambda/jobkit/arns.py, loaded from the shipped code.
_ARNS = load_lambda_module("jobkit/arns.py")
DATASET_GROUP_ARN = _ARNS.DATASET_GROUP_ARN
GENERATION_JOB_ARN = _ARNS.GENERATION_JOB_ARN
#: Personalize's job name (CreateDataDeletionJob ``jobName``).
JOB_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9\-_]{0,62}")
#: Step Functions execution names: 1-80 characters, no whitespace, brackets, wildcards, punctuation or controls.
EXECUTION_NAME = re.compile(r"[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}")
SIZE_TYPES = ("ABSOLUTE", "PERCENTAGE")
MAX_ABSOLUTE = 20_000_000


def new_token() -> str:
    """A random identifier for one request: names its uploaded file and its execution."""
    return str(uuid.uuid4())


def today() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d")


def upload_key(prefix: str, token: str, date: Optional[str] = None) -> str:
    """``<prefix>cli/<date>/<token>.csv``: where the CLI puts a user-ID file."""
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return f"{prefix}cli/{date or today()}/{token}.csv"


def execution_name(command: str, token: str) -> str:
    """``<command>-<yyyymmdd>-<token>``: unique, a valid execution name and Personalize job name."""
    return f"{command}-{(today()).replace('-', '')}-{token}"


def parse_tags(values: Sequence[str]) -> tuple[list[dict[str, str]], list[str]]:
    """``KEY=VALUE`` options as Personalize tags, and the problems found."""
    tags, problems = [], []
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            problems.append(f"--tag {value!r} must be KEY=VALUE")
        else:
            tags.append({"tagKey": key, "tagValue": val})
    return tags, problems


def deletion_problems(dataset_group_arn: str, job_name: Optional[str], execution: Optional[str]) -> list[str]:
    problems = []
    if not DATASET_GROUP_ARN.fullmatch(dataset_group_arn):
        problems.append(f"--dataset-group-arn must be {_ARNS.DATASET_GROUP}")
    if job_name is not None and not JOB_NAME.fullmatch(job_name):
        problems.append("--job-name must be 1-63 letters, digits, '-' or '_', starting with a letter or digit")
    if execution is not None and not EXECUTION_NAME.fullmatch(execution):
        problems.append("--execution-name must be 1-80 characters without spaces or special characters")
    return problems


def deletion_input(dataset_group_arn: str, data_location: str, job_name: Optional[str] = None,
                   tags: Optional[list[dict[str, str]]] = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"datasetGroupArn": dataset_group_arn, "dataLocation": data_location}
    if job_name:
        payload["jobName"] = job_name
    if tags:
        payload["tags"] = tags
    return payload


def export_problems(arn: str, size_type: str, size: int, name: Optional[str], description: Optional[str],
                    execution: Optional[str]) -> list[str]:
    problems = []
    if not GENERATION_JOB_ARN.fullmatch(arn):
        problems.append(f"--audience-generation-job-arn must be {_ARNS.GENERATION_JOB}")
    if size_type not in SIZE_TYPES:
        problems.append(f"--size-type must be one of {', '.join(SIZE_TYPES)}")
    elif size_type == "PERCENTAGE" and not 1 <= size <= 100:
        problems.append("--size must be between 1 and 100 for --size-type PERCENTAGE")
    elif not 1 <= size <= MAX_ABSOLUTE:
        problems.append(f"--size must be between 1 and {MAX_ABSOLUTE}")
    if name is not None and (not name.strip() or len(name) > 63):
        problems.append("--name must be 1-63 characters and not blank")
    if description is not None and len(description) > 255:
        problems.append("--description must be at most 255 characters")
    if execution is not None and not EXECUTION_NAME.fullmatch(execution):
        problems.append("--execution-name must be 1-80 characters without spaces or special characters")
    return problems


def export_input(arn: str, size_type: str, size: int, name: Optional[str] = None,
                 description: Optional[str] = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"audienceGenerationJobArn": arn, "audienceSize": {"type": size_type, "value": size}}
    if name is not None:
        payload["name"] = name
    if description is not None:
        payload["description"] = description
    return payload


def workflow_of(execution_input: Any) -> Optional[str]:
    """``data-deletion`` or ``audience-export`` from an execution's input, or None."""
    if isinstance(execution_input, dict):
        if "datasetGroupArn" in execution_input or "dataLocation" in execution_input:
            return DATA_DELETION
        if "audienceGenerationJobArn" in execution_input or "audienceSize" in execution_input:
            return AUDIENCE_EXPORT
    return None

"""What a finished execution amounts to: a JSON-safe summary and a short message.

Pure functions over ``DescribeExecution`` and the request the Validate step
produced. The inputs and outputs of these workflows never hold user IDs (the
CSV's content is read only by the pre-flight, which returns counts), so
neither does the summary.
"""

from __future__ import annotations

import json
from typing import Any

from jobkit.contract import DATA_DELETION as DELETION
from jobkit.jsonsafe import iso
from jobkit.model_rules import json_type

MAX_CAUSE = 2000


#: Longest input string copied into a summary (an execution input may hold anything up to 256 KiB).
MAX_TEXT = 2048


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _object(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one: a field is read only where it can be."""
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    """``value`` when it is a string of a sensible length, else None (the field is left out)."""
    return value if isinstance(value, str) and len(value) <= MAX_TEXT else None


def summarize(workflow: str, execution: dict[str, Any], request: dict[str, Any] | None) -> dict[str, Any]:
    """The summary of one finished execution (None values dropped)."""
    given = _object(_json(execution.get("input")))
    output = _object(_json(execution.get("output")))
    cause_text = execution.get("cause") if isinstance(execution.get("cause"), str) else None
    cause = _json(cause_text)
    job = {**_object(cause), **output}
    request = _object(request)
    summary: dict[str, Any] = {
        "workflow": workflow,
        "executionArn": execution["executionArn"],
        "executionName": execution.get("name"),
        "status": execution["status"],
        "startDate": iso(execution.get("startDate")),
        "stopDate": iso(execution.get("stopDate")),
        "error": execution.get("error"),
        "cause": cause_text[:MAX_CAUSE] if cause_text and not isinstance(cause, dict) else None,
    }
    if not isinstance(_json(execution.get("input")), dict):
        summary["inputType"] = json_type(_json(execution.get("input")))  # rejected on its shape
    if workflow == DELETION:
        location = _text(given.get("dataLocation"))
        input_data = _object(request.get("inputData") or job.get("inputData"))
        summary.update({
            "datasetGroupArn": _text(given.get("datasetGroupArn")),
            "dataLocation": location,
            "inputObject": _input_object(location, input_data.get("versionId")),
            "inputData": {k: v for k, v in input_data.items() if k != "versionId"} or None,
            "dataDeletionJobArn": job.get("dataDeletionJobArn") or (_texts(job.get("dataDeletionJobArns")) or [None])[0],
            "jobName": job.get("jobName") or request.get("jobName"),
            "jobStatus": job.get("status") if "deletionStatus" not in job else _text(job.get("deletionStatus")),
            "numDeleted": job.get("numDeleted"),
            "failureReason": job.get("failureReason"),
            # the opt-in quiet period and follow-through (README: "What the record proves")
            **{key: _texts(job.get(key)) for key in _ARN_LISTS},
            **{key: _object(job.get(key)) or None for key in _RECORDS},
            "busyWith": _entries(job.get("busyWith")),
            "overlap": _entries(job.get("overlap")) or None,
            "modelsRetrainedAt": _text(job.get("modelsRetrainedAt")),
        })
    else:
        summary.update({
            "audienceGenerationJobArn": _text(given.get("audienceGenerationJobArn")),
            "audienceSize": _size(given.get("audienceSize")),
            "name": job.get("name") or request.get("name"),
            "jobStatus": job.get("status"),
            "outputLocation": job.get("outputLocation"),
            "statusCode": job.get("statusCode"),
            "statusMessage": job.get("message") if job.get("status") == "CREATE_FAILED" else None,
            "sizeCheck": job.get("sizeCheck") or request.get("sizeCheck"),
        })
    return {k: v for k, v in summary.items() if v is not None}


#: Lists of ARNs and objects the deletion workflow's opt-in steps add to its output or cause.
_ARN_LISTS = ("dataDeletionJobArns", "solutionVersionArns", "campaignArns")
_RECORDS = ("quietPeriod", "followThrough")


def _texts(value: Any) -> list[str] | None:
    """``value`` when it is a list of strings of sensible lengths, else None."""
    if isinstance(value, list) and all(_text(item) is not None for item in value):
        return list(value)
    return None


def _entries(value: Any) -> list[dict[str, Any]] | None:
    """``value`` when it is a list of objects (``busyWith``, ``overlap`` entries: types, ARNs, statuses)."""
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        return value
    return None


def _size(value: Any) -> dict[str, Any] | None:
    """An ``audienceSize`` as given, when it has the documented shape."""
    if isinstance(value, dict) and set(value) == {"type", "value"} and _text(value["type"]) is not None \
            and isinstance(value["value"], (int, float)) and not isinstance(value["value"], bool):
        return value
    return None


def _input_object(location: Any, version: Any) -> dict[str, str] | None:
    if not isinstance(location, str) or not location.startswith("s3://") or location.endswith("/"):
        return None
    bucket, _, key = location[5:].partition("/")
    out = {"bucket": bucket, "key": key}
    if version:
        out["versionId"] = str(version)
    return out


def subject(summary: dict[str, Any]) -> str:
    """A one-line subject (SNS allows 100 characters)."""
    what = "Data deletion" if summary["workflow"] == DELETION else "Audience export"
    text = f"{what} {summary['status']}: {summary.get('executionName', '')}"
    return text[:100]


def message(summary: dict[str, Any]) -> str:
    """A short human-readable message."""
    lines = [subject(summary), ""]
    if summary["workflow"] == DELETION:
        fields = ("dataDeletionJobArn", "jobName", "datasetGroupArn", "dataLocation", "jobStatus", "numDeleted",
                  "failureReason", "dataDeletionJobArns", "busyWith", "followThrough", "solutionVersionArns",
                  "campaignArns", "modelsRetrainedAt")
    else:
        fields = ("name", "audienceGenerationJobArn", "jobStatus", "outputLocation", "statusCode", "statusMessage")
    for field in (*fields, "error", "cause", "startDate", "stopDate", "executionArn"):
        if field in summary:
            value = summary[field]
            lines.append(f"{field}: {json.dumps(value) if isinstance(value, (dict, list)) else value}")
    return "\n".join(lines)


def audit_key(prefix: str, summary: dict[str, Any]) -> str:
    """``<prefix><workflow>/<yyyy>/<mm>/<dd>/<execution name>.json`` (a redelivery rewrites the same key)."""
    day = (summary.get("stopDate") or summary.get("startDate") or "0000-00-00")[:10].replace("-", "/")
    return f"{prefix}{summary['workflow']}/{day}/{summary.get('executionName', 'unknown')}.json"

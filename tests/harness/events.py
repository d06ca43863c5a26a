"""A small EventBridge for the local harness: the template's rules, matched and
delivered in-process to their Lambda targets.

Covers the pattern features the library uses: literal lists, ``prefix``
matchers and nested ``detail`` objects. Events that these rules see are the
ones AWS services emit (Step Functions "Execution Status Change", S3 "Object
Created"); :func:`sfn_status_change` and :func:`s3_object_created` build them
in AWS's documented shapes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .assembly import ACCOUNT, REGION, Resolver

#: Source of the events the workflows publish (cdk_ml_data_jobs.EVENT_SOURCE).
OUTCOME_SOURCE = "cdk-ml-data-jobs"


@dataclass(frozen=True)
class Rule:
    logical_id: str
    pattern: dict[str, Any]
    targets: tuple[str, ...]  # function ARNs


def rules(template: dict[str, Any], resolver: Resolver) -> list[Rule]:
    found = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Events::Rule":
            continue
        props = resolver.resolve(resource["Properties"])
        if props.get("State", "ENABLED") != "ENABLED" or "EventPattern" not in props:
            continue
        found.append(Rule(logical_id, props["EventPattern"], tuple(t["Arn"] for t in props.get("Targets", []))))
    return found


def matches(pattern: Any, event: Any) -> bool:
    """EventBridge matching for the subset of pattern syntax the library's rules use."""
    if isinstance(pattern, dict):
        if not isinstance(event, dict):
            return False
        return all(key in event and matches(value, event[key]) for key, value in pattern.items())
    if isinstance(pattern, list):
        return any(_matches_one(option, event) for option in pattern)
    raise ValueError(f"unsupported pattern {pattern!r}")


def _matches_one(option: Any, value: Any) -> bool:
    if isinstance(option, dict):
        if set(option) == {"prefix"}:
            return isinstance(value, str) and value.startswith(option["prefix"])
        raise ValueError(f"unsupported matcher {option!r}")
    return option == value


def _envelope(source: str, detail_type: str, resources: list[str], detail: dict[str, Any],
              when: datetime) -> dict[str, Any]:
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": detail_type, "source": source,
            "account": ACCOUNT, "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": REGION,
            "resources": resources, "detail": detail}


def sfn_status_change(described: dict[str, Any], when: datetime) -> dict[str, Any]:
    """Step Functions' "Execution Status Change" event for a described execution."""
    detail = {
        "executionArn": described["executionArn"], "stateMachineArn": described["stateMachineArn"],
        "name": described["name"], "status": described["status"],
        "startDate": int(described["startDate"].timestamp() * 1000),
        "stopDate": int(described["stopDate"].timestamp() * 1000) if described.get("stopDate") else None,
        "input": described.get("input"), "output": described.get("output"),
    }
    return _envelope("aws.states", "Step Functions Execution Status Change", [described["executionArn"]],
                     detail, when)


def s3_object_created(bucket: str, key: str, head: dict[str, Any], when: datetime,
                      sequencer: str) -> dict[str, Any]:
    """S3's "Object Created" event (EventBridge notifications) for an object just written."""
    obj: dict[str, Any] = {"key": key, "size": head["ContentLength"], "etag": head["ETag"].strip('"'),
                           "sequencer": sequencer}
    if head.get("VersionId") and head["VersionId"] != "null":
        obj["version-id"] = head["VersionId"]
    detail = {"version": "0", "bucket": {"name": bucket}, "object": obj, "request-id": uuid.uuid4().hex[:16],
              "requester": ACCOUNT, "reason": "PutObject"}
    return _envelope("aws.s3", "Object Created", [f"arn:aws:s3:::{bucket}"], detail, when)

"""Announce a finished execution: an EventBridge event, an optional SNS message,
and (deletions) an audit record in the bucket.

Event: Step Functions "Execution Status Change" from EventBridge, for a
terminal status (SUCCEEDED, FAILED, TIMED_OUT, ABORTED). The execution is read
back with DescribeExecution (authoritative, and carries error and cause), and
the Validate step's result from the first page of its history.
"""

from __future__ import annotations

import json
import os
from typing import Any

from botocore.exceptions import ClientError

import outcome_summary
from jobkit import clients
from jobkit.contract import DEFAULT_AUDIT_PREFIX, DETAIL_TYPES, EVENT_SOURCE, STATE_VALIDATE, Env
from jobkit.errors import service_error


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    workflow = os.environ[Env.WORKFLOW]
    execution_arn = event["detail"]["executionArn"]
    sfn = clients.client("stepfunctions")
    try:
        execution = sfn.describe_execution(executionArn=execution_arn)
        request = _validated_request(sfn, execution_arn)
    except ClientError as error:
        raise service_error(error, "DescribeExecution") from None
    summary = outcome_summary.summarize(workflow, execution, request)
    body = json.dumps(summary, sort_keys=True)

    result = clients.client("events").put_events(Entries=[{
        "Source": EVENT_SOURCE, "DetailType": DETAIL_TYPES[workflow], "Detail": body,
        "Resources": [execution_arn],
    }])
    if result.get("FailedEntryCount"):
        raise RuntimeError(f"PutEvents refused the event: {result['Entries'][0].get('ErrorCode')}")
    topic = os.environ.get(Env.TOPIC_ARN)
    if topic:
        clients.client("sns").publish(TopicArn=topic, Subject=outcome_summary.subject(summary),
                                      Message=outcome_summary.message(summary))
    bucket = os.environ.get(Env.AUDIT_BUCKET)
    key = None
    if bucket:
        key = outcome_summary.audit_key(os.environ.get(Env.AUDIT_PREFIX, DEFAULT_AUDIT_PREFIX), summary)
        clients.client("s3").put_object(Bucket=bucket, Key=key, Body=body.encode("utf-8"),
                                        ContentType="application/json")
    return {"executionArn": execution_arn, "status": summary["status"], "auditKey": key, "notified": bool(topic)}


def _validated_request(sfn: Any, execution_arn: str) -> dict[str, Any] | None:
    """The Validate step's result (``$.request``), if the execution got that far."""
    page = sfn.get_execution_history(executionArn=execution_arn, maxResults=50)
    for event in page.get("events", []):
        details = event.get("stateExitedEventDetails") or {}
        if event.get("type") == "TaskStateExited" and details.get("name") == STATE_VALIDATE:
            output = json.loads(details.get("output") or "{}")
            return output.get("request") if isinstance(output, dict) else None
    return None

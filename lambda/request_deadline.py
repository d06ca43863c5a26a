"""Measure how long the oldest open deletion request has waited, for the queue's deadline alarm.

Scheduled (hourly). Reads the first item of the ledger's sparse ``open`` index
(requests QUEUED or IN_PROGRESS, oldest ``receivedAt`` first) and counts the
open requests, then publishes both as CloudWatch metrics (0 when none is
open). No user ID is read.
"""

from __future__ import annotations

import os
from typing import Any

from botocore.exceptions import ClientError

from jobkit import clients, clock
from jobkit.contract import (
    LEDGER_OPEN,
    LEDGER_OPEN_FLAG,
    LEDGER_OPEN_INDEX,
    METRIC_DIMENSION_NAME,
    METRIC_NAMESPACE,
    METRIC_OLDEST_OPEN_REQUEST,
    METRIC_OPEN_REQUESTS,
    Env,
)
from jobkit.errors import service_error
from jobkit.jsonsafe import parse_iso


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    dynamodb = clients.client("dynamodb")
    query = {"TableName": os.environ[Env.LEDGER_TABLE], "IndexName": LEDGER_OPEN_INDEX,
             "KeyConditionExpression": "#o = :o", "ExpressionAttributeNames": {"#o": LEDGER_OPEN_FLAG},
             "ExpressionAttributeValues": {":o": {"S": LEDGER_OPEN}}}
    try:
        first = dynamodb.query(**query, ScanIndexForward=True, Limit=1).get("Items", [])
        count = sum(page.get("Count", 0) for page in
                    dynamodb.get_paginator("query").paginate(**query, Select="COUNT"))
    except ClientError as error:
        raise service_error(error, "Query") from None
    oldest = None
    age = 0.0
    if first:
        oldest = first[0]["receivedAt"]["S"]
        age = max(0.0, (clock.now() - parse_iso(oldest)).total_seconds())
    dimensions = [{"Name": METRIC_DIMENSION_NAME, "Value": os.environ[Env.METRIC_DIMENSION]}]
    clients.client("cloudwatch").put_metric_data(Namespace=METRIC_NAMESPACE, MetricData=[
        {"MetricName": METRIC_OLDEST_OPEN_REQUEST, "Value": age, "Unit": "Seconds", "Dimensions": dimensions},
        {"MetricName": METRIC_OPEN_REQUESTS, "Value": float(count), "Unit": "Count", "Dimensions": dimensions},
    ])
    return {"openRequests": count, "oldestReceivedAt": oldest, "oldestAgeSeconds": int(age)}

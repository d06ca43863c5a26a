"""Start a data deletion when a user-ID file is uploaded under a configured prefix.

Event: S3 "Object Created" through EventBridge. The execution name is derived
from the bucket, key and object version (or the event's sequencer when the
bucket is not versioned), and Step Functions refuses a second execution of the
same name: the same object version never starts two deletions, however often
the event is delivered. The execution input is the documented contract.
"""

from __future__ import annotations

import json
import os
from typing import Any

from botocore.exceptions import ClientError

from jobkit import clients, names
from jobkit.contract import Env
from jobkit.errors import error_code, service_error


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    detail = event["detail"]
    bucket, obj = detail["bucket"]["name"], detail["object"]
    key = obj["key"]
    if not key.endswith(".csv"):
        return {"started": False, "reason": "not a .csv file"}
    triggers: dict[str, str] = json.loads(os.environ[Env.UPLOAD_TRIGGERS])
    matching = sorted((p for p in triggers if key.startswith(p)), key=len, reverse=True)
    if not matching:
        return {"started": False, "reason": "no trigger for this prefix"}
    version = obj.get("version-id") or f"seq-{obj.get('sequencer', '')}"
    name = names.upload_execution_name(bucket, key, version)
    payload = {"datasetGroupArn": triggers[matching[0]], "dataLocation": f"s3://{bucket}/{key}"}
    try:
        started = clients.client("stepfunctions").start_execution(
            stateMachineArn=os.environ[Env.STATE_MACHINE_ARN], name=name, input=json.dumps(payload))
    except ClientError as error:
        if error_code(error) == "ExecutionAlreadyExists":
            return {"started": False, "reason": "this object version already started a deletion", "name": name}
        raise service_error(error, "StartExecution") from None
    return {"started": True, "executionArn": started["executionArn"], "name": name}

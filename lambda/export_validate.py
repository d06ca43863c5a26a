"""Validate an audience export request. Starts nothing.

Checks the input against the service model (plus the 1–100 range for
percentages, which the model does not enforce), that the audience generation
job is ACTIVE, and, where the configured audience model can be read, that the
size is one of its bins. When the model belongs to another account and cannot
be read, the size is left to the service and the output says so.

Event: ``{"input": <execution input>, "executionName": <name>}``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from botocore.exceptions import ClientError

from jobkit import arns, clients, model_rules, names, sdk
from jobkit.contract import Env
from jobkit.errors import InvalidInput, error_code, service_error

OPERATION = "StartAudienceExportJob"
#: What an execution input looks like, for the message rejecting one that is not an object.
EXAMPLE = ('{"audienceGenerationJobArn": "arn:aws:cleanrooms-ml:REGION:ACCOUNT:audience-generation-job/ID", '
           '"audienceSize": {"type": "ABSOLUTE", "value": 5000}}')
FIELDS = ("audienceGenerationJobArn", "audienceSize", "name", "description")
_NOT_THERE = ("ResourceNotFoundException", "ValidationException")
_NOT_READABLE = ("AccessDeniedException", "ResourceNotFoundException")

SIZE_MATCHED = "MATCHED_MODEL_BIN"
SIZE_NOT_CONFIGURED = "MODEL_HAS_NO_SIZE_CONFIG"
SIZE_NOT_READABLE = "MODEL_NOT_READABLE_SERVICE_DECIDES"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    data = event.get("input")
    if not isinstance(data, dict):
        raise InvalidInput(model_rules.object_problems(data, EXAMPLE))
    api = clients.client("cleanroomsml")
    clients.require_operations(api, sdk.EXPORT_OPERATIONS, sdk.EXPORT_MIN_BOTOCORE)
    problems = model_rules.unknown_fields(data, FIELDS)
    for field in ("audienceGenerationJobArn", "audienceSize"):
        if field not in data:
            problems.append(f"{field} is required")
    for field in FIELDS:
        if field in data:
            problems += model_rules.problems(model_rules.member_shape(api, OPERATION, field), data[field], field)
    arn = data.get("audienceGenerationJobArn")
    if isinstance(arn, str):
        problems += _arn_problems(arn)
    size = data.get("audienceSize")
    if isinstance(size, dict) and size.get("type") == "PERCENTAGE" and isinstance(size.get("value"), int):
        if not 1 <= size["value"] <= 100:
            problems.append("audienceSize.value must be between 1 and 100 for type PERCENTAGE")
    name = data.get("name")
    if name is None:
        name = names.bounded_name(str(event["executionName"]))
    if problems:
        raise InvalidInput(problems)

    generation = _generation_job(api, arn)
    size_check = _size_check(api, generation["configuredAudienceModelArn"], size)
    request: dict[str, Any] = {
        "audienceGenerationJobArn": arn,
        "audienceSize": {"type": size["type"], "value": size["value"]},
        "name": name,
        "configuredAudienceModelArn": generation["configuredAudienceModelArn"],
        "sizeCheck": size_check,
    }
    if "description" in data:
        request["description"] = data["description"]
    return request


def _arn_problems(arn: str) -> list[str]:
    return arns.problems("audienceGenerationJobArn", arn, arns.GENERATION_JOB_ARN, arns.GENERATION_JOB,
                         region=os.environ.get("AWS_REGION"),
                         allowed=json.loads(os.environ[Env.ALLOWED_GENERATION_JOB_ARNS]),
                         allowed_as="the generation jobs this workflow may export")


def _generation_job(api: Any, arn: str) -> dict[str, Any]:
    try:
        job = api.get_audience_generation_job(audienceGenerationJobArn=arn)
    except ClientError as error:
        if error_code(error) in _NOT_THERE:
            raise InvalidInput(f"audienceGenerationJobArn: {error.response['Error'].get('Message', error_code(error))}")
        raise service_error(error, "GetAudienceGenerationJob") from None
    if job.get("status") != "ACTIVE":
        raise InvalidInput(
            f"the audience generation job is {job.get('status')}; only an ACTIVE generation job can be exported"
        )
    return job


def _size_check(api: Any, model_arn: str, size: dict[str, Any]) -> str:
    try:
        model = api.get_configured_audience_model(configuredAudienceModelArn=model_arn)
    except ClientError as error:
        if error_code(error) in _NOT_READABLE:
            return SIZE_NOT_READABLE
        raise service_error(error, "GetConfiguredAudienceModel") from None
    config = model.get("audienceSizeConfig")
    if not config:
        return SIZE_NOT_CONFIGURED
    bins = sorted(config.get("audienceSizeBins", []))
    if size["type"] != config.get("audienceSizeType") or size["value"] not in bins:
        raise InvalidInput(
            f"audienceSize must be one of the configured audience model's sizes: type "
            f"{config.get('audienceSizeType')}, value one of {', '.join(str(b) for b in bins)}"
        )
    return SIZE_MATCHED

"""Start the audience export, or adopt the export this execution already started.

StartAudienceExportJob returns an empty body. The export is identified by its
generation job, name and size. When such an export is already listed (a retry
after a lost response, a redriven execution) or the start answers
``ConflictException`` and the export is listed, it is adopted: never a second export.

Event: ``{"request": <validated request>}``. Returns the tracker (phase RUNNING).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

import export_lookup
from jobkit import clients, clock, sdk, tracker
from jobkit.errors import error_code, service_error
from jobkit.jsonsafe import iso

OPERATIONS = sdk.EXPORT_OPERATIONS
MIN_BOTOCORE = sdk.EXPORT_MIN_BOTOCORE


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = event["request"]
    api = clients.client("cleanroomsml")
    clients.require_operations(api, OPERATIONS, MIN_BOTOCORE)
    arn, name, size = request["audienceGenerationJobArn"], request["name"], request["audienceSize"]
    adopted = export_lookup.find(arn, name, size) is not None
    if not adopted:
        params: dict[str, Any] = {"name": name, "audienceGenerationJobArn": arn, "audienceSize": size}
        if request.get("description") is not None:
            params["description"] = request["description"]
        try:
            api.start_audience_export_job(**params)
        except ClientError as error:
            if error_code(error) != "ConflictException" or export_lookup.find(arn, name, size) is None:
                raise service_error(error, "StartAudienceExportJob") from None
            adopted = True
    job = {"name": name, "audienceGenerationJobArn": arn, "audienceSize": size,
           "startedAt": iso(clock.now()), "adopted": adopted}
    return tracker.running(job, "STARTED", tracker.PollSettings.from_env().min_wait)

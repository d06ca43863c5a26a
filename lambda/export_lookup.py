"""Find an audience export job. StartAudienceExportJob returns no ID and there is
no Get call: the only way to see an export is ListAudienceExportJobs for its
audience generation job, through every page, matched by name and size.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from jobkit import clients
from jobkit.errors import service_error


def find(generation_job_arn: str, name: str, size: dict[str, Any]) -> dict[str, Any] | None:
    """The newest export of ``generation_job_arn`` named ``name`` with size ``size``, or None."""
    api = clients.client("cleanroomsml")
    matches = []
    try:
        for page in api.get_paginator("list_audience_export_jobs").paginate(
            audienceGenerationJobArn=generation_job_arn
        ):
            for job in page.get("audienceExportJobs", []):
                if job.get("name") == name and _same_size(job.get("audienceSize"), size):
                    matches.append(job)
    except ClientError as error:
        raise service_error(error, "ListAudienceExportJobs") from None
    if not matches:
        return None
    return max(matches, key=lambda job: job["createTime"])


def _same_size(listed: Any, wanted: dict[str, Any]) -> bool:
    return isinstance(listed, dict) and listed.get("type") == wanted["type"] and listed.get("value") == wanted["value"]

"""Check an audience export and decide: wait again, succeed, or stop with a named error.

The export is found by listing (see ``export_lookup``). Right after the start
call it may not be listed yet: that counts as pending for a grace period
(``NOT_LISTED_GRACE_SECONDS``), after which the execution stops with
``AudienceExportJobNotFound``.
"""

from __future__ import annotations

import os
from typing import Any

import export_lookup
from jobkit import clock, tracker
from jobkit.contract import Env
from jobkit.jsonsafe import iso, parse_iso

RUNNING = ("CREATE_PENDING", "CREATE_IN_PROGRESS")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request, job = event["request"], event["tracker"]["job"]
    settings = tracker.PollSettings.from_env()
    now = clock.now()
    found = export_lookup.find(job["audienceGenerationJobArn"], job["name"], job["audienceSize"])
    if found is None:
        waited = (now - parse_iso(job["startedAt"])).total_seconds()
        grace = int(os.environ[Env.NOT_LISTED_GRACE_SECONDS])
        if waited < grace:
            return tracker.running(job, "NOT_LISTED_YET", min(settings.min_wait, max(1, int(grace - waited))))
        return tracker.stopped(job, "NOT_LISTED", "AudienceExportJobNotFound", {
            **_identity(job),
            "message": f"The export was started but is not listed by ListAudienceExportJobs after {int(waited)} s.",
        })

    status = str(found.get("status", ""))
    age = (now - found["createTime"]).total_seconds()
    summary = {
        **_identity(job),
        "status": status,
        "createTime": iso(found.get("createTime")),
        "updateTime": iso(found.get("updateTime")),
    }
    if found.get("description") is not None:
        summary["description"] = found["description"]
    if status == "ACTIVE":
        return tracker.succeeded(job, status, {
            **summary,
            "outputLocation": found.get("outputLocation"),
            "sizeCheck": request.get("sizeCheck"),
            "adopted": job.get("adopted", False),
        })
    if status == "CREATE_FAILED":
        details = found.get("statusDetails") or {}
        return tracker.stopped(job, status, "AudienceExportJobFailed", {
            **summary, "statusCode": details.get("statusCode"), "message": details.get("message"),
        })
    return tracker.follow(job, status, age, settings, summary, running_statuses=RUNNING, unexpected=(
        "AudienceExportJobUnexpectedStatus",
        "Clean Rooms ML reported status {status!r}; expected CREATE_PENDING, CREATE_IN_PROGRESS, ACTIVE or "
        "CREATE_FAILED. The workflow stopped following the export instead of guessing.",
    ), timed_out=(
        "AudienceExportJobTimedOut",
        "The export is still {status} after {age} s (job timeout {timeout} s).",
    ))


def _identity(job: dict[str, Any]) -> dict[str, Any]:
    return {"name": job["name"], "audienceGenerationJobArn": job["audienceGenerationJobArn"],
            "audienceSize": job["audienceSize"]}

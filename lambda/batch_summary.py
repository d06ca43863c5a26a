"""Summarize a batch run: per dataset group its batch ID, requests, jobs and status; the groups deferred and why.

Event: ``{"groups": [<each dataset group's claim, with "results" of its parts>], "requestsCompleted",
"requestsFailed"}`` (the Record step's output). Pure: calls no service. The run succeeds whatever the jobs' outcomes; requests
whose job failed are back in the queue or FAILED, as each part's record says.
"""

from __future__ import annotations

from typing import Any

from jobkit.contract import BATCH_BUSY, BATCH_COMPLETED, BATCH_FAILED, BATCH_NOTHING_QUEUED, BATCH_PARTIAL


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {**summarize(event.get("groups") or []), "requestsCompleted": int(event.get("requestsCompleted") or 0),
            "requestsFailed": int(event.get("requestsFailed") or 0)}


def summarize(groups: list[dict[str, Any]]) -> dict[str, Any]:
    summary: list[dict[str, Any]] = []
    deferred: list[dict[str, Any]] = []
    batch = None
    for group in groups:
        batch = batch or group.get("batchId")
        if group.get("deferred"):
            deferred.append({"datasetGroupArn": group["datasetGroupArn"], "reason": group.get("reason"),
                             "pendingJobs": group.get("pendingJobs"), "queued": group.get("queued")})
            continue
        results = group.get("results") or []
        statuses = {r.get("status") for r in results}
        status = (BATCH_NOTHING_QUEUED if not results else BATCH_COMPLETED if statuses == {BATCH_COMPLETED}
                  else BATCH_FAILED if statuses == {BATCH_FAILED} else BATCH_BUSY if statuses == {BATCH_BUSY}
                  else BATCH_PARTIAL)
        summary.append({
            "datasetGroupArn": group["datasetGroupArn"], "batchId": group.get("batchId"),
            "requests": sum(int(r.get("requests", 0)) for r in results),
            "dataDeletionJobArns": [r["dataDeletionJobArn"] for r in results if r.get("dataDeletionJobArn")],
            "status": status,
            "requeued": sum(int(r.get("requeued", 0)) for r in results),
            "failed": sum(int(r.get("failed", 0)) for r in results),
            "stillQueued": group.get("queued", 0),
        })
        reasons = sorted({r["reason"] for r in results if r.get("reason")})
        if reasons:
            summary[-1]["failureReasons"] = reasons
    return {"batchId": batch, "datasetGroups": summary, "deferred": deferred}

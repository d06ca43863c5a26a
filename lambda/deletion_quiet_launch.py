"""Launch a data deletion job once the dataset group is quiet (``quiet_period_enabled``).

Event: ``{"request"}`` (the first launch) or ``{"request", "tracker"}`` (the
``LaunchAgain`` state: after a wait, or for the one additional job an overlap
calls for). Before ``CreateDataDeletionJob`` the group must have no solution
version or dataset import job being created and no batch inference or batch
segment job running (``jobkit.activity``). While it is busy the tracker's phase
is ``WAIT_TO_LAUNCH`` with an adaptive wait, counted from this launch's first
check; past ``QUIET_PERIOD_TIMEOUT_SECONDS`` the execution stops with
``DatasetGroupBusy`` and a JSON cause listing what the group was busy with
(types, ARNs and statuses only). Once quiet, the job is created (or adopted) as
``deletion_launch`` does, and ``job.quietPeriod`` records what was waited for
and for how long.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import deletion_launch
from jobkit import activity, clients, clock, names, tracker
from jobkit.contract import ERROR_DATASET_GROUP_BUSY, PHASE_WAIT_TO_LAUNCH, Env
from jobkit.jsonsafe import iso, parse_iso

OPERATIONS = (*deletion_launch.OPERATIONS, *activity.BUSY_OPERATIONS)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = event["request"]
    previous = dict((event.get("tracker") or {}).get("job") or {})
    timeout = int(os.environ[Env.QUIET_PERIOD_TIMEOUT_SECONDS])
    settings = tracker.PollSettings.from_env()
    personalize = clients.client("personalize")
    clients.require_operations(personalize, OPERATIONS, deletion_launch.MIN_BOTOCORE)

    now = clock.now()
    since = parse_iso(previous["quietSince"]) if previous.get("quietSince") else now
    waited = max(0, int((now - since).total_seconds()))
    busy = activity.busy(personalize, request["datasetGroupArn"])
    record = dict(previous.get("quietPeriod") or {"timeoutSeconds": timeout, "checks": 0, "waitedSeconds": 0,
                                                  "waitedFor": [], "startedAt": iso(now)})
    record["checks"] += 1
    record["waitedFor"] = activity.merge(record["waitedFor"], busy)
    completed = previous.get("completedJobs", [])
    carried = {k: previous[k] for k in ("completedJobs", "overlap") if k in previous}

    name = names.overlap_job_name(request["jobName"]) if completed else request["jobName"]
    if busy and waited >= timeout and deletion_launch.find_job(personalize, name, request["datasetGroupArn"]):
        busy = []  # a previous attempt created the job before its response was lost: adopt it, never report it
    if busy:
        if waited >= timeout:
            return tracker.stopped(previous, "BUSY", ERROR_DATASET_GROUP_BUSY, {
                "datasetGroupArn": request["datasetGroupArn"],
                "busyWith": busy[:activity.MAX_LISTED],
                "waitedSeconds": record["waitedSeconds"] + waited,
                "quietPeriodTimeoutSeconds": timeout,
                "dataDeletionJobArns": [job["dataDeletionJobArn"] for job in completed],
                "message": (f"The dataset group was still busy after {waited} s (quiet period timeout {timeout} s); "
                            "no data deletion job was started" + (" after the completed one(s)." if completed
                                                                 else ".")),
            })
        quiet = dataclasses.replace(settings, job_timeout=timeout)
        job = {**carried, "quietSince": iso(since), "quietPeriod": record}
        return tracker.waiting(PHASE_WAIT_TO_LAUNCH, job, "BUSY", quiet.wait_for(waited))

    record["waitedSeconds"] += waited
    record["endedAt"] = iso(now)
    job = {**deletion_launch.start_job(personalize, request, name), **carried, "quietPeriod": record}
    return tracker.running(job, "PENDING", settings.min_wait)

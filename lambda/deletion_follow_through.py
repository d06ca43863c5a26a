"""After the deletion job(s) COMPLETED: the overlap check, retraining and campaign updates.

Runs only in definitions with the ``FollowThrough`` state (``quiet_period_enabled``
or ``retrain_solution_arns``). Event: ``{"request", "tracker"}``; the tracker is
the poll's ``SUCCEEDED`` one (a deletion job completed) or this function's own
``FOLLOW_THROUGH`` one. Each invocation does what can be done without waiting
and returns the next tracker:

1. Overlap (``CHECK_OVERLAP``): when the first job completed and a solution
   version or a dataset import job of the group was created between its
   creation and its completion, ``WAIT_TO_LAUNCH`` for one more job (never more).
2. Retraining (the group in ``RETRAIN_SOLUTION_ARNS``): ``CreateSolutionVersion``
   with ``trainingMode`` ``FULL`` for each listed solution, named after the
   request (a retry or redrive finds it by listing and adopts it), then
   ``FOLLOW_THROUGH`` with the adaptive wait until each is ACTIVE (a solution busy with another version,
   ``ResourceInUseException``, is tried again at each check) (growing with the request's age, from
   the first deletion job's creation, so a training after a day-long deletion costs few checks).
3. Campaigns (``UPDATE_CAMPAIGNS``): ``UpdateCampaign`` of each campaign of those
   solutions to the new version (unless it already is), then wait until each
   ``latestCampaignUpdate`` is ACTIVE.

A training or an update that fails, or a call Personalize refuses (a transient
error is tried again at the next check, within ``job_timeout``; before the
trainings exist the state machine retries it), stops the execution with
``ModelRetrainingFailed``: the deletion stays COMPLETED, the cause carries the
completed job ARNs and the reason. No user data is read or returned.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from jobkit import activity, clients, clock, names, tracker
from jobkit.contract import (DELETION_TRANSIENT_ERRORS, ERROR_MODEL_RETRAINING_FAILED, PHASE_FOLLOW_THROUGH,
                             PHASE_WAIT_TO_LAUNCH, TRUE, Env)
from jobkit.errors import JobNameInUse, ServiceError, error_code, service_error
from jobkit.jsonsafe import iso, parse_iso

OPERATIONS = ("CreateSolutionVersion", "DescribeSolutionVersion", "ListSolutionVersions", "ListCampaigns",
              "DescribeCampaign", "UpdateCampaign", *activity.OVERLAP_OPERATIONS)
MIN_BOTOCORE = "1.34.97"
START, TRAINING, CAMPAIGNS = "START", "TRAINING", "CAMPAIGN_UPDATE"
ACTIVE = "ACTIVE"
#: A retraining not created yet: the solution was creating another version (automatic training, a user's).
NOT_STARTED = "NOT_STARTED"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request, current = event["request"], event["tracker"]
    settings = tracker.PollSettings.from_env()
    personalize = clients.client("personalize")
    clients.require_operations(personalize, OPERATIONS, MIN_BOTOCORE)
    job = dict(current["job"])
    if current["phase"] != PHASE_FOLLOW_THROUGH:
        try:
            return _deletion_completed(personalize, request, job, current["result"], settings)
        except (ServiceError, JobNameInUse) as error:
            if type(error).__name__ in DELETION_TRANSIENT_ERRORS:
                raise  # retried by the state machine; what was created is adopted on the retry
            done = {"completedJobs": [*job.get("completedJobs", []), current["result"]],
                    "quietPeriod": job.get("quietPeriod")}
            return _failed(done, {"stage": START}, None, type(error).__name__, str(error))
    state = dict(job["followThrough"])
    age = (clock.now() - parse_iso(state["startedAt"])).total_seconds()
    try:
        if state["stage"] == TRAINING:
            return _training(personalize, job, state, age, settings)
        return _campaigns(personalize, job, state, age, settings)
    except ServiceError as error:
        # The deletion COMPLETED: whatever Personalize refuses now ends with the record, never a bare message.
        if error.code in DELETION_TRANSIENT_ERRORS and not settings.timed_out(age):
            return tracker.waiting(PHASE_FOLLOW_THROUGH, job, state["stage"],
                                   settings.wait_for(age, _request_age(job)))
        return _failed(job, state, None, error.code, str(error))


# ---- after a deletion job COMPLETED ---------------------------------------------------------------

def _deletion_completed(personalize: Any, request: dict[str, Any], job: dict[str, Any], result: dict[str, Any],
                        settings: tracker.PollSettings) -> dict[str, Any]:
    completed = [*job.get("completedJobs", []), result]
    group = request["datasetGroupArn"]
    if os.environ[Env.CHECK_OVERLAP] == TRUE and len(completed) == 1:
        overlap = activity.created_between(personalize, group, parse_iso(result["creationDateTime"]),
                                           parse_iso(result["lastUpdatedDateTime"]))
        if overlap:
            carried = {"completedJobs": completed, "overlap": overlap[:activity.MAX_LISTED],
                       "quietPeriod": job.get("quietPeriod")}
            return tracker.waiting(PHASE_WAIT_TO_LAUNCH, carried, "OVERLAPPED", settings.min_wait)
    done = {"completedJobs": completed, "quietPeriod": job.get("quietPeriod"), "overlap": job.get("overlap")}
    solutions = json.loads(os.environ[Env.RETRAIN_SOLUTION_ARNS]).get(group, [])
    if not solutions:
        return tracker.succeeded(done, "COMPLETED", _output(done, {"status": "NOT_CONFIGURED"}))
    finished = parse_iso(result["lastUpdatedDateTime"])
    name = names.retrain_version_name(request["jobName"])
    versions = [_start(personalize, {"solutionArn": arn}, name, finished) for arn in solutions]
    state = {"stage": TRAINING, "startedAt": iso(clock.now()), "versionName": name,
             "deletionFinishedAt": iso(finished), "versions": versions, "campaigns": []}
    return tracker.waiting(PHASE_FOLLOW_THROUGH, {**done, "followThrough": state}, TRAINING, settings.min_wait)


def _start(personalize: Any, version: dict[str, Any], name: str, since: datetime) -> dict[str, Any]:
    """``version`` (``{"solutionArn"}``) with the ARN of its training, ``CREATE PENDING``; or still
    ``NOT_STARTED`` while the solution trains another version (``ResourceInUseException``, e.g. automatic
    training): the next check tries again, within the follow-through's timeout."""
    arn = _train(personalize, version["solutionArn"], name, since)
    return {**version, "solutionVersionArn": arn, "status": "CREATE PENDING" if arn else NOT_STARTED}


def _train(personalize: Any, solution: str, name: str, since: datetime) -> str | None:
    """ARN of the solution version ``name`` of ``solution``: created now (trainingMode FULL), or the one a
    previous attempt of this step created (found among the versions created since the deletion finished);
    None while the solution is busy creating another version."""
    try:
        return personalize.create_solution_version(solutionArn=solution, name=name,
                                                   trainingMode="FULL")["solutionVersionArn"]
    except ClientError as error:
        if error_code(error) == "ResourceInUseException":
            return None
        if error_code(error) != "ResourceAlreadyExistsException":
            raise service_error(error, "CreateSolutionVersion") from None
    for summary in activity.pages(personalize, "list_solution_versions", "solutionVersions", solutionArn=solution):
        created = summary.get("creationDateTime")
        if created is not None and created < since:
            continue
        if _describe_version(personalize, summary["solutionVersionArn"]).get("name") == name:
            return summary["solutionVersionArn"]
    raise JobNameInUse(f"A solution version named {name} exists for {solution} but was not created after the "
                       "deletion; it is not adopted (start the execution under another name)")


def _describe_version(personalize: Any, arn: str) -> dict[str, Any]:
    try:
        return personalize.describe_solution_version(solutionVersionArn=arn)["solutionVersion"]
    except ClientError as error:
        raise service_error(error, "DescribeSolutionVersion") from None


def _describe_campaign(personalize: Any, arn: str) -> dict[str, Any]:
    try:
        return personalize.describe_campaign(campaignArn=arn)["campaign"]
    except ClientError as error:
        raise service_error(error, "DescribeCampaign") from None


# ---- waiting for the training and the campaign updates -------------------------------------------

def _training(personalize: Any, job: dict[str, Any], state: dict[str, Any], age: float,
              settings: tracker.PollSettings) -> dict[str, Any]:
    def read(version: dict[str, Any]) -> dict[str, Any]:
        if version["solutionVersionArn"] is None:
            return _start(personalize, version, state["versionName"], parse_iso(state["deletionFinishedAt"]))
        described = _describe_version(personalize, version["solutionVersionArn"])
        version = {**version, "status": str(described.get("status", "")),
                   "trainedAt": iso(described.get("lastUpdatedDateTime"))}
        if version["status"] not in (ACTIVE, *activity.CREATING):
            return _failed(job, state, version["solutionVersionArn"], version["status"],
                           described.get("failureReason") or f"the training ended {version['status']}")
        return version

    versions = _recheck(state["versions"], read)
    if isinstance(versions, dict):
        return versions
    state = {**state, "versions": versions}
    if any(v["status"] != ACTIVE for v in versions):
        return _wait_or_time_out(job, state, age, settings, next(v for v in versions if v["status"] != ACTIVE))
    state["modelsRetrainedAt"] = max(v["trainedAt"] or "" for v in versions) or iso(clock.now())
    if os.environ[Env.UPDATE_CAMPAIGNS] != TRUE:
        return _finished(job, state)
    campaigns = []
    for version in versions:
        for summary in activity.pages(personalize, "list_campaigns", "campaigns", solutionArn=version["solutionArn"]):
            campaigns.append(_update(personalize, summary["campaignArn"], version["solutionVersionArn"]))
    state = {**state, "stage": CAMPAIGNS, "campaigns": campaigns}
    if not campaigns:
        return _finished(job, state)
    return tracker.waiting(PHASE_FOLLOW_THROUGH, {**job, "followThrough": state}, CAMPAIGNS, settings.min_wait)


def _update(personalize: Any, campaign: str, version: str) -> dict[str, Any]:
    """Point ``campaign`` at ``version``, unless a previous attempt of this step already did."""
    described = _describe_campaign(personalize, campaign)
    latest = described.get("latestCampaignUpdate") or {}
    if version not in (latest.get("solutionVersionArn"), described.get("solutionVersionArn")):
        try:
            personalize.update_campaign(campaignArn=campaign, solutionVersionArn=version)
        except ClientError as error:
            raise service_error(error, "UpdateCampaign") from None
    return {"campaignArn": campaign, "solutionVersionArn": version, "status": "CREATE PENDING"}


def _campaigns(personalize: Any, job: dict[str, Any], state: dict[str, Any], age: float,
               settings: tracker.PollSettings) -> dict[str, Any]:
    def read(campaign: dict[str, Any]) -> dict[str, Any]:
        described = _describe_campaign(personalize, campaign["campaignArn"])
        latest = described.get("latestCampaignUpdate") or {}
        status = str(latest.get("status") or described.get("status", ""))
        if latest.get("solutionVersionArn", campaign["solutionVersionArn"]) != campaign["solutionVersionArn"]:
            return _failed(job, state, campaign["campaignArn"], status,
                           "the campaign's latest update is to another solution version")
        if status not in (ACTIVE, *activity.CREATING):
            return _failed(job, state, campaign["campaignArn"], status, latest.get("failureReason")
                           or described.get("failureReason") or f"the campaign update ended {status}")
        return {**campaign, "status": status}

    campaigns = _recheck(state["campaigns"], read)
    if isinstance(campaigns, dict):
        return campaigns
    state = {**state, "campaigns": campaigns}
    pending = [c for c in campaigns if c["status"] != ACTIVE]
    if pending:
        return _wait_or_time_out(job, state, age, settings, pending[0])
    return _finished(job, state)


def _recheck(items: list[dict[str, Any]], read: Any) -> list[dict[str, Any]] | dict[str, Any]:
    """Each item not ACTIVE yet, read again by ``read``: the updated items, or the stopped tracker ``read``
    returned for the first that failed."""
    updated = []
    for item in items:
        if item["status"] != ACTIVE:
            item = read(item)
            if "phase" in item:
                return item
        updated.append(item)
    return updated


def _wait_or_time_out(job: dict[str, Any], state: dict[str, Any], age: float, settings: tracker.PollSettings,
                      pending: dict[str, Any]) -> dict[str, Any]:
    arn = pending.get("campaignArn") or pending.get("solutionVersionArn") or pending["solutionArn"]
    if settings.timed_out(age):
        return _failed(job, state, arn, pending["status"],
                       f"still {pending['status']} {int(age)} s after the follow-through started "
                       f"(job timeout {settings.job_timeout} s); Personalize keeps working on it")
    return tracker.waiting(PHASE_FOLLOW_THROUGH, {**job, "followThrough": state}, state["stage"],
                           settings.wait_for(age, _request_age(job)))


def _request_age(job: dict[str, Any]) -> float:
    """Seconds since the first deletion job was created: the follow-through keeps the request's polling pace
    (a training after a day-long deletion is checked every ``max_wait``, not from ``min_wait`` again)."""
    return (clock.now() - parse_iso(job["completedJobs"][0]["creationDateTime"])).total_seconds()


# ---- the outcome ----------------------------------------------------------------------------------

def _arns(state: dict[str, Any]) -> dict[str, Any]:
    return {"solutionVersionArns": [v["solutionVersionArn"] for v in state.get("versions", [])
                                    if v["solutionVersionArn"]],
            "campaignArns": [c["campaignArn"] for c in state.get("campaigns", [])],
            "modelsRetrainedAt": state.get("modelsRetrainedAt")}


def _finished(job: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    return tracker.succeeded(job, "COMPLETED", _output(job, {"status": "COMPLETED"}, state))


def _output(job: dict[str, Any], follow_through: dict[str, Any], state: dict[str, Any] | None = None
            ) -> dict[str, Any]:
    """The execution's output: the first job's fields (as without these features), then the record."""
    completed = job["completedJobs"]
    return {**completed[0], "dataDeletionJobArns": [j["dataDeletionJobArn"] for j in completed],
            "dataDeletionJobs": completed, "quietPeriod": job.get("quietPeriod"), "overlap": job.get("overlap") or [],
            "followThrough": follow_through, **_arns(state or {})}


def _failed(job: dict[str, Any], state: dict[str, Any], arn: str | None, status: str, reason: str
            ) -> dict[str, Any]:
    completed = job["completedJobs"]
    return tracker.stopped(job, status, ERROR_MODEL_RETRAINING_FAILED, {
        "datasetGroupArn": completed[0].get("datasetGroupArn"),
        "deletionStatus": "COMPLETED",
        "dataDeletionJobArns": [j["dataDeletionJobArn"] for j in completed],
        "quietPeriod": job.get("quietPeriod"),
        "followThrough": {"status": "FAILED", "stage": state["stage"], "resourceArn": arn, "resourceStatus": status,
                          "reason": reason},
        **_arns(state),
        "message": f"The data deletion COMPLETED, but the follow-through failed at {state['stage']}: {reason}",
    })

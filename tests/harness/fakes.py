"""Faithful fakes of Personalize data deletion and Clean Rooms ML audience export.

Jobs progress through the services' real statuses on the virtual clock:
deletion ``PENDING`` → ``IN_PROGRESS`` → ``COMPLETED`` | ``FAILED``; export
``CREATE_PENDING`` → ``CREATE_IN_PROGRESS`` → ``ACTIVE`` | ``CREATE_FAILED``.
Behaviour follows ../shared/reference/aws-apis.md: job names are unique
(``ResourceAlreadyExistsException``), deletion listings are newest first and
paged by ``nextToken``, the export start returns an empty body, exports are
found only by listing, the quota error is HTTP 402. A dataset group runs its
deletion jobs one at a time, in creation order (a job stays PENDING while an
earlier one runs), and refuses a new job with ``LimitExceededException`` while
it has ``pending_limit`` (5) PENDING jobs (§2.5, §7.1).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .fake_service import FakeService, ServiceFault


@dataclass
class JobPlan:
    """How a job will behave: its length, its outcome, and optional odd statuses."""

    duration: float = 600.0
    outcome: str = "success"  # "success" | "failure"
    failure_reason: str = "The dataset group has no USER_ID column"
    num_deleted: int = 3
    pending: float | None = None  # seconds in the first status; default min(60, 10% of duration)
    status_script: list[tuple[float, str]] | None = None  # explicit [(from_age, status), ...]
    status_code: str = "EXPORT_FAILED"


@dataclass
class DeletionJob:
    arn: str
    name: str
    group: str
    location: str
    role: str
    tags: list[dict[str, str]]
    created: datetime
    plan: JobPlan


def _status(plan: JobPlan, age: float, running: tuple[str, str], done: tuple[str, str]) -> str:
    if plan.status_script:
        status = plan.status_script[0][1]
        for start, value in plan.status_script:
            if age >= start:
                status = value
        return status
    pending = plan.pending if plan.pending is not None else min(60.0, plan.duration * 0.1)
    if age < pending:
        return running[0]
    if age < plan.duration:
        return running[1]
    return done[0] if plan.outcome == "success" else done[1]


class FakePersonalize(FakeService):
    """Personalize's data deletion API (the rest of Personalize is not faked)."""

    service = "personalize"

    def __init__(self, clock, region: str = "us-east-1", account: str = "123456789012") -> None:
        super().__init__(clock, region, account)
        self.jobs: dict[str, DeletionJob] = {}
        self.plans: dict[str, JobPlan] = {}
        self.default_plan = JobPlan()
        self.page_size = 100
        self.lose_next_create_response = 0
        self.missing_dataset_groups: set[str] = set()
        self.pending_limit = 5  # PENDING data deletion jobs per dataset group (Personalize's quota)
        self.one_at_a_time = True  # a dataset group runs its jobs one after another

    def _validation_code(self) -> str:
        return "InvalidInputException"

    def plan(self, job_name: str, plan: JobPlan) -> None:
        self.plans[job_name] = plan

    def add_existing_job(self, name: str, group: str, location: str, plan: JobPlan | None = None,
                         age: float = 0.0) -> DeletionJob:
        return self._create(name, group, location, "arn:aws:iam::123456789012:role/elsewhere", [],
                            plan or JobPlan(), self.clock.now() - timedelta(seconds=age))

    def _create(self, name, group, location, role, tags, plan, created) -> DeletionJob:
        arn = f"arn:aws:personalize:{self.region}:{self.account}:data-deletion-job/{name}"
        job = DeletionJob(arn, name, group, location, role, tags, created, plan)
        self.jobs[arn] = job
        return job

    def started(self, job: DeletionJob) -> datetime:
        """When the job starts running: at its creation, or when the dataset group's earlier jobs have ended."""
        if not self.one_at_a_time or job.plan.status_script:
            return job.created
        free = None
        for other in sorted((j for j in self.jobs.values() if j.group == job.group),
                            key=lambda j: (j.created, j.arn)):
            begin = other.created if free is None or other.plan.status_script else max(other.created, free)
            if other is job:
                return begin
            free = begin + timedelta(seconds=other.plan.duration)
        return job.created

    def status_of(self, job: DeletionJob) -> str:
        start = self.started(job)
        if self.clock.now() < start:
            return "PENDING"
        age = (self.clock.now() - start).total_seconds()
        return _status(job.plan, age, ("PENDING", "IN_PROGRESS"), ("COMPLETED", "FAILED"))

    def completion_time(self, job: DeletionJob) -> datetime:
        return self.started(job) + timedelta(seconds=job.plan.duration)

    def pending_in(self, group: str) -> int:
        return sum(1 for j in self.jobs.values() if j.group == group and self.status_of(j) == "PENDING")

    # ---- operations -----------------------------------------------------------------
    def op_CreateDataDeletionJob(self, p: dict[str, Any]) -> dict[str, Any]:
        if any(j.name == p["jobName"] for j in self.jobs.values()):
            raise ServiceFault("ResourceAlreadyExistsException",
                               f"A data deletion job with name {p['jobName']} already exists.")
        group = p["datasetGroupArn"]
        if group in self.missing_dataset_groups or not group.startswith(
                f"arn:aws:personalize:{self.region}:{self.account}:dataset-group/"):
            raise ServiceFault("ResourceNotFoundException", f"Could not find resource {group}.")
        if self.pending_in(group) >= self.pending_limit:
            raise ServiceFault("LimitExceededException", f"The dataset group {group} already has "
                               f"{self.pending_limit} data deletion jobs with status PENDING.")
        job = self._create(p["jobName"], group, p["dataSource"]["dataLocation"], p["roleArn"], p.get("tags", []),
                           self.plans.get(p["jobName"], self.default_plan), self.clock.now())
        if self.lose_next_create_response > 0:
            self.lose_next_create_response -= 1
            raise ServiceFault("InternalFailure", "response lost after the job was created", status=500)
        return {"dataDeletionJobArn": job.arn}

    def op_DescribeDataDeletionJob(self, p: dict[str, Any]) -> dict[str, Any]:
        job = self.jobs.get(p["dataDeletionJobArn"])
        if job is None:
            raise ServiceFault("ResourceNotFoundException", f"Could not find resource {p['dataDeletionJobArn']}.")
        status = self.status_of(job)
        start = self.started(job)
        age = max(0.0, (self.clock.now() - start).total_seconds())
        described: dict[str, Any] = {
            "jobName": job.name, "dataDeletionJobArn": job.arn, "datasetGroupArn": job.group,
            "dataSource": {"dataLocation": job.location}, "roleArn": job.role, "status": status,
            "creationDateTime": job.created,
            "lastUpdatedDateTime": max(job.created, start) + timedelta(seconds=min(age, job.plan.duration)),
        }
        if status == "COMPLETED":
            described["numDeleted"] = job.plan.num_deleted
        if status == "FAILED":
            described["failureReason"] = job.plan.failure_reason
        return {"dataDeletionJob": described}

    def op_ListDataDeletionJobs(self, p: dict[str, Any]) -> dict[str, Any]:
        jobs = sorted((j for j in self.jobs.values()
                       if p.get("datasetGroupArn") in (None, j.group)), key=lambda j: j.created, reverse=True)
        size = min(p.get("maxResults", 100), self.page_size)
        start = int(p.get("nextToken", "0"))
        page = jobs[start:start + size]
        out: dict[str, Any] = {"dataDeletionJobs": [
            {"dataDeletionJobArn": j.arn, "datasetGroupArn": j.group, "jobName": j.name,
             "status": self.status_of(j), "creationDateTime": j.created, "lastUpdatedDateTime": j.created}
            for j in page]}
        if start + size < len(jobs):
            out["nextToken"] = str(start + size)
        return out


@dataclass
class Export:
    name: str
    generation: str
    size: dict[str, Any]
    description: str | None
    created: datetime
    plan: JobPlan
    listed_after: float = 0.0


@dataclass
class GenerationJob:
    arn: str
    model: str
    status: str = "ACTIVE"


@dataclass
class ConfiguredModel:
    arn: str
    size_type: str | None = "ABSOLUTE"
    bins: list[int] = field(default_factory=lambda: [1000, 5000, 10000])
    readable: bool = True


class FakeCleanRoomsML(FakeService):
    """Clean Rooms ML's audience generation job reads and audience exports."""

    service = "cleanroomsml"

    def __init__(self, clock, region: str = "us-east-1", account: str = "123456789012") -> None:
        super().__init__(clock, region, account)
        self.generation_jobs: dict[str, GenerationJob] = {}
        self.models: dict[str, ConfiguredModel] = {}
        self.exports: list[Export] = []
        self.plans: dict[str, JobPlan] = {}
        self.default_plan = JobPlan(duration=300.0)
        self.page_size = 100
        self.listing_delay = 0.0  # seconds before a started export shows up in listings

    def add_generation_job(self, job_id: str = "gen-1", *, status: str = "ACTIVE", model_account: str | None = None,
                           model: ConfiguredModel | None = None) -> str:
        arn = f"arn:aws:cleanrooms-ml:{self.region}:{self.account}:audience-generation-job/{job_id}"
        model_arn = (f"arn:aws:cleanrooms-ml:{self.region}:{model_account or '210987654321'}:"
                     f"configured-audience-model/model-{job_id}")
        self.models[model_arn] = model or ConfiguredModel(model_arn)
        self.models[model_arn].arn = model_arn
        self.generation_jobs[arn] = GenerationJob(arn, model_arn, status)
        return arn

    def add_export(self, generation: str, name: str, size: dict[str, Any], *, age: float = 0.0,
                   plan: JobPlan | None = None) -> Export:
        export = Export(name, generation, size, None, self.clock.now() - timedelta(seconds=age),
                        plan or self.default_plan)
        self.exports.append(export)
        return export

    def status_of(self, export: Export) -> str:
        age = (self.clock.now() - export.created).total_seconds()
        return _status(export.plan, age, ("CREATE_PENDING", "CREATE_IN_PROGRESS"), ("ACTIVE", "CREATE_FAILED"))

    def completion_time(self, export: Export) -> datetime:
        return export.created + timedelta(seconds=export.plan.duration)

    def _generation(self, arn: str) -> GenerationJob:
        job = self.generation_jobs.get(arn)
        if job is None:
            raise ServiceFault("ResourceNotFoundException", f"Audience generation job {arn} not found", 404)
        return job

    # ---- operations -----------------------------------------------------------------
    def op_GetAudienceGenerationJob(self, p: dict[str, Any]) -> dict[str, Any]:
        job = self._generation(p["audienceGenerationJobArn"])
        now = self.clock.now()
        return {"createTime": now - timedelta(days=1), "updateTime": now - timedelta(hours=20),
                "audienceGenerationJobArn": job.arn, "name": job.arn.rsplit("/", 1)[-1], "status": job.status,
                "configuredAudienceModelArn": job.model}

    def op_GetConfiguredAudienceModel(self, p: dict[str, Any]) -> dict[str, Any]:
        model = self.models.get(p["configuredAudienceModelArn"])
        if model is None:
            raise ServiceFault("ResourceNotFoundException", "Configured audience model not found", 404)
        if not model.readable:
            raise ServiceFault("AccessDeniedException", "User is not authorized to perform "
                               "cleanrooms-ml:GetConfiguredAudienceModel on this resource", 403)
        now = self.clock.now()
        out: dict[str, Any] = {
            "createTime": now - timedelta(days=3), "updateTime": now - timedelta(days=3),
            "configuredAudienceModelArn": model.arn, "name": "model",
            "audienceModelArn": model.arn.replace("configured-audience-model", "audience-model"),
            "outputConfig": {"destination": {"s3Destination": {"s3Uri": "s3://partner-exports/"}},
                             "roleArn": "arn:aws:iam::210987654321:role/exports"},
            "status": "ACTIVE", "sharedAudienceMetrics": ["ALL"],
        }
        if model.size_type:
            out["audienceSizeConfig"] = {"audienceSizeType": model.size_type, "audienceSizeBins": model.bins}
        return out

    def op_StartAudienceExportJob(self, p: dict[str, Any]) -> dict[str, Any]:
        job = self._generation(p["audienceGenerationJobArn"])
        if job.status != "ACTIVE":
            raise ServiceFault("ConflictException", "The audience generation job is not ACTIVE", 409)
        model = self.models[job.model]
        if model.size_type and (p["audienceSize"]["type"] != model.size_type
                                or p["audienceSize"]["value"] not in model.bins):
            raise ServiceFault("ValidationException", "audienceSize must match one of the configured sizes", 400)
        # Whether names must be unique is not documented; this fake refuses the same name and size.
        if any(e.name == p["name"] and e.generation == job.arn and e.size == p["audienceSize"] for e in self.exports):
            raise ServiceFault("ConflictException", f"An export named {p['name']} already exists", 409)
        export = Export(p["name"], job.arn, p["audienceSize"], p.get("description"), self.clock.now(),
                        self.plans.get(p["name"], self.default_plan), self.listing_delay)
        self.exports.append(export)
        return {}

    def op_ListAudienceExportJobs(self, p: dict[str, Any]) -> dict[str, Any]:
        now = self.clock.now()
        visible = [e for e in self.exports if p.get("audienceGenerationJobArn") in (None, e.generation)
                   and (now - e.created).total_seconds() >= e.listed_after]
        size = min(p.get("maxResults", 100), self.page_size)
        start = int(p.get("nextToken", "0"))
        out: dict[str, Any] = {"audienceExportJobs": [self._summary(e) for e in visible[start:start + size]]}
        if start + size < len(visible):
            out["nextToken"] = str(start + size)
        return out

    def _summary(self, e: Export) -> dict[str, Any]:
        status = self.status_of(e)
        age = (self.clock.now() - e.created).total_seconds()
        out: dict[str, Any] = {
            "createTime": e.created, "updateTime": e.created + timedelta(seconds=min(age, e.plan.duration)),
            "name": e.name, "audienceGenerationJobArn": e.generation, "audienceSize": e.size, "status": status,
        }
        if e.description is not None:
            out["description"] = e.description
        if status == "ACTIVE":
            out["outputLocation"] = f"s3://partner-exports/{e.name}/{uuid.uuid5(uuid.NAMESPACE_URL, e.name)}/"
        if status == "CREATE_FAILED":
            out["statusDetails"] = {"statusCode": e.plan.status_code, "message": e.plan.failure_reason}
        return out

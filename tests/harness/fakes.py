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


@dataclass
class Solution:
    arn: str
    group: str
    name: str


@dataclass
class SolutionVersion:
    arn: str
    solution: str
    name: str
    created: datetime
    plan: JobPlan
    training_mode: str = "FULL"


@dataclass
class Dataset:
    arn: str
    group: str
    name: str
    dataset_type: str = "Interactions"


@dataclass
class ImportJob:
    arn: str
    dataset: str
    name: str
    created: datetime
    plan: JobPlan


@dataclass
class BatchJob:
    arn: str
    kind: str  # "inference" | "segment"
    version: str
    name: str
    created: datetime
    plan: JobPlan


@dataclass
class CampaignUpdate:
    version: str
    created: datetime
    plan: JobPlan


@dataclass
class Campaign:
    arn: str
    solution: str
    name: str
    version: str
    created: datetime
    updates: list[CampaignUpdate] = field(default_factory=list)


#: Personalize's "creating" vocabulary (solution versions, import jobs, campaign updates) and the batch jobs'.
CREATING = (("CREATE PENDING", "CREATE IN_PROGRESS"), ("ACTIVE", "CREATE FAILED"))
BATCH = (("PENDING", "IN PROGRESS"), ("ACTIVE", "CREATE FAILED"))


class _PersonalizeModels:
    """Solutions, solution versions (training), datasets, dataset import jobs, batch inference and segment jobs
    and campaigns (updates) of Personalize, on the virtual clock: what the quiet period, the overlap check and
    the follow-through read and do. Mixed into :class:`FakePersonalize`."""

    clock: Any
    region: str
    account: str

    def _init_models(self) -> None:
        self.solutions: dict[str, Solution] = {}
        self.solution_versions: dict[str, SolutionVersion] = {}
        self.datasets: dict[str, Dataset] = {}
        self.import_jobs: dict[str, ImportJob] = {}
        self.batch_jobs: dict[str, BatchJob] = {}
        self.campaigns: dict[str, Campaign] = {}
        self.training_plan = JobPlan(duration=6 * 3600.0)  # what CreateSolutionVersion trains
        self.training_plans: dict[str, JobPlan] = {}  # per solution ARN
        self.campaign_update_plan = JobPlan(duration=600.0)

    def _arn(self, kind: str, name: str) -> str:
        return f"arn:aws:personalize:{self.region}:{self.account}:{kind}/{name}"

    def _ago(self, age: float) -> datetime:
        return self.clock.now() - timedelta(seconds=age)

    # ---- scripting -------------------------------------------------------------------
    def add_solution(self, group: str, name: str = "recs") -> str:
        arn = self._arn("solution", name)
        self.solutions[arn] = Solution(arn, group, name)
        return arn

    def add_solution_version(self, solution: str, *, age: float = 0.0, plan: JobPlan | None = None,
                             name: str | None = None) -> str:
        arn = f"{solution}/{len(self.solution_versions) + 1:08x}"
        self.solution_versions[arn] = SolutionVersion(arn, solution, name or f"v{len(self.solution_versions) + 1}",
                                                      self._ago(age), plan or JobPlan(duration=0.0))
        return arn

    def add_dataset(self, group: str, name: str = "interactions") -> str:
        arn = self._arn("dataset", f"{group.rsplit('/', 1)[-1]}/{name.upper()}")
        self.datasets[arn] = Dataset(arn, group, name)
        return arn

    def add_import_job(self, dataset: str, name: str = "import", *, age: float = 0.0,
                       plan: JobPlan | None = None) -> str:
        arn = self._arn("dataset-import-job", name)
        self.import_jobs[arn] = ImportJob(arn, dataset, name, self._ago(age), plan or JobPlan(duration=0.0))
        return arn

    def add_batch_job(self, kind: str, version: str, name: str = "batch", *, age: float = 0.0,
                      plan: JobPlan | None = None) -> str:
        arn = self._arn(f"batch-{kind}-job", name)
        self.batch_jobs[arn] = BatchJob(arn, kind, version, name, self._ago(age), plan or JobPlan(duration=0.0))
        return arn

    def add_campaign(self, solution: str, version: str, name: str = "live") -> str:
        arn = self._arn("campaign", name)
        self.campaigns[arn] = Campaign(arn, solution, name, version, self._ago(86400))
        return arn

    def add_trained_group(self, group: str, solution_name: str, *, training_hours: float,
                          campaign: str | None = None) -> tuple[str, str]:
        """A dataset group as retraining finds it: a solution with a 30-day-old ACTIVE version (``campaign``:
        serving it), a dataset, deletions of 2 h and trainings of ``training_hours``. (solution, live version)."""
        solution = self.add_solution(group, solution_name)
        live = self.add_solution_version(solution, age=30 * 86400, name="live")
        if campaign is not None:
            self.add_campaign(solution, live, campaign)
        self.add_dataset(group)
        self.default_plan = JobPlan(duration=2 * 3600.0, num_deleted=5)
        self.training_plan = JobPlan(duration=training_hours * 3600.0)
        return solution, live

    def version_status(self, version: SolutionVersion) -> str:
        return _status(version.plan, (self.clock.now() - version.created).total_seconds(), *CREATING)

    def update_status(self, update: CampaignUpdate) -> str:
        return _status(update.plan, (self.clock.now() - update.created).total_seconds(), *CREATING)

    def ended(self, created: datetime, plan: JobPlan) -> datetime:
        return created + timedelta(seconds=plan.duration)

    @staticmethod
    def _page(items: list[Any], p: dict[str, Any], key: str, page_size: int) -> dict[str, Any]:
        size = min(p.get("maxResults", 100), page_size)
        start = int(p.get("nextToken", "0"))
        out: dict[str, Any] = {key: items[start:start + size]}
        if start + size < len(items):
            out["nextToken"] = str(start + size)
        return out

    def _times(self, created: datetime, plan: JobPlan) -> dict[str, Any]:
        age = (self.clock.now() - created).total_seconds()
        return {"creationDateTime": created,
                "lastUpdatedDateTime": created + timedelta(seconds=max(0.0, min(age, plan.duration)))}

    def _exists(self, created: datetime) -> bool:
        """A job scripted with a negative ``age`` is created that much later (during an execution)."""
        return created <= self.clock.now()

    def _missing(self, arn: str) -> ServiceFault:
        return ServiceFault("ResourceNotFoundException", f"Could not find resource {arn}.")

    # ---- operations -----------------------------------------------------------------
    def op_ListSolutions(self, p: dict[str, Any]) -> dict[str, Any]:
        items = [{"name": s.name, "solutionArn": s.arn, "status": "ACTIVE"} for s in self.solutions.values()
                 if p.get("datasetGroupArn") in (None, s.group)]
        return self._page(items, p, "solutions", self.page_size)

    def op_ListSolutionVersions(self, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("solutionArn") and p["solutionArn"] not in self.solutions:
            raise self._missing(p["solutionArn"])
        versions = sorted((v for v in self.solution_versions.values() if p.get("solutionArn") in (None, v.solution)
                           and self._exists(v.created)),
                          key=lambda v: v.created, reverse=True)
        items = [{"solutionVersionArn": v.arn, "status": self.version_status(v), "trainingMode": v.training_mode,
                  **self._times(v.created, v.plan)} for v in versions]
        return self._page(items, p, "solutionVersions", self.page_size)

    def op_CreateSolutionVersion(self, p: dict[str, Any]) -> dict[str, Any]:
        solution = self.solutions.get(p["solutionArn"])
        if solution is None:
            raise self._missing(p["solutionArn"])
        mine = [v for v in self.solution_versions.values() if v.solution == solution.arn and self._exists(v.created)]
        if p.get("name") and any(v.name == p["name"] for v in mine):
            raise ServiceFault("ResourceAlreadyExistsException", f"A solution version named {p['name']} exists.")
        if any(self.version_status(v) in CREATING[0] for v in mine):
            raise ServiceFault("ResourceInUseException", "The solution has a version being created.")
        arn = f"{solution.arn}/{len(self.solution_versions) + 1:08x}"
        self.solution_versions[arn] = SolutionVersion(
            arn, solution.arn, p.get("name") or arn.rsplit("/", 1)[-1], self.clock.now(),
            self.training_plans.get(solution.arn, self.training_plan), p.get("trainingMode", "FULL"))
        return {"solutionVersionArn": arn}

    def op_DescribeSolutionVersion(self, p: dict[str, Any]) -> dict[str, Any]:
        version = self.solution_versions.get(p["solutionVersionArn"])
        if version is None:
            raise self._missing(p["solutionVersionArn"])
        status = self.version_status(version)
        described = {"name": version.name, "solutionVersionArn": version.arn, "solutionArn": version.solution,
                     "datasetGroupArn": self.solutions[version.solution].group, "trainingMode": version.training_mode,
                     "status": status, **self._times(version.created, version.plan)}
        if status == "CREATE FAILED":
            described["failureReason"] = version.plan.failure_reason
        return {"solutionVersion": described}

    def op_ListDatasets(self, p: dict[str, Any]) -> dict[str, Any]:
        items = [{"name": d.name, "datasetArn": d.arn, "datasetType": d.dataset_type, "status": "ACTIVE"}
                 for d in self.datasets.values() if p.get("datasetGroupArn") in (None, d.group)]
        return self._page(items, p, "datasets", self.page_size)

    def op_ListDatasetImportJobs(self, p: dict[str, Any]) -> dict[str, Any]:
        jobs = sorted((j for j in self.import_jobs.values() if p.get("datasetArn") in (None, j.dataset)
                       and self._exists(j.created)),
                      key=lambda j: j.created, reverse=True)
        items = [{"datasetImportJobArn": j.arn, "jobName": j.name, "importMode": "INCREMENTAL",
                  "status": _status(j.plan, (self.clock.now() - j.created).total_seconds(), *CREATING),
                  **self._times(j.created, j.plan)} for j in jobs]
        return self._page(items, p, "datasetImportJobs", self.page_size)

    def _batch(self, kind: str, p: dict[str, Any], key: str, arn_key: str) -> dict[str, Any]:
        jobs = sorted((j for j in self.batch_jobs.values() if j.kind == kind and self._exists(j.created)
                       and p.get("solutionVersionArn") in (None, j.version)), key=lambda j: j.created, reverse=True)
        items = [{arn_key: j.arn, "jobName": j.name, "solutionVersionArn": j.version,
                  "status": _status(j.plan, (self.clock.now() - j.created).total_seconds(), *BATCH),
                  **self._times(j.created, j.plan)} for j in jobs]
        return self._page(items, p, key, self.page_size)

    def op_ListBatchInferenceJobs(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._batch("inference", p, "batchInferenceJobs", "batchInferenceJobArn")

    def op_ListBatchSegmentJobs(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._batch("segment", p, "batchSegmentJobs", "batchSegmentJobArn")

    def op_ListCampaigns(self, p: dict[str, Any]) -> dict[str, Any]:
        items = [{"name": c.name, "campaignArn": c.arn, "status": "ACTIVE", "creationDateTime": c.created,
                  "lastUpdatedDateTime": c.created} for c in self.campaigns.values()
                 if p.get("solutionArn") in (None, c.solution)]
        return self._page(items, p, "campaigns", self.page_size)

    def op_DescribeCampaign(self, p: dict[str, Any]) -> dict[str, Any]:
        campaign = self.campaigns.get(p["campaignArn"])
        if campaign is None:
            raise self._missing(p["campaignArn"])
        described: dict[str, Any] = {"name": campaign.name, "campaignArn": campaign.arn, "status": "ACTIVE",
                                     "solutionVersionArn": campaign.version, "creationDateTime": campaign.created,
                                     "lastUpdatedDateTime": campaign.created}
        if campaign.updates:
            update = campaign.updates[-1]
            status = self.update_status(update)
            described["latestCampaignUpdate"] = {"solutionVersionArn": update.version, "status": status,
                                                 **self._times(update.created, update.plan)}
            if status == "CREATE FAILED":
                described["latestCampaignUpdate"]["failureReason"] = update.plan.failure_reason
            if status == "ACTIVE":
                described["solutionVersionArn"] = update.version
        return {"campaign": described}

    def op_UpdateCampaign(self, p: dict[str, Any]) -> dict[str, Any]:
        campaign = self.campaigns.get(p["campaignArn"])
        if campaign is None:
            raise self._missing(p["campaignArn"])
        if campaign.updates and self.update_status(campaign.updates[-1]) in CREATING[0]:
            raise ServiceFault("ResourceInUseException", "The campaign is being updated.")
        version = self.solution_versions.get(p.get("solutionVersionArn", ""))
        if version is None or self.version_status(version) != "ACTIVE":
            raise ServiceFault("InvalidInputException", "The solution version is not ACTIVE.")
        campaign.updates.append(CampaignUpdate(version.arn, self.clock.now(), self.campaign_update_plan))
        return {"campaignArn": campaign.arn}


class FakePersonalize(_PersonalizeModels, FakeService):
    """Personalize's data deletion API, and the solutions, datasets, jobs and campaigns around it
    (:class:`_PersonalizeModels`)."""

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
        self._init_models()

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

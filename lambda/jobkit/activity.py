"""What else is happening in a Personalize dataset group: the quiet period's and the overlap check's facts.

Personalize's guidelines for data deletion: before a deletion job, no training,
batch or import job that uses the datasets should be in progress, and if any
training or import happens while it runs, "we recommend creating an additional
data deletion job". These functions read the group's jobs through botocore's
paginators and return ARNs, statuses and timestamps only (never data).

Status strings are Personalize's own, spaces included: solution versions and
dataset import jobs run in ``CREATE PENDING`` / ``CREATE IN_PROGRESS``, batch
inference and batch segment jobs in ``PENDING`` / ``IN PROGRESS``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterator

from botocore.exceptions import ClientError

from .errors import service_error
from .jsonsafe import iso

#: Statuses of a solution version or a dataset import job that is still being created.
CREATING = ("CREATE PENDING", "CREATE IN_PROGRESS")
#: Statuses of a batch inference or batch segment job that is still running.
BATCH_RUNNING = ("PENDING", "IN PROGRESS")

#: Kinds of activity, as reported in ``busyWith`` / ``overlap`` entries.
SOLUTION_VERSION = "solutionVersion"
DATASET_IMPORT_JOB = "datasetImportJob"
BATCH_INFERENCE_JOB = "batchInferenceJob"
BATCH_SEGMENT_JOB = "batchSegmentJob"

#: Most entries one report lists (a Step Functions payload is at most 256 KiB).
MAX_LISTED = 25

#: Operations each check calls (for ``clients.require_operations`` and the README's IAM table).
BUSY_OPERATIONS = ("ListSolutions", "ListSolutionVersions", "ListDatasets", "ListDatasetImportJobs",
                   "ListBatchInferenceJobs", "ListBatchSegmentJobs")
OVERLAP_OPERATIONS = ("ListSolutions", "ListSolutionVersions", "ListDatasets", "ListDatasetImportJobs")

_OPERATION_NAMES = {
    "list_solutions": "ListSolutions", "list_solution_versions": "ListSolutionVersions",
    "list_datasets": "ListDatasets", "list_dataset_import_jobs": "ListDatasetImportJobs",
    "list_batch_inference_jobs": "ListBatchInferenceJobs", "list_batch_segment_jobs": "ListBatchSegmentJobs",
    "list_campaigns": "ListCampaigns",
}


def pages(personalize: Any, method: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
    """Every item under ``key`` of every page of a Personalize List operation (botocore's paginator)."""
    try:
        for page in personalize.get_paginator(method).paginate(**params):
            yield from page.get(key, [])
    except ClientError as error:
        raise service_error(error, _OPERATION_NAMES.get(method, method)) from None


def _solution_versions(personalize: Any, group: str, solutions: set[str] | None = None
                       ) -> Iterator[dict[str, Any]]:
    """Every version of every solution of ``group`` (the solutions' ARNs are added to ``solutions``)."""
    for solution in pages(personalize, "list_solutions", "solutions", datasetGroupArn=group):
        if solutions is not None:
            solutions.add(solution["solutionArn"])
        yield from pages(personalize, "list_solution_versions", "solutionVersions",
                         solutionArn=solution["solutionArn"])


def _import_jobs(personalize: Any, group: str) -> Iterator[dict[str, Any]]:
    for dataset in pages(personalize, "list_datasets", "datasets", datasetGroupArn=group):
        yield from pages(personalize, "list_dataset_import_jobs", "datasetImportJobs",
                         datasetArn=dataset["datasetArn"])


def busy(personalize: Any, group: str) -> list[dict[str, str]]:
    """What keeps ``group`` from being quiet: ``[{"type", "arn", "status"}]``, empty when it is quiet.

    Solution versions of the group's solutions and import jobs of its datasets
    being created; batch inference and batch segment jobs of its solutions'
    versions running (listed account-wide, one paginated call each, and matched
    by solution version ARN, which is ``<solution ARN>/<id>``).
    """
    found: list[dict[str, str]] = []
    solutions: set[str] = set()
    for version in _solution_versions(personalize, group, solutions):
        if version.get("status") in CREATING:
            found.append({"type": SOLUTION_VERSION, "arn": version["solutionVersionArn"], "status": version["status"]})
    for job in _import_jobs(personalize, group):
        if job.get("status") in CREATING:
            found.append({"type": DATASET_IMPORT_JOB, "arn": job["datasetImportJobArn"], "status": job["status"]})
    batches = ((BATCH_INFERENCE_JOB, "batchInferenceJobArn",
                pages(personalize, "list_batch_inference_jobs", "batchInferenceJobs")),
               (BATCH_SEGMENT_JOB, "batchSegmentJobArn", pages(personalize, "list_batch_segment_jobs",
                                                               "batchSegmentJobs")))
    for kind, arn_key, listed in batches if solutions else ():  # lazy: listed only for a group with solutions
        for job in listed:
            version = str(job.get("solutionVersionArn", ""))
            if job.get("status") in BATCH_RUNNING and version.rsplit("/", 1)[0] in solutions:
                found.append({"type": kind, "arn": job[arn_key], "status": job["status"]})
    return found


def created_between(personalize: Any, group: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Solution versions and dataset import jobs of ``group`` created in ``[start, end]``:
    ``[{"type", "arn", "status", "creationDateTime"}]`` (what overlapped a deletion job)."""
    found: list[dict[str, Any]] = []
    for version in _solution_versions(personalize, group):
        created = version.get("creationDateTime")
        if created is not None and start <= created <= end:
            found.append({"type": SOLUTION_VERSION, "arn": version["solutionVersionArn"],
                          "status": version.get("status"), "creationDateTime": iso(created)})
    for job in _import_jobs(personalize, group):
        created = job.get("creationDateTime")
        if created is not None and start <= created <= end:
            found.append({"type": DATASET_IMPORT_JOB, "arn": job["datasetImportJobArn"],
                          "status": job.get("status"), "creationDateTime": iso(created)})
    return found


def merge(listed: list[dict[str, Any]], more: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``listed`` with the entries of ``more`` whose ARN it lacks (the latest status kept), at most
    :data:`MAX_LISTED`."""
    by_arn = {entry["arn"]: entry for entry in listed}
    for entry in more:
        by_arn[entry["arn"]] = {**by_arn.get(entry["arn"], {}), **entry}
    return list(by_arn.values())[:MAX_LISTED]

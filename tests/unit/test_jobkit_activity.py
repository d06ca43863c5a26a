"""jobkit.activity: what runs in a dataset group, read through botocore's paginators (Personalize stubbed)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import jobkit.clients
from jobkit import activity
from jobkit.errors import ServiceError

A = "arn:aws:personalize:us-east-1:123456789012"
GROUP = f"{A}:dataset-group/retail"
SOLUTION = f"{A}:solution/recs"
OTHER_SOLUTION = f"{A}:solution/elsewhere"
DATASET = f"{A}:dataset/retail/INTERACTIONS"
T = datetime(2026, 11, 23, 7, 0, tzinfo=timezone.utc)


def version(n, status, created=T):
    return {"solutionVersionArn": f"{SOLUTION}/{n:08x}", "status": status, "creationDateTime": created}


def expect_group(services, versions, imports, *, version_pages=1):
    services.expect("personalize", "list_solutions", {"solutions": [{"solutionArn": SOLUTION}]},
                    {"datasetGroupArn": GROUP})
    if version_pages == 2:
        services.expect("personalize", "list_solution_versions",
                        {"solutionVersions": versions[:1], "nextToken": "t1"}, {"solutionArn": SOLUTION})
        services.expect("personalize", "list_solution_versions", {"solutionVersions": versions[1:]},
                        {"solutionArn": SOLUTION, "nextToken": "t1"})
    else:
        services.expect("personalize", "list_solution_versions", {"solutionVersions": versions},
                        {"solutionArn": SOLUTION})
    services.expect("personalize", "list_datasets", {"datasets": [{"datasetArn": DATASET}]},
                    {"datasetGroupArn": GROUP})
    services.expect("personalize", "list_dataset_import_jobs", {"datasetImportJobs": imports},
                    {"datasetArn": DATASET})


def test_a_quiet_group_is_not_busy(services):
    expect_group(services, [version(1, "ACTIVE"), version(2, "CREATE FAILED")],
                 [{"datasetImportJobArn": f"{A}:dataset-import-job/i1", "status": "ACTIVE"}])
    services.expect("personalize", "list_batch_inference_jobs", {"batchInferenceJobs": []}, {})
    services.expect("personalize", "list_batch_segment_jobs", {"batchSegmentJobs": [
        {"batchSegmentJobArn": f"{A}:batch-segment-job/s0", "status": "ACTIVE",
         "solutionVersionArn": f"{SOLUTION}/00000001"}]}, {})
    assert activity.busy(jobkit.clients.client("personalize"), GROUP) == []


def test_busy_lists_training_imports_and_batch_jobs_of_this_group_only(services):
    expect_group(services, [version(1, "ACTIVE"), version(2, "CREATE PENDING"), version(3, "CREATE IN_PROGRESS")],
                 [{"datasetImportJobArn": f"{A}:dataset-import-job/i1", "status": "CREATE IN_PROGRESS"}],
                 version_pages=2)
    services.expect("personalize", "list_batch_inference_jobs", {"batchInferenceJobs": [
        {"batchInferenceJobArn": f"{A}:batch-inference-job/b1", "status": "IN PROGRESS",
         "solutionVersionArn": f"{SOLUTION}/00000001"},
        {"batchInferenceJobArn": f"{A}:batch-inference-job/b2", "status": "IN PROGRESS",
         "solutionVersionArn": f"{OTHER_SOLUTION}/00000009"}]}, {})
    services.expect("personalize", "list_batch_segment_jobs", {"batchSegmentJobs": [
        {"batchSegmentJobArn": f"{A}:batch-segment-job/s1", "status": "PENDING",
         "solutionVersionArn": f"{SOLUTION}/00000001"}]}, {})

    found = activity.busy(jobkit.clients.client("personalize"), GROUP)

    assert found == [
        {"type": "solutionVersion", "arn": f"{SOLUTION}/00000002", "status": "CREATE PENDING"},
        {"type": "solutionVersion", "arn": f"{SOLUTION}/00000003", "status": "CREATE IN_PROGRESS"},
        {"type": "datasetImportJob", "arn": f"{A}:dataset-import-job/i1", "status": "CREATE IN_PROGRESS"},
        {"type": "batchInferenceJob", "arn": f"{A}:batch-inference-job/b1", "status": "IN PROGRESS"},
        {"type": "batchSegmentJob", "arn": f"{A}:batch-segment-job/s1", "status": "PENDING"},
    ]


def test_created_between_finds_what_overlapped_the_job(services):
    start, end = T, T + timedelta(hours=2)
    expect_group(services, [version(1, "ACTIVE", T - timedelta(days=1)), version(2, "ACTIVE", T + timedelta(hours=1))],
                 [{"datasetImportJobArn": f"{A}:dataset-import-job/late", "status": "ACTIVE",
                   "creationDateTime": end + timedelta(seconds=1)},
                  {"datasetImportJobArn": f"{A}:dataset-import-job/during", "status": "CREATE IN_PROGRESS",
                   "creationDateTime": end}])

    found = activity.created_between(jobkit.clients.client("personalize"), GROUP, start, end)

    assert found == [
        {"type": "solutionVersion", "arn": f"{SOLUTION}/00000002", "status": "ACTIVE",
         "creationDateTime": "2026-11-23T08:00:00Z"},
        {"type": "datasetImportJob", "arn": f"{A}:dataset-import-job/during", "status": "CREATE IN_PROGRESS",
         "creationDateTime": "2026-11-23T09:00:00Z"},
    ]


def test_a_refused_list_call_is_named_after_the_service_error(services):
    services.expect_error("personalize", "list_solutions", "InvalidInputException", "bad group",
                          {"datasetGroupArn": GROUP})
    with pytest.raises(ServiceError) as raised:
        activity.busy(jobkit.clients.client("personalize"), GROUP)
    assert type(raised.value).__name__ == "InvalidInputException"
    assert str(raised.value) == "ListSolutions: bad group"


def test_merge_keeps_one_entry_per_arn_with_the_latest_status():
    first = [{"type": "solutionVersion", "arn": "a", "status": "CREATE PENDING"}]
    later = [{"type": "solutionVersion", "arn": "a", "status": "CREATE IN_PROGRESS"},
             {"type": "datasetImportJob", "arn": "b", "status": "CREATE PENDING"}]
    assert activity.merge(first, later) == [{"type": "solutionVersion", "arn": "a", "status": "CREATE IN_PROGRESS"},
                                            {"type": "datasetImportJob", "arn": "b", "status": "CREATE PENDING"}]
    many = [{"type": "x", "arn": str(i), "status": "s"} for i in range(100)]
    assert len(activity.merge([], many)) == activity.MAX_LISTED

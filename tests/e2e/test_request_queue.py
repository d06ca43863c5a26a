"""The deletion request queue, end to end: intake → batch run → the deletion workflow in two dataset groups →
records, on the sample app with ``-c requestQueueDatasetGroupArns=<shop>,<news>``.

Intake is S3's "Object Created" event delivered to the template's rule; the batch run is the synthesized batch
state machine, whose ``startExecution.sync:2`` tasks run the real deletion workflow (moto's interpreter, the real
handlers, the fake Personalize with its 5-PENDING quota and one job at a time per dataset group).
"""

from __future__ import annotations

import json
import threading
from typing import Any, Iterator

import boto3
import pytest

from tests.e2e.conftest import _workflows
from tests.harness.fakes import JobPlan

SHOP = "arn:aws:personalize:us-east-1:123456789012:dataset-group/shop"
NEWS = "arn:aws:personalize:us-east-1:123456789012:dataset-group/news"
GROUPS = (SHOP, NEWS)
PREFIX = "deletions/requests/"
BATCH = "DeletionRequests/Batch"
SECRET_IDS = [f"person-{i:03d}-secret-id" for i in range(12)]


@pytest.fixture(scope="session")
def queue_template(local_sample_template) -> dict[str, Any]:
    return local_sample_template(requestQueueDatasetGroupArns=",".join(GROUPS))


@pytest.fixture
def queue(queue_template) -> Iterator[Any]:
    yield from _workflows(queue_template)


def csv(ids: list[str]) -> bytes:
    return ("USER_ID\n" + "\n".join(ids) + "\n").encode()


def submit(local, name: str, ids: list[str], request_id: str | None = None, body: bytes | None = None):
    """Upload a request file (optionally with ``request-id`` metadata) and deliver S3's event."""
    key = f"{PREFIX}{name}"
    metadata = {"request-id": request_id} if request_id else {}
    local.s3.put_object(Bucket=local.bucket(), Key=key, Body=body if body is not None else csv(ids), Metadata=metadata)
    head = local.s3.head_object(Bucket=local.bucket(), Key=key)
    from tests.harness.events import s3_object_created

    event = s3_object_created(local.bucket(), key, head, local.clock.now(), f"{len(local.invocations):018X}")
    [delivery] = local.emit(event)
    return delivery, event


def record(local, request_id: str) -> dict[str, Any]:
    body = local.s3.get_object(Bucket=local.bucket(), Key=f"audit/deletion-requests/{request_id}.json")["Body"]
    return json.loads(body.read())


def record_versions(local, request_id: str) -> list[dict[str, Any]]:
    key = f"audit/deletion-requests/{request_id}.json"
    versions = local.s3.list_object_versions(Bucket=local.bucket(), Prefix=key).get("Versions", [])
    assert versions[0]["IsLatest"]  # S3 lists versions newest first
    return [json.loads(local.s3.get_object(Bucket=local.bucket(), Key=key, VersionId=v["VersionId"])["Body"].read())
            for v in reversed(versions)]


def ledger_items(local) -> list[dict[str, Any]]:
    table = local.functions_env("DeletionRequests/Intake")["LEDGER_TABLE"]
    return boto3.client("dynamodb").scan(TableName=table)["Items"]


def run_batch(local, name: str | None = None):
    ex = local.run(BATCH, {}, name=name, timeout=240)
    assert ex.status == "SUCCEEDED", (ex.error, ex.cause)
    return ex


def everything(local, *executions) -> str:
    """Every record version, event, message, ledger item, function result and execution history (the batch runs
    and every execution of the deletion workflow they started)."""
    parts: list[Any] = [local.captured("events"), local.captured("notifications"), ledger_items(local)]
    listed = local.s3.list_object_versions(Bucket=local.bucket(), Prefix="audit/").get("Versions", [])
    parts += [local.s3.get_object(Bucket=local.bucket(), Key=v["Key"], VersionId=v["VersionId"])["Body"].read().decode()
              for v in listed]
    for ex in executions:
        parts += [ex.output, ex.error, ex.cause, ex.history]
    children = local.sfn.list_executions(stateMachineArn=local.machine("DataDeletion/Workflow"))["executions"]
    for child in children:
        parts += [local.sfn.describe_execution(executionArn=child["executionArn"]), local._history(child["executionArn"])]
    for inv in local.invocations:
        parts += [inv.result, inv.error]
    for fake in local.fakes:
        parts += [c.params for c in fake.calls]
    return json.dumps(parts, default=str)


def assert_private(local, *executions) -> None:
    text = everything(local, *executions)
    leaked = [i for i in SECRET_IDS if i in text]
    assert leaked == [], f"user IDs leaked: {leaked}"


# --------------------------------------------------------------------------- the main path


def test_requests_are_batched_into_one_job_per_dataset_group_and_recorded(queue):
    first, _ = submit(queue, "2026-11-23/ticket-1.csv", SECRET_IDS[:3], request_id="TICKET-1")
    second, _ = submit(queue, "2026-11-23/ticket-2.csv", SECRET_IDS[3:5])
    assert first.result == {"registered": True, "requestId": "TICKET-1", "status": "QUEUED", "userIds": 3,
                            "reason": None}
    assert second.result["requestId"] == "2026-11-23:ticket-2"
    queued = record(queue, "TICKET-1")
    assert queued["status"] == "QUEUED" and queued["userIds"] == 3
    assert [t["status"] for t in queued["targets"]] == ["QUEUED", "QUEUED"]

    ex = run_batch(queue)

    groups = {g["datasetGroupArn"]: g for g in ex.output["datasetGroups"]}
    assert set(groups) == set(GROUPS) and ex.output["deferred"] == []
    for group in GROUPS:
        assert groups[group]["requests"] == 2 and groups[group]["status"] == "COMPLETED"
        assert len(groups[group]["dataDeletionJobArns"]) == 1
    assert len(queue.personalize.jobs) == 2  # one job per dataset group for both requests
    for job in queue.personalize.jobs.values():
        bucket, key = job.location[5:].split("/", 1)
        assert key.startswith(f"deletions/batches/{ex.output['batchId']}/") and key.endswith("/part-0001.csv")
        body = queue.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        assert body.splitlines()[0] == "USER_ID" and sorted(body.splitlines()[1:]) == sorted(SECRET_IDS[:5])
    done = record(queue, "TICKET-1")
    assert done["status"] == "COMPLETED" and done["completedAt"]
    assert {t["datasetGroupArn"] for t in done["targets"]} == set(GROUPS)
    for target in done["targets"]:
        assert target["status"] == "COMPLETED" and target["attempts"] == 0 and target["batchId"] == ex.output["batchId"]
        assert target["dataDeletionJobArn"] == groups[target["datasetGroupArn"]]["dataDeletionJobArns"][0]
    assert set(done) == {"requestId", "status", "receivedAt", "completedAt", "object", "userIds", "targets"}
    assert done["object"]["key"] == f"{PREFIX}2026-11-23/ticket-1.csv" and done["object"]["versionId"]
    assert [v["status"] for v in record_versions(queue, "TICKET-1")][-1] == "COMPLETED"
    assert "IN_PROGRESS" in [v["status"] for v in record_versions(queue, "TICKET-1")]
    events = queue.captured("events")
    assert sorted(e["detail"]["requestId"] for e in events if e["detail-type"] == "Deletion Request Completed") == [
        "2026-11-23:ticket-2", "TICKET-1"]
    assert_private(queue, ex)

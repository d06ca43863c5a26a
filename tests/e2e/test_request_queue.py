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
def queue(queue_template, optional_iam_simulator) -> Iterator[Any]:
    yield from _workflows(queue_template, optional_iam_simulator)


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


def everything(local, *executions, extra: Any = None) -> str:
    """Every record version, event, message, ledger item, function result and execution history (the batch runs
    and every execution of the deletion workflow they started)."""
    parts: list[Any] = [local.captured("events"), local.captured("notifications"), ledger_items(local), extra]
    listed = local.s3.list_object_versions(Bucket=local.bucket(), Prefix="audit/").get("Versions", [])
    parts += [local.s3.get_object(Bucket=local.bucket(), Key=v["Key"], VersionId=v["VersionId"])["Body"].read().decode()
              for v in listed]
    for ex in executions:
        parts += [ex.output, ex.error, ex.cause, ex.history]
    children = local.sfn.list_executions(stateMachineArn=local.machine("DataDeletion/Workflow"))["executions"]
    for child in children:
        parts += [local.sfn.describe_execution(executionArn=child["executionArn"]), local._history(child["executionArn"])]
    for inv in local.invocations:
        parts += [inv.event, inv.result, inv.error]
    for fake in local.fakes:
        parts += [c.params for c in fake.calls]
    return json.dumps(parts, default=str)


def assert_private(local, *executions, extra: Any = None) -> None:
    text = everything(local, *executions, extra=extra)
    assert '"sk": {"S": "REQUEST"}' in text  # the ledger was scanned
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
        assert groups[group]["requests"] == 2 and groups[group]["status"] == "COMPLETED", json.dumps(groups[group])
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
    assert_private(queue, ex, extra=events)


def test_the_quota_defers_a_dataset_group_and_no_request_fails(queue):
    busy = [queue.personalize.add_existing_job("busy-running", SHOP, "s3://elsewhere/x.csv", JobPlan(duration=7200, pending=0), age=60)]
    busy += [queue.personalize.add_existing_job(f"busy-{i}", SHOP, "s3://elsewhere/x.csv", JobPlan(duration=600))
             for i in range(5)]
    assert queue.personalize.pending_in(SHOP) == 5
    submit(queue, "r1.csv", SECRET_IDS[:2], request_id="R1")

    ex = run_batch(queue)

    assert [d["datasetGroupArn"] for d in ex.output["deferred"]] == [SHOP]
    assert "5 or more PENDING data deletion jobs" in ex.output["deferred"][0]["reason"]
    assert [g["datasetGroupArn"] for g in ex.output["datasetGroups"]] == [NEWS]
    assert not any(c.error for c in queue.personalize.calls_of("CreateDataDeletionJob"))  # never hit the quota
    waiting = record(queue, "R1")
    assert waiting["status"] == "QUEUED"
    shop, news = sorted(waiting["targets"], key=lambda t: t["datasetGroupArn"] != SHOP)
    assert shop["status"] == "QUEUED" and "PENDING" in shop["deferredReason"] and shop["attempts"] == 0
    assert news["status"] == "COMPLETED"

    queue.clock.advance(4 * 3600)  # the dataset group's jobs have run
    later = run_batch(queue)

    assert later.output["deferred"] == [] and [g["status"] for g in later.output["datasetGroups"]] == [
        "COMPLETED", "NOTHING_QUEUED"]
    done = record(queue, "R1")
    assert done["status"] == "COMPLETED" and all(t["status"] == "COMPLETED" for t in done["targets"])
    assert all("deferredReason" not in t for t in done["targets"])
    assert_private(queue, ex, later)


def test_a_failed_job_requeues_its_requests_and_the_next_run_retries_them(queue):
    submit(queue, "r1.csv", SECRET_IDS[:2], request_id="R1")
    queue.personalize.default_plan = JobPlan(duration=900, outcome="failure",
                                             failure_reason="A training job ran during the deletion")

    first = run_batch(queue)

    assert {g["status"] for g in first.output["datasetGroups"]} == {"FAILED"}
    assert {g["requeued"] for g in first.output["datasetGroups"]} == {1}
    requeued = record(queue, "R1")
    assert requeued["status"] == "QUEUED" and "reason" not in requeued
    for target in requeued["targets"]:
        assert target["status"] == "QUEUED" and target["attempts"] == 1
        assert target["lastFailureReason"] == "A training job ran during the deletion"
        assert target["dataDeletionJobArn"].startswith("arn:aws:personalize:")
    queue.personalize.default_plan = JobPlan(duration=900)

    second = run_batch(queue)

    assert {g["status"] for g in second.output["datasetGroups"]} == {"COMPLETED"}, second.output
    done = record(queue, "R1")
    assert done["status"] == "COMPLETED"
    assert [t["attempts"] for t in done["targets"]] == [1, 1]
    assert all(t["batchId"] == second.output["batchId"] for t in done["targets"])
    assert len(queue.personalize.jobs) == 4
    assert_private(queue, first, second)


def test_a_request_fails_after_max_attempts_with_an_event_a_message_and_the_metric(queue):
    submit(queue, "r1.csv", SECRET_IDS[:2], request_id="R1")
    queue.personalize.default_plan = JobPlan(duration=600, outcome="failure", failure_reason="Dataset group busy")

    runs = [run_batch(queue) for _ in range(3)]  # max_attempts defaults to 3

    failed = record(queue, "R1")
    assert failed["status"] == "FAILED" and failed["completedAt"] is None
    assert "Dataset group busy (after 3 attempt(s))" in failed["reason"]
    assert [(t["status"], t["attempts"]) for t in failed["targets"]] == [("FAILED", 3), ("FAILED", 3)]
    events = queue.captured("events")
    [event] = [e for e in events if e["detail-type"] == "Deletion Request Failed"]
    assert event["detail"]["requestId"] == "R1" and event["detail"]["status"] == "FAILED"
    notes = [n for n in queue.captured("notifications") if n["Subject"].startswith("Deletion request FAILED")]
    assert [n["Subject"] for n in notes] == ["Deletion request FAILED: R1"]
    assert "Dataset group busy" in notes[0]["Message"]
    metrics = boto3.client("cloudwatch").list_metrics(Namespace="cdk-ml-data-jobs",
                                                       MetricName="FailedDeletionRequests")["Metrics"]
    assert metrics and metrics[0]["Dimensions"][0]["Name"] == "Queue"
    # a FAILED request is never batched again
    fourth = run_batch(queue)
    assert {g["status"] for g in fourth.output["datasetGroups"]} == {"NOTHING_QUEUED"}
    assert len(queue.personalize.jobs) == 6
    assert_private(queue, *runs, fourth, extra=[events, notes])


def test_the_same_object_delivered_twice_registers_once(queue):
    delivery, event = submit(queue, "r1.csv", SECRET_IDS[:2], request_id="R1")
    [again] = queue.emit(event)  # EventBridge delivers at least once

    assert delivery.result["registered"] is True
    assert again.result == {"registered": False, "requestId": "R1",
                            "reason": "this object version is already registered (a repeated delivery)"}
    requests = [i for i in ledger_items(queue) if i["sk"]["S"] == "REQUEST"]
    assert len(requests) == 1
    ex = run_batch(queue)
    assert [g["requests"] for g in ex.output["datasetGroups"]] == [1, 1]
    registered = [e for e in queue.captured("events") if e["detail-type"] == "Deletion Request Registered"]
    assert len(registered) == 1
    assert_private(queue, ex)


def test_another_file_with_a_registered_request_id_is_refused(queue):
    submit(queue, "original.csv", SECRET_IDS[:2], request_id="TICKET-7")
    original = record(queue, "TICKET-7")
    refused, _ = submit(queue, "copy.csv", SECRET_IDS[2:4], request_id="TICKET-7")

    assert refused.result["registered"] is False and "already registered for another object" in \
        refused.result["reason"]
    events = queue.captured("events")
    [event] = [e for e in events if e["detail-type"] == "Deletion Request Refused"]
    assert event["detail"]["object"]["key"] == f"{PREFIX}copy.csv"
    assert event["detail"]["registeredObject"]["key"] == f"{PREFIX}original.csv"
    assert record(queue, "TICKET-7") == original and len(record_versions(queue, "TICKET-7")) == 1

    ex = run_batch(queue)

    for job in queue.personalize.jobs.values():
        bucket, key = job.location[5:].split("/", 1)
        body = queue.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        assert sorted(body.split()[1:]) == sorted(SECRET_IDS[:2])  # nothing of the refused file
    assert_private(queue, ex, extra=[events])


def test_an_invalid_file_is_rejected_with_the_preflight_sentence_and_never_batched(queue):
    bad, _ = submit(queue, "bad-header.csv", [], request_id="BAD-1", body=b"EMAIL\nperson-000-secret-id\n")
    comma, _ = submit(queue, "two-columns.csv", [], request_id="BAD-2",
                      body=csv(SECRET_IDS[:3]) + b"person-001-secret-id,extra\n")
    wrong_id, _ = submit(queue, "odd-id.csv", SECRET_IDS[:1], request_id="not a valid id!")
    empty, _ = submit(queue, "empty.csv", [], request_id="BAD-3", body=b"")

    rejected = record(queue, "BAD-1")
    assert rejected["status"] == "REJECTED" and rejected["userIds"] is None and rejected["targets"] == []
    location = f"s3://{queue.bucket()}/{PREFIX}bad-header.csv"
    workflow = queue.run("DataDeletion/Workflow", {"datasetGroupArn": SHOP, "dataLocation": location})
    assert workflow.error == "InvalidInput"
    assert workflow.cause == f"Input rejected: {rejected['reason']}"  # the same sentence
    assert "line 5 has a comma or a quote" in record(queue, "BAD-2")["reason"]
    assert wrong_id.result["requestId"] == "odd-id" and "request-id metadata (15 characters)" in \
        wrong_id.result["reason"]
    assert "is empty" in record(queue, "BAD-3")["reason"]
    assert {bad.result["status"], comma.result["status"], empty.result["status"]} == {"REJECTED"}
    events = queue.captured("events")
    assert len([e for e in events if e["detail-type"] == "Deletion Request Rejected"]) == 4

    ex = run_batch(queue)

    assert {g["status"] for g in ex.output["datasetGroups"]} == {"NOTHING_QUEUED"}
    assert len(queue.personalize.jobs) == 0
    assert_private(queue, ex, workflow, extra=[events])


def test_overlapping_runs_never_claim_a_request_twice(queue):
    for i in range(6):
        submit(queue, f"r{i}.csv", SECRET_IDS[2 * i:2 * i + 2], request_id=f"R{i}")

    first = queue.start(BATCH, {}, name="overlap-a")
    second = queue.start(BATCH, {}, name="overlap-b")
    runs = [queue.wait(first, timeout=240), queue.wait(second, timeout=240)]

    assert [r.status for r in runs] == ["SUCCEEDED", "SUCCEEDED"]
    claimed = {g["datasetGroupArn"]: 0 for g in runs[0].output["datasetGroups"]}
    for run in runs:
        for group in run.output["datasetGroups"]:
            claimed[group["datasetGroupArn"]] += group["requests"]
    assert claimed == {SHOP: 6, NEWS: 6}  # every request once per dataset group, across both runs
    per_group: dict[str, list[str]] = {SHOP: [], NEWS: []}
    for job in queue.personalize.jobs.values():
        bucket, key = job.location[5:].split("/", 1)
        per_group[job.group] += queue.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().split()[1:]
    assert all(sorted(ids) == sorted(SECRET_IDS) for ids in per_group.values())  # no ID in two jobs of a group
    for i in range(6):
        assert record(queue, f"R{i}")["status"] == "COMPLETED"
    assert_private(queue, *runs)


def test_a_request_arriving_while_a_batch_runs_waits_for_the_next_run(queue, monkeypatch):
    submit(queue, "early.csv", SECRET_IDS[:2], request_id="EARLY")
    arrivals: list[threading.Thread] = []
    create = type(queue.personalize).op_CreateDataDeletionJob

    def create_and_receive(fake, params):
        answer = create(fake, params)
        if not arrivals:  # while the first job is being created, a new request file lands
            arrivals.append(threading.Thread(target=submit, args=(queue, "late.csv", SECRET_IDS[2:4], "LATE")))
            arrivals[0].start()
        return answer

    monkeypatch.setattr(type(queue.personalize), "op_CreateDataDeletionJob", create_and_receive)

    ex = run_batch(queue)
    arrivals[0].join(timeout=60)

    assert [g["requests"] for g in ex.output["datasetGroups"]] == [1, 1]
    assert record(queue, "LATE")["status"] == "QUEUED" and record(queue, "EARLY")["status"] == "COMPLETED"
    for job in queue.personalize.jobs.values():  # the running jobs' inputs are immutable: no late IDs
        bucket, key = job.location[5:].split("/", 1)
        assert sorted(queue.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().split()[1:]) == \
            sorted(SECRET_IDS[:2])

    next_run = run_batch(queue)

    assert [g["requests"] for g in next_run.output["datasetGroups"]] == [1, 1]
    assert record(queue, "LATE")["status"] == "COMPLETED"
    assert_private(queue, ex, next_run)


def test_the_deadline_check_reports_the_oldest_open_request(queue):
    submit(queue, "old.csv", SECRET_IDS[:1], request_id="OLD")
    queue.clock.advance(26 * 86400)
    submit(queue, "new.csv", SECRET_IDS[1:2], request_id="NEW")
    function = next(s for s in queue.functions.values() if "DeletionRequests/Deadline" in s.path)

    result = json.loads(queue._invoke(function.arn, "{}", {}))

    assert result["openRequests"] == 2 and result["oldestReceivedAt"] == record(queue, "OLD")["receivedAt"]
    assert result["oldestAgeSeconds"] == 26 * 86400
    stats = boto3.client("cloudwatch").list_metrics(Namespace="cdk-ml-data-jobs",
                                                     MetricName="OldestOpenDeletionRequestAge")["Metrics"]
    assert stats
    run_batch(queue)
    assert json.loads(queue._invoke(function.arn, "{}", {}))["openRequests"] == 0


def test_lost_lambda_responses_are_retried_without_claiming_or_counting_twice(queue):
    submit(queue, "r1.csv", SECRET_IDS[:2], request_id="R1")
    queue.lose_responses("DeletionRequests/Claim", times=1)  # the claim ran, its answer was lost: retried
    queue.lose_responses("DeletionRequests/Record", times=1)

    ex = run_batch(queue)

    assert [g["requests"] for g in ex.output["datasetGroups"]] == [1, 1]
    assert {g["status"] for g in ex.output["datasetGroups"]} == {"COMPLETED"}
    assert len(queue.personalize.jobs) == 2  # the retried claim adopted its part: one job per dataset group
    claims = [i for i in queue.invocations if "Claim" in i.function]
    assert len(claims) == 2 and claims[0].event == claims[1].event  # one claim for every group, and its retry
    assert claims[0].result["groups"] == claims[1].result["groups"]  # the retry adopted what the first claimed
    records = [i for i in queue.invocations if "Record" in i.function]
    assert len(records) == 2 and records[0].result["groups"] == records[1].result["groups"]  # counted alike
    assert [r.result["requestsCompleted"] for r in records] == [1, 0]  # announced once, by the first call
    done = record(queue, "R1")
    assert done["status"] == "COMPLETED" and [t["attempts"] for t in done["targets"]] == [0, 0]
    assert_private(queue, ex)


def test_a_failing_step_ends_the_run_with_its_message_and_no_stack_trace(queue):
    submit(queue, "r1.csv", SECRET_IDS[:2], request_id="R1")
    queue.functions_env("DeletionRequests/Claim")["PENDING_JOB_LIMIT"] = "not-a-number"  # a broken deployment

    ex = queue.run(BATCH, {}, timeout=240)

    assert ex.status == "FAILED" and ex.error == "ValueError"
    assert "not-a-number" in ex.cause and "Traceback" not in ex.cause and "stackTrace" not in ex.cause
    assert record(queue, "R1")["status"] == "QUEUED"  # nothing was claimed


def test_a_batch_larger_than_max_batch_bytes_is_split_into_jobs_within_the_free_pending_slots(queue):
    for i in range(7):
        submit(queue, f"r{i}.csv", SECRET_IDS[i:i + 1], request_id=f"R{i}")
        queue.clock.advance(1)  # receivedAt has seconds: one request per second, so "oldest first" is defined
    size = len(csv(SECRET_IDS[:1]))
    queue.functions_env("DeletionRequests/Claim")["MAX_BATCH_BYTES"] = str(size)  # one request per job
    queue.personalize.default_plan = JobPlan(duration=600)

    first = run_batch(queue)

    for group in first.output["datasetGroups"]:
        assert group["requests"] == 5 and len(group["dataDeletionJobArns"]) == 5  # the 5 free PENDING slots
        assert group["status"] == "COMPLETED" and group["stillQueued"] == 2
    assert not any(c.error for c in queue.personalize.calls_of("CreateDataDeletionJob"))  # never over the quota
    keys = sorted(j.location.rsplit("/", 1)[1] for j in queue.personalize.jobs.values() if j.group == SHOP)
    assert keys == [f"part-{n:04d}.csv" for n in range(1, 6)]
    assert [record(queue, f"R{i}")["status"] for i in range(7)] == ["COMPLETED"] * 5 + ["QUEUED"] * 2  # oldest first

    second = run_batch(queue)

    assert [g["requests"] for g in second.output["datasetGroups"]] == [2, 2]
    assert all(record(queue, f"R{i}")["status"] == "COMPLETED" for i in range(7))
    assert_private(queue, first, second)


# --------------------------------------------------------------------------- the quiet period and the follow-through
# (the queue requires the workflow's quiet period by default: the sample app turns it on with the queue)

HOUR = 3600
SOLUTION = "arn:aws:personalize:us-east-1:123456789012:solution/shop-recs"


@pytest.fixture(scope="session")
def retrain_template(local_sample_template) -> dict[str, Any]:
    return local_sample_template(requestQueueDatasetGroupArns=",".join(GROUPS),
                                 retrainSolutionArns=f"{SHOP}={SOLUTION}")


@pytest.fixture
def retraining_queue(retrain_template, optional_iam_simulator) -> Iterator[Any]:
    for local in _workflows(retrain_template, optional_iam_simulator):
        p = local.personalize
        solution, p.live_version = p.add_trained_group(SHOP, "shop-recs", training_hours=3, campaign="shop-live")
        assert solution == SOLUTION
        p.campaign = next(iter(p.campaigns))
        yield local


def test_a_busy_group_defers_its_requests_with_the_busy_reason_and_counts_no_attempt(queue):
    p = queue.personalize
    p.add_solution(SHOP, "shop-recs")
    training = p.add_solution_version(SOLUTION, plan=JobPlan(duration=10 * HOUR), name="long")  # > 6 h quiet period
    submit(queue, "r1.csv", SECRET_IDS[:2], request_id="R1")

    first = run_batch(queue)

    groups = {g["datasetGroupArn"]: g for g in first.output["datasetGroups"]}
    assert groups[SHOP]["status"] == "BUSY" and groups[SHOP]["dataDeletionJobArns"] == []
    assert groups[NEWS]["status"] == "COMPLETED"
    assert [j.group for j in p.jobs.values()] == [NEWS]  # no job was created in the busy group
    waiting = record(queue, "R1")
    shop = next(t for t in waiting["targets"] if t["datasetGroupArn"] == SHOP)
    assert waiting["status"] == "QUEUED" and (shop["status"], shop["attempts"]) == ("QUEUED", 0)
    assert shop["busyWith"] == [{"type": "solutionVersion", "arn": training, "status": "CREATE IN_PROGRESS"}]
    assert shop["deferredReason"].startswith("DatasetGroupBusy: the dataset group was still running solutionVersion "
                                             f"{training} (CREATE IN_PROGRESS)")
    assert "lastFailureReason" not in shop and shop["waitedSeconds"] >= 6 * HOUR
    assert not [e for e in queue.captured("events") if e["detail-type"] == "Deletion Request Failed"]

    second = run_batch(queue)  # the training ends during this run's quiet period

    done = record(queue, "R1")
    shop = next(t for t in done["targets"] if t["datasetGroupArn"] == SHOP)
    assert done["status"] == "COMPLETED" and (shop["status"], shop["attempts"]) == ("COMPLETED", 0)
    assert "busyWith" not in shop and "deferredReason" not in shop
    assert shop["quietPeriod"]["waitedFor"] == [{"type": "solutionVersion", "arn": training,
                                                 "status": "CREATE IN_PROGRESS"}]
    [shop_job] = [j for j in p.jobs.values() if j.group == SHOP]
    assert shop_job.created >= p.ended(p.solution_versions[training].created, p.solution_versions[training].plan)
    assert shop["dataDeletionJobArns"] == [shop_job.arn] and shop["followThrough"] == {"status": "NOT_CONFIGURED"}
    assert_private(queue, first, second)


def test_a_retraining_after_the_batch_job_and_the_campaign_update_are_recorded_per_request(retraining_queue):
    q, p = retraining_queue, retraining_queue.personalize
    submit(q, "r1.csv", SECRET_IDS[:2], request_id="R1")
    submit(q, "r2.csv", SECRET_IDS[2:4], request_id="R2")

    ex = run_batch(q)

    [shop_job] = [j for j in p.jobs.values() if j.group == SHOP]
    [created] = [c for c in p.calls_of("CreateSolutionVersion") if c.error is None]
    assert created.at >= p.completion_time(shop_job)  # never before the deletion job COMPLETED
    [new_version] = [v for v in p.solution_versions if v not in (p.live_version,)]
    [update] = [c for c in p.calls_of("UpdateCampaign") if c.error is None]
    assert update.params["solutionVersionArn"] == new_version and update.at > created.at
    for request_id in ("R1", "R2"):
        done = record(q, request_id)
        shop = next(t for t in done["targets"] if t["datasetGroupArn"] == SHOP)
        news = next(t for t in done["targets"] if t["datasetGroupArn"] == NEWS)
        assert done["status"] == "COMPLETED"
        assert shop["status"] == "COMPLETED" and shop["deletionStatus"] == "COMPLETED"
        assert shop["followThrough"] == {"status": "COMPLETED"} and shop["dataDeletionJobArns"] == [shop_job.arn]
        assert shop["solutionVersionArns"] == [new_version] and shop["campaignArns"] == [p.campaign]
        assert shop["modelsRetrainedAt"] and shop["quietPeriod"]["checks"] >= 1
        assert done["completedAt"] >= shop["modelsRetrainedAt"][:19]
        assert news["followThrough"] == {"status": "NOT_CONFIGURED"} and news["solutionVersionArns"] == []
    assert_private(q, ex)


def test_a_failed_training_fails_the_follow_through_while_the_deletion_is_completed(retraining_queue):
    q, p = retraining_queue, retraining_queue.personalize
    p.training_plan = JobPlan(duration=HOUR, outcome="failure", failure_reason="Insufficient interactions")
    submit(q, "r1.csv", SECRET_IDS[:2], request_id="R1")

    ex = run_batch(q)

    groups = {g["datasetGroupArn"]: g for g in ex.output["datasetGroups"]}
    assert groups[SHOP]["status"] == "FAILED" and groups[NEWS]["status"] == "COMPLETED"
    [shop_job] = [j for j in p.jobs.values() if j.group == SHOP]
    assert p.status_of(shop_job) == "COMPLETED"
    failed = record(q, "R1")
    shop = next(t for t in failed["targets"] if t["datasetGroupArn"] == SHOP)
    assert failed["status"] == "FAILED" and failed["completedAt"] is None
    assert shop["status"] == "FAILED" and shop["deletionStatus"] == "COMPLETED" and shop["attempts"] == 0
    assert shop["dataDeletionJobArns"] == [shop_job.arn]
    assert shop["followThrough"]["status"] == "FAILED" and shop["followThrough"]["stage"] == "TRAINING"
    assert shop["followThrough"]["reason"] == "Insufficient interactions"
    assert shop["lastFailureReason"].startswith("ModelRetrainingFailed: the data deletion COMPLETED")
    assert "Insufficient interactions" in failed["reason"] and "Traceback" not in json.dumps(failed)
    [event] = [e for e in q.captured("events") if e["detail-type"] == "Deletion Request Failed"]
    assert event["detail"]["requestId"] == "R1"
    notes = [n for n in q.captured("notifications") if n["Subject"] == "Deletion request FAILED: R1"]
    assert notes and "ModelRetrainingFailed" in notes[0]["Message"]
    metrics = boto3.client("cloudwatch").list_metrics(Namespace="cdk-ml-data-jobs",
                                                       MetricName="FailedDeletionRequests")["Metrics"]
    assert metrics
    # the failed follow-through is not retried with a new deletion job
    again = run_batch(q)
    assert {g["status"] for g in again.output["datasetGroups"]} == {"NOTHING_QUEUED"}
    assert len([j for j in p.jobs.values() if j.group == SHOP]) == 1
    assert_private(q, ex, again, extra=[notes])


def test_a_request_whose_file_is_gone_fails_at_claim_and_is_announced_and_counted_once(queue):
    submit(queue, "r1.csv", SECRET_IDS[:2], request_id="R1")
    submit(queue, "r2.csv", SECRET_IDS[2:4], request_id="R2")
    gone = record(queue, "R2")["object"]
    queue.s3.delete_object(Bucket=gone["bucket"], Key=gone["key"], VersionId=gone["versionId"])

    ex = run_batch(queue)

    assert [g["requests"] for g in ex.output["datasetGroups"]] == [1, 1]  # only R1 went into the inputs
    assert ex.output["requestsFailed"] == 1 and ex.output["requestsCompleted"] == 1
    failed = record(queue, "R2")
    assert failed["status"] == "FAILED" and "can no longer be read" in failed["reason"]
    assert record(queue, "R1")["status"] == "COMPLETED"
    events = queue.captured("events")
    assert [e["detail"]["requestId"] for e in events if e["detail-type"] == "Deletion Request Failed"] == ["R2"]
    inputs = [queue.s3.get_object(Bucket=queue.bucket(), Key=j.location.split("/", 3)[3])["Body"].read()
              for j in queue.personalize.jobs.values()]
    assert all(SECRET_IDS[2].encode() not in body and SECRET_IDS[0].encode() in body for body in inputs)
    assert_private(queue, ex, extra=[events])

"""jobkit.ledger (claims under contention, outcomes, records under optimistic locking) in moto's DynamoDB and S3,
and how batch_record reads a deletion's outcome (Step Functions stubbed)."""

from __future__ import annotations

import json

import pytest

import batch_record
from jobkit import contract, ledger, requests
from jobkit.contract import LEDGER_CLAIMED_PART, LEDGER_QUEUED_GROUP

from .conftest import BUCKET, make_client

TABLE = "ledger"
SHOP = "arn:aws:personalize:us-east-1:123456789012:dataset-group/shop"
NEWS = "arn:aws:personalize:us-east-1:123456789012:dataset-group/news"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:DataDeletion"


@pytest.fixture(scope="module")
def aws():
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture
def ledger_env(aws, services, monkeypatch):
    """A fresh ledger table with the construct's key schema and indexes, and the bucket for records."""
    dynamodb, s3 = make_client("dynamodb"), make_client("s3")
    if TABLE in dynamodb.list_tables()["TableNames"]:
        dynamodb.delete_table(TableName=TABLE)
    string = lambda name: {"AttributeName": name, "AttributeType": "S"}  # noqa: E731
    dynamodb.create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[string(n) for n in ("pk", "sk", LEDGER_QUEUED_GROUP, "receivedAt", LEDGER_CLAIMED_PART)],
        GlobalSecondaryIndexes=[
            {"IndexName": contract.LEDGER_QUEUED_INDEX, "Projection": {"ProjectionType": "ALL"},
             "KeySchema": [{"AttributeName": LEDGER_QUEUED_GROUP, "KeyType": "HASH"},
                           {"AttributeName": "receivedAt", "KeyType": "RANGE"}]},
            {"IndexName": contract.LEDGER_CLAIMED_INDEX, "Projection": {"ProjectionType": "ALL"},
             "KeySchema": [{"AttributeName": LEDGER_CLAIMED_PART, "KeyType": "HASH"}]},
        ])
    if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET)
    services.clients.update({"dynamodb": dynamodb, "s3": s3})
    for name, value in {"LEDGER_TABLE": TABLE, "RECORD_PREFIX": "audit/deletion-requests/", "MAX_ATTEMPTS": "3",
                        "METRIC_DIMENSION": TABLE, "STATE_MACHINE_ARN": MACHINE}.items():
        monkeypatch.setenv(name, value)
    yield dynamodb
    for service in ("dynamodb", "s3"):
        services.clients.pop(service, None)


def queue_request(dynamodb, request_id: str, received: str = "2026-12-01T09:00:00Z", groups=(SHOP,),
                  listed: bool = True) -> None:
    """A QUEUED request as the intake registers it (``listed=False``: as an intake before ``targetGroups``)."""
    request = {"pk": request_id, "sk": "REQUEST", "requestId": request_id, "status": "QUEUED", "receivedAt": received,
               "bucket": BUCKET, "key": f"deletions/requests/{request_id}.csv", "userIds": 2, "bytes": 30,
               "revision": 1, "openFlag": "OPEN", **({"targetGroups": list(groups)} if listed else {})}
    dynamodb.put_item(TableName=TABLE, Item=ledger.to_item(request))
    for group in groups:
        dynamodb.put_item(TableName=TABLE, Item=ledger.to_item({
            "pk": request_id, "sk": ledger.target_sk(group), "requestId": request_id, "datasetGroupArn": group,
            "status": "QUEUED", "attempts": 0, "receivedAt": received, "bytes": 30, "bucket": BUCKET,
            "key": request["key"], LEDGER_QUEUED_GROUP: group}))


def test_queued_targets_come_oldest_first(ledger_env, clock):
    for i, minute in enumerate((30, 10, 20)):
        queue_request(ledger_env, f"R{i}", f"2026-12-01T09:{minute}:00Z")
    assert [t["requestId"] for t in ledger.queued_targets(SHOP)] == ["R1", "R2", "R0"]


def test_a_claim_takes_every_queued_target_in_one_transaction(ledger_env, clock):
    for i in range(3):
        queue_request(ledger_env, f"R{i}")
    targets = list(ledger.queued_targets(SHOP))

    claimed = ledger.claim(targets, "b1", "b1/shop/0001")

    assert [t["requestId"] for t in claimed] == ["R0", "R1", "R2"]
    assert list(ledger.queued_targets(SHOP)) == []  # off the sparse queued index
    assert sorted(t["requestId"] for t in ledger.claimed_targets("b1/shop/0001")) == ["R0", "R1", "R2"]


def _cancelled(codes):
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                        "CancellationReasons": [{"Code": c} for c in codes]}, "TransactWriteItems")


def _answering(monkeypatch, client, name, answers):
    """``client.<name>`` answers (or raises) the queued answers first, then calls moto; returns the calls' parameters."""
    original, calls = getattr(client, name), []

    def call(**kwargs):
        calls.append(kwargs)
        if answers:
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        return original(**kwargs)

    monkeypatch.setattr(client, name, call)
    return calls


def test_overlapping_claims_never_take_one_target_twice(ledger_env, clock, monkeypatch):
    for i in range(4):
        queue_request(ledger_env, f"R{i}")
    seen_by_both = list(ledger.queued_targets(SHOP))  # two runs read the same queue
    other = ledger.claim(seen_by_both[1:2], "b-other", "b-other/shop/0001")  # the other run wins R1
    calls = _answering(monkeypatch, ledger_env, "transact_write_items", [])

    mine = ledger.claim(seen_by_both, "b-mine", "b-mine/shop/0001")

    assert [t["requestId"] for t in other] == ["R1"]
    assert [t["requestId"] for t in mine] == ["R0", "R2", "R3"]
    assert [len(c["TransactItems"]) for c in calls] == [4, 3]  # the cancelled transaction is sent again without the item the other run took
    assert [t["requestId"] for t in ledger.claimed_targets("b-other/shop/0001")] == ["R1"]


def test_claims_of_more_than_100_targets_are_chunked(ledger_env, clock, monkeypatch):
    for i in range(150):
        queue_request(ledger_env, f"R{i:03d}")
    calls = _answering(monkeypatch, ledger_env, "transact_write_items", [])

    claimed = ledger.claim(list(ledger.queued_targets(SHOP)), "b1", "b1/shop/0001")

    assert len(claimed) == 150 and [len(c["TransactItems"]) for c in calls] == [100, 50]


def test_a_transaction_cancelled_by_a_conflict_alone_is_sent_again_after_a_pause_then_named(
        ledger_env, clock, monkeypatch):
    for i in range(3):
        queue_request(ledger_env, f"R{i}")
    answers = [_cancelled(["None", "TransactionConflict", "None"])]
    calls = _answering(monkeypatch, ledger_env, "transact_write_items", answers)
    pauses = []
    monkeypatch.setattr(ledger.time, "sleep", pauses.append)

    assert len(ledger.claim(list(ledger.queued_targets(SHOP)), "b1", "b1/shop/0001")) == 3  # all claimed after it
    assert [len(c["TransactItems"]) for c in calls] == [3, 3] and len(pauses) == 1
    assert 0 <= pauses[0] <= 2 * ledger._WRITE_PAUSE_SECONDS  # full jitter

    for i in range(3, 5):
        queue_request(ledger_env, f"R{i}")
    answers[:] = [_cancelled(["ThrottlingError", "None"])] * (ledger._WRITE_ATTEMPTS + 1)
    with pytest.raises(ledger.LedgerContended, match=r"cancelled 6 times in a row \(ThrottlingError\)"):
        ledger.claim(list(ledger.queued_targets(SHOP)), "b2", "b2/shop/0001")
    assert type(ledger.LedgerContended("x")).__name__ == contract.ERROR_LEDGER_CONTENDED  # the name the state
    # machine retries (tests/template pins the Retry)
    assert [t["requestId"] for t in ledger.queued_targets(SHOP)] == ["R3", "R4"]  # nothing half-claimed


def test_a_transaction_drops_the_items_whose_condition_failed_without_a_pause_and_fails_at_once_on_validation(
        ledger_env, clock, monkeypatch):
    for i in range(3):
        queue_request(ledger_env, f"R{i}")
    targets = list(ledger.queued_targets(SHOP))
    ledger.claim(targets[:1], "b-other", "b-other/shop/0001")  # another run takes R0
    answers = [_cancelled(["ConditionalCheckFailed", "TransactionConflict", "None"])]
    calls = _answering(monkeypatch, ledger_env, "transact_write_items", answers)
    pauses = []
    monkeypatch.setattr(ledger.time, "sleep", pauses.append)

    assert [t["requestId"] for t in ledger.claim(targets, "b1", "b1/shop/0001")] == ["R1", "R2"]
    assert [len(c["TransactItems"]) for c in calls] == [3, 2] and pauses == []  # progress: no pause

    queue_request(ledger_env, "R3")
    answers[:] = [_cancelled(["ValidationError"])]
    with pytest.raises(Exception) as raised:
        ledger.claim(list(ledger.queued_targets(SHOP)), "b2", "b2/shop/0001")
    assert type(raised.value).__name__ == "TransactionCanceledException" and len(calls) == 3  # not sent again


def test_a_lone_claim_is_a_transaction_and_a_lone_outcome_an_update(ledger_env, clock, monkeypatch):
    """A transaction has an idempotency token: an SDK retry after a lost response is answered as applied. A
    lone claim must never read as "not applied" while its target sits in the part without its IDs."""
    queue_request(ledger_env, "R1")
    transactions = _answering(monkeypatch, ledger_env, "transact_write_items", [])
    updates = _answering(monkeypatch, ledger_env, "update_item", [])

    [target] = ledger.claim(list(ledger.queued_targets(SHOP)), "b1", "b1/shop/0001")
    assert len(transactions) == 1 and transactions[0]["TransactItems"][0]["Update"]["Key"] == ledger.key(
        "R1", ledger.target_sk(SHOP)) and updates == []
    assert ledger.finish(target, "b1/shop/0001", succeeded=True, job_arn="arn:job", reason=None,
                         max_attempts=3) == "COMPLETED"
    assert len(transactions) == 1 and len(updates) == 1  # one write unit, not two


def test_unprocessed_keys_are_asked_for_again_consistently_then_named(ledger_env, clock, monkeypatch):
    for rid in ("R1", "R2"):
        queue_request(ledger_env, rid)
    unprocessed = {TABLE: {"Keys": [ledger.key("R2", "REQUEST")]}}  # as AWS may answer it, without ConsistentRead
    first = {"Responses": {TABLE: [ledger.to_item(ledger.items_of("R1")[0])]}, "UnprocessedKeys": unprocessed}
    answers = [first]
    calls = _answering(monkeypatch, ledger_env, "batch_get_item", answers)
    pauses = []
    monkeypatch.setattr(ledger.time, "sleep", pauses.append)

    found = ledger.read_all(["R1", "R2"])

    assert sorted(found) == ["R1", "R2"] and len(pauses) == 1
    assert calls[1]["RequestItems"] == {TABLE: {"Keys": [ledger.key("R2", "REQUEST")], "ConsistentRead": True}}
    answers[:] = [{"Responses": {}, "UnprocessedKeys": unprocessed}] * ledger._BATCH_GET_ATTEMPTS
    with pytest.raises(ledger.LedgerContended, match="unprocessed"):
        ledger.read_all(["R1", "R2"])


def test_a_failed_job_requeues_until_the_last_attempt(ledger_env, clock):
    queue_request(ledger_env, "R1")
    for attempt in (1, 2, 3):
        [target] = ledger.claim(list(ledger.queued_targets(SHOP)), f"b{attempt}", f"b{attempt}/shop/0001")
        status = ledger.finish(target, f"b{attempt}/shop/0001", succeeded=False, job_arn="arn:job", reason="busy",
                               max_attempts=3)
        assert status == ("QUEUED" if attempt < 3 else "FAILED")
        # a retried Record finds the target no longer in its part and changes nothing
        assert ledger.finish(target, f"b{attempt}/shop/0001", succeeded=True, job_arn=None, reason=None,
                             max_attempts=3) is None
    _, [target] = ledger.items_of("R1")
    assert (target["status"], target["attempts"], target["lastFailureReason"]) == ("FAILED", 3, "busy")
    assert LEDGER_QUEUED_GROUP not in target and target[LEDGER_CLAIMED_PART] == "b3/shop/0001"  # its last part
    assert [t["status"] for t in ledger.claimed_targets("b3/shop/0001")] == ["FAILED"]  # the part still lists it


def test_refresh_writes_the_record_and_the_status_it_derives(ledger_env, clock):
    queue_request(ledger_env, "R1")
    [target] = ledger.claim(list(ledger.queued_targets(SHOP)), "b1", "b1/shop/0001")
    ledger.finish(target, "b1/shop/0001", succeeded=True, job_arn="arn:job", reason=None, max_attempts=3)

    refreshed = ledger.refresh("R1")

    assert refreshed.changed_to == "COMPLETED" and refreshed.previous_status == "QUEUED"
    stored = json.loads(make_client("s3").get_object(Bucket=BUCKET, Key="audit/deletion-requests/R1.json")["Body"]
                        .read())
    assert stored == refreshed.record and stored["status"] == "COMPLETED" and stored["completedAt"]
    request, _ = ledger.items_of("R1")
    assert request["status"] == "COMPLETED" and "openFlag" not in request and request["revision"] == 2


def test_refresh_renders_again_when_another_writer_changed_the_request(ledger_env, clock, monkeypatch):
    for rid in ("R1", "R2", "R3"):
        queue_request(ledger_env, rid)
    writes = []
    original = ledger.write_record

    def racing(record):
        writes.append(record["requestId"])
        if writes.count("R2") == 1 and record["requestId"] == "R2":  # another writer stores first: our read is stale
            ledger_env.update_item(TableName=TABLE, Key=ledger.key("R2", "REQUEST"),
                                   UpdateExpression="SET revision = :r", ExpressionAttributeValues={":r": {"N": "7"}})
        return original(record)

    monkeypatch.setattr(ledger, "write_record", racing)

    refreshed = ledger.refresh_all(["R1", "R2", "R3"])

    assert sorted(r.record["requestId"] for r in refreshed) == ["R1", "R2", "R3"]
    assert sorted(writes) == ["R1", "R2", "R2", "R3"]  # only the one that lost the race is read and written again
    assert [ledger.items_of(rid)[0]["revision"] for rid in ("R1", "R2", "R3")] == [2, 8, 2]


# --------------------------------------------------------------------------- batch_record.outcome


@pytest.fixture
def sfn(services):
    from botocore.stub import Stubber

    api = make_client("stepfunctions")
    stubber = Stubber(api)
    stubber.activate()
    services.clients["stepfunctions"] = api
    yield stubber
    stubber.assert_no_pending_responses()
    services.clients.pop("stepfunctions")


EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:DataDeletion:b1-shop-0001"


def _described(status, **extra):
    from datetime import datetime, timezone

    return {"executionArn": EXECUTION, "stateMachineArn": MACHINE, "status": status,
            "startDate": datetime(2026, 12, 1, tzinfo=timezone.utc), **extra}


def test_a_completed_deletion_needs_no_second_look(ledger_env, sfn):
    succeeded = {"status": "SUCCEEDED", "output": {"status": "COMPLETED", "dataDeletionJobArn": "arn:job"}}
    assert batch_record.outcome(succeeded, "b1-shop-0001")[:3] == (True, "arn:job", None)


def test_a_failed_job_gives_personalizes_failure_reason(ledger_env, sfn):
    cause = json.dumps({"failureReason": "Training ran during deletion", "dataDeletionJobArn": "arn:job"})
    sfn.add_response("describe_execution", _described("FAILED", error="DataDeletionJobFailed", cause=cause),
                     {"executionArn": EXECUTION})

    found = batch_record.outcome({"Error": "States.TaskFailed", "Cause": "{}"}, "b1-shop-0001")

    assert found[:3] == (False, "arn:job", "Training ran during deletion")


def test_an_execution_a_redriven_run_already_started_is_adopted(ledger_env, sfn):
    output = json.dumps({"status": "COMPLETED", "dataDeletionJobArn": "arn:job"})
    sfn.add_response("describe_execution", _described("SUCCEEDED", output=output), {"executionArn": EXECUTION})

    found = batch_record.outcome({"Error": "StepFunctions.ExecutionAlreadyExistsException", "Cause": "exists"},
                                 "b1-shop-0001")

    assert found[:3] == (True, "arn:job", None)


def test_a_still_running_execution_is_retried_later(ledger_env, sfn):
    sfn.add_response("describe_execution", _described("RUNNING"), {"executionArn": EXECUTION})
    with pytest.raises(batch_record.ExecutionStillRunning):
        batch_record.outcome({"Error": "StepFunctions.ExecutionAlreadyExistsException"}, "b1-shop-0001")


def test_a_deletion_that_never_started_fails_with_the_tasks_error(ledger_env, sfn):
    sfn.add_client_error("describe_execution", "ExecutionDoesNotExist", "no such execution",
                         expected_params={"executionArn": EXECUTION})
    found = batch_record.outcome({"Error": "StepFunctions.AccessDeniedException", "Cause": "not allowed"},
                                 "b1-shop-0001")
    assert found[:3] == (False, None, "StepFunctions.AccessDeniedException: not allowed")


# --------------------------------------------------------------------------- the quiet period and follow-through


BUSY_WITH = [{"type": "solutionVersion", "arn": "arn:aws:personalize:us-east-1:123456789012:solution/recs/v1",
              "status": "CREATE IN_PROGRESS"}]


def test_a_busy_group_requeues_without_counting_an_attempt_and_says_what_ran(ledger_env, clock):
    queue_request(ledger_env, "R1")
    [target] = ledger.claim(list(ledger.queued_targets(SHOP)), "b1", "b1/shop/0001")
    facts = {"busyWith": BUSY_WITH, "waitedSeconds": 21600, "quietPeriodTimeoutSeconds": 21600}
    status = ledger.finish(target, "b1/shop/0001", succeeded=False, job_arn=None, reason="DatasetGroupBusy: x",
                           max_attempts=1, kind=ledger.OUTCOME_BUSY, facts=facts)
    assert status == "QUEUED"  # even with max_attempts 1
    _, [target] = ledger.items_of("R1")
    assert (target["status"], target["attempts"], target["deferredReason"]) == ("QUEUED", 0, "DatasetGroupBusy: x")
    assert target[LEDGER_QUEUED_GROUP] == SHOP and target[LEDGER_CLAIMED_PART] == "b1/shop/0001"
    assert json.loads(target[ledger.MODEL_FACTS]) == facts
    record = ledger.refresh("R1").record
    assert record["status"] == "QUEUED" and record["targets"][0]["busyWith"] == BUSY_WITH
    # the next claim starts clean, and moves the target to its own part
    [target] = ledger.claim(list(ledger.queued_targets(SHOP)), "b2", "b2/shop/0001")
    _, [target] = ledger.items_of("R1")
    assert ledger.MODEL_FACTS not in target and "deferredReason" not in target
    assert ledger.claimed_targets("b1/shop/0001") == [] and len(ledger.claimed_targets("b2/shop/0001")) == 1


def test_a_failed_follow_through_fails_the_target_at_once_with_the_deletion_completed(ledger_env, clock):
    queue_request(ledger_env, "R1")
    [target] = ledger.claim(list(ledger.queued_targets(SHOP)), "b1", "b1/shop/0001")
    facts = {"deletionStatus": "COMPLETED", "dataDeletionJobArns": ["arn:job"],
             "followThrough": {"status": "FAILED", "stage": "TRAINING", "reason": "bad data"}}
    status = ledger.finish(target, "b1/shop/0001", succeeded=False, job_arn="arn:job",
                           reason="ModelRetrainingFailed: ...", max_attempts=3,
                           kind=ledger.OUTCOME_FOLLOW_THROUGH_FAILED, facts=facts)
    assert status == "FAILED"
    record = ledger.refresh("R1").record
    [entry] = record["targets"]
    assert record["status"] == "FAILED" and entry["status"] == "FAILED" and entry["deletionStatus"] == "COMPLETED"
    assert entry["followThrough"]["reason"] == "bad data" and entry["attempts"] == 0
    assert "ModelRetrainingFailed" in record["reason"]


def test_the_outcome_reads_the_workflows_models_facts(ledger_env, sfn):
    output = {"status": "COMPLETED", "dataDeletionJobArn": "arn:job", "dataDeletionJobArns": ["arn:job", "arn:again"],
              "quietPeriod": {"checks": 1}, "followThrough": {"status": "COMPLETED"}, "solutionVersionArns": ["arn:sv"],
              "campaignArns": ["arn:c"], "modelsRetrainedAt": "2026-12-02T00:00:00Z", "numDeleted": 3}
    found = batch_record.outcome({"status": "SUCCEEDED", "output": output}, "b1-shop-0001")
    assert found.kind == ledger.OUTCOME_COMPLETED and found.succeeded
    assert found.facts == {"deletionStatus": "COMPLETED", "quietPeriod": {"checks": 1},
                           "dataDeletionJobArns": ["arn:job", "arn:again"], "followThrough": {"status": "COMPLETED"},
                           "solutionVersionArns": ["arn:sv"], "campaignArns": ["arn:c"],
                           "modelsRetrainedAt": "2026-12-02T00:00:00Z"}


def test_the_outcome_of_a_busy_group_and_of_a_failed_training(ledger_env, sfn):
    busy = json.dumps({"datasetGroupArn": SHOP, "busyWith": BUSY_WITH, "waitedSeconds": 21650,
                       "quietPeriodTimeoutSeconds": 21600, "dataDeletionJobArns": [], "message": "busy"})
    sfn.add_response("describe_execution", _described("FAILED", error="DatasetGroupBusy", cause=busy),
                     {"executionArn": EXECUTION})
    found = batch_record.outcome({"Error": "States.TaskFailed", "Cause": "{}"}, "b1-shop-0001")
    assert (found.kind, found.succeeded, found.job_arn) == (ledger.OUTCOME_BUSY, False, None)
    assert BUSY_WITH[0]["arn"] in found.reason and "CREATE IN_PROGRESS" in found.reason
    assert found.facts["busyWith"] == BUSY_WITH

    failed = json.dumps({"deletionStatus": "COMPLETED", "dataDeletionJobArns": ["arn:job"], "quietPeriod": None,
                         "followThrough": {"status": "FAILED", "stage": "TRAINING", "resourceArn": "arn:sv",
                                           "resourceStatus": "CREATE FAILED", "reason": "bad data"},
                         "solutionVersionArns": ["arn:sv"], "campaignArns": [], "modelsRetrainedAt": None})
    sfn.add_response("describe_execution", _described("FAILED", error="ModelRetrainingFailed", cause=failed),
                     {"executionArn": EXECUTION})
    found = batch_record.outcome({"Error": "States.TaskFailed", "Cause": "{}"}, "b1-shop-0001")
    assert (found.kind, found.job_arn) == (ledger.OUTCOME_FOLLOW_THROUGH_FAILED, "arn:job")
    assert found.reason.startswith("ModelRetrainingFailed: the data deletion COMPLETED") and "bad data" in found.reason
    assert found.facts["deletionStatus"] == "COMPLETED" and found.facts["followThrough"]["stage"] == "TRAINING"


def test_recording_a_part_updates_each_target_once_and_a_retry_skips_what_was_recorded(ledger_env, clock):
    for i in range(3):
        queue_request(ledger_env, f"R{i}")
    claimed = ledger.claim(list(ledger.queued_targets(SHOP)), "b1", "b1/shop/0001")
    first = ledger.finish_all(claimed[:1], "b1/shop/0001", succeeded=False, job_arn="arn:job", reason="boom",
                              max_attempts=3)
    again = ledger.finish_all(claimed, "b1/shop/0001", succeeded=False, job_arn="arn:job", reason="boom",
                              max_attempts=3)  # a retried Record: R0 is recorded already

    assert first == ["QUEUED"] and again == [None, "QUEUED", "QUEUED"]
    assert [t["attempts"] for t in ledger.queued_targets(SHOP)] == [1, 1, 1]  # no attempt counted twice


def test_an_outcome_is_announced_again_after_a_call_that_failed_before_announcing_and_only_then(
        ledger_env, clock, monkeypatch):
    queue_request(ledger_env, "R1")
    [target] = ledger.claim(list(ledger.queued_targets(SHOP)), "b1", "b1/shop/0001")
    ledger.finish(target, "b1/shop/0001", succeeded=True, job_arn="arn:job", reason=None, max_attempts=3)
    sent: list[str] = []

    def failing(detail_type, details):
        raise RuntimeError("PutEvents refused 1 event(s): ThrottlingException")

    monkeypatch.setattr(ledger, "announce", failing)
    with pytest.raises(RuntimeError):
        ledger.refresh_and_announce(["R1"])  # the record is written, the event never went out
    monkeypatch.setattr(ledger, "announce", lambda detail_type, details: sent.extend(
        f"{detail_type}:{d['requestId']}" for d in details))

    assert ledger.refresh_and_announce(["R1"]) == {"completed": 1, "failed": 0}  # the retried (or redriven) step
    assert sent == ["Deletion Request Completed:R1"]
    request, _ = ledger.items_of("R1")
    assert (request["status"], request[ledger.ANNOUNCED]) == ("COMPLETED", "COMPLETED")
    assert ledger.refresh_and_announce(["R1"]) == {"completed": 0, "failed": 0}  # once stored, not again
    assert sent == ["Deletion Request Completed:R1"]


def test_an_announced_request_whose_status_write_lost_a_race_is_stored_without_a_second_event(
        ledger_env, clock, monkeypatch):
    for rid in ("R1", "R2"):
        queue_request(ledger_env, rid)
    claimed = ledger.claim(list(ledger.queued_targets(SHOP)), "b1", "b1/shop/0001")
    ledger.finish_all(claimed, "b1/shop/0001", succeeded=True, job_arn="arn:job", reason=None, max_attempts=3)
    sent: list[str] = []
    monkeypatch.setattr(ledger, "announce", lambda detail_type, details: sent.extend(d["requestId"] for d in details))
    original = ledger._announce_outcomes
    raced = []

    def racing(refreshed):
        told = original(refreshed)
        if not raced:  # another writer stores R2 between our announcement and our write, once
            raced.append(True)
            ledger_env.update_item(TableName=TABLE, Key=ledger.key("R2", "REQUEST"),
                                   UpdateExpression="SET revision = :r", ExpressionAttributeValues={":r": {"N": "7"}})
        return told

    monkeypatch.setattr(ledger, "_announce_outcomes", racing)

    assert ledger.refresh_and_announce(["R1", "R2"]) == {"completed": 2, "failed": 0}
    assert sent == ["R1", "R2"]  # R2 read and written again, not announced again
    assert [ledger.items_of(rid)[0][ledger.ANNOUNCED] for rid in ("R1", "R2")] == ["COMPLETED", "COMPLETED"]
    assert [ledger.items_of(rid)[0]["revision"] for rid in ("R1", "R2")] == [2, 8]


def test_many_requests_are_read_in_batches_and_a_request_without_its_target_list_by_query(
        ledger_env, clock, monkeypatch):
    for i in range(150):
        queue_request(ledger_env, f"R{i:03d}", groups=(SHOP, NEWS))
    queue_request(ledger_env, "OLD", groups=(SHOP, NEWS), listed=False)
    calls = {name: _answering(monkeypatch, ledger_env, name, []) for name in ("batch_get_item", "query")}
    ids = [f"R{i:03d}" for i in range(150)] + ["OLD"]

    found = ledger.read_all(ids + ["MISSING"])

    assert sorted(found) == sorted(ids)
    assert {name: len(made) for name, made in calls.items()} == {"batch_get_item": 2 + 3, "query": 1}  # 151 request keys, then 300 target keys; OLD by query
    for rid in ("R007", "OLD"):
        request, targets = found[rid]
        assert (request, targets) == ledger.items_of(rid)
        assert [t["datasetGroupArn"] for t in targets] == sorted([SHOP, NEWS], key=ledger.target_sk)


def test_a_retried_claim_never_claims_into_a_part_whose_input_exists(ledger_env, clock, monkeypatch):
    """The claimed index is eventually consistent: a retry right after an attempt that wrote part 1 may not see
    part 1's targets yet. It must not claim new requests into part 1 (their IDs would never reach the input)."""
    import batch_claim

    for name, value in {"DATA_BUCKET": BUCKET, "BATCH_PREFIX": "deletions/batches/", "MAX_BATCH_BYTES": "1000000",
                        "PENDING_JOB_LIMIT": "5"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(batch_claim, "_pending_jobs", lambda group: 0)
    queue_request(ledger_env, "R1")
    make_client("s3").put_object(Bucket=BUCKET, Key=requests.part_key("deletions/batches/", "b1", SHOP, 1),
                                 Body=b"USER_ID\nsomeone\n")

    with pytest.raises(batch_claim.ClaimedPartsNotVisibleYet):
        batch_claim._claim_group("b1", SHOP, 5, set())
    assert [t["requestId"] for t in ledger.queued_targets(SHOP)] == ["R1"]  # nothing claimed


def test_a_claim_retried_after_failing_a_gone_file_announces_that_request(ledger_env, clock, monkeypatch):
    """The first attempt failed the request (its file was gone) and then failed before rewriting its record: the
    retry adopts the part, whose only target is no longer IN_PROGRESS, and must still refresh and announce it."""
    import batch_claim

    for name, value in {"DATA_BUCKET": BUCKET, "BATCH_PREFIX": "deletions/batches/", "MAX_BATCH_BYTES": "1000000",
                        "PENDING_JOB_LIMIT": "5"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(batch_claim, "_pending_jobs", lambda group: 0)
    monkeypatch.setattr(ledger, "put_metric", lambda *args: None)
    sent = []
    monkeypatch.setattr(ledger, "announce", lambda detail_type, details: sent.extend(
        (detail_type, d["requestId"]) for d in details))
    queue_request(ledger_env, "R1")  # its file was never uploaded: gone
    event = {"datasetGroupArns": [SHOP], "executionName": "run-1", "startTime": "2026-12-01T10:00:00Z"}
    refresh = batch_claim._refresh

    def crashing(request_ids):
        raise RuntimeError("Lambda timed out")

    monkeypatch.setattr(batch_claim, "_refresh", crashing)
    with pytest.raises(RuntimeError):
        batch_claim.handler(event, None)
    assert ledger.items_of("R1")[0]["status"] == "QUEUED" and sent == []  # the target FAILED, the request not yet
    monkeypatch.setattr(batch_claim, "_refresh", refresh)

    out = batch_claim.handler(event, None)  # the state machine's retry

    assert out["requestsFailed"] == 1 and sent == [("Deletion Request Failed", "R1")]
    assert ledger.items_of("R1")[0]["status"] == "FAILED"

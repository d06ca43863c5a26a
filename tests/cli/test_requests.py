"""``ml-data-jobs requests``: submit, status, list, report, run-batch against the sample app's deletion request
queue (the tier's backend is the sample app with ``-c requestQueueDatasetGroupArns``)."""

from __future__ import annotations

import csv
import io

import boto3
import pytest

from tests.cli.conftest import POLL, QUEUE_GROUPS, STACK, USER_IDS
from tests.harness.events import s3_object_created


@pytest.fixture
def queue(local):
    """The backend with an empty ledger; ``deliver(key)`` hands S3's event to the queue's intake, as EventBridge
    would."""
    table = local.functions_env("DeletionRequests/Intake")["LEDGER_TABLE"]
    dynamodb = boto3.client("dynamodb")
    for item in dynamodb.scan(TableName=table)["Items"]:
        dynamodb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})

    def deliver(key: str):
        head = local.s3.head_object(Bucket=local.bucket(), Key=key)
        [delivery] = local.emit(s3_object_created(local.bucket(), key, head, local.clock.now(), "0" * 18))
        return delivery.result

    local.deliver = deliver  # type: ignore[attr-defined]
    return local


def test_submit_checks_the_file_uploads_it_with_its_request_id_and_status_follows_it(queue, cli, write_csv):
    path = write_csv(["USER_ID", *USER_IDS])

    submitted = cli("requests", "submit", "--stack", STACK, "--csv", path, "--request-id", "TICKET-9", "--json")

    assert submitted.exit_code == 0, submitted.output
    doc = submitted.json()
    key = doc["upload"]["key"]
    assert key.startswith("deletions/requests/cli/") and doc["request"]["requestId"] == "TICKET-9"
    head = queue.s3.head_object(Bucket=queue.bucket(), Key=key)
    assert head["Metadata"] == {"request-id": "TICKET-9"}
    assert queue.deliver(key)["status"] == "QUEUED"

    shown = cli("requests", "status", "TICKET-9", "--stack", STACK)
    assert shown.exit_code == 0 and "QUEUED" in shown.stdout and QUEUE_GROUPS[0] in shown.stdout
    as_json = cli("requests", "status", "TICKET-9", "--stack", STACK, "--json").json()
    assert as_json["record"]["userIds"] == 3 and as_json["exitCode"] == 0


def test_submit_without_an_id_names_the_derived_one(queue, cli, write_csv):
    path = write_csv(["USER_ID", USER_IDS[0]])
    doc = cli("requests", "submit", "--stack", STACK, "--csv", path, "--json").json()
    derived = doc["request"]["requestId"]
    assert derived.startswith("cli:") and queue.deliver(doc["upload"]["key"])["requestId"] == derived


def test_a_bad_file_or_id_is_refused_here_and_nothing_is_uploaded(queue, cli, write_csv):
    bad = write_csv(["EMAIL", USER_IDS[0]], "bad.csv")
    refused = cli("requests", "submit", "--stack", STACK, "--csv", bad, "--request-id", "has space")
    assert refused.exit_code == 2
    assert "USER_ID" in refused.output and "request-id metadata (9 characters)" in refused.output
    assert queue.s3.list_objects_v2(Bucket=queue.bucket(), Prefix="deletions/requests/").get("KeyCount", 0) == 0


def test_run_batch_follows_the_run_and_the_request_completes(queue, cli, write_csv):
    path = write_csv(["USER_ID", *USER_IDS])
    key = cli("requests", "submit", "--stack", STACK, "--csv", path, "--request-id", "R-1", "--json").json()[
        "upload"]["key"]
    queue.deliver(key)

    ran = cli("requests", "run-batch", "--stack", STACK, "--follow", *POLL, "--json")

    assert ran.exit_code == 0, ran.output
    assert ran.json()["execution"]["status"] == "SUCCEEDED"
    groups = ran.json()["execution"]["output"]["datasetGroups"]
    assert [g["status"] for g in groups] == ["COMPLETED", "COMPLETED"]
    record = cli("requests", "status", "R-1", "--stack", STACK, "--json").json()["record"]
    assert record["status"] == "COMPLETED"


def test_list_and_report_read_the_ledger(queue, cli, write_csv):
    good = write_csv(["USER_ID", USER_IDS[0]], "good.csv")
    bad = write_csv([USER_IDS[1]], "headerless.csv")  # rejected by the queue, not here: submitted by hand
    for request_id, path in (("GOOD", good), ("LATE", good)):
        queue.deliver(cli("requests", "submit", "--stack", STACK, "--csv", path, "--request-id", request_id,
                          "--json").json()["upload"]["key"])
    queue.s3.put_object(Bucket=queue.bucket(), Key="deletions/requests/by-hand.csv", Body=bad.read_bytes())
    assert queue.deliver("deletions/requests/by-hand.csv")["status"] == "REJECTED"

    listed = cli("requests", "list", "--stack", STACK, "--json").json()["requests"]
    assert sorted(r["requestId"] for r in listed) == ["GOOD", "LATE", "by-hand"]
    queued = cli("requests", "list", "--stack", STACK, "--status", "QUEUED")
    assert queued.exit_code == 0 and "GOOD" in queued.stdout and "by-hand" not in queued.stdout
    assert cli("requests", "list", "--stack", STACK, "--since", "2999-01-01", "--json").json()["requests"] == []

    report = cli("requests", "report", "--stack", STACK, "--since", "2026-01-01", "--json").json()["report"]
    assert report["counts"]["QUEUED"] == 2 and report["counts"]["REJECTED"] == 1 and report["total"] == 3
    assert report["oldestOpen"]["requestId"] in ("GOOD", "LATE")
    assert len(report["notCompleted"]) == 3
    text = cli("requests", "report", "--stack", STACK, "--since", "2026-01-01")
    assert "Oldest open" in text.stdout and "REJECTED" in text.stdout
    rows = list(csv.DictReader(io.StringIO(cli("requests", "report", "--stack", STACK, "--since", "2026-01-01",
                                               "--csv").stdout)))
    assert sorted(r["requestId"] for r in rows) == ["GOOD", "LATE", "by-hand"]
    assert cli("requests", "status", "by-hand", "--stack", STACK).exit_code == 2


def test_an_unknown_request_or_queue_is_a_usage_error(queue, cli):
    missing = cli("requests", "status", "NOPE", "--stack", STACK, "--json")
    assert missing.exit_code == 4 and "no record of request NOPE" in missing.json()["error"]["message"]
    unnamed = cli("requests", "list")
    assert unnamed.exit_code == 4 and "ledger" in unnamed.output
    assert cli("requests", "list", "--stack", STACK, "--since", "yesterday").exit_code == 4


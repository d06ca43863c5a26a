"""jobkit.requests (request IDs, batch names, packing, a request's status and record) and the streamed CSV rules."""

from __future__ import annotations

import json

import pytest

from jobkit import csv_rules, requests
from jobkit.contract import REQUEST_STATUSES

PREFIX = "deletions/requests/"
SHOP = "arn:aws:personalize:us-east-1:123456789012:dataset-group/shop"
NEWS = "arn:aws:personalize:us-east-1:123456789012:dataset-group/news"


# --------------------------------------------------------------------------- request IDs


@pytest.mark.parametrize("value", ["a", "TICKET-42", "2026.11.23_req:7", "x" * 128])
def test_valid_request_ids(value):
    assert requests.request_id_problem(value) is None


@pytest.mark.parametrize("value", ["", "x" * 129, "has space", "slash/inside", "ünicode", "semi;colon"])
def test_invalid_request_ids_are_described_without_quoting_them(value):
    problem = requests.request_id_problem(value)
    assert problem and f"({len(value)} characters)" in problem
    assert not value or value not in problem


def test_a_key_gives_a_readable_request_id_when_it_can():
    assert requests.request_id_from_key(PREFIX, f"{PREFIX}ticket-42.csv") == "ticket-42"
    assert requests.request_id_from_key(PREFIX, f"{PREFIX}2026-12/ticket-42.csv") == "2026-12:ticket-42"


def test_a_key_with_other_characters_gives_a_hashed_request_id():
    derived = requests.request_id_from_key(PREFIX, f"{PREFIX}ticket 42 (urgent).csv")
    assert requests.request_id_problem(derived) is None
    assert derived.startswith("ticket-42-urgent-") and len(derived.rsplit("-", 1)[1]) == 16
    # deterministic, and two keys that clean alike still differ
    assert derived == requests.request_id_from_key(PREFIX, f"{PREFIX}ticket 42 (urgent).csv")
    assert derived != requests.request_id_from_key(PREFIX, f"{PREFIX}ticket_42 (urgent).csv".replace("_", " ") + "x")


def test_a_long_key_gives_a_request_id_of_at_most_128_characters():
    derived = requests.request_id_from_key(PREFIX, f"{PREFIX}{'a' * 300}.csv")
    assert len(derived) == 128 and requests.request_id_problem(derived) is None
    assert derived != requests.request_id_from_key(PREFIX, f"{PREFIX}{'a' * 301}.csv")


def test_object_identity_uses_the_version_or_the_sequencer():
    assert requests.object_identity("b", "k.csv", "v1", "00A") == "s3://b/k.csv#v1"
    assert requests.object_identity("b", "k.csv", None, "00A") == "s3://b/k.csv#seq-00A"


# --------------------------------------------------------------------------- batch names


def test_the_batch_id_is_stable_for_an_execution_and_differs_between_executions():
    first = requests.batch_id("run-1", "2026-12-01T09:30:00.123Z")
    assert first == requests.batch_id("run-1", "2026-12-01T09:30:00.123Z")
    assert first.startswith("b20261201T093000-") and len(first) == 25
    assert first != requests.batch_id("run-2", "2026-12-01T09:30:00.123Z")


def test_part_names_hold_no_more_than_the_batch_group_and_number():
    batch = requests.batch_id("run-1", "2026-12-01T09:30:00Z")
    assert requests.part_id(batch, SHOP, 2) == f"{batch}/shop/0002"
    assert requests.part_key("deletions/batches/", batch, SHOP, 1) == f"deletions/batches/{batch}/shop/part-0001.csv"
    assert requests.execution_name(batch, SHOP, 1) == f"{batch}-shop-0001"
    long_group = SHOP.replace("shop", "g" * 63)
    name = requests.execution_name(batch, long_group, 1)
    assert len(name) == 80 and name != requests.execution_name(batch, long_group, 2)


# --------------------------------------------------------------------------- packing


def _candidates(*sizes):
    return [requests.Candidate(f"r{i}", size) for i, size in enumerate(sizes)]


def test_packing_fills_parts_up_to_the_byte_limit_in_order():
    parts = requests.pack(_candidates(40, 40, 30, 50, 10), max_bytes=100, max_parts=5)
    assert [[c.request_id for c in part] for part in parts] == [["r0", "r1"], ["r2", "r3", "r4"]]


def test_packing_stops_at_the_free_pending_slots_and_keeps_the_order():
    parts = requests.pack(_candidates(60, 60, 60, 10), max_bytes=100, max_parts=2)
    assert [[c.request_id for c in part] for part in parts] == [["r0"], ["r1"]]  # r3 does not overtake r2
    assert requests.pack(_candidates(1, 2), max_bytes=100, max_parts=0) == []


def test_packing_skips_a_request_larger_than_a_job_without_blocking_the_queue():
    parts = requests.pack(_candidates(500, 10), max_bytes=100, max_parts=1)
    assert [[c.request_id for c in part] for part in parts] == [["r1"]]


# --------------------------------------------------------------------------- status and record


@pytest.mark.parametrize("targets, expected", [
    (["COMPLETED", "COMPLETED"], "COMPLETED"),
    (["COMPLETED", "QUEUED"], "QUEUED"),
    (["COMPLETED", "IN_PROGRESS"], "IN_PROGRESS"),
    (["FAILED", "IN_PROGRESS"], "FAILED"),
    (["QUEUED", "QUEUED"], "QUEUED"),
])
def test_a_requests_status_follows_its_targets(targets, expected):
    assert requests.request_status("QUEUED", targets) == expected
    assert expected in REQUEST_STATUSES


def test_a_rejected_request_stays_rejected():
    assert requests.request_status("REJECTED", []) == "REJECTED"


def _request(**extra):
    return {"requestId": "R1", "status": "QUEUED", "receivedAt": "2026-12-01T09:00:00Z", "bucket": "b",
            "key": "deletions/requests/r1.csv", "versionId": "v1", "userIds": 3, "bytes": 40,
            "objectIdentity": "s3://b/deletions/requests/r1.csv#v1", "revision": 4, "pk": "R1", "sk": "REQUEST",
            **extra}


def _target(group, **extra):
    return {"pk": "R1", "sk": f"TARGET#{group}", "datasetGroupArn": group, "status": "QUEUED", "attempts": 0,
            "bytes": 40, "bucket": "b", "key": "k", "queuedGroup": group, **extra}


def test_the_record_has_exactly_the_documented_fields():
    record = requests.render_record(_request(), [_target(SHOP), _target(NEWS, deferredReason="quota")])
    assert set(record) == {"requestId", "status", "receivedAt", "completedAt", "object", "userIds", "targets"}
    assert record["object"] == {"bucket": "b", "key": "deletions/requests/r1.csv", "versionId": "v1"}
    assert [t["datasetGroupArn"] for t in record["targets"]] == [NEWS, SHOP]  # sorted, stable
    assert set(record["targets"][1]) == {"datasetGroupArn", "status", "batchId", "dataDeletionJobArn", "attempts",
                                         "completedAt", "quietPeriod", "dataDeletionJobArns", "followThrough",
                                         "solutionVersionArns", "campaignArns", "modelsRetrainedAt"}
    assert record["targets"][0]["deferredReason"] == "quota"
    assert {k: record["targets"][1][k] for k in requests.MODEL_FIELDS} == requests.MODEL_FIELDS  # unknown yet


QUIET = {"timeoutSeconds": 21600, "checks": 2, "waitedSeconds": 600, "startedAt": "2026-12-01T00:00:00Z",
         "endedAt": "2026-12-01T00:10:00Z",
         "waitedFor": [{"type": "solutionVersion", "arn": "arn:aws:personalize:us-east-1:1:solution/recs/v1",
                        "status": "CREATE IN_PROGRESS"}]}


def test_a_completed_target_carries_the_quiet_period_jobs_trainings_and_campaigns():
    facts = {"deletionStatus": "COMPLETED", "quietPeriod": QUIET, "dataDeletionJobArns": ["arn:job", "arn:job-again"],
             "followThrough": {"status": "COMPLETED"}, "solutionVersionArns": ["arn:sv"], "campaignArns": ["arn:c"],
             "modelsRetrainedAt": "2026-12-02T00:00:00Z"}
    target = _target(SHOP, status="COMPLETED", dataDeletionJobArn="arn:job", modelFacts=json.dumps(facts))
    entry = requests.render_record(_request(status="COMPLETED"), [target])["targets"][0]
    assert {k: entry[k] for k in facts} == facts
    assert "modelFacts" not in entry and "busyWith" not in entry


def test_a_completed_target_without_facts_lists_its_one_job():
    target = _target(SHOP, status="COMPLETED", dataDeletionJobArn="arn:job")
    assert requests.render_record(_request(), [target])["targets"][0]["dataDeletionJobArns"] == ["arn:job"]


def test_a_busy_target_says_what_the_group_ran_and_a_failed_follow_through_keeps_the_deletion_completed():
    busy = {"busyWith": QUIET["waitedFor"], "waitedSeconds": 21600, "quietPeriodTimeoutSeconds": 21600}
    queued = _target(SHOP, deferredReason="DatasetGroupBusy: ...", modelFacts=json.dumps(busy))
    failed_facts = {"deletionStatus": "COMPLETED", "quietPeriod": QUIET, "dataDeletionJobArns": ["arn:job"],
                    "followThrough": {"status": "FAILED", "stage": "TRAINING", "resourceArn": "arn:sv",
                                      "resourceStatus": "CREATE FAILED", "reason": "out of memory"},
                    "solutionVersionArns": ["arn:sv"], "campaignArns": [], "modelsRetrainedAt": None}
    failed = _target(NEWS, status="FAILED", lastFailureReason="ModelRetrainingFailed: ...",
                     modelFacts=json.dumps(failed_facts))
    news, shop = requests.render_record(_request(status="FAILED", reason="r"), [queued, failed])["targets"]
    assert shop["busyWith"] == QUIET["waitedFor"] and shop["waitedSeconds"] == 21600
    assert shop["status"] == "QUEUED" and shop["attempts"] == 0 and shop["dataDeletionJobArns"] == []
    assert news["status"] == "FAILED" and news["deletionStatus"] == "COMPLETED"
    assert news["followThrough"]["status"] == "FAILED" and news["followThrough"]["reason"] == "out of memory"


def test_a_broken_facts_attribute_renders_the_defaults():
    entry = requests.render_record(_request(), [_target(SHOP, modelFacts="{not json")])["targets"][0]
    assert {k: entry[k] for k in requests.MODEL_FIELDS} == requests.MODEL_FIELDS


def test_the_record_gives_a_reason_only_when_rejected_or_failed():
    assert "reason" not in requests.render_record(_request(reason="stale"), [])
    assert requests.render_record(_request(status="REJECTED", reason="bad header"), [])["reason"] == "bad header"
    targets = [_target(SHOP, status="FAILED", attempts=3, lastFailureReason="busy"), _target(NEWS, status="COMPLETED")]
    reason = requests.failure_reason(targets)
    assert reason == f"{SHOP}: busy (after 3 attempt(s))"
    assert requests.render_record(_request(status="FAILED", reason=reason), targets)["reason"] == reason


# --------------------------------------------------------------------------- the whole file, streamed


def _chunks(data: bytes, size: int):
    return [data[i:i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 3, 7, 4096])
def test_the_user_ids_are_counted_across_chunk_boundaries(size):
    data = b"USER_ID\r\nalpha\r\n\r\nbeta\ngamma"
    assert csv_rules.body_problems("f", _chunks(data, size)) == (3, [])
    assert [n for n, _ in csv_rules.user_id_lines(_chunks(data, size))] == [2, 4, 5]


@pytest.mark.parametrize("body, expected", [
    (b"USER_ID\nalpha\nbeta,gamma\n", "f must have a single USER_ID column (line 3 has a comma or a quote)"),
    (b'USER_ID\n"alpha"\n', "f must have a single USER_ID column (line 2 has a comma or a quote)"),
    (b"USER_ID\nalpha\n" + b"x" * 257 + b"\n", "f line 3 holds a user ID longer than 256 characters"),
    (b"USER_ID\nalpha\n\xff\xfe\n", "f is not UTF-8 text (line 3)"),
    (b"USER_ID\n\n\n", "f has no user ID after its USER_ID header"),
])
def test_a_bad_line_is_named_without_its_content(body, expected):
    count, problems = csv_rules.body_problems("f", [body])
    assert len(problems) == 1 and problems[0].startswith(expected)
    assert b"alpha" not in problems[0].encode() and b"gamma" not in problems[0].encode()

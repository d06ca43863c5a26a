"""Operating the workflows: outcome events, messages, audit records, upload-triggered deletions, privacy."""

from __future__ import annotations

import json

from tests.e2e.conftest import GROUP, INCOMING, USER_IDS, audit_records, everything_emitted
from tests.harness.fakes import JobPlan


def _csv(ids=USER_IDS) -> bytes:
    return ("USER_ID\n" + "\n".join(ids) + "\n").encode()


def test_a_completed_deletion_is_announced_and_audited(local):
    location = local.put_csv("deletions/2026-11/users.csv", USER_IDS)
    version = local.s3.head_object(Bucket=local.bucket(), Key="deletions/2026-11/users.csv")["VersionId"]
    local.personalize.default_plan = JobPlan(duration=3600, num_deleted=42)

    ex = local.run("DataDeletion", {"datasetGroupArn": GROUP, "dataLocation": location}, name="req-42")

    assert ex.status == "SUCCEEDED"
    [event] = local.captured("events")
    assert (event["source"], event["detail-type"]) == ("cdk-ml-data-jobs", "Data Deletion Finished")
    assert event["resources"] == [ex.arn]
    detail = event["detail"]
    assert detail["status"] == "SUCCEEDED" and detail["jobStatus"] == "COMPLETED" and detail["numDeleted"] == 42
    assert detail["dataDeletionJobArn"] == ex.output["dataDeletionJobArn"]
    [note] = local.captured("notifications")
    assert note["Subject"] == "Data deletion SUCCEEDED: req-42"
    assert "numDeleted: 42" in note["Message"] and ex.output["dataDeletionJobArn"] in note["Message"]
    [record] = audit_records(local)
    assert record["executionArn"] == ex.arn
    assert record["inputObject"] == {"bucket": local.bucket(), "key": "deletions/2026-11/users.csv",
                                     "versionId": version}
    assert record["numDeleted"] == 42 and record["jobStatus"] == "COMPLETED"
    assert record["startDate"].endswith("Z") and record["stopDate"].endswith("Z")
    listed = local.s3.list_objects_v2(Bucket=local.bucket(), Prefix="audit/")["Contents"]
    assert listed[0]["Key"].startswith("audit/data-deletion/") and listed[0]["Key"].endswith("/req-42.json")


def test_a_failed_deletion_reports_the_reason_everywhere(local):
    location = local.put_csv("deletions/users.csv", USER_IDS)
    local.personalize.default_plan = JobPlan(duration=900, outcome="failure", failure_reason="Dataset group busy")

    ex = local.run("DataDeletion", {"datasetGroupArn": GROUP, "dataLocation": location})

    assert ex.error == "DataDeletionJobFailed"
    [event] = local.captured("events")
    assert event["detail"]["failureReason"] == "Dataset group busy"
    assert event["detail"]["error"] == "DataDeletionJobFailed"
    [note] = local.captured("notifications")
    assert note["Subject"].startswith("Data deletion FAILED") and "failureReason: Dataset group busy" in note["Message"]
    [record] = audit_records(local)
    assert record["failureReason"] == "Dataset group busy" and record["dataDeletionJobArn"].startswith("arn:aws")


def test_rejected_input_is_audited_without_a_job(local):
    local.s3.put_object(Bucket=local.bucket(), Key="deletions/bad.csv", Body=b"EMAIL\nuser-7f3a9c-secret\n")

    ex = local.run("DataDeletion", {"datasetGroupArn": GROUP, "dataLocation": f"s3://{local.bucket()}/deletions/bad.csv"})

    assert ex.error == "InvalidInput"
    [record] = audit_records(local)
    assert record["error"] == "InvalidInput" and "USER_ID" in record["cause"]
    assert "dataDeletionJobArn" not in record
    assert "user-7f3a9c-secret" not in everything_emitted(local, ex)


def test_an_export_outcome_is_announced(local):
    gen = local.cleanroomsml.add_generation_job()

    ex = local.run("AudienceExport", {"audienceGenerationJobArn": gen,
                                      "audienceSize": {"type": "ABSOLUTE", "value": 5000}}, name="q4")

    assert ex.status == "SUCCEEDED"
    [event] = local.captured("events")
    assert event["detail-type"] == "Audience Export Finished"
    assert event["detail"]["outputLocation"] == ex.output["outputLocation"]
    [note] = local.captured("notifications")
    assert "outputLocation: s3://partner-exports/q4/" in note["Message"]
    assert audit_records(local) == []  # audit records are for deletions


def test_an_upload_under_a_trigger_prefix_starts_exactly_one_deletion(triggered):
    [delivery] = triggered.upload(f"{INCOMING}2026-11-23.csv", _csv())
    started = delivery.result
    assert started["started"] is True and started["name"].startswith("up-2026-11-23-")

    ex = triggered.wait(started["executionArn"])

    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output["datasetGroupArn"] == GROUP
    assert ex.output["dataLocation"] == f"s3://{triggered.bucket()}/{INCOMING}2026-11-23.csv"
    assert ex.output["jobName"] == started["name"]
    # the same event delivered again (EventBridge delivers at least once) starts nothing
    head = triggered.s3.head_object(Bucket=triggered.bucket(), Key=f"{INCOMING}2026-11-23.csv")
    from tests.harness.events import s3_object_created

    [again] = triggered.emit(s3_object_created(triggered.bucket(), f"{INCOMING}2026-11-23.csv", head,
                                               triggered.clock.now(), "000000000000000001"))
    assert again.result["started"] is False and "already started" in again.result["reason"]
    assert len(triggered.personalize.jobs) == 1
    assert len(triggered.sfn.list_executions(stateMachineArn=triggered.machine("DataDeletion"))["executions"]) == 1


def test_a_new_version_of_the_file_starts_a_new_deletion(triggered):
    [first] = triggered.upload(f"{INCOMING}weekly.csv", _csv())
    triggered.wait(first.result["executionArn"])
    [second] = triggered.upload(f"{INCOMING}weekly.csv", _csv(USER_IDS[:1]))

    assert second.result["started"] is True and second.result["name"] != first.result["name"]
    assert triggered.wait(second.result["executionArn"]).status == "SUCCEEDED"
    assert len(triggered.personalize.jobs) == 2


def test_uploads_elsewhere_start_nothing(triggered):
    assert triggered.upload("deletions/manual/users.csv", _csv()) == []  # no rule matches this prefix
    [skipped] = triggered.upload(f"{INCOMING}notes.txt", b"hello")
    assert skipped.result == {"started": False, "reason": "not a .csv file"}
    assert triggered.personalize.jobs == {}


def test_no_user_id_leaks_anywhere_in_any_outcome(triggered):
    runs = []
    [delivery] = triggered.upload(f"{INCOMING}ok.csv", _csv())
    runs.append(triggered.wait(delivery.result["executionArn"]))
    triggered.personalize.default_plan = JobPlan(duration=600, outcome="failure")
    [delivery] = triggered.upload(f"{INCOMING}fails.csv", _csv())
    runs.append(triggered.wait(delivery.result["executionArn"]))
    [delivery] = triggered.upload(f"{INCOMING}bad.csv", ("USER_ID,EMAIL\n" + USER_IDS[0] + ",x@y\n").encode())
    runs.append(triggered.wait(delivery.result["executionArn"]))

    assert [r.status for r in runs] == ["SUCCEEDED", "FAILED", "FAILED"]
    emitted = everything_emitted(triggered, *runs)
    for user_id in USER_IDS:
        assert user_id not in emitted
    assert "Data Deletion Finished" in emitted and "audit" not in json.dumps([r.output for r in runs if r.output])

"""The deletion workflow with the quiet period and the follow-through switched on, executed end to end.

The sample app with ``-c quietPeriod=true -c retrainSolutionArns=<group>=<solution>``: the same state machine a
DeletionRequestQueue would start. The Personalize fake models the group's solutions, solution versions (training),
datasets, import jobs, batch jobs and campaigns on the virtual clock; its call log gives the order of the calls.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.e2e.conftest import GROUP, USER_IDS, _workflows, audit_records, everything_emitted
from tests.harness.fakes import JobPlan
from tests.harness.local import LocalWorkflows

MACHINE = "DataDeletion"
SOLUTION = "arn:aws:personalize:us-east-1:123456789012:solution/recs"
HOUR = 3600.0


@pytest.fixture(scope="session")
def forget_template(local_sample_template):
    return local_sample_template(quietPeriod="true", retrainSolutionArns=f"{GROUP}={SOLUTION}")


@pytest.fixture
def forget(forget_template, optional_iam_simulator) -> Iterator[LocalWorkflows]:
    for workflows in _workflows(forget_template, optional_iam_simulator):
        p = workflows.personalize
        solution, p.live_version = p.add_trained_group(GROUP, "recs", training_hours=6)
        assert solution == SOLUTION
        p.dataset = next(iter(p.datasets))
        yield workflows


def _run(local: LocalWorkflows, name: str = "req-1"):
    location = local.put_csv("deletions/2026-12/users.csv", USER_IDS)
    return local.run(MACHINE, {"datasetGroupArn": GROUP, "dataLocation": location}, name=name)


def _first(local: LocalWorkflows, operation: str):
    calls = [c for c in local.personalize.calls_of(operation) if c.error is None]
    assert calls, f"no successful {operation}"
    return calls[0]


def _private(local: LocalWorkflows, ex) -> None:
    emitted = everything_emitted(local, ex)
    assert not [uid for uid in USER_IDS if uid in emitted]


def test_a_training_delays_the_deletion_until_it_ended(forget):
    p = forget.personalize
    training = p.add_solution_version(SOLUTION, plan=JobPlan(duration=2 * HOUR), name="nightly")
    importing = p.add_import_job(p.dataset, plan=JobPlan(duration=HOUR))
    batch = p.add_batch_job("segment", p.live_version, plan=JobPlan(duration=1.5 * HOUR))
    training_ended = p.ended(p.solution_versions[training].created, p.solution_versions[training].plan)

    ex = _run(forget)

    assert ex.status == "SUCCEEDED", ex.cause
    assert _first(forget, "CreateDataDeletionJob").at >= training_ended
    record = ex.output["quietPeriod"]
    assert {w["arn"] for w in record["waitedFor"]} == {training, importing, batch}
    assert {w["type"] for w in record["waitedFor"]} == {"solutionVersion", "datasetImportJob", "batchSegmentJob"}
    assert 2 * HOUR <= record["waitedSeconds"] <= 2 * HOUR + 0.1 * 2 * HOUR + 60
    assert record["checks"] < 40  # adaptive, not a fixed loop
    assert ex.output["dataDeletionJobArns"] == [ex.output["dataDeletionJobArn"]]
    _private(forget, ex)


def test_busy_past_the_quiet_period_timeout_fails_without_a_job(forget):
    training = forget.personalize.add_solution_version(SOLUTION, plan=JobPlan(duration=10 * HOUR), name="long")

    ex = _run(forget)

    assert ex.status == "FAILED" and ex.error == "DatasetGroupBusy"
    cause = ex.cause_json()
    assert cause["busyWith"] == [{"type": "solutionVersion", "arn": training, "status": "CREATE IN_PROGRESS"}]
    assert cause["waitedSeconds"] >= 6 * HOUR and cause["quietPeriodTimeoutSeconds"] == 6 * HOUR
    assert cause["dataDeletionJobArns"] == []
    assert forget.personalize.calls_of("CreateDataDeletionJob") == []
    assert forget.personalize.calls_of("CreateSolutionVersion") == []
    [record] = [r for r in audit_records(forget) if r["executionName"] == "req-1"]
    assert record["error"] == "DatasetGroupBusy" and record["busyWith"] == cause["busyWith"]
    _private(forget, ex)


def test_a_training_during_the_deletion_starts_one_more_job(forget):
    p = forget.personalize
    overlapping = p.add_solution_version(SOLUTION, age=-HOUR, plan=JobPlan(duration=1.5 * HOUR), name="during")

    ex = _run(forget)

    assert ex.status == "SUCCEEDED", ex.cause
    out = ex.output
    names = [c.params["jobName"] for c in p.calls_of("CreateDataDeletionJob") if c.error is None]
    assert names == ["req-1", "req-1-again"]
    first, second = (p.jobs[arn] for arn in out["dataDeletionJobArns"])
    assert (first.name, second.name) == ("req-1", "req-1-again")
    assert second.created >= p.completion_time(first)
    assert second.location == first.location
    assert [o["arn"] for o in out["overlap"]] == [overlapping]
    assert [j["status"] for j in out["dataDeletionJobs"]] == ["COMPLETED", "COMPLETED"]
    assert _first(forget, "CreateSolutionVersion").at >= p.completion_time(second)
    _private(forget, ex)


def test_retraining_and_campaign_update_follow_the_completed_job(forget):
    p = forget.personalize
    campaign = p.add_campaign(SOLUTION, p.live_version)

    ex = _run(forget)

    assert ex.status == "SUCCEEDED", ex.cause
    out = ex.output
    [job] = p.jobs.values()
    create = _first(forget, "CreateSolutionVersion")
    assert create.at >= p.completion_time(job)
    assert all(c.at >= p.completion_time(job) for c in p.calls_of("CreateSolutionVersion"))
    assert create.params == {"solutionArn": SOLUTION, "name": "req-1-retrain", "trainingMode": "FULL"}
    [version] = out["solutionVersionArns"]
    trained = p.ended(p.solution_versions[version].created, p.solution_versions[version].plan)
    update = _first(forget, "UpdateCampaign")
    assert update.at >= trained and update.params == {"campaignArn": campaign, "solutionVersionArn": version}
    assert out["campaignArns"] == [campaign]
    assert p.campaigns[campaign].updates[-1].version == version
    assert out["modelsRetrainedAt"] == trained.isoformat().replace("+00:00", "Z")
    assert out["followThrough"] == {"status": "COMPLETED"}
    assert out["numDeleted"] == 5 and out["status"] == "COMPLETED"
    assert len(p.calls_of("DescribeSolutionVersion")) <= 50  # 6 h of training: as a 6-hour deletion job (48)
    [record] = [r for r in audit_records(forget) if r["executionName"] == "req-1"]
    assert record["solutionVersionArns"] == [version] and record["campaignArns"] == [campaign]
    assert record["followThrough"] == {"status": "COMPLETED"}
    _private(forget, ex)


def test_a_failed_training_fails_the_follow_through_not_the_deletion(forget):
    p = forget.personalize
    p.training_plan = JobPlan(duration=HOUR, outcome="failure", failure_reason="Insufficient interactions")

    ex = _run(forget)

    assert ex.status == "FAILED" and ex.error == "ModelRetrainingFailed"
    cause = ex.cause_json()
    [job] = p.jobs.values()
    assert cause["deletionStatus"] == "COMPLETED" and p.status_of(job) == "COMPLETED"
    assert cause["dataDeletionJobArns"] == [job.arn]
    assert cause["followThrough"]["status"] == "FAILED" and cause["followThrough"]["stage"] == "TRAINING"
    assert cause["followThrough"]["reason"] == "Insufficient interactions"
    assert cause["followThrough"]["resourceStatus"] == "CREATE FAILED"
    assert p.calls_of("UpdateCampaign") == []
    [record] = [r for r in audit_records(forget) if r["executionName"] == "req-1"]
    assert record["error"] == "ModelRetrainingFailed" and record["jobStatus"] == "COMPLETED"
    assert record["dataDeletionJobArn"] == job.arn and record["dataDeletionJobArns"] == [job.arn]
    assert record["followThrough"]["reason"] == "Insufficient interactions"
    _private(forget, ex)


def test_a_retried_follow_through_adopts_its_solution_version(forget):
    p = forget.personalize
    forget.lose_responses("DataDeletion/FollowThrough", times=1)  # created, but the response was lost

    ex = _run(forget)

    assert ex.status == "SUCCEEDED", ex.cause
    ours = [v for v in p.solution_versions.values() if v.name == "req-1-retrain"]
    assert len(ours) == 1
    assert [c.error for c in p.calls_of("CreateSolutionVersion")] == [None, "ResourceAlreadyExistsException"]
    assert ex.output["solutionVersionArns"] == [ours[0].arn]


def test_a_redriven_launch_adopts_its_job_after_the_quiet_period(forget):
    forget.lose_responses("DataDeletion/Launch", times=1)

    ex = _run(forget)

    assert ex.status == "SUCCEEDED", ex.cause
    assert len(forget.personalize.jobs) == 1 and ex.output["adopted"] is True


def test_unconfigured_group_records_no_follow_through(forget):
    other = GROUP.replace("/shop", "/other")
    location = forget.put_csv("deletions/2026-12/users.csv", USER_IDS)

    ex = forget.run(MACHINE, {"datasetGroupArn": other, "dataLocation": location}, name="req-other")

    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output["followThrough"] == {"status": "NOT_CONFIGURED"}
    assert ex.output["solutionVersionArns"] == [] and ex.output["modelsRetrainedAt"] is None
    assert forget.personalize.calls_of("CreateSolutionVersion") == []
    assert ex.output["quietPeriod"]["checks"] == 1 and ex.output["quietPeriod"]["waitedSeconds"] == 0
    assert ex.output["quietPeriod"]["startedAt"] == ex.output["quietPeriod"]["endedAt"] == "2026-11-23T00:00:00Z"



def test_an_automatic_training_after_the_deletion_delays_the_retraining(forget):
    p = forget.personalize
    auto = p.add_solution_version(SOLUTION, age=-(2 * HOUR + 1), plan=JobPlan(duration=HOUR), name="auto")
    auto_ended = p.ended(p.solution_versions[auto].created, p.solution_versions[auto].plan)

    ex = _run(forget)

    assert ex.status == "SUCCEEDED", ex.cause
    assert ex.output["overlap"] == [] and len(ex.output["dataDeletionJobArns"]) == 1
    creates = p.calls_of("CreateSolutionVersion")
    assert creates[0].error == "ResourceInUseException" and creates[-1].error is None
    assert creates[-1].at >= auto_ended
    [ours] = [v.arn for v in p.solution_versions.values() if v.name == "req-1-retrain"]
    assert ex.output["solutionVersionArns"] == [ours]


def test_throttled_training_checks_are_tried_again_and_a_vanished_solution_ends_with_the_record(forget):
    p = forget.personalize
    p.fail_next("DescribeSolutionVersion", "ThrottlingException", "Rate exceeded", times=3)

    ex = _run(forget)

    assert ex.status == "SUCCEEDED", ex.cause
    assert [c.error for c in p.calls_of("DescribeSolutionVersion")][:3] == ["ThrottlingException"] * 3

    p.fail_next("CreateSolutionVersion", "ResourceNotFoundException", f"Could not find resource {SOLUTION}.")
    failed = _run(forget, name="req-2")

    assert failed.status == "FAILED" and failed.error == "ModelRetrainingFailed"
    cause = failed.cause_json()
    assert cause["deletionStatus"] == "COMPLETED" and len(cause["dataDeletionJobArns"]) == 1
    assert cause["followThrough"]["reason"].startswith("CreateSolutionVersion: Could not find resource")
    _private(forget, failed)

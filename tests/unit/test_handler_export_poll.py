"""export_poll: the export is found by listing; wait, succeed or stop (Clean Rooms ML stubbed, clock faked).

Environment (conftest): min wait 60 s, max 1800 s, growth 0.1, job timeout 86 400 s,
not-listed grace 300 s.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

import export_poll
from jobkit.jsonsafe import iso

from tests.unit.conftest import EXPORT_LIST as LIST
from tests.unit.conftest import EXPORT_NAME as NAME
from tests.unit.conftest import EXPORT_REQUEST as REQUEST
from tests.unit.conftest import EXPORT_SIZE as SIZE
from tests.unit.conftest import GEN_ARN

OUTPUT = "s3://partner-bucket/audiences/weekly-export/2026-11-23/"


def tracked_job(clock, started_seconds_ago=0, adopted=False):
    return {"name": NAME, "audienceGenerationJobArn": GEN_ARN, "audienceSize": SIZE,
            "startedAt": iso(clock.now() - timedelta(seconds=started_seconds_ago)), "adopted": adopted}


def poll(job):
    return export_poll.handler({"request": REQUEST, "tracker": {"phase": "RUNNING", "job": job}}, None)


def listed(services, clock, *jobs, other_page=True):
    """Our export(s) on the second page of the listing, after an unrelated export."""
    first = {"audienceExportJobs": [summary(clock, name="someone-else", age=10)]}
    if other_page:
        first["nextToken"] = "token-1"
        services.expect("cleanroomsml", "list_audience_export_jobs", first, LIST)
        services.expect("cleanroomsml", "list_audience_export_jobs", {"audienceExportJobs": list(jobs)},
                        {**LIST, "nextToken": "token-1"})
    else:
        services.expect("cleanroomsml", "list_audience_export_jobs", {"audienceExportJobs": list(jobs)}, LIST)


def summary(clock, status="CREATE_IN_PROGRESS", age=600, name=NAME, **extra):
    created = clock.now() - timedelta(seconds=age)
    job = {"createTime": created, "updateTime": created + timedelta(seconds=age / 2), "name": name,
           "audienceGenerationJobArn": GEN_ARN, "audienceSize": dict(SIZE), "status": status}
    job.update(extra)
    return job


# --- not listed yet ------------------------------------------------------------------------------


@pytest.mark.parametrize("waited, wait", [(0, 60), (100, 60), (240, 60), (280, 20), (299, 1)])
def test_not_listed_within_the_grace_period(services, clock, waited, wait):
    listed(services, clock)  # only someone else's export
    result = poll(tracked_job(clock, started_seconds_ago=waited))
    assert result["phase"] == "RUNNING"
    assert result["status"] == "NOT_LISTED_YET"
    assert result["waitSeconds"] == wait
    assert waited + result["waitSeconds"] <= 300
    services.assert_done()


@pytest.mark.parametrize("waited", [300, 301, 3600])
def test_not_listed_after_the_grace_period(services, clock, waited):
    listed(services, clock)
    result = poll(tracked_job(clock, started_seconds_ago=waited))
    assert result["phase"] == "STOPPED"
    assert result["status"] == "NOT_LISTED"
    assert result["error"] == "AudienceExportJobNotFound"
    cause = json.loads(result["cause"])
    assert cause["name"] == NAME
    assert cause["audienceGenerationJobArn"] == GEN_ARN
    assert cause["audienceSize"] == SIZE
    assert f"after {waited} s" in cause["message"]


def test_grace_follows_the_environment(services, clock, monkeypatch):
    monkeypatch.setenv("NOT_LISTED_GRACE_SECONDS", "30")
    listed(services, clock)
    assert poll(tracked_job(clock, started_seconds_ago=31))["error"] == "AudienceExportJobNotFound"


def test_same_name_with_another_size_does_not_count(services, clock):
    listed(services, clock, summary(clock, status="ACTIVE", audienceSize={"type": "ABSOLUTE", "value": 10_000}))
    assert poll(tracked_job(clock, started_seconds_ago=10))["status"] == "NOT_LISTED_YET"


# --- listed --------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["CREATE_PENDING", "CREATE_IN_PROGRESS"])
def test_running_export_waits(services, clock, status):
    listed(services, clock, summary(clock, status=status, age=30))
    result = poll(tracked_job(clock, started_seconds_ago=40))
    assert result == {"phase": "RUNNING", "status": status, "waitSeconds": 60,
                      "job": tracked_job(clock, started_seconds_ago=40)}


def test_wait_grows_with_the_age_of_the_export(services, clock):
    listed(services, clock, summary(clock, age=3600))
    assert poll(tracked_job(clock, started_seconds_ago=3600))["waitSeconds"] == 360


def test_active(services, clock):
    export = summary(clock, status="ACTIVE", age=1800, outputLocation=OUTPUT, description="EU campaign")
    listed(services, clock, summary(clock, status="ACTIVE", age=7200), export)  # an older one of the same name
    result = poll(tracked_job(clock, started_seconds_ago=1800, adopted=True))
    assert result["phase"] == "SUCCEEDED"
    assert result["status"] == "ACTIVE"
    assert result["result"] == {
        "name": NAME,
        "audienceGenerationJobArn": GEN_ARN,
        "audienceSize": SIZE,
        "status": "ACTIVE",
        "description": "EU campaign",
        "createTime": "2026-11-23T06:30:00Z",
        "updateTime": "2026-11-23T06:45:00Z",
        "outputLocation": OUTPUT,
        "sizeCheck": "MATCHED_MODEL_BIN",
        "adopted": True,
    }
    assert json.loads(json.dumps(result)) == result


def test_active_without_description(services, clock):
    listed(services, clock, summary(clock, status="ACTIVE", outputLocation=OUTPUT), other_page=False)
    result = poll(tracked_job(clock))
    assert result["phase"] == "SUCCEEDED"
    assert result["result"]["outputLocation"] == OUTPUT
    json.dumps(result)


def test_create_failed(services, clock):
    details = {"statusCode": "INSUFFICIENT_SEED_MATCHES",
               "message": "Only 12 seed users matched; at least 500 are required."}
    listed(services, clock, summary(clock, status="CREATE_FAILED", statusDetails=details))
    result = poll(tracked_job(clock, started_seconds_ago=600))
    assert result["phase"] == "STOPPED"
    assert result["error"] == "AudienceExportJobFailed"
    cause = json.loads(result["cause"])
    assert cause["statusCode"] == "INSUFFICIENT_SEED_MATCHES"
    assert cause["message"] == "Only 12 seed users matched; at least 500 are required."
    assert cause["status"] == "CREATE_FAILED"
    assert cause["name"] == NAME


def test_create_failed_without_details(services, clock):
    listed(services, clock, summary(clock, status="CREATE_FAILED"))
    cause = json.loads(poll(tracked_job(clock))["cause"])
    assert cause["statusCode"] is None and cause["message"] is None


@pytest.mark.parametrize("status", ["DELETE_PENDING", "CREATE FAILED", "COMPLETED"])
def test_unexpected_status(services, clock, status):
    listed(services, clock, summary(clock, status=status))
    result = poll(tracked_job(clock))
    assert result["phase"] == "STOPPED"
    assert result["error"] == "AudienceExportJobUnexpectedStatus"
    assert repr(status) in json.loads(result["cause"])["message"]


def test_timed_out(services, clock):
    listed(services, clock, summary(clock, status="CREATE_IN_PROGRESS", age=86_400))
    result = poll(tracked_job(clock, started_seconds_ago=86_400))
    assert result["phase"] == "STOPPED"
    assert result["error"] == "AudienceExportJobTimedOut"
    assert "86400 s" in json.loads(result["cause"])["message"]


def test_wait_never_overshoots_the_deadline(services, clock):
    listed(services, clock, summary(clock, age=86_000))
    assert poll(tracked_job(clock, started_seconds_ago=86_000))["waitSeconds"] == 400


def test_listing_error_is_named(services, clock):
    services.expect_error("cleanroomsml", "list_audience_export_jobs", "ThrottlingException", "Rate exceeded",
                          LIST, status=429)
    with pytest.raises(Exception) as caught:
        poll(tracked_job(clock))
    assert type(caught.value).__name__ == "ThrottlingException"

"""export_lookup and export_start: finding an export by listing, starting it once (Clean Rooms ML stubbed)."""

from __future__ import annotations

import json
from datetime import timedelta
from types import SimpleNamespace

import pytest

import export_lookup
import export_start
import jobkit.clients

from tests.unit.conftest import EXPORT_LIST as LIST
from tests.unit.conftest import EXPORT_NAME as NAME
from tests.unit.conftest import EXPORT_REQUEST as REQUEST
from tests.unit.conftest import EXPORT_SIZE as SIZE
from tests.unit.conftest import GEN_ARN

START = {"name": NAME, "audienceGenerationJobArn": GEN_ARN, "audienceSize": SIZE}


def export(clock, name=NAME, size=SIZE, hours_ago=1.0, status="ACTIVE", **extra):
    created = clock.now() - timedelta(hours=hours_ago)
    job = {"createTime": created, "updateTime": created + timedelta(minutes=5), "name": name,
           "audienceGenerationJobArn": GEN_ARN, "audienceSize": dict(size), "status": status}
    job.update(extra)
    return job


def listing(services, *pages):
    """Queue ListAudienceExportJobs pages, chained with nextToken."""
    for index, jobs in enumerate(pages):
        response = {"audienceExportJobs": list(jobs)}
        if index + 1 < len(pages):
            response["nextToken"] = f"token-{index + 1}"
        params = dict(LIST) if index == 0 else {**LIST, "nextToken": f"token-{index}"}
        services.expect("cleanroomsml", "list_audience_export_jobs", response, params)


def start(request=None):
    return export_start.handler({"request": request or REQUEST}, None)


# --- export_lookup -------------------------------------------------------------------------------


def test_lookup_picks_the_newest_match_across_pages(services, clock):
    newest_mine = export(clock, hours_ago=1, status="CREATE_IN_PROGRESS", description="the one")
    listing(
        services,
        [export(clock, name="other", hours_ago=0.1), export(clock, hours_ago=5)],
        [export(clock, size={"type": "ABSOLUTE", "value": 10_000}, hours_ago=0.01),  # newer, but another size
         export(clock, size={"type": "PERCENTAGE", "value": 50_000}, hours_ago=0.02),  # same value, other type
         newest_mine],
        [export(clock, hours_ago=3), export(clock, name=NAME.upper(), hours_ago=0.001)],
    )
    found = export_lookup.find(GEN_ARN, NAME, SIZE)
    assert found is not None
    assert found["description"] == "the one"
    assert found["createTime"] == newest_mine["createTime"]
    services.assert_done()


def test_lookup_returns_none_when_not_listed(services, clock):
    listing(services, [export(clock, name="other")], [])
    assert export_lookup.find(GEN_ARN, NAME, SIZE) is None
    services.assert_done()


def test_lookup_ignores_same_name_with_another_size(services, clock):
    listing(services, [export(clock, size={"type": "ABSOLUTE", "value": 10_000})])
    assert export_lookup.find(GEN_ARN, NAME, SIZE) is None


def test_lookup_error_is_named(services):
    services.expect_error("cleanroomsml", "list_audience_export_jobs", "AccessDeniedException", "not allowed",
                          LIST, status=403)
    with pytest.raises(Exception) as caught:
        export_lookup.find(GEN_ARN, NAME, SIZE)
    assert type(caught.value).__name__ == "AccessDeniedException"
    assert str(caught.value) == "ListAudienceExportJobs: not allowed"


# --- export_start --------------------------------------------------------------------------------


def test_starts_when_not_listed(services, clock):
    listing(services, [export(clock, name="other")], [export(clock, name="another")])
    services.expect("cleanroomsml", "start_audience_export_job", {}, START)
    result = start()
    assert result == {
        "phase": "RUNNING",
        "status": "STARTED",
        "waitSeconds": 60,
        "job": {"name": NAME, "audienceGenerationJobArn": GEN_ARN, "audienceSize": SIZE,
                "startedAt": "2026-11-23T07:00:00Z", "adopted": False},
    }
    json.dumps(result)
    services.assert_done()


def test_start_passes_the_description(services, clock):
    listing(services, [])
    services.expect("cleanroomsml", "start_audience_export_job", {},
                    {**START, "description": "Weekly lookalike export 🚀"})
    start({**REQUEST, "description": "Weekly lookalike export 🚀"})


def test_empty_description_is_still_passed(services, clock):
    listing(services, [])
    services.expect("cleanroomsml", "start_audience_export_job", {}, {**START, "description": ""})
    start({**REQUEST, "description": ""})


def test_wait_is_the_minimum_poll_interval(services, clock, monkeypatch):
    monkeypatch.setenv("POLL_MIN_WAIT_SECONDS", "30")
    listing(services, [])
    services.expect("cleanroomsml", "start_audience_export_job", {}, START)
    assert start()["waitSeconds"] == 30


def test_adopts_when_already_listed_without_starting(services, clock):
    listing(services, [export(clock, name="other")], [export(clock, status="CREATE_PENDING")])
    result = start()  # a start call would find no queued response and fail
    assert result["job"]["adopted"] is True
    assert result["phase"] == "RUNNING"
    services.assert_done()


def test_conflict_then_listed_is_adopted(services, clock):
    listing(services, [])
    services.expect_error("cleanroomsml", "start_audience_export_job", "ConflictException",
                          "An export with this name is being created", START, status=409)
    listing(services, [export(clock, hours_ago=0, status="CREATE_PENDING")])
    result = start()
    assert result["job"]["adopted"] is True
    services.assert_done()


def test_conflict_and_not_listed_is_named(services, clock):
    listing(services, [])
    services.expect_error("cleanroomsml", "start_audience_export_job", "ConflictException",
                          "Generation job is being deleted", START, status=409)
    listing(services, [export(clock, name="other")])
    with pytest.raises(Exception) as caught:
        start()
    assert type(caught.value).__name__ == "ConflictException"
    assert str(caught.value) == "StartAudienceExportJob: Generation job is being deleted"
    services.assert_done()


def test_service_quota_exceeded_is_named(services, clock):
    listing(services, [])
    services.expect_error("cleanroomsml", "start_audience_export_job", "ServiceQuotaExceededException",
                          "Active audience export jobs per audience generation job exceeded", START, status=402,
                          modeled_fields={"message": "Active audience export jobs per audience generation job exceeded",
                                          "quotaName": "Active audience export jobs per audience generation job",
                                          "quotaValue": 25.0})
    with pytest.raises(Exception) as caught:
        start()
    assert type(caught.value).__name__ == "ServiceQuotaExceededException"
    assert "Active audience export jobs per audience generation job exceeded" in str(caught.value)
    services.assert_done()  # no second lookup for errors other than ConflictException


@pytest.mark.parametrize("code, status", [("ValidationException", 400), ("AccessDeniedException", 403),
                                          ("ThrottlingException", 429), ("InternalServiceException", 500)])
def test_other_start_errors_are_named(services, clock, code, status):
    listing(services, [])
    services.expect_error("cleanroomsml", "start_audience_export_job", code, "nope", START, status=status)
    with pytest.raises(Exception) as caught:
        start()
    assert type(caught.value).__name__ == code


def test_sdk_too_old(monkeypatch):
    def must_not_be_called(**kwargs):
        raise AssertionError("called on an SDK without Clean Rooms ML")

    old = SimpleNamespace(
        meta=SimpleNamespace(service_model=SimpleNamespace(service_name="cleanroomsml", operation_names=[])),
        start_audience_export_job=must_not_be_called,
        get_paginator=must_not_be_called,
    )
    monkeypatch.setattr(jobkit.clients, "client", lambda service: old)
    with pytest.raises(Exception) as caught:
        start()
    assert type(caught.value).__name__ == "SdkTooOld"
    assert "StartAudienceExportJob, ListAudienceExportJobs" in str(caught.value)
    assert "1.33.3" in str(caught.value)

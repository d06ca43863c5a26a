"""The functions check at first use that the runtime's botocore has the APIs they call (jobkit.sdk)."""

from __future__ import annotations

import copy

import botocore.session
import pytest

import deletion_validate
import export_validate
from jobkit import clients, sdk
from jobkit.errors import SdkTooOld


def _model_without(service: str, operation: str):
    """The real service model with one operation removed (an older botocore)."""
    real = botocore.session.get_session().get_service_model(service)
    data = copy.deepcopy(real._service_description)
    del data["operations"][operation]
    return botocore.model.ServiceModel(data, service_name=service)


def test_the_operations_named_exist_in_the_botocore_we_pin():
    for service, operations in (("personalize", sdk.DELETION_OPERATIONS), ("cleanroomsml", sdk.EXPORT_OPERATIONS)):
        clients.require_operations(botocore.session.get_session().get_service_model(service), operations, "x")


def test_deletion_validation_says_the_sdk_is_too_old_instead_of_crashing(monkeypatch):
    monkeypatch.setattr(clients, "model", lambda service: _model_without(service, "CreateDataDeletionJob"))

    with pytest.raises(SdkTooOld) as raised:
        deletion_validate.handler({"input": {}, "executionName": "x"}, None)

    assert "CreateDataDeletionJob" in str(raised.value) and "1.34.97" in str(raised.value)


def test_export_validation_says_the_sdk_is_too_old(monkeypatch, services):
    old = _model_without("cleanroomsml", "StartAudienceExportJob")

    class OldClient:
        class meta:  # noqa: N801 - mimics botocore's client.meta
            service_model = old

    monkeypatch.setattr(clients, "client", lambda service: OldClient())
    with pytest.raises(SdkTooOld, match="StartAudienceExportJob"):
        export_validate.handler({"input": {}, "executionName": "x"}, None)


def test_an_unknown_service_is_reported_as_sdk_too_old(monkeypatch):
    clients.client.cache_clear()
    clients.model.cache_clear()
    try:
        with pytest.raises(SdkTooOld, match="does not know the service"):
            clients.client("no-such-service-in-this-botocore")
        with pytest.raises(SdkTooOld, match="does not know the service"):
            clients.model("no-such-service-in-this-botocore")
    finally:
        clients.client.cache_clear()
        clients.model.cache_clear()

"""jobkit.clients and jobkit.errors."""

from __future__ import annotations

from types import SimpleNamespace

import boto3
import botocore
import pytest
from botocore.exceptions import ClientError

import jobkit.clients
from jobkit import errors
from jobkit.clients import CONFIG, require_operations


def _fake_api(service_name, operation_names):
    model = SimpleNamespace(operation_names=list(operation_names), service_name=service_name)
    return SimpleNamespace(meta=SimpleNamespace(service_model=model))


def test_config_uses_standard_retries():
    assert CONFIG.retries["mode"] == "standard"
    # botocore rewrites the shared dict in place on the first client it creates
    # ({"max_attempts": n} becomes {"total_max_attempts": n + 1}), so accept both spellings.
    total = CONFIG.retries.get("total_max_attempts", CONFIG.retries.get("max_attempts", 0) + 1)
    assert total >= 2
    assert "cdk-ml-data-jobs" in CONFIG.user_agent_extra


@pytest.fixture
def fresh_client_cache():
    jobkit.clients.client.cache_clear()
    yield
    jobkit.clients.client.cache_clear()


def test_client_is_created_once_with_the_config(fresh_client_cache):
    first = jobkit.clients.client("personalize")
    assert jobkit.clients.client("personalize") is first
    assert first.meta.config.retries["mode"] == "standard"
    assert first.meta.config.retries["total_max_attempts"] >= 2
    assert first.meta.region_name == "us-east-1"
    assert jobkit.clients.client("cleanroomsml") is not first
    assert jobkit.clients.client.cache_info().currsize == 2


def test_model_is_the_service_model_without_a_client(fresh_client_cache):
    jobkit.clients.model.cache_clear()
    model = jobkit.clients.model("personalize")
    assert model.service_name == "personalize"
    assert "CreateDataDeletionJob" in model.operation_names
    assert jobkit.clients.model("personalize") is model
    assert jobkit.clients.client.cache_info().currsize == 0  # no client was created
    assert "StartAudienceExportJob" in jobkit.clients.model("cleanroomsml").operation_names


def test_require_operations_names_the_missing_operation():
    api = _fake_api("personalize", ["CreateDataDeletionJob", "ListDataDeletionJobs"])
    with pytest.raises(errors.SdkTooOld) as caught:
        require_operations(api, ("CreateDataDeletionJob", "DescribeDataDeletionJob", "ListDataDeletionJobs"),
                           "1.34.97")
    message = str(caught.value)
    assert type(caught.value).__name__ == "SdkTooOld"
    assert "DescribeDataDeletionJob" in message
    assert "CreateDataDeletionJob" not in message and "ListDataDeletionJobs" not in message
    assert "personalize" in message
    assert "1.34.97" in message
    assert botocore.__version__ in message


def test_require_operations_lists_every_missing_operation():
    with pytest.raises(errors.SdkTooOld, match="StartAudienceExportJob, ListAudienceExportJobs"):
        require_operations(_fake_api("cleanroomsml", []), ("StartAudienceExportJob", "ListAudienceExportJobs"),
                           "1.33.3")


@pytest.mark.parametrize("service, operations", [
    ("personalize", ("CreateDataDeletionJob", "DescribeDataDeletionJob", "ListDataDeletionJobs")),
    ("cleanroomsml", ("StartAudienceExportJob", "ListAudienceExportJobs", "GetAudienceGenerationJob",
                      "GetConfiguredAudienceModel")),
])
def test_require_operations_passes_on_the_real_client(service, operations):
    api = boto3.client(service, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    assert require_operations(api, operations, "1.34.97") is None


# --- errors --------------------------------------------------------------------------------------


def _client_error(code, message="boom", status=400):
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "SomeOperation")


def test_service_error_is_named_after_the_code_and_carries_the_message():
    exc = errors.service_error(_client_error("LimitExceededException", "Too many requests"), "CreateDataDeletionJob")
    assert type(exc).__name__ == "LimitExceededException"
    assert isinstance(exc, errors.ServiceError) and isinstance(exc, errors.JobError)
    assert exc.code == "LimitExceededException"
    assert str(exc) == "CreateDataDeletionJob: Too many requests"


def test_service_error_reuses_one_class_per_code():
    a = errors.service_error(_client_error("ThrottlingException"), "A")
    b = errors.service_error(_client_error("ThrottlingException"), "B")
    c = errors.service_error(_client_error("ConflictException"), "C")
    assert type(a) is type(b)
    assert type(a) is not type(c)


@pytest.mark.parametrize("code", ["", "Not.An-Identifier", "403"])
def test_service_error_falls_back_to_service_error_for_odd_codes(code):
    exc = errors.service_error(_client_error(code, "nope"), "Op")
    assert type(exc).__name__ == "ServiceError"
    assert str(exc) == "Op: nope"


def test_service_error_without_message_uses_the_client_error_text():
    error = ClientError({"Error": {"Code": "InternalServiceException"}}, "StartAudienceExportJob")
    exc = errors.service_error(error, "StartAudienceExportJob")
    assert type(exc).__name__ == "InternalServiceException"
    assert "InternalServiceException" in str(exc)


def test_error_code():
    assert errors.error_code(_client_error("ConflictException")) == "ConflictException"
    assert errors.error_code(ClientError({}, "Op")) == ""


def test_invalid_input_with_one_problem():
    exc = errors.InvalidInput("jobName is required")
    assert str(exc) == "Input rejected: jobName is required"
    assert exc.problems == ["jobName is required"]


def test_invalid_input_lists_every_problem():
    exc = errors.InvalidInput(["a is wrong", "b is missing", "c is too long"])
    assert str(exc) == "Input rejected, 3 problems: (1) a is wrong; (2) b is missing; (3) c is too long"
    assert type(exc).__name__ == "InvalidInput"


def test_error_class_names_are_the_step_functions_error_names():
    assert errors.InvalidInput.__name__ == "InvalidInput"
    assert errors.JobNameInUse.__name__ == "JobNameInUse"
    assert errors.SdkTooOld.__name__ == "SdkTooOld"

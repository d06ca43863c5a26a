"""handler unit tier: handlers and jobkit in-process, service calls stubbed with botocore Stubber, S3 in moto; no CDK.

Scope
    Every module of ``lambda/`` (the deletion_* and export_* handler modules and
    the ``jobkit`` package) is imported and called directly, in this process.
    Nothing here synthesizes a stack or starts jsii; the tier runs in seconds.

Service calls
    Personalize (``personalize``) and Clean Rooms ML (``cleanroomsml``) are not
    emulated by moto, so each test queues the exact responses it expects on a
    botocore ``Stubber``. Stubber checks required members, types and unknown keys
    but not patterns, maximum lengths or enums, so every expected request is also
    checked against the service model with the tests' own checker
    ``tests.harness.model_check`` (:func:`assert_valid_request`), which shares
    nothing with the product's ``jobkit.model_rules`` and raises on a pattern it
    cannot translate instead of skipping it.
    S3 (read by the deletion pre-flight) runs in moto's ``mock_aws``: one mock
    per test module, the bucket emptied before each test.

Wiring
    Handlers obtain clients only through ``jobkit.clients.client(service)`` and
    the time only through ``jobkit.clock.now()``; the fixtures below replace
    those two functions. The environment the construct gives the functions is
    set per test with ``monkeypatch``.

Bytecode
    Importing handlers must not write ``__pycache__`` into ``lambda/``: that
    would change the CDK asset hash.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
sys.dont_write_bytecode = True

LAMBDA_DIR = Path(__file__).resolve().parents[2] / "lambda"
if sys.path[:1] != [str(LAMBDA_DIR)]:
    sys.path.insert(0, str(LAMBDA_DIR))

import boto3  # noqa: E402
import pytest  # noqa: E402
from botocore.stub import Stubber  # noqa: E402

import jobkit.clients  # noqa: E402
import jobkit.clock  # noqa: E402
from tests.harness import model_check  # noqa: E402

REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKET = "job-data-bucket"
PREFIX = "deletions/"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/PersonalizeDataAccess"
#: The moment every test's clock starts at (tests move it explicitly).
T0 = datetime(2026, 11, 23, 7, 0, 0, tzinfo=timezone.utc)

STUBBED_SERVICES = ("personalize", "cleanroomsml")

HANDLER_ENV = {
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
    "POLL_MIN_WAIT_SECONDS": "60",
    "POLL_MAX_WAIT_SECONDS": "1800",
    "POLL_GROWTH": "0.1",
    "JOB_TIMEOUT_SECONDS": "86400",
    "DATA_BUCKET": BUCKET,
    "DELETION_PREFIX": PREFIX,
    "ALLOWED_DATASET_GROUP_ARNS": f'["arn:aws:personalize:{REGION}:{ACCOUNT}:dataset-group/*"]',
    "TAGS_ALLOWED": "true",
    "DATA_ACCESS_ROLE_ARN": ROLE_ARN,
    "ALLOWED_GENERATION_JOB_ARNS": f'["arn:aws:cleanrooms-ml:{REGION}:{ACCOUNT}:audience-generation-job/*"]',
    "NOT_LISTED_GRACE_SECONDS": "300",
    "QUIET_PERIOD_TIMEOUT_SECONDS": "21600",
    "CHECK_OVERLAP": "true",
    "RETRAIN_SOLUTION_ARNS": (f'{{"arn:aws:personalize:{REGION}:{ACCOUNT}:dataset-group/retail":'
                              f'["arn:aws:personalize:{REGION}:{ACCOUNT}:solution/recs"]}}'),
    "UPDATE_CAMPAIGNS": "true",
}


# ---- one audience export request, shared by the export handlers' tests
GEN_ARN = "arn:aws:cleanrooms-ml:us-east-1:123456789012:audience-generation-job/gen-1234"
EXPORT_NAME = "weekly-export"
EXPORT_SIZE = {"type": "ABSOLUTE", "value": 50_000}
EXPORT_REQUEST = {"audienceGenerationJobArn": GEN_ARN, "audienceSize": EXPORT_SIZE, "name": EXPORT_NAME,
                  "configuredAudienceModelArn": "arn:aws:cleanrooms-ml:us-east-1:123456789012:configured-audience-model/c",
                  "sizeCheck": "MATCHED_MODEL_BIN"}
EXPORT_LIST = {"audienceGenerationJobArn": GEN_ARN}


def raises_named(name: str, message: str, call: Any) -> None:
    """``call()`` raises an exception whose class name is ``name`` (what Step Functions sees) and whose
    message is exactly ``message``."""
    with pytest.raises(Exception) as caught:
        call()
    assert type(caught.value).__name__ == name
    assert str(caught.value) == message


def make_client(service: str) -> Any:
    """A real boto3 client with fake credentials (never reaches AWS once stubbed or mocked)."""
    return boto3.client(
        service, region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def assert_valid_request(client: Any, operation: str, params: dict[str, Any]) -> None:
    """``params`` fits ``operation``'s input shape in every rule the model states.

    ``operation`` is the API name (``CreateDataDeletionJob``) or the boto3 method
    name (``create_data_deletion_job``). This covers what Stubber does not check:
    patterns (full match), maximum lengths, enums and numeric ranges.
    """
    api_name = client.meta.method_to_api_mapping.get(operation, operation)
    found = model_check.request_problems(client.meta.service_model, api_name, params)
    assert found == [], f"{api_name} request breaks the service model: {found}"


class Services:
    """The clients handlers get from ``jobkit.clients.client``: stubbed or moto-backed."""

    def __init__(self) -> None:
        self.clients: dict[str, Any] = {}
        self.stubbers: dict[str, Stubber] = {}
        self.requested: list[str] = []

    def client(self, service: str) -> Any:
        """What ``jobkit.clients.client`` returns while the fixture is active."""
        self.requested.append(service)
        return self._ensure(service)

    def _ensure(self, service: str) -> Any:
        if service not in self.clients:
            if service not in STUBBED_SERVICES:
                raise AssertionError(f"no client prepared for {service!r} (S3 needs the s3 fixture)")
            api = make_client(service)
            stubber = Stubber(api)
            stubber.activate()
            self.clients[service] = api
            self.stubbers[service] = stubber
        return self.clients[service]

    @staticmethod
    def new_client(service: str) -> Any:
        """A fresh client with fake credentials, not wired to the handlers."""
        return make_client(service)

    def stubber(self, service: str) -> Stubber:
        self._ensure(service)
        return self.stubbers[service]

    def expect(self, service: str, method: str, response: dict[str, Any], params: dict[str, Any]) -> None:
        """Queue ``response`` for one call of ``method`` with exactly ``params`` (checked against the model)."""
        api = self._ensure(service)
        assert_valid_request(api, method, params)
        self.stubbers[service].add_response(method, response, params)

    def expect_error(
        self,
        service: str,
        method: str,
        code: str,
        message: str,
        params: dict[str, Any],
        status: int = 400,
        modeled_fields: dict[str, Any] | None = None,
    ) -> None:
        """Queue a service error for one call of ``method`` with exactly ``params``."""
        api = self._ensure(service)
        assert_valid_request(api, method, params)
        self.stubbers[service].add_client_error(
            method,
            service_error_code=code,
            service_message=message,
            http_status_code=status,
            expected_params=params,
            modeled_fields=modeled_fields,
        )

    def assert_done(self) -> None:
        """Every queued response was consumed."""
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()


@pytest.fixture(autouse=True)
def handler_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """The environment the construct gives the functions, plus fake AWS credentials."""
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name, value in HANDLER_ENV.items():
        monkeypatch.setenv(name, value)
    return dict(HANDLER_ENV)


@pytest.fixture
def services(monkeypatch: pytest.MonkeyPatch):
    """Replace ``jobkit.clients.client`` with stubbed clients; fail if a queued response is left over."""
    jobkit.clients.client.cache_clear()
    fake = Services()
    monkeypatch.setattr(jobkit.clients, "client", fake.client)
    yield fake
    fake.assert_done()
    for stubber in fake.stubbers.values():
        stubber.deactivate()


@pytest.fixture(scope="module")
def moto_s3():
    """One moto S3 per test module (starting moto costs 0.1-0.3 s); ``s3`` empties the bucket per test."""
    from moto import mock_aws

    with mock_aws():
        api = make_client("s3")
        api.create_bucket(Bucket=BUCKET)
        yield api


@pytest.fixture
def s3(moto_s3, services: Services):
    """moto S3 with the workflow's (empty) bucket; handlers get this client for ``s3``."""
    for page in moto_s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            moto_s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    services.clients["s3"] = moto_s3
    yield moto_s3
    services.clients.pop("s3", None)


class FakeClock:
    """A settable clock behind ``jobkit.clock.now``."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> datetime:
        self.current = self.current + timedelta(seconds=seconds)
        return self.current


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock(T0)
    monkeypatch.setattr(jobkit.clock, "now", fake.now)
    return fake


@pytest.fixture(name="assert_valid_request")
def assert_valid_request_fixture():
    """:func:`assert_valid_request` for tests that check a request themselves."""
    return assert_valid_request

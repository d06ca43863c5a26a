"""boto3 clients, created once per Lambda container.

The functions use botocore's ``standard`` retry mode: the default ``legacy``
mode does not retry Personalize's ``LimitExceededException``. Longer outages
are retried by the state machine with back-off and jitter.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
import botocore
import botocore.exceptions
import botocore.session
from botocore.config import Config

from .errors import SdkTooOld

CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 4},
    connect_timeout=5,
    read_timeout=30,
    user_agent_extra="cdk-ml-data-jobs",
)


_ADVICE = "Use a newer Python runtime (the construct's runtime prop) or attach a layer with a newer boto3."


@lru_cache(maxsize=None)
def client(service: str) -> Any:
    """A cached client for ``service``, created on first use."""
    try:
        return boto3.client(service, config=CONFIG)
    except botocore.exceptions.UnknownServiceError:
        raise SdkTooOld(f"The Lambda runtime's botocore {botocore.__version__} does not know the service "
                        f"{service}. {_ADVICE}") from None


@lru_cache(maxsize=None)
def model(service: str) -> Any:
    """The botocore service model of ``service`` (for validation), without creating a client."""
    try:
        return botocore.session.get_session().get_service_model(service)
    except botocore.exceptions.UnknownServiceError:
        raise SdkTooOld(f"The Lambda runtime's botocore {botocore.__version__} does not know the service "
                        f"{service}. {_ADVICE}") from None


def require_operations(api: Any, operations: tuple[str, ...], minimum: str) -> None:
    """Fail with :class:`SdkTooOld` when the runtime's botocore lacks an operation.

    ``api`` is a client or a botocore ``ServiceModel``. Lambda runtimes bundle a
    boto3 that lags behind and differs by Region; this turns a confusing
    ``AttributeError`` or ``OperationNotFoundError`` into a clear, named error.
    """
    service_model = api.meta.service_model if hasattr(api, "meta") else api
    available = set(service_model.operation_names)
    missing = [op for op in operations if op not in available]
    if missing:
        raise SdkTooOld(
            f"The Lambda runtime's botocore {botocore.__version__} has no "
            f"{service_model.service_name} operation(s) {', '.join(missing)}; "
            f"botocore >= {minimum} is required. {_ADVICE}"
        )

"""HTTP-level fakes for services moto does not implement.

A fake sees the real HTTP request botocore serialised (so client-side
validation and serialisation are the real ones), turns it back into API
parameters with the service model, checks them against the model's
constraints botocore does not check (patterns, max lengths, enums, ranges),
and answers with a real HTTP response that botocore's own protocol parser
reads (timestamps become datetimes, errors become ClientErrors with the
service's code and HTTP status). Every call is recorded.

The requests are judged by the tests' own :mod:`.model_check` (never by the
product's ``jobkit.model_rules``); every pattern of the operations a fake
implements is translated when the fake is created, so one the checker cannot
read fails the set-up instead of going unchecked.
"""

from __future__ import annotations

import json
import re
import threading
from functools import lru_cache
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

import botocore.session
from botocore.awsrequest import AWSResponse
from botocore.model import OperationModel, Shape
from botocore.parsers import create_parser
from botocore.awsrequest import HeadersDict

from . import model_check
from .clock import VirtualClock

@lru_cache(maxsize=None)
def _service_model(service: str) -> Any:
    """botocore's model of ``service`` (one botocore session for all fakes: creating one costs ~70 ms)."""
    return botocore.session.get_session().get_service_model(service)


class ServiceFault(Exception):
    """An error response: the service's error code, message, HTTP status and extra members."""

    def __init__(self, code: str, message: str, status: int = 400, **extra: Any) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status, self.extra = code, message, status, extra


@dataclass
class Call:
    at: datetime
    operation: str
    params: dict[str, Any]
    error: str | None = None


@dataclass
class FaultPlan:
    """Answer the next ``times`` calls of an operation with an error."""

    code: str
    message: str
    status: int = 400
    times: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


class FakeService:
    """Base class: subclasses set ``service`` and implement ``op_<OperationName>(params)``."""

    service: str = ""

    def __init__(self, clock: VirtualClock, region: str = "us-east-1", account: str = "123456789012") -> None:
        self.clock, self.region, self.account = clock, region, account
        self.model = _service_model(self.service)
        self.protocol = self.model.metadata["protocol"]
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self.faults: dict[str, list[FaultPlan]] = {}
        self._lock = threading.RLock()
        self._routes = [self._route(name) for name in self.model.operation_names]
        model_check.assert_translatable(self.model, [n for n in self.model.operation_names if hasattr(self, f"op_{n}")])

    # ---- scripting -------------------------------------------------------------------
    def fail_next(self, operation: str, code: str, message: str = "fault injected by the test",
                  status: int = 400, times: int = 1, **extra: Any) -> None:
        self.faults.setdefault(operation, []).append(FaultPlan(code, message, status, times, extra))

    def calls_of(self, operation: str) -> list[Call]:
        return [c for c in self.calls if c.operation == operation]

    # ---- botocore hook -----------------------------------------------------------------
    def register(self, events: Any) -> None:
        """Answer this service's calls.

        Hooked on ``before-call`` (after botocore has validated and serialised
        the request, before anything is sent), which stops at the first
        answer, so moto's stubber never sees these requests.
        """
        events.register_first(f"before-call.{self.event_name}", self._on_call)

    @property
    def event_name(self) -> str:
        return self.model.service_id.hyphenize()

    def _on_call(self, model: OperationModel, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict]:
        request = _Request(params["method"], params["url"], params["headers"], params["body"])
        response = self._on_send(request)
        parsed = create_parser(self.protocol).parse(
            {"status_code": response.status_code, "headers": response.headers, "body": response.content},
            model.output_shape,
        )
        return response, parsed

    def _on_send(self, request: Any) -> AWSResponse:
        operation, params = self._parse(request)
        with self._lock:
            call = Call(self.clock.now(), operation.name, params)
            self.calls.append(call)
            problems = model_check.request_problems(self.model, operation.name, params)
            if problems:
                self.violations += problems
                call.error = "ValidationException"
                return self._error(request, ServiceFault(self._validation_code(), "; ".join(problems)))
            plans = self.faults.get(operation.name, [])
            if plans:
                plan = plans[0]
                plan.times -= 1
                if plan.times <= 0:
                    plans.pop(0)
                call.error = plan.code
                return self._error(request, ServiceFault(plan.code, plan.message, plan.status, **plan.extra))
            try:
                result = getattr(self, f"op_{operation.name}")(params)
            except ServiceFault as fault:
                call.error = fault.code
                return self._error(request, fault)
        return self._response(request, 200, self._serialise(operation.output_shape, result or {}))

    def _validation_code(self) -> str:
        return "ValidationException"

    # ---- request parsing ---------------------------------------------------------------
    def _route(self, name: str) -> tuple[OperationModel, re.Pattern[str] | None]:
        op = self.model.operation_model(name)
        if self.protocol == "json":
            return op, None
        uri = op.http["requestUri"].split("?")[0]
        pattern = re.sub(r"\\{(\w+)\\\+\\}", r"(?P<\1>.+)", re.escape(uri))
        pattern = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", pattern)
        return op, re.compile(pattern)

    def _parse(self, request: Any) -> tuple[OperationModel, dict[str, Any]]:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        data = json.loads(body) if body.strip() else {}
        if self.protocol == "json":
            target = request.headers["X-Amz-Target"]
            target = target.decode() if isinstance(target, bytes) else target
            return self.model.operation_model(target.split(".")[-1]), data
        url = urlsplit(request.url)
        for op, pattern in self._routes:
            match = pattern.fullmatch(url.path) if pattern else None
            if op.http["method"] == request.method and match:
                params = dict(data)
                members = op.input_shape.members if op.input_shape else {}
                by_location = {(m.serialization.get("location"), m.serialization.get("name", n)): (n, m)
                               for n, m in members.items()}
                for key, value in match.groupdict().items():
                    name, _ = by_location[("uri", key)]
                    params[name] = unquote(value)
                for key, values in parse_qs(url.query).items():
                    name, shape = by_location[("querystring", key)]
                    params[name] = int(values[0]) if shape.type_name == "integer" else values[0]
                return op, params
        raise AssertionError(f"{self.service}: no operation for {request.method} {url.path}")

    # ---- responses ---------------------------------------------------------------------
    def _serialise(self, shape: Shape | None, value: Any) -> Any:
        if shape is None:
            return {}
        if shape.type_name == "structure":
            return {k: self._serialise(shape.members[k], v) for k, v in value.items() if v is not None}
        if shape.type_name == "list":
            return [self._serialise(shape.member, v) for v in value]
        if shape.type_name == "timestamp":
            if self.protocol == "json":
                return value.timestamp()
            return value.isoformat().replace("+00:00", "Z")
        return value

    def _response(self, request: Any, status: int, payload: Any, headers: dict[str, str] | None = None) -> AWSResponse:
        from moto.core.botocore_stubber import MockRawResponse

        content_type = "application/x-amz-json-1.1" if self.protocol == "json" else "application/json"
        all_headers = {"Content-Type": content_type, "x-amzn-RequestId": "fake-request-id", **(headers or {})}
        return AWSResponse(request.url, status, HeadersDict(all_headers), MockRawResponse(json.dumps(payload)))

    def _error(self, request: Any, fault: ServiceFault) -> AWSResponse:
        if self.protocol == "json":
            return self._response(request, fault.status, {"__type": fault.code, "message": fault.message})
        return self._response(request, fault.status, {"message": fault.message, **fault.extra},
                              {"x-amzn-ErrorType": fault.code})


@dataclass
class _Request:
    method: str
    url: str
    headers: Any
    body: Any


def install(fakes: list[FakeService], events: Any) -> Callable[[], None]:
    for fake in fakes:
        fake.register(events)

    def uninstall() -> None:
        for fake in fakes:
            events.unregister(f"before-call.{fake.event_name}", fake._on_call)

    return uninstall

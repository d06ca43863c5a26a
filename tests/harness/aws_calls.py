"""Record every AWS call the handlers make, for the IAM evaluation (``tests/iam``).

Hooked on botocore's event system of the session the handlers' clients come from
(``provide-client-params`` keeps the call's parameters, ``after-call`` adds the
answer's ARNs and the URL it went to), with the function that made the call known
from the harness's invoke path (:func:`in_function`, a context variable: a call made
outside an invocation, by the harness or moto itself, is not recorded).

A record holds what IAM would see, never an object body or a message: the
function, the service and operation, the request's string parameters (bucket,
key, prefix, ARNs, names, tag keys and values; blobs, streams and free-text members
such as ``Message``, ``Detail`` and ``Body`` are dropped), the ARNs in the answer
(for a resource the call created, e.g. the data deletion job), the error code if
any, and whether the request would travel over TLS on AWS: ``https``, or the
harness's own plain-HTTP endpoint override (``AWS_ENDPOINT_URL``, which on AWS is
absent, so the SDK uses its default HTTPS endpoint).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import contextvars
import json
import os
import re
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator

_FUNCTION: contextvars.ContextVar[str | None] = contextvars.ContextVar("aws_calls_function", default=None)
#: Members that carry content rather than the identity of a resource.
CONTENT_MEMBERS = {"Body", "Message", "MessageAttributes", "Detail", "Subject", "input", "output", "Payload"}
_ARN = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:[0-9]*:.+$")


@dataclass
class Invocation:
    function: str  # the function's logical id (in-process harness) or name (deployed)
    asynchronous: bool


@dataclass
class AwsCall:
    function: str
    service: str  # botocore service name (e.g. "s3", "cleanroomsml")
    operation: str  # API operation (e.g. "ListObjectsV2")
    params: dict[str, Any]
    response_arns: list[str] = field(default_factory=list)
    error: str | None = None
    secure_transport: bool = True
    region: str = ""


@contextlib.contextmanager
def in_function(name: str) -> Iterator[None]:
    """Calls made inside the block are ``name``'s."""
    token = _FUNCTION.set(name)
    try:
        yield
    finally:
        _FUNCTION.reset(token)


def _identity_params(shape: Any, value: Any) -> Any:
    """The parts of a request that identify resources: strings, numbers and booleans, recursively;
    blobs, streams and content members dropped."""
    if shape is None:
        return None
    if shape.type_name == "structure":
        out = {}
        for name, member in shape.members.items():
            if name in CONTENT_MEMBERS or name not in value:
                continue
            kept = _identity_params(member, value[name])
            if kept is not None:
                out[name] = kept
        return out
    if shape.type_name == "list":
        kept = [_identity_params(shape.member, v) for v in value]
        return [k for k in kept if k is not None]
    if shape.type_name == "map":
        return {str(k): _identity_params(shape.value, v) for k, v in value.items()}
    if shape.type_name in ("blob",) or getattr(shape, "serialization", {}).get("streaming"):
        return None
    if shape.type_name in ("string", "integer", "long", "boolean"):
        return value
    return None  # timestamps, floats: not resource identities


def _arns(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if _ARN.match(value) else []
    if isinstance(value, dict):
        return [a for v in value.values() for a in _arns(v)]
    if isinstance(value, list):
        return [a for v in value for a in _arns(v)]
    return []


_SUBMIT = concurrent.futures.ThreadPoolExecutor.submit


def _carry_context_into_pool_threads() -> None:
    """A handler's thread pool (``batch_claim`` reads request files with 16 threads) runs each task in the
    submitting thread's context, so the calls it makes are recorded as the handler's function. Python's
    ThreadPoolExecutor does not carry context variables by itself; other threads (moto's interpreter) keep
    their own, empty context and are not recorded. Installed once per process, idempotent."""
    if getattr(concurrent.futures.ThreadPoolExecutor.submit, "_carries_context", False):
        return

    def submit(self: Any, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        return _SUBMIT(self, contextvars.copy_context().run, fn, *args, **kwargs)

    submit._carries_context = True  # type: ignore[attr-defined]
    concurrent.futures.ThreadPoolExecutor.submit = submit  # type: ignore[method-assign]


class Recorder:
    """Collects :class:`AwsCall` records from a botocore session's event system; optionally appends
    each record as one JSON line to ``path`` (the emulator's handlers run in another process)."""

    def __init__(self, path: str | None = None) -> None:
        self.calls: list[AwsCall] = []
        self.invocations: list[Invocation] = []
        self.path = path
        self._lock = threading.Lock()
        self._events: Any = None

    def install(self, events: Any) -> "Recorder":
        events.register("provide-client-params.*.*", self._on_params, unique_id="aws-calls-params")
        events.register("after-call.*.*", self._on_answer, unique_id="aws-calls-answer")
        self._events = events
        _carry_context_into_pool_threads()
        return self

    def uninstall(self) -> None:
        if self._events is not None:
            self._events.unregister("provide-client-params.*.*", unique_id="aws-calls-params")
            self._events.unregister("after-call.*.*", unique_id="aws-calls-answer")
            self._events = None

    @contextlib.contextmanager
    def invocation(self, function: str, asynchronous: bool = False) -> Iterator[None]:
        """Run a function's handler: its calls are recorded as its own."""
        self._write("invocation", Invocation(function, asynchronous))
        with in_function(function):
            yield

    def _on_params(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if _FUNCTION.get() is not None:
            context["aws_calls_params"] = _identity_params(model.input_shape, params) if model.input_shape else {}

    def _on_answer(self, http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any],
                   **_: Any) -> None:
        function = _FUNCTION.get()
        if function is None or "aws_calls_params" not in context:
            return
        url = str(getattr(http_response, "url", "") or "")
        override = os.environ.get("AWS_ENDPOINT_URL", "")
        error = (parsed.get("Error") or {}).get("Code") if isinstance(parsed, dict) else None
        body = {k: v for k, v in (parsed or {}).items() if k not in ("ResponseMetadata", "Error")}
        call = AwsCall(function, model.service_model.service_name, model.name, context["aws_calls_params"],
                       sorted(set(_arns(body))), error,
                       url.startswith("https://") or bool(override and url.startswith(override)),
                       str(context.get("client_region") or ""))
        self._write("call", call)

    def _write(self, kind: str, record: Any) -> None:
        with self._lock:
            (self.calls if kind == "call" else self.invocations).append(record)
            if self.path:
                with open(self.path, "a") as out:
                    out.write(json.dumps({"kind": kind, **asdict(record)}) + "\n")


def read(path: str) -> tuple[list[AwsCall], list[Invocation]]:
    """The records a :class:`Recorder` appended to ``path``."""
    calls, invocations = [], []
    with open(path) as lines:
        for line in lines:
            record = json.loads(line)
            kind = record.pop("kind")
            (calls.append(AwsCall(**record)) if kind == "call" else invocations.append(Invocation(**record)))
    return calls, invocations

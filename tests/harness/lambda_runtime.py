"""What the in-process Lambda runtime and the virtual clock share between the
in-process harness (``local.py``) and the emulator launcher (``server.py``).

- :func:`call_handler`: call a handler and answer as the Lambda service does,
  the JSON result, or on an exception a function error payload
  (``errorType`` = exception class name, ``x-amz-function-error`` header).
- :func:`virtual_time`: moto's ASL executor advances a :class:`VirtualClock`
  on Wait states and Retry back-off instead of sleeping.
- :func:`bind_jobkit`: the handlers' ``jobkit.clock.now`` reads that clock and
  their cached boto3 clients start fresh.
- :func:`environ`, :class:`Context`, :func:`named`: small pieces both use.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import traceback
import types
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from .clock import VirtualClock


@dataclass
class HandlerOutcome:
    payload: bytes  # what the Lambda service returns as the invocation's payload
    result: Any  # the handler's return value (None on error)
    error: str | None  # errorType on a function error


class Context:
    """The parts of the Lambda context object the handlers may read."""

    def __init__(self, function_name: str, function_arn: str, memory_mb: int = 256, timeout_s: int = 60) -> None:
        self.function_name = function_name
        self.invoked_function_arn = function_arn
        self.aws_request_id = str(uuid.uuid4())
        self.memory_limit_in_mb = memory_mb
        self._timeout_ms = timeout_s * 1000

    def get_remaining_time_in_millis(self) -> int:
        return self._timeout_ms


def named(name: str, message: str) -> Exception:
    """An exception reported under ``name`` (e.g. ``Runtime.MarshalError``) instead of its class name."""
    error = RuntimeError(message)
    error.lambda_error_type = name  # type: ignore[attr-defined]
    return error


def error_payload(name: str, message: str, tb: Any = None) -> bytes:
    return json.dumps({
        "errorMessage": message, "errorType": name, "requestId": str(uuid.uuid4()),
        "stackTrace": traceback.format_tb(tb) if tb is not None else [],
    }).encode()


def call_handler(handler: Callable[[Any, Any], Any], event: Any, context: Any,
                 response_headers: dict[str, str]) -> HandlerOutcome:
    """Call ``handler`` like the Lambda runtime: JSON result, or a function error (header set)."""
    try:
        result = handler(event, context)
        try:
            payload = json.dumps(result)
        except TypeError as error:  # what Lambda's runtime reports for a non-JSON result
            raise named("Runtime.MarshalError", f"Unable to marshal response: {error}") from None
    except Exception as error:  # noqa: BLE001 - reported like the Lambda runtime does
        name = getattr(error, "lambda_error_type", type(error).__name__)
        response_headers["x-amz-function-error"] = "Unhandled"
        return HandlerOutcome(error_payload(name, str(error), error.__traceback__), None, name)
    return HandlerOutcome(payload.encode(), result, None)


@contextlib.contextmanager
def environ(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of the block, then restore them."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update({k: str(v) for k, v in values.items()})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def virtual_time(clock: VirtualClock) -> Iterator[None]:
    """Wait states and Retry back-off in moto's ASL executor advance ``clock``; nothing sleeps.

    Only these two places are patched: patching ``time.sleep`` globally starves
    the interpreter thread (see the toolchain notes).
    """
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    def wait_interval(self_wait: Any, env: Any, wait_seconds: int) -> None:
        clock.advance(wait_seconds, kind="wait")

    saved = (WaitFunction._wait_interval, retrier_decl.time)
    WaitFunction._wait_interval = wait_interval
    retrier_decl.time = types.SimpleNamespace(sleep=lambda s: clock.advance(s, kind="backoff"), time=time.time)
    try:
        yield
    finally:
        WaitFunction._wait_interval, retrier_decl.time = saved


def bind_jobkit(clock: VirtualClock) -> Callable[[], None]:
    """Point the imported ``jobkit`` at ``clock`` and clear its client cache; returns an undo.

    ``jobkit`` must already be importable from the functions' code (sys.path).
    """
    from jobkit import clients, clock as jobkit_clock

    saved_now = jobkit_clock.now
    jobkit_clock.now = clock.now
    clients.client.cache_clear()

    def undo() -> None:
        jobkit_clock.now = saved_now
        clients.client.cache_clear()

    return undo


def forget_modules(names: set[str] | None = None, under: str | None = None) -> None:
    """Drop modules from ``sys.modules``: the given top-level names (and their submodules), and every
    module whose file lies under the folder ``under``."""
    for name, module in list(sys.modules.items()):
        top = name.split(".", 1)[0]
        path = getattr(module, "__file__", None) or ""
        if (names and top in names) or (under and path.startswith(under.rstrip(os.sep) + os.sep)):
            sys.modules.pop(name, None)

"""Named errors.

Step Functions sees a Lambda exception's class name as the state's error name,
so every failure a handler reports on purpose is an exception whose class name
is the documented error (``InvalidInput``) or the service's own error code
(``LimitExceededException``), never a generic ``ClientError``. Messages never
contain user IDs or file contents.
"""

from __future__ import annotations

from typing import Iterable

from botocore.exceptions import ClientError


class JobError(Exception):
    """Base class of every error the functions raise on purpose."""


#: Problems listed in one InvalidInput message (an input can break a rule thousands of times).
MAX_LISTED_PROBLEMS = 20


class InvalidInput(JobError):
    """The execution input was rejected before any job was started."""

    def __init__(self, problems: str | Iterable[str]) -> None:
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        if len(self.problems) == 1:
            text = f"Input rejected: {self.problems[0]}"
        else:
            shown = self.problems[:MAX_LISTED_PROBLEMS]
            listed = "; ".join(f"({i}) {p}" for i, p in enumerate(shown, 1))
            more = len(self.problems) - len(shown)
            text = f"Input rejected, {len(self.problems)} problems: {listed}"
            if more:
                text += f"; and {more} more of the same kinds"
        super().__init__(text)


class SdkTooOld(JobError):
    """The boto3 bundled with the Lambda runtime lacks an operation we call."""


class JobNameInUse(JobError):
    """A job of the requested name exists but is not this execution's job."""


class ServiceError(JobError):
    """A service error, re-raised under a class named after the service's error code."""

    code = "ServiceError"


_classes: dict[str, type[ServiceError]] = {}


def service_error(error: ClientError, operation: str, code: str | None = None) -> ServiceError:
    """Exception named after ``error``'s code, carrying the service's message.

    ``LimitExceededException`` from Personalize becomes an exception whose class
    name is ``LimitExceededException``, so the state machine's Retry and Catch
    match the service's vocabulary. ``code`` overrides the name (for errors
    without a body, such as an S3 HEAD's bare HTTP status).
    """
    info = error.response.get("Error", {})
    code = str(code or info.get("Code") or "ServiceError")
    if not code.isidentifier():
        code = "ServiceError"
    cls = _classes.get(code)
    if cls is None:
        cls = type(code, (ServiceError,), {"code": code, "__module__": __name__})
        _classes[code] = cls
    message = info.get("Message") or str(error)
    return cls(f"{operation}: {message}")


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))

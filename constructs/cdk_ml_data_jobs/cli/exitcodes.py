"""Exit codes of ``ml-data-jobs`` and the errors that carry them."""

from __future__ import annotations

from typing import Optional, Sequence

#: The command did what it was asked: the execution SUCCEEDED (or, for ``status``
#: without ``--follow`` and ``list``, the information was shown; a RUNNING execution is not a failure).
OK = 0
#: Bad input: the local check of the CSV or of the options failed (nothing was uploaded or started),
#: or the execution failed with ``InvalidInput`` (the workflow rejected the input; no job was started).
BAD_INPUT = 2
#: The job failed: the execution ended FAILED (any other error), TIMED_OUT or ABORTED.
JOB_FAILED = 3
#: Usage or configuration error: bad or missing options, no target (``--stack`` or ``--state-machine-arn``),
#: stack, state machine or execution not found, missing stack outputs, no credentials, Region or profile.
USAGE = 4
#: An AWS call failed for another reason (access denied, throttling, network); nothing more is known.
AWS_ERROR = 5
#: Ctrl-C while following: the CLI stopped following; the execution keeps running (resume with ``status``).
INTERRUPTED = 130

#: The table shown in ``--help``.
TABLE = (
    (OK, "success: the execution SUCCEEDED (status/list: shown; a RUNNING execution is not a failure)"),
    (BAD_INPUT, "bad input: the local check failed (nothing uploaded or started), or the execution failed "
                "with InvalidInput"),
    (JOB_FAILED, "job failure: the execution ended FAILED (other errors), TIMED_OUT or ABORTED"),
    (USAGE, "usage or configuration error: options, target, stack/state machine/execution not found, "
            "credentials, Region, profile"),
    (AWS_ERROR, "an AWS call failed (access denied, throttling, network)"),
    (INTERRUPTED, "Ctrl-C while following: the execution keeps running; resume with `status --follow`"),
)

#: Execution statuses that are final.
FINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


def for_execution(status: str, error: Optional[str]) -> int:
    """The exit code for an execution in ``status`` (with ``error`` when it failed)."""
    if status == "FAILED" and error == "InvalidInput":
        return BAD_INPUT
    if status in ("FAILED", "TIMED_OUT", "ABORTED"):
        return JOB_FAILED
    return OK


class CliError(Exception):
    """An error the CLI reports without a traceback, with its exit code and ``--json`` kind."""

    exit_code = USAGE
    kind = "error"

    def __init__(self, message: str, problems: Sequence[str] = (), hint: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = list(problems)
        self.hint = hint


class BadInput(CliError):
    """The local check failed: nothing was uploaded or started."""

    exit_code = BAD_INPUT
    kind = "invalid-input"


class ConfigError(CliError):
    """The target or the AWS configuration cannot be used."""

    exit_code = USAGE
    kind = "config"


class AwsError(CliError):
    """An AWS call failed."""

    exit_code = AWS_ERROR
    kind = "aws"

"""A delete-users run as an operator sees it (text output), compared with the committed TRANSCRIPT.txt.

The run's standard output is normalised (see :func:`normalise`): what differs from one run to the next is
replaced by a placeholder (``<uuid-1>`` for the first distinct UUID and so on, so a reused ID still shows as
reused; ``<date>``, ``<yyyymmdd>``, ``<timestamp>``, ``<hh:mm:ss>``, ``<duration>``). Everything else (every
line, label, ARN, bucket name, number and hint) must equal ``tests/cli/TRANSCRIPT.txt``; the README's example
run must normalise to the same text. When a command's output changes on purpose, regenerate both with::

    ML_DATA_JOBS_WRITE_TRANSCRIPT=1 make test PYTEST_ARGS=tests/cli/test_transcript.py

which writes the normalised transcript to TRANSCRIPT.txt and this run's raw transcript into the README's
example block, then passes; review the diff.

The command keeps its default --poll-seconds 5, as an operator would run it, but its follow loop does not
sleep: a :class:`Turnstile` lets the execution run exactly one Lambda invocation between two of the CLI's
checks, and each check waits until the execution has reached its next invocation (or its end). So the CLI
sees every step and job status, the same ones on every run, and the virtual clock makes the 45-minute job
take a fraction of a second.
"""

from __future__ import annotations

import os
import re
import shlex
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.cli.conftest import GROUP, STACK, USER_IDS
from tests.harness.fakes import JobPlan

TRANSCRIPT = Path(__file__).with_name("TRANSCRIPT.txt")
README = Path(__file__).resolve().parents[2] / "README.md"
REGENERATE = "ML_DATA_JOBS_WRITE_TRANSCRIPT"
#: The README's example run: a ```text block that starts with the delete-users command line.
README_BLOCK = re.compile(r"(```text\n)(\$ ml-data-jobs delete-users .*?)(```)", re.S)

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
#: (pattern, placeholder), applied in this order after the UUIDs are numbered.
_VOLATILE = [
    (re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\b"), "<timestamp>"),  # the jobs' times (virtual clock)
    (re.compile(r"\b\d{4}-\d\d-\d\d\b"), "<date>"),  # today, in the upload key
    (re.compile(r"\b\d{8}\b"), "<yyyymmdd>"),  # today, in the execution name
    (re.compile(r"^  \d\d:\d\d:\d\d  ", re.M), "  <hh:mm:ss>  "),  # wall clock of each progress line
    (re.compile(r"\b(in|after|for) [\d.]+ (s|min|h|d)( [\d.]+ (s|min|h))?\b"), r"\1 <duration>"),
]


class Turnstile:
    """Runs the execution one Lambda invocation per CLI check, so the checks see the same steps on every run.

    ``invoke`` replaces the harness's ``_invoke`` (moto's execution thread waits there for a permit);
    ``settled`` wraps ``Aws.execution`` (a check first waits until an invocation waits, or the execution
    has ended); ``sleep`` replaces the follow loop's sleep (it hands out one permit). ``open`` lets
    everything through (at the end of the test, whatever happened).
    """

    TIMEOUT = 30.0

    def __init__(self, invoke: Callable[..., bytes], ended: Callable[[str], bool]) -> None:
        self._invoke, self._ended = invoke, ended
        self._permits = threading.Semaphore(0)
        self._waiting = threading.Event()
        self._open = False

    def invoke(self, *args: Any) -> bytes:
        if not self._open:
            self._waiting.set()
            assert self._permits.acquire(timeout=self.TIMEOUT), "the CLI stopped checking the execution"
        return self._invoke(*args)

    def settled(self, describe: Callable[..., Any]) -> Callable[..., Any]:
        def check(aws: Any, execution_arn: str, *args: Any, **kwargs: Any) -> Any:
            deadline = time.monotonic() + self.TIMEOUT
            while not self._waiting.is_set() and not self._ended(execution_arn):
                assert time.monotonic() < deadline, "the execution neither invoked a function nor ended"
                time.sleep(0.002)
            return describe(aws, execution_arn, *args, **kwargs)
        return check

    def sleep(self, seconds: float) -> None:
        if self._waiting.is_set():
            self._waiting.clear()
            self._permits.release()

    def open(self) -> None:
        self._open = True
        self._permits.release(100)


def normalise(transcript: str) -> str:
    """``transcript`` with what changes from run to run replaced by placeholders."""
    numbered: dict[str, str] = {}

    def number(match: re.Match[str]) -> str:
        return numbered.setdefault(match.group(0), f"<uuid-{len(numbered) + 1}>")

    transcript = _UUID.sub(number, transcript)
    for pattern, placeholder in _VOLATILE:
        transcript = pattern.sub(placeholder, transcript)
    return transcript


@pytest.fixture
def turnstile(local, monkeypatch) -> Any:
    from cdk_ml_data_jobs.cli import aws, follow

    def ended(arn: str) -> bool:
        return local.sfn.describe_execution(executionArn=arn)["status"] != "RUNNING"

    gate = Turnstile(local._invoke, ended)
    monkeypatch.setattr(local, "_invoke", gate.invoke)
    monkeypatch.setattr(aws.Aws, "execution", gate.settled(aws.Aws.execution))
    monkeypatch.setattr(follow, "sleep", gate.sleep)
    yield gate
    gate.open()


def test_delete_users_transcript(local, cli, tmp_path, monkeypatch, write_csv, turnstile):
    monkeypatch.chdir(tmp_path)
    write_csv(["USER_ID", *USER_IDS], name="users.csv")
    local.personalize.default_plan = JobPlan(duration=45 * 60, num_deleted=17)
    args = ["delete-users", "--stack", STACK, "--dataset-group-arn", GROUP, "--csv", "users.csv"]

    run = cli(*args)

    assert run.exit_code == 0, run.output
    transcript = f"$ ml-data-jobs {shlex.join(args)}\n{run.stdout}$ echo $?\n{run.exit_code}\n"
    if os.environ.get(REGENERATE):
        TRANSCRIPT.write_text(normalise(transcript), encoding="utf-8")
        readme = README.read_text(encoding="utf-8")
        README.write_text(README_BLOCK.sub(lambda m: m.group(1) + transcript + m.group(3), readme, count=1),
                          encoding="utf-8")
    assert normalise(transcript) == TRANSCRIPT.read_text(encoding="utf-8"), \
        f"the delete-users output changed; if on purpose, rerun with {REGENERATE}=1 and review the diff"


def test_the_readme_shows_the_committed_transcript():
    [example] = [m.group(2) for m in README_BLOCK.finditer(README.read_text(encoding="utf-8"))]
    assert normalise(example) == TRANSCRIPT.read_text(encoding="utf-8"), \
        f"README's delete-users example is not the committed transcript; rerun with {REGENERATE}=1"


@pytest.mark.parametrize("raw, expected", [
    ("Uploaded  s3://b/deletions/cli/2026-11-23/7c942eed-0809-40c7-aa43-580f2d793bab.csv\n"
     "Started   delete-users-20261123-7c942eed-0809-40c7-aa43-580f2d793bab\n"
     "  inputData.versionId  1466ca3c-b5f7-4c65-be00-fb576cde8240\n",
     "Uploaded  s3://b/deletions/cli/<date>/<uuid-1>.csv\n"
     "Started   delete-users-<yyyymmdd>-<uuid-1>\n"
     "  inputData.versionId  <uuid-2>\n"),
    ("  08:02:11  RUNNING  step Validate\nSUCCEEDED in 0.7 s: Personalize deleted 17 records\n",
     "  <hh:mm:ss>  RUNNING  step Validate\nSUCCEEDED in <duration>: Personalize deleted 17 records\n"),
    ("FAILED after 1 min 05 s\n  creationDateTime     2026-11-23T01:35:16Z\n",
     "FAILED after <duration>\n  creationDateTime     <timestamp>\n"),
    ("  numDeleted           17\n  inputData.bytes      77\n",) * 2,
])
def test_normalise_replaces_only_what_changes_between_runs(raw, expected):
    assert normalise(raw) == expected

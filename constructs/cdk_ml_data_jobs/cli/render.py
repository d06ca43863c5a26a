"""Output of ``ml-data-jobs``: text with rich, or one JSON document with ``--json``.

Text goes to standard output (errors to standard error); the live status line
is drawn only on a terminal and disappears when the execution ends. With
``--json`` nothing but the one document is written, to standard output, also
when the command fails (it then carries ``error``).

Privacy: what is rendered comes from the CLI's own counts and sizes, the
execution's input (ARNs and the S3 location), its output, error and cause, and
history events' step names and job statuses; never from the CSV's content.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import sys
from datetime import datetime
from typing import Any, Callable, Iterator, Optional, Sequence

from rich.console import Console
from rich.text import Text

from .._contract import AUDIENCE_EXPORT, DATA_DELETION
from .aws import ExecutionView, Target
from .csvcheck import CsvCheck
from .exitcodes import CliError
from .follow import label

#: What to do after an error, from the README's Troubleshooting table.
HINTS = {
    "InvalidInput": "The workflow rejected the input before starting any job; fix the file or the options and "
                    "run again.",
    "DataDeletionJobFailed": "Read failureReason. AWS recommends creating another data deletion job; make sure no "
                             "training or import job runs during the deletion.",
    "DataDeletionJobTimedOut": "The job is still running in Personalize; follow it there or raise job_timeout.",
    "AudienceExportJobTimedOut": "The export is still running in Clean Rooms ML; follow it there or raise "
                                 "job_timeout.",
    "DataDeletionJobUnexpectedStatus": "Personalize reported a status this library does not know; check the job "
                                       "in the console.",
    "AudienceExportJobUnexpectedStatus": "Clean Rooms ML reported a status this library does not know; check the "
                                         "export in the console.",
    "JobNameInUse": "Choose another --job-name (or omit it: the execution name is used).",
    "AudienceExportJobFailed": "Read statusCode and message; often a size the training data provider does not "
                               "allow.",
    "AudienceExportJobNotFound": "The export never showed in the listing; check the console and quotas, then start "
                                 "again.",
    "AccessDeniedException": "The ARN is outside the workflow's allowed scope, or another account owns it.",
    "ServiceQuotaExceededException": "More than 20 exports are pending in the account; start again later.",
    "SdkTooOld": "Deploy the workflow with a newer Python runtime (the construct's runtime prop).",
    "States.Timeout": "The state machine's own time limit was reached; the job may still be running in the service.",
}
STATUS_HINTS = {
    "ABORTED": "The execution was stopped; the job it started, if any, may still be running in the service.",
    "TIMED_OUT": "The execution hit its time limit; the job may still be running in the service.",
}
#: Output fields shown first, per workflow.
FIRST_FIELDS = {
    DATA_DELETION: ["numDeleted", "status", "dataDeletionJobArn", "jobName", "datasetGroupArn", "dataLocation"],
    AUDIENCE_EXPORT: ["outputLocation", "status", "name", "audienceGenerationJobArn", "audienceSize.type",
               "audienceSize.value", "sizeCheck"],
    None: [],
}
FIRST_CAUSE_FIELDS = ["failureReason", "statusCode", "message", "status"]
STYLES = {"SUCCEEDED": "bold green", "FAILED": "bold red", "TIMED_OUT": "bold red", "ABORTED": "bold red",
          "RUNNING": "bold cyan", "PENDING_REDRIVE": "bold yellow"}


class Reporter:
    """Renders one command's progress and result, as text or as one JSON document."""

    def __init__(self, command: str, as_json: bool, resume_options: Sequence[str] = ()) -> None:
        self.command = command
        self.as_json = as_json
        self.doc: dict[str, Any] = {"command": command}
        self.resume_options = list(resume_options)
        # Created at command time: they write to whatever sys.stdout / sys.stderr are then.
        self.out = Console(highlight=False, markup=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, markup=False, soft_wrap=True)

    # ---- steps ------------------------------------------------------------------------
    def line(self, *parts: Any, style: Optional[str] = None) -> None:
        if not self.as_json:
            self.out.print(Text.assemble(*parts), style=style)

    def csv_checked(self, check: CsvCheck) -> None:
        self.doc["csv"] = check.as_dict()
        if check.ok:
            self.line(("✓ ", "green"), f"{check.path}: {check.user_ids} user ID{'s' if check.user_ids != 1 else ''}, "
                      f"{_size(check.size)}, UTF-8, header USER_ID")

    def target(self, target: Target, machine: str, data: bool = False) -> None:
        """The workflow acted on (and with ``data``, the bucket and prefix of its user-ID files)."""
        self.doc["target"] = {"source": target.source, "stateMachineArn": machine}
        if data:
            self.doc["target"].update(bucket=target.bucket, prefix=target.prefix)
        self.line(("Workflow  ", "bold"), machine, (f"  ({target.source})", "dim"))

    def uploaded(self, bucket: str, key: str, version: Optional[str]) -> None:
        self.doc["upload"] = {"bucket": bucket, "key": key, "location": f"s3://{bucket}/{key}", "versionId": version}
        self.line(("Uploaded  ", "bold"), f"s3://{bucket}/{key}")

    def started(self, arn: str, name: str, payload: dict[str, Any]) -> None:
        self.doc["execution"] = {"executionArn": arn, "name": name, "status": "RUNNING", "input": payload}
        self.line(("Started   ", "bold"), name)
        self.line("          ", arn)

    def not_followed(self, arn: str) -> None:
        self.doc["following"] = "not-followed"
        self.doc["resume"] = self.resume_command(arn)
        self.line("Not following; to follow it: ", self.resume_command(arn))

    @contextlib.contextmanager
    def following(self, poll_seconds: float) -> Iterator[Callable[[ExecutionView], None]]:
        """A callback for each view while following: prints changes, drives the live status line."""
        last: list[Optional[str]] = [None]

        def remember(view: ExecutionView) -> None:
            self.doc["execution"] = view.as_dict()

        if self.as_json:
            yield remember
            return
        self.line(("Following ", "bold"), f"every {_number(poll_seconds)} s; Ctrl-C stops following, "
                  "not the execution")
        live = self.out.status("starting", spinner="dots") if self.out.is_terminal else contextlib.nullcontext()
        with live as status:
            def update(view: ExecutionView) -> None:
                remember(view)
                where = label(view)
                if not view.finished and where != last[0] and (view.current_state or view.job_status):
                    last[0] = where
                    self.out.print(Text.assemble(f"  {datetime.now():%H:%M:%S}  ", (view.status, "cyan"),
                                                 f"  {where}"))
                if status is not None:
                    status.update(f"{view.status} for {_duration(view.elapsed())} · {where} · next check in "
                                  f"{_number(poll_seconds)} s · Ctrl-C stops following (the job keeps running)")
            yield update

    # ---- outcomes ---------------------------------------------------------------------
    def execution(self, view: ExecutionView) -> None:
        """The execution's state: the result when it is final, where it is when it runs."""
        self.doc["execution"] = view.as_dict()
        if self.as_json:
            return
        if not view.finished:
            self.out.print(Text.assemble((view.status, STYLES.get(view.status, "bold")),
                                         f" for {_duration(view.elapsed())}: {label(view)}"))
            self.out.print(Text.assemble(("  execution  ", "dim"), view.arn))
            self.out.print(Text.assemble(("  follow it  ", "dim"), self.resume_command(view.arn)))
            return
        took = _duration(view.elapsed())
        if view.status == "SUCCEEDED":
            self.out.print(Text.assemble((view.status, STYLES[view.status]), f" in {took}", _summary(view)))
            _print_fields(self.out, _flatten(view.output), FIRST_FIELDS.get(view.workflow, []))
            if view.workflow == DATA_DELETION and not _retrained(view.output):
                self.out.print(Text("After a deletion, AWS recommends training a new solution version and updating "
                                    "campaigns.", style="dim"))
            return
        self.out.print(Text.assemble((view.status, STYLES.get(view.status, "bold red")), f" after {took}",
                                     (f": {view.error}" if view.error else "")))
        details = view.cause_details
        if details:
            _print_fields(self.out, _flatten(details), FIRST_CAUSE_FIELDS)
        elif view.cause:
            _print_fields(self.out, {"cause": view.cause}, [])
        hint = HINTS.get(view.error or "") or STATUS_HINTS.get(view.status)
        if hint:
            self.out.print(Text(hint, style="yellow"))

    def interrupted(self, arn: Optional[str]) -> None:
        self.doc["following"] = "stopped"
        if arn:
            self.doc["resume"] = self.resume_command(arn)
        if self.as_json:
            return
        if arn:
            self.err.print(Text("Stopped following. The execution keeps running; resume with:", style="yellow"))
            self.err.print(f"  {self.resume_command(arn)}")
        else:
            self.err.print(Text("Interrupted; no execution was started.", style="yellow"))

    def error(self, error: CliError) -> None:
        self.doc["error"] = {"kind": error.kind, "message": error.message, "problems": error.problems,
                             "hint": error.hint}
        if self.as_json:
            return
        self.err.print(Text.assemble(("Error: ", "bold red"), error.message))
        for problem in error.problems:
            self.err.print(f"  - {problem}")
        if error.hint:
            self.err.print(Text(error.hint, style="yellow"))

    def executions(self, rows: list[dict[str, Any]]) -> None:
        self.doc["executions"] = rows
        if self.as_json:
            return
        if not rows:
            self.out.print("No executions.")
            return
        # One line per execution, then its ARN on a line of its own (whole, to copy into `status`).
        cells = [(_local(r.get("startDate")), r.get("workflow") or "-", r["status"],
                  _duration(r.get("seconds")) if r.get("seconds") is not None else "-", r.get("name") or "")
                 for r in rows]
        headers = ("STARTED", "WORKFLOW", "STATUS", "TOOK", "NAME")
        widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
        self.out.print(Text("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(), style="bold"))
        for row, cell in zip(rows, cells):
            parts = [(value.ljust(width) + "  ", STYLES.get(value, "") if i == 2 else "")
                     for i, (value, width) in enumerate(zip(cell, widths))]
            line = Text.assemble(*parts)
            line.rstrip()
            self.out.print(line)
            self.out.print(Text.assemble(("  ", ""), (row["executionArn"], "dim")))

    def finish(self, exit_code: int) -> None:
        self.doc["exitCode"] = exit_code
        if self.as_json:
            sys.stdout.write(json.dumps(self.doc, indent=2, default=str) + "\n")
            sys.stdout.flush()

    def resume_command(self, arn: str) -> str:
        return shlex.join(["ml-data-jobs", "status", "--follow", *self.resume_options, arn])


def _summary(view: ExecutionView) -> str:
    out = view.output if isinstance(view.output, dict) else {}
    if view.workflow == DATA_DELETION and "numDeleted" in out:
        return f": Personalize deleted {out['numDeleted']} record{'s' if out['numDeleted'] != 1 else ''}"
    if view.workflow == AUDIENCE_EXPORT and out.get("outputLocation"):
        return f": the segment is at {out['outputLocation']}"
    return ""


def _retrained(output: Any) -> bool:
    """The workflow's follow-through (``retrain_solution_arns``) already trained and updated the models."""
    follow = output.get("followThrough") if isinstance(output, dict) else None
    return isinstance(follow, dict) and follow.get("status") == "COMPLETED"


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(value, dict):
        return {prefix or "output": value}
    flat: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(item, dict) and item:
            flat.update(_flatten(item, name))
        else:
            flat[name] = item
    return flat


def _print_fields(console: Console, fields: dict[str, Any], first: Sequence[str]) -> None:
    ordered = [k for k in first if k in fields] + [k for k in fields if k not in first]
    width = max((len(k) for k in ordered), default=0)
    for key in ordered:
        value = fields[key]
        text = json.dumps(value) if isinstance(value, (bool, list)) or value is None else str(value)
        console.print(Text.assemble(("  " + key.ljust(width) + "  ", "dim"), text))


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024 / 1024:.1f} MiB"


def _number(value: float) -> str:
    return f"{value:g}"


def _duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    if whole < 86400:
        return f"{whole // 3600} h {whole % 3600 // 60:02d} min"
    return f"{whole // 86400} d {whole % 86400 // 3600:02d} h"


def _local(iso: Optional[str]) -> str:
    if not iso:
        return "-"
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone().strftime("%Y-%m-%d %H:%M:%S")

"""The click commands of ``ml-data-jobs``."""

from __future__ import annotations

import csv
import functools
import io
import json
import sys
import textwrap
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Optional

import click

from . import csvcheck, exitcodes, payloads
from . import follow as following
from .._assets import load_lambda_module
from .._contract import (
    AUDIENCE_EXPORT,
    DATA_DELETION,
    DEFAULT_AUDIT_PREFIX,
    LEDGER_REQUEST_ITEM,
    LEDGER_TARGET_PREFIX,
    REQUEST_COMPLETED,
    REQUEST_FAILED,
    REQUEST_ID_METADATA,
    REQUEST_OPEN_STATUSES,
    REQUEST_RECORD_FOLDER,
    REQUEST_REJECTED,
    REQUEST_STATUSES,
    WORKFLOWS,
)
from .aws import (
    OUTPUT_BUCKET,
    OUTPUT_DELETION,
    OUTPUT_EXPORT,
    OUTPUT_PREFIX,
    Aws,
    Target,
    iso,
    state_machine_of,
    translate_errors,
)
from .exitcodes import BadInput, CliError, ConfigError
from .render import Reporter

STACK_ENV = "ML_DATA_JOBS_STACK"
_META = "ml-data-jobs."


def _exit_code_help() -> str:
    lines = ["\b", "Exit codes:"]
    for code, text in exitcodes.TABLE:
        wrapped = textwrap.wrap(text, 66)
        lines.append(f"  {code:<5}{wrapped[0]}")
        lines += [f"       {more}" for more in wrapped[1:]]
    return "\n".join(lines)


EXIT_CODES_HELP = _exit_code_help()


class UsageProblem(ConfigError):
    kind = "usage"


# --------------------------------------------------------------------------- the group


class _Cli(click.Group):
    """A group that maps click's usage errors to exit code 4 and can answer them in JSON."""

    def main(self, args: Any = None, prog_name: Optional[str] = None, complete_var: Optional[str] = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        try:
            code = super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as error:
            code = exitcodes.USAGE
            if "--json" in argv:
                command = error.ctx.command.name if error.ctx and error.ctx.command else None
                doc = {"command": command, "exitCode": code,
                       "error": {"kind": "usage", "message": error.format_message(), "problems": [], "hint": None}}
                sys.stdout.write(json.dumps(doc, indent=2) + "\n")
            else:
                error.show()
        except click.ClickException as error:
            error.show()
            code = error.exit_code
        except click.Abort:
            click.echo("Aborted.", err=True)
            code = exitcodes.INTERRUPTED
        code = code if isinstance(code, int) else exitcodes.OK
        if standalone_mode:
            sys.exit(code)
        return code


def _remember(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is not None and value is not False:
            ctx.find_root().meta[_META + name] = value
        return value

    return callback


def common_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--json``, ``--region``, ``--profile``: accepted before or after the command name."""
    f = click.option("--profile", expose_value=False, callback=_remember("profile"), metavar="NAME",
                     help="AWS profile (default: AWS_PROFILE or the default profile).")(f)
    f = click.option("--region", expose_value=False, callback=_remember("region"), metavar="REGION",
                     help="AWS Region (default: AWS_REGION or the profile's). AWS_ENDPOINT_URL is honoured.")(f)
    f = click.option("--json", "as_json", is_flag=True, expose_value=False, callback=_remember("json"),
                     help="Write one machine-readable JSON document to standard output (also on errors).")(f)
    return f


def target_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--state-machine-arn", metavar="ARN",
                     help="The workflow's state machine (instead of --stack).")(f)
    f = click.option("--stack", envvar=STACK_ENV, show_envvar=True, metavar="NAME",
                     help=f"A deployed stack whose outputs name the workflows ({OUTPUT_DELETION}, "
                          f"{OUTPUT_EXPORT}, {OUTPUT_BUCKET}, {OUTPUT_PREFIX}).")(f)
    return f


def poll_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--poll-seconds", type=click.FloatRange(min=0), default=5.0, show_default=True,
                        metavar="SECONDS", help="Seconds between two status checks while following.")(f)


def command(name: str) -> Callable[[Callable[..., int]], Callable[..., None]]:
    """Run a command body with a Reporter and an Aws; map CliError and Ctrl-C to exit codes."""

    def decorate(body: Callable[..., int]) -> Callable[..., None]:
        @functools.wraps(body)
        @click.pass_context
        def wrapper(ctx: click.Context, **kwargs: Any) -> None:
            meta = ctx.find_root().meta
            region, profile = meta.get(_META + "region"), meta.get(_META + "profile")
            resume = [*(("--region", region) if region else ()), *(("--profile", profile) if profile else ())]
            reporter = Reporter(name, bool(meta.get(_META + "json")), resume)
            aws = Aws(region=region, profile=profile)
            try:
                code = body(ctx, reporter, aws, **kwargs)
            except CliError as error:
                reporter.error(error)
                code = error.exit_code
            except KeyboardInterrupt:
                reporter.interrupted((reporter.doc.get("execution") or {}).get("executionArn"))
                code = exitcodes.INTERRUPTED
            reporter.finish(code)
            ctx.exit(code)

        return wrapper

    return decorate


@click.group(cls=_Cli, name="ml-data-jobs", epilog=EXIT_CODES_HELP,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@common_options
def cli() -> None:
    """Run and follow the cdk-ml-data-jobs workflows: Amazon Personalize data deletion and AWS Clean Rooms ML
    audience export.

    Name the workflow with --stack NAME (the stack's outputs; or set ML_DATA_JOBS_STACK) or with
    --state-machine-arn ARN. Credentials, Region and endpoint come from boto3's usual sources (--profile,
    --region, AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL).

    Commands that start an execution follow it until it ends (a live status line on a terminal). Ctrl-C stops
    following, never the job: resume with `ml-data-jobs status --follow EXECUTION_ARN`.

    Privacy: user IDs are never printed, logged or put in --json output; only counts and sizes.
    """


# --------------------------------------------------------------------------- targets


def _target(ctx: click.Context, aws: Aws, stack: Optional[str], state_machine_arn: Optional[str],
            workflow: str) -> tuple[Target, str]:
    if stack and state_machine_arn:
        if ctx.get_parameter_source("stack") == click.core.ParameterSource.ENVIRONMENT:
            stack = None  # an explicit ARN wins over the environment's default stack
        else:
            raise UsageProblem("give --stack or --state-machine-arn, not both")
    if state_machine_arn:
        if ":stateMachine:" not in state_machine_arn:
            raise UsageProblem(f"--state-machine-arn must be a state machine ARN "
                               f"(arn:aws:states:REGION:ACCOUNT:stateMachine:NAME), not {state_machine_arn!r}")
        aws.prefer_region_of(state_machine_arn)
        target = Target(source="state machine")
        setattr(target, f"{workflow}_machine", state_machine_arn)
        return target, state_machine_arn
    if not stack:
        raise UsageProblem(f"no workflow given: pass --stack NAME (or set {STACK_ENV}) or --state-machine-arn ARN")
    target = aws.stack_target(stack)
    machine = target.deletion_machine if workflow == DATA_DELETION else target.export_machine
    if not machine:
        output = OUTPUT_DELETION if workflow == DATA_DELETION else OUTPUT_EXPORT
        raise ConfigError(f"stack {stack} has no output {output}", hint="give --state-machine-arn instead")
    return target, machine


def _follow(reporter: Reporter, aws: Aws, arn: str, poll_seconds: float) -> int:
    with reporter.following(poll_seconds) as update:
        view = following.follow(aws, arn, poll_seconds, update)
    reporter.execution(view)
    return exitcodes.for_execution(view.status, view.error)


# --------------------------------------------------------------------------- delete-users


@cli.command("delete-users", epilog=EXIT_CODES_HELP)
@click.option("--dataset-group-arn", required=True, metavar="ARN", help="The Personalize dataset group.")
@click.option("--csv", "csv_path", required=True, metavar="FILE",
              help="The user-ID file: header USER_ID, one ID per line, UTF-8 without BOM, at most 100 MB.")
@target_options
@click.option("--bucket", metavar="NAME",
              help="The workflow's bucket (default: the stack's output, or the deployed workflow's).")
@click.option("--prefix", metavar="PREFIX",
              help="The deletion prefix (default: the stack's output, or the deployed workflow's).")
@click.option("--job-name", metavar="NAME", help="The Personalize job name (default: the execution name).")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="A tag for the job (repeatable).")
@click.option("--execution-name", metavar="NAME",
              help="The execution's name (default: delete-users-<yyyymmdd>-<uuid>).")
@click.option("--follow/--no-follow", "follow_it", default=True, show_default=True,
              help="Follow the execution until it ends.")
@poll_option
@common_options
@command("delete-users")
def delete_users(ctx: click.Context, reporter: Reporter, aws: Aws, dataset_group_arn: str, csv_path: str,
                 stack: Optional[str], state_machine_arn: Optional[str], bucket: Optional[str],
                 prefix: Optional[str], job_name: Optional[str], tags: tuple[str, ...],
                 execution_name: Optional[str], follow_it: bool, poll_seconds: float) -> int:
    """Delete users from a Personalize dataset group: check the CSV here, upload it under the workflow's
    deletion prefix, start the data deletion workflow and follow it.

    The file is checked with the workflow's own rules before anything is uploaded: header exactly USER_ID, a
    single column, at least one user ID, UTF-8 without byte-order mark, at most 100 MB. It is uploaded to
    s3://BUCKET/PREFIXcli/<date>/<uuid>.csv. Only counts and sizes are ever shown.
    """
    parsed_tags, problems = payloads.parse_tags(tags)
    problems = payloads.deletion_problems(dataset_group_arn, job_name, execution_name) + problems
    check = csvcheck.check_file(csv_path)
    reporter.csv_checked(check)
    problems += list(check.problems)
    if problems:
        raise BadInput("the request was not started (nothing was uploaded)", problems)

    target, machine = _target(ctx, aws, stack, state_machine_arn, DATA_DELETION)
    bucket = bucket or target.bucket
    prefix = prefix if prefix is not None else target.prefix
    if not bucket or prefix is None:
        found_bucket, found_prefix = aws.deletion_data(machine)
        bucket, prefix = bucket or found_bucket, prefix if prefix is not None else found_prefix
    target.bucket, target.prefix = bucket, prefix
    reporter.target(target, machine, data=True)

    token = payloads.new_token()
    key = payloads.upload_key(prefix, token)
    version = aws.upload(csv_path, bucket, key)
    reporter.uploaded(bucket, key, version)

    name = execution_name or payloads.execution_name("delete-users", token)
    payload = payloads.deletion_input(dataset_group_arn, f"s3://{bucket}/{key}", job_name, parsed_tags)
    try:
        arn = aws.start(machine, name, payload)
    except CliError as error:
        removed = aws.remove_upload(bucket, key)
        error.hint = (error.hint + " " if error.hint else "") + (
            "The uploaded file was removed." if removed else
            f"The uploaded file s3://{bucket}/{key} stays until the bucket's lifecycle rule removes it.")
        raise
    return _started(reporter, aws, arn, name, payload, follow_it, poll_seconds)


def _started(reporter: Reporter, aws: Aws, arn: str, name: str, payload: dict[str, Any], follow_it: bool,
             poll_seconds: float) -> int:
    """Report a started execution, then follow it (or say how to)."""
    reporter.started(arn, name, payload)
    if not follow_it:
        reporter.not_followed(arn)
        return exitcodes.OK
    return _follow(reporter, aws, arn, poll_seconds)


# --------------------------------------------------------------------------- export-audience


@cli.command("export-audience", epilog=EXIT_CODES_HELP)
@click.option("--audience-generation-job-arn", required=True, metavar="ARN",
              help="The Clean Rooms ML audience generation job (ACTIVE).")
@click.option("--size-type", required=True, type=click.Choice(payloads.SIZE_TYPES, case_sensitive=False),
              help="How --size counts.")
@click.option("--size", required=True, type=int, metavar="N",
              help="The segment size: 1-20,000,000 (ABSOLUTE) or 1-100 (PERCENTAGE); one of the model's bins.")
@click.option("--name", metavar="NAME", help="The export's name (default: derived from the execution name).")
@click.option("--description", metavar="TEXT", help="The export's description.")
@target_options
@click.option("--execution-name", metavar="NAME",
              help="The execution's name (default: export-audience-<yyyymmdd>-<uuid>).")
@click.option("--follow/--no-follow", "follow_it", default=True, show_default=True,
              help="Follow the execution until it ends.")
@poll_option
@common_options
@command("export-audience")
def export_audience(ctx: click.Context, reporter: Reporter, aws: Aws, audience_generation_job_arn: str,
                    size_type: str, size: int, name: Optional[str], description: Optional[str],
                    stack: Optional[str], state_machine_arn: Optional[str], execution_name: Optional[str],
                    follow_it: bool, poll_seconds: float) -> int:
    """Export a segment of a Clean Rooms ML lookalike audience: start the audience export workflow and follow
    it until the export is ACTIVE (its output location is shown) or fails.
    """
    size_type = size_type.upper()
    problems = payloads.export_problems(audience_generation_job_arn, size_type, size, name, description,
                                        execution_name)
    if problems:
        raise BadInput("the request was not started", problems)
    target, machine = _target(ctx, aws, stack, state_machine_arn, AUDIENCE_EXPORT)
    reporter.target(target, machine)
    execution = execution_name or payloads.execution_name("export-audience", payloads.new_token())
    payload = payloads.export_input(audience_generation_job_arn, size_type, size, name, description)
    arn = aws.start(machine, execution, payload)
    return _started(reporter, aws, arn, execution, payload, follow_it, poll_seconds)


# --------------------------------------------------------------------------- status


@cli.command("status", epilog=EXIT_CODES_HELP)
@click.argument("execution_arn", metavar="EXECUTION_ARN")
@click.option("--follow", "follow_it", is_flag=True, help="Follow the execution until it ends.")
@poll_option
@common_options
@command("status")
def status(ctx: click.Context, reporter: Reporter, aws: Aws, execution_arn: str, follow_it: bool,
           poll_seconds: float) -> int:
    """Show an execution: its status and where it is, or its output, or its error and cause when it failed.

    The exit code reflects the execution: 0 when it SUCCEEDED or is still running, 2 when it failed with
    InvalidInput, 3 when it failed otherwise, timed out or was aborted.
    """
    if state_machine_of(execution_arn) is None:
        raise UsageProblem("EXECUTION_ARN must be an execution ARN "
                           "(arn:aws:states:REGION:ACCOUNT:execution:STATE_MACHINE:NAME)")
    aws.prefer_region_of(execution_arn)
    if follow_it:
        reporter.doc["execution"] = {"executionArn": execution_arn}
        return _follow(reporter, aws, execution_arn, poll_seconds)
    view = aws.execution(execution_arn, progress=True)
    reporter.execution(view)
    return exitcodes.for_execution(view.status, view.error)


# --------------------------------------------------------------------------- list


@cli.command("list", epilog=EXIT_CODES_HELP)
@target_options
@click.option("--workflow", type=click.Choice(list(WORKFLOWS)),
              help="Only this workflow's executions (default: both of the stack's).")
@click.option("--max", "limit", type=click.IntRange(1, 1000), default=20, show_default=True, metavar="N",
              help="How many executions to show, newest first.")
@common_options
@command("list")
def list_executions(ctx: click.Context, reporter: Reporter, aws: Aws, stack: Optional[str],
                    state_machine_arn: Optional[str], workflow: Optional[str], limit: int) -> int:
    """List recent executions, newest first."""
    if stack and state_machine_arn and ctx.get_parameter_source("stack") == click.core.ParameterSource.ENVIRONMENT:
        stack = None
    if stack and state_machine_arn:
        raise UsageProblem("give --stack or --state-machine-arn, not both")
    if state_machine_arn:
        aws.prefer_region_of(state_machine_arn)
        machines = [(workflow, state_machine_arn)]
    elif stack:
        machines = aws.stack_target(stack).machines(workflow)
        if not machines:
            raise ConfigError(f"stack {stack} has no {workflow or 'workflow'} state machine output")
    else:
        raise UsageProblem(f"no workflow given: pass --stack NAME (or set {STACK_ENV}) or --state-machine-arn ARN")
    now = datetime.now(timezone.utc)
    found = []
    for kind, machine in machines:
        for item in aws.executions(machine, limit):
            start, stop = item.get("startDate"), item.get("stopDate")
            found.append((start or datetime.min.replace(tzinfo=timezone.utc), {
                "executionArn": item["executionArn"], "name": item.get("name"), "stateMachineArn": machine,
                "workflow": kind, "status": item["status"],
                "startDate": iso(start), "stopDate": iso(stop),
                "seconds": round(((stop or now) - start).total_seconds(), 3) if start else None,
            }))
    found.sort(key=lambda pair: pair[0], reverse=True)
    reporter.executions([row for _, row in found[:limit]])
    return exitcodes.OK


# --------------------------------------------------------------------------- requests (the deletion request queue)
#
# ``submit`` checks a CSV here and puts it under the queue's request prefix; ``status`` shows one request's record;
# ``list`` and ``report`` read the ledger; ``run-batch`` starts (and follows) a batch run. The queue is named by
# ``--stack`` (the sample app's outputs) or by the options. Only request IDs, statuses, counts and ARNs are shown:
# the queue holds no user ID outside the request files, and the CLI never reads them.

_IDS = load_lambda_module("jobkit/request_ids.py")

OUTPUT_REQUEST_PREFIX = "RequestPrefix"
OUTPUT_RECORD_PREFIX = "RequestRecordPrefix"
OUTPUT_LEDGER = "RequestLedgerTableName"
OUTPUT_BATCH = "RequestBatchStateMachineArn"


@dataclass
class RequestQueue:
    """Where the queue is: its bucket and prefixes, its ledger, its batch state machine (each may be unknown)."""

    source: str
    bucket: Optional[str] = None
    request_prefix: Optional[str] = None
    record_prefix: Optional[str] = None
    table: Optional[str] = None
    batch_machine: Optional[str] = None

    _NAMES = {"bucket": ("bucket", "--bucket"), "request_prefix": ("request prefix", "--request-prefix"),
              "table": ("ledger table", "--table"), "batch_machine": ("batch state machine",
                                                                    "--batch-state-machine-arn")}

    def need(self, *fields: str) -> None:
        missing = [f for f in fields if not getattr(self, f)]
        if missing:
            what = ", ".join(self._NAMES[f][0] for f in missing)
            options = ", ".join(self._NAMES[f][1] for f in missing)
            raise ConfigError(f"the queue's {what} is not known ({self.source})",
                              hint=f"give {options}, or --stack with the queue's outputs")


def queue_options(f: Any) -> Any:
    for option in reversed([
        click.option("--stack", envvar=STACK_ENV, show_envvar=True, metavar="NAME",
                     help="A deployed stack whose outputs name the queue."),
        click.option("--bucket", metavar="NAME", help="The workflow's bucket (default: the stack's output)."),
        click.option("--request-prefix", metavar="PREFIX", help="The request prefix (default: the stack's output)."),
        click.option("--record-prefix", metavar="PREFIX", help="Where the records are (default: the stack's "
                                                                "output, else audit/deletion-requests/)."),
        click.option("--table", metavar="NAME", help="The ledger table (default: the stack's output)."),
        click.option("--batch-state-machine-arn", metavar="ARN",
                     help="The batch state machine (default: the stack's output)."),
    ]):
        f = option(f)
    return f


def _queue(aws: Aws, stack: Optional[str], bucket: Optional[str], request_prefix: Optional[str],
           record_prefix: Optional[str], table: Optional[str], batch_state_machine_arn: Optional[str]) -> RequestQueue:
    found = RequestQueue(source="options")
    if stack:
        outputs = aws.stack_target(stack).outputs
        found = RequestQueue(source=f"stack {stack}", bucket=outputs.get(OUTPUT_BUCKET),
                      request_prefix=outputs.get(OUTPUT_REQUEST_PREFIX), record_prefix=outputs.get(OUTPUT_RECORD_PREFIX),
                      table=outputs.get(OUTPUT_LEDGER), batch_machine=outputs.get(OUTPUT_BATCH))
    found.bucket = bucket or found.bucket
    found.request_prefix = request_prefix or found.request_prefix
    found.record_prefix = record_prefix or found.record_prefix or DEFAULT_AUDIT_PREFIX + REQUEST_RECORD_FOLDER
    found.table = table or found.table
    found.batch_machine = batch_state_machine_arn or found.batch_machine
    if found.batch_machine:
        aws.prefer_region_of(found.batch_machine)
    return found


def _since(value: Optional[str]) -> Optional[str]:
    """``--since`` (a date or an ISO timestamp) as the ledger's sortable ``receivedAt`` text."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageProblem(f"--since must be a date (2026-12-01) or a timestamp (2026-12-01T09:00:00Z), "
                           f"not {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _requests(aws: Aws, queue: RequestQueue, status: Optional[str], since: Optional[str]) -> list[dict[str, Any]]:
    """The request items of the ledger (a Scan: an operator's occasional read), oldest first."""
    from boto3.dynamodb.types import TypeDeserializer

    queue.need("table")
    conditions, values, names = ["(sk = :request OR begins_with(sk, :target))"], {
        ":request": {"S": LEDGER_REQUEST_ITEM}, ":target": {"S": LEDGER_TARGET_PREFIX}}, {}
    if status:
        conditions.append("(#s = :status OR begins_with(sk, :target))")
        values[":status"] = {"S": status}
        names["#s"] = "status"
    if since:
        conditions.append("(receivedAt >= :since OR begins_with(sk, :target))")
        values[":since"] = {"S": since}
    kwargs: dict[str, Any] = {"TableName": queue.table, "FilterExpression": " AND ".join(conditions),
                              "ExpressionAttributeValues": values}
    if names:
        kwargs["ExpressionAttributeNames"] = names
    deserialize = TypeDeserializer().deserialize
    found = []
    with translate_errors(f"read the ledger {queue.table}"):
        for page in aws.client("dynamodb").get_paginator("scan").paginate(**kwargs):
            for item in page.get("Items", []):
                found.append({k: deserialize(v) for k, v in item.items()})
    waiting: dict[str, list[str]] = {}
    for item in found:
        if item["sk"] != LEDGER_REQUEST_ITEM:
            note = _target_note(item)
            if note:
                waiting.setdefault(item["pk"], []).append(note)
    rows = [{
        "requestId": item["requestId"], "status": item["status"], "receivedAt": item["receivedAt"],
        "completedAt": item.get("completedAt"), "userIds": int(item["userIds"]) if "userIds" in item else None,
        "reason": item.get("reason"), "key": item.get("key"), "targetNotes": sorted(waiting.get(item["pk"], [])),
    } for item in found if item["sk"] == LEDGER_REQUEST_ITEM]
    return sorted(rows, key=lambda r: (r["receivedAt"], r["requestId"]))


def _target_note(item: dict[str, Any]) -> Optional[str]:
    """Why a target is not done: deferred (the quota, or a busy dataset group: what it ran), or its deletion
    COMPLETED but its follow-through FAILED."""
    group = str(item.get("datasetGroupArn", ""))
    try:
        facts = json.loads(item.get("modelFacts") or "{}")
    except ValueError:
        facts = {}
    follow = facts.get("followThrough") if isinstance(facts, dict) else None
    if isinstance(follow, dict) and follow.get("status") == REQUEST_FAILED:
        return (f"{group}: deletion {facts.get('deletionStatus')}, follow-through FAILED at {follow.get('stage')}: "
                f"{follow.get('reason')}")
    if item.get("status") == REQUEST_OPEN_STATUSES[0] and item.get("deferredReason"):
        return f"{group}: {item['deferredReason']}"
    return None


@cli.group("requests", epilog=EXIT_CODES_HELP)
def requests_group() -> None:
    """The deletion request queue: submit a request, read its record, list and report requests, run a batch.

    Name the queue with --stack NAME (its outputs) or with --bucket/--request-prefix/--table/
    --batch-state-machine-arn. Only request IDs, statuses, counts and ARNs are shown, never a user ID.
    """


@requests_group.command("submit", epilog=EXIT_CODES_HELP)
@click.option("--csv", "csv_path", required=True, metavar="FILE",
              help="The user-ID file: header USER_ID, one ID per line, UTF-8 without BOM, at most 100 MB.")
@click.option("--request-id", metavar="ID", help="The request's ID (1-128 of A-Z a-z 0-9 . _ : -); default: "
                                                  "derived from the uploaded key.")
@queue_options
@common_options
@command("requests submit")
def submit_request(ctx: click.Context, reporter: Reporter, aws: Aws, csv_path: str, request_id: Optional[str],
           **where: Any) -> int:
    """Check a user-ID file here and submit it as a deletion request (s3://BUCKET/REQUEST_PREFIXcli/<date>/<uuid>.csv).

    The queue registers it (the file is checked again there) and carries it out in its dataset groups at the
    next batch run; follow it with `requests status ID`.
    """
    problems = [p for p in [_IDS.request_id_problem(request_id) if request_id is not None else None] if p]
    check = csvcheck.check_file(csv_path)
    reporter.csv_checked(check)
    problems += list(check.problems)
    if problems:
        raise BadInput("the request was not submitted (nothing was uploaded)", problems)
    queue = _queue(aws, **where)
    queue.need("bucket", "request_prefix")
    token = payloads.new_token()
    key = payloads.upload_key(queue.request_prefix, token)
    derived = _IDS.request_id_from_key(queue.request_prefix, key)
    extra = {"ContentType": "text/csv"}
    if request_id:
        extra["Metadata"] = {REQUEST_ID_METADATA: request_id}
    with translate_errors(f"upload the file to s3://{queue.bucket}/{key}"):
        aws.client("s3").upload_file(str(csv_path), queue.bucket, key, ExtraArgs=extra)
    reporter.uploaded(queue.bucket, key, None)
    reporter.doc["request"] = {"requestId": request_id or derived, "key": key}
    reporter.line(("Request   ", "bold"), request_id or derived)
    reporter.line(("Next      ", "bold"), "it is registered at once and carried out at the next batch run; "
                  f"ml-data-jobs requests status {request_id or derived}")
    return exitcodes.OK


@requests_group.command("status", epilog=EXIT_CODES_HELP)
@click.argument("request_id", metavar="ID")
@queue_options
@common_options
@command("requests status")
def request_status(ctx: click.Context, reporter: Reporter, aws: Aws, request_id: str, **where: Any) -> int:
    """Show a request's record: its status, and per dataset group its batch, job, attempts and reasons.

    Exit code 0 while it is QUEUED or IN_PROGRESS and when it is COMPLETED, 2 when REJECTED, 3 when FAILED.
    """
    queue = _queue(aws, **where)
    queue.need("bucket")
    key = f"{queue.record_prefix}{request_id}.json"
    with translate_errors(f"read the record s3://{queue.bucket}/{key}"):
        try:
            body = aws.client("s3").get_object(Bucket=queue.bucket, Key=key)["Body"].read()
        except Exception as error:  # noqa: BLE001 - a missing record is a usage error, others are translated
            if getattr(error, "response", {}).get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ConfigError(f"no record of request {request_id} in s3://{queue.bucket}/{queue.record_prefix}",
                                  hint="check the ID (requests list shows them)") from None
            raise
    record = json.loads(body)
    reporter.doc["record"] = record
    if not reporter.as_json:
        reporter.line(("Request   ", "bold"), record["requestId"], "  ", (record["status"], _style(record["status"])))
        for field in ("receivedAt", "completedAt", "userIds", "reason"):
            if record.get(field) is not None:
                reporter.line((f"  {field:<12}", "dim"), str(record[field]))
        obj = record.get("object") or {}
        reporter.line(("  object      ", "dim"), f"s3://{obj.get('bucket')}/{obj.get('key')}")
        for target in record.get("targets", []):
            reporter.line(("  target      ", "dim"), target["datasetGroupArn"], "  ",
                          (target["status"], _style(target["status"])), f"  attempts {target['attempts']}")
            for field in ("batchId", "dataDeletionJobArn", "completedAt", "deferredReason", "lastFailureReason"):
                if target.get(field):
                    reporter.line((f"    {field:<20}", "dim"), str(target[field]))
            for field, value in _model_lines(target):
                reporter.line((f"    {field:<20}", "dim"), value)
    return {REQUEST_REJECTED: exitcodes.BAD_INPUT, REQUEST_FAILED: exitcodes.JOB_FAILED}.get(
        record["status"], exitcodes.OK)


def _model_lines(target: dict[str, Any]) -> list[tuple[str, str]]:
    """What a target's record says about the models: the deletion's own status, its jobs, the quiet period (what
    it waited for), what a busy group ran, the follow-through, the trainings and campaigns (ARNs only)."""
    lines: list[tuple[str, str]] = []
    if target.get("deletionStatus"):
        lines.append(("deletionStatus", str(target["deletionStatus"])))
    jobs = target.get("dataDeletionJobArns") or []
    if len(jobs) > 1 or (jobs and jobs[0] != target.get("dataDeletionJobArn")):
        lines += [("dataDeletionJobArns", ", ".join(jobs))]
    quiet = target.get("quietPeriod") or {}
    if quiet:
        waited = "; ".join(f"{w.get('type')} {w.get('arn')} {w.get('status')}" for w in quiet.get("waitedFor") or [])
        lines.append(("quietPeriod", f"waited {quiet.get('waitedSeconds')} s in {quiet.get('checks')} checks"
                      + (f" for {waited}" if waited else "")))
    for busy in target.get("busyWith") or []:
        lines.append(("busyWith", f"{busy.get('type')} {busy.get('arn')} {busy.get('status')}"))
    follow = target.get("followThrough") or {}
    if follow:
        detail = (f" at {follow.get('stage')}: {follow.get('reason')}" if follow.get("status") == REQUEST_FAILED
                  else "")
        lines.append(("followThrough", f"{follow.get('status')}{detail}"))
    for field in ("solutionVersionArns", "campaignArns"):
        if target.get(field):
            lines.append((field, ", ".join(target[field])))
    if target.get("modelsRetrainedAt"):
        lines.append(("modelsRetrainedAt", str(target["modelsRetrainedAt"])))
    return lines


@requests_group.command("list", epilog=EXIT_CODES_HELP)
@click.option("--status", "status_", type=click.Choice(list(REQUEST_STATUSES)), help="Only requests in this status.")
@click.option("--since", metavar="DATE", help="Only requests received at or after this date or time (UTC).")
@queue_options
@common_options
@command("requests list")
def list_requests(ctx: click.Context, reporter: Reporter, aws: Aws, status_: Optional[str], since: Optional[str],
                  **where: Any) -> int:
    """List requests from the ledger, oldest first."""
    rows = _requests(aws, _queue(aws, **where), status_, _since(since))
    reporter.doc["requests"] = rows
    _table(reporter, rows)
    return exitcodes.OK


@requests_group.command("report", epilog=EXIT_CODES_HELP)
@click.option("--since", required=True, metavar="DATE", help="Requests received at or after this date or time.")
@click.option("--csv", "as_csv", is_flag=True, help="Write the requests not completed as CSV (for an auditor).")
@queue_options
@common_options
@command("requests report")
def report_requests(ctx: click.Context, reporter: Reporter, aws: Aws, since: str, as_csv: bool, **where: Any) -> int:
    """Counts by status, the oldest open request, and every request not completed, since a date."""
    rows = _requests(aws, _queue(aws, **where), None, _since(since))
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in REQUEST_STATUSES}
    open_rows = [r for r in rows if r["status"] in REQUEST_OPEN_STATUSES]
    now = datetime.now(timezone.utc)
    oldest = None
    if open_rows:
        first = open_rows[0]
        received = datetime.fromisoformat(first["receivedAt"].replace("Z", "+00:00"))
        oldest = {"requestId": first["requestId"], "receivedAt": first["receivedAt"],
                  "ageDays": round((now - received).total_seconds() / 86400, 1)}
    not_completed = [r for r in rows if r["status"] != REQUEST_COMPLETED]
    reporter.doc["report"] = {"since": _since(since), "total": len(rows), "counts": counts, "oldestOpen": oldest,
                              "notCompleted": not_completed}
    if as_csv and not reporter.as_json:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["requestId", "status", "receivedAt", "completedAt", "userIds",
                                                    "reason", "key", "targetNotes"], lineterminator="\n")
        writer.writeheader()
        writer.writerows([{**r, "targetNotes": "; ".join(r["targetNotes"])} for r in not_completed])
        click.echo(buffer.getvalue(), nl=False)
        return exitcodes.OK
    reporter.line(("Requests since ", "bold"), f"{_since(since)}: {len(rows)}")
    for state in REQUEST_STATUSES:
        reporter.line((f"  {state:<12}", _style(state)), str(counts[state]))
    if oldest:
        reporter.line(("Oldest open  ", "bold"), f"{oldest['requestId']} (received {oldest['receivedAt']}, "
                      f"{oldest['ageDays']} days ago)")
    reporter.line(("Not completed", "bold"), f": {len(not_completed)}")
    _table(reporter, not_completed, empty="Every request is completed.")
    return exitcodes.OK


@requests_group.command("run-batch", epilog=EXIT_CODES_HELP)
@click.option("--follow/--no-follow", "follow_it", default=False, show_default=True,
              help="Follow the batch run until it ends.")
@poll_option
@queue_options
@common_options
@command("requests run-batch")
def run_batch(ctx: click.Context, reporter: Reporter, aws: Aws, follow_it: bool, poll_seconds: float,
              **where: Any) -> int:
    """Start a batch run now (input {}), as the schedule does; with --follow, until it ends."""
    queue = _queue(aws, **where)
    queue.need("batch_machine")
    name = payloads.execution_name("run-batch", payloads.new_token())
    arn = aws.start(queue.batch_machine, name, {})
    reporter.started(arn, name, {})
    if not follow_it:
        reporter.not_followed(arn)
        return exitcodes.OK
    return _follow(reporter, aws, arn, poll_seconds)


def _style(status: str) -> str:
    return {REQUEST_COMPLETED: "bold green", REQUEST_FAILED: "bold red", REQUEST_REJECTED: "bold red",
            REQUEST_OPEN_STATUSES[1]: "bold cyan", REQUEST_OPEN_STATUSES[0]: "bold"}.get(status, "")


def _table(reporter: Reporter, rows: list[dict[str, Any]], empty: str = "No requests.") -> None:
    if reporter.as_json:
        return
    if not rows:
        reporter.line(empty)
        return
    cells = [(r["receivedAt"], r["status"], "-" if r["userIds"] is None else str(r["userIds"]), r["requestId"])
             for r in rows]
    headers = ("RECEIVED", "STATUS", "USER IDS", "REQUEST ID")
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    reporter.line(("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(), "bold"))
    for row, cell in zip(rows, cells):
        reporter.line("  ".join(v.ljust(w) for v, w in zip(cell, widths)).rstrip())
        if row.get("reason") and row["status"] in (REQUEST_REJECTED, REQUEST_FAILED):
            reporter.line(("  " + row["reason"], "dim"))
        for note in row.get("targetNotes") or []:
            reporter.line(("  " + note, "dim"))

"""The click commands of ``ml-data-jobs``."""

from __future__ import annotations

import functools
import json
import sys
import textwrap
from datetime import datetime, timezone
from typing import Any, Callable, Optional

import click

from . import csvcheck, exitcodes, payloads
from . import follow as following
from .._contract import AUDIENCE_EXPORT, DATA_DELETION, WORKFLOWS
from .aws import OUTPUT_BUCKET, OUTPUT_DELETION, OUTPUT_EXPORT, OUTPUT_PREFIX, Aws, Target, iso, state_machine_of
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


"""Everything the CLI asks of AWS: targets, upload, executions.

Clients come from one ``boto3.Session`` created on first use, at command time
(never at import), so ``--profile``, ``--region``, ``AWS_PROFILE``,
``AWS_REGION`` and ``AWS_ENDPOINT_URL`` (and the per-service
``AWS_ENDPOINT_URL_<SERVICE>``) apply as boto3 applies them. botocore errors
become :class:`~.exitcodes.CliError` subclasses with the right exit code.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterator, Optional

from .._contract import AUDIENCE_EXPORT, DATA_DELETION, STATE_VALIDATE, Env
from . import exitcodes, payloads
from .exitcodes import AwsError, ConfigError

#: CloudFormation outputs of the sample app (app.py).
OUTPUT_BUCKET = "DataBucketName"
OUTPUT_PREFIX = "DeletionPrefix"
OUTPUT_DELETION = "DataDeletionStateMachineArn"
OUTPUT_EXPORT = "AudienceExportStateMachineArn"

#: Error codes meaning "what you named does not exist, is not valid or is taken": a usage/configuration error.
_CONFIG_CODES = {
    "ExecutionDoesNotExist", "StateMachineDoesNotExist", "InvalidArn", "ResourceNotFoundException", "NoSuchBucket",
    "ValidationError", "InvalidName", "InvalidExecutionInput", "InvalidParameterValueException", "404", "NotFound",
    "ExecutionAlreadyExists", "StateMachineDeleting",
}
#: How many recent history events are read to tell where a running execution is.
_RECENT_EVENTS = 40


@dataclass
class ExecutionView:
    """What the CLI knows about one execution (never any file content)."""

    arn: str
    name: str
    state_machine_arn: str
    status: str
    start: Optional[datetime]
    stop: Optional[datetime]
    input: Any
    output: Any = None
    error: Optional[str] = None
    cause: Optional[str] = None
    current_state: Optional[str] = None
    job_status: Optional[str] = None

    @property
    def workflow(self) -> Optional[str]:
        return payloads.workflow_of(self.input)

    @property
    def finished(self) -> bool:
        return self.status in exitcodes.FINAL

    @property
    def cause_details(self) -> Any:
        """The cause parsed as JSON when it is JSON (job failures), else None."""
        if not self.cause:
            return None
        try:
            parsed = json.loads(self.cause)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None

    def elapsed(self, now: Optional[datetime] = None) -> Optional[float]:
        if self.start is None:
            return None
        end = self.stop or now or datetime.now(timezone.utc)
        return max(0.0, (end - self.start).total_seconds())

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "executionArn": self.arn,
            "name": self.name,
            "stateMachineArn": self.state_machine_arn,
            "workflow": self.workflow,
            "status": self.status,
            "startDate": iso(self.start),
            "stopDate": iso(self.stop),
            "input": self.input,
        }
        if self.finished:
            out.update(output=self.output, error=self.error, cause=self.cause, causeDetails=self.cause_details)
        else:
            out.update(currentState=self.current_state, jobStatus=self.job_status)
        return out


@dataclass
class Target:
    """Where a command acts: the state machines and, for deletions, the bucket and prefix."""

    source: str  # "stack NAME" | "state machine"
    deletion_machine: Optional[str] = None
    export_machine: Optional[str] = None
    bucket: Optional[str] = None
    prefix: Optional[str] = None
    outputs: dict[str, str] = field(default_factory=dict)

    def machines(self, workflow: Optional[str] = None) -> list[tuple[str, str]]:
        """``[(workflow, state machine ARN)]``, restricted to ``workflow`` when given."""
        found = [(DATA_DELETION, self.deletion_machine), (AUDIENCE_EXPORT, self.export_machine)]
        return [(w, arn) for w, arn in found if arn and (workflow is None or w == workflow)]


class Aws:
    """The CLI's AWS access: one session, clients created on first use."""

    def __init__(self, region: Optional[str] = None, profile: Optional[str] = None) -> None:
        self.region, self.profile = region, profile
        self._session: Any = None
        self._clients: dict[str, Any] = {}

    def prefer_region_of(self, arn: str) -> None:
        """Without --region, act in the Region of the ARN the operator named (before any client exists)."""
        parts = arn.split(":")
        if self.region is None and self._session is None and len(parts) > 3 and parts[3]:
            self.region = parts[3]

    # ---- session and clients ---------------------------------------------------------
    def client(self, service: str) -> Any:
        if service not in self._clients:
            import boto3
            from botocore.config import Config

            with translate_errors(f"create the {service} client"):
                if self._session is None:
                    self._session = boto3.Session(profile_name=self.profile, region_name=self.region)
                self._clients[service] = self._session.client(
                    service, config=Config(user_agent_extra="ml-data-jobs-cli"))
        return self._clients[service]

    # ---- targets ----------------------------------------------------------------------
    def stack_target(self, stack: str) -> Target:
        with translate_errors(f"read the outputs of stack {stack}"):
            stacks = self.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
        if not stacks:
            raise ConfigError(f"stack {stack} not found")
        outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stacks[0].get("Outputs", [])}
        return Target(
            source=f"stack {stack}", deletion_machine=outputs.get(OUTPUT_DELETION),
            export_machine=outputs.get(OUTPUT_EXPORT), bucket=outputs.get(OUTPUT_BUCKET),
            prefix=outputs.get(OUTPUT_PREFIX), outputs=outputs,
        )

    def deletion_data(self, state_machine_arn: str) -> tuple[str, str]:
        """The bucket and prefix of a deployed deletion workflow, from its Validate function's environment.

        describe_state_machine → definition → the Validate task's Lambda ARN →
        get_function_configuration → ``DATA_BUCKET`` and ``DELETION_PREFIX``.
        """
        with translate_errors(f"describe state machine {state_machine_arn}"):
            described = self.client("stepfunctions").describe_state_machine(stateMachineArn=state_machine_arn)
        function = validate_function(json.loads(described["definition"]))
        if function is None:
            raise ConfigError(
                f"cannot find the Validate step's function in {state_machine_arn}",
                hint="is it a data deletion workflow? Give --bucket and --prefix, or use --stack")
        with translate_errors(f"read the configuration of function {function}"):
            config = self.client("lambda").get_function_configuration(FunctionName=function)
        env = (config.get("Environment") or {}).get("Variables") or {}
        bucket, prefix = env.get(Env.DATA_BUCKET), env.get(Env.DELETION_PREFIX)
        if not bucket or prefix is None:
            raise ConfigError(
                f"{state_machine_arn} does not look like a data deletion workflow "
                f"(its Validate function has no {Env.DATA_BUCKET} / {Env.DELETION_PREFIX})",
                hint="give --bucket and --prefix, or use --stack")
        return bucket, prefix

    # ---- data -------------------------------------------------------------------------
    def upload(self, path: str, bucket: str, key: str) -> Optional[str]:
        """Upload ``path`` to ``s3://bucket/key``; returns the object's version ID when the bucket has one."""
        s3 = self.client("s3")
        with translate_errors(f"upload the file to s3://{bucket}/{key}"):
            s3.upload_file(str(path), bucket, key, ExtraArgs={"ContentType": "text/csv"})
        with contextlib.suppress(Exception):  # the version is informative only
            version = s3.head_object(Bucket=bucket, Key=key).get("VersionId")
            return version if version and version != "null" else None
        return None

    def remove_upload(self, bucket: str, key: str) -> bool:
        """Best effort: delete a file this command uploaded but could not use."""
        try:
            self.client("s3").delete_object(Bucket=bucket, Key=key)
            return True
        except Exception:  # noqa: BLE001 - the lifecycle rule removes it anyway
            return False

    # ---- executions -------------------------------------------------------------------
    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> str:
        with translate_errors(f"start an execution of {state_machine_arn}"):
            started = self.client("stepfunctions").start_execution(
                stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload))
        return started["executionArn"]

    def execution(self, execution_arn: str, progress: bool = True) -> ExecutionView:
        """The execution's state; with ``progress``, where a running one is (step, job status)."""
        sfn = self.client("stepfunctions")
        with translate_errors(f"describe execution {execution_arn}"):
            d = sfn.describe_execution(executionArn=execution_arn)
        view = ExecutionView(
            arn=d["executionArn"], name=d.get("name", ""), state_machine_arn=d.get("stateMachineArn", ""),
            status=d["status"], start=d.get("startDate"), stop=d.get("stopDate"),
            input=_json(d.get("input")), output=_json(d.get("output")), error=d.get("error"), cause=d.get("cause"),
        )
        if progress and not view.finished:
            with translate_errors(f"read the history of {execution_arn}"):
                events = sfn.get_execution_history(
                    executionArn=execution_arn, reverseOrder=True, maxResults=_RECENT_EVENTS)["events"]
            view.current_state, view.job_status = progress_of(events)
        return view

    def executions(self, state_machine_arn: str, limit: int) -> list[dict[str, Any]]:
        """The most recent executions of a state machine (newest first), at most ``limit``."""
        found: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"stateMachineArn": state_machine_arn, "maxResults": min(limit, 1000)}
        with translate_errors(f"list the executions of {state_machine_arn}"):
            while len(found) < limit:
                page = self.client("stepfunctions").list_executions(**kwargs)
                found += page.get("executions", [])
                if not page.get("nextToken"):
                    break
                kwargs["nextToken"] = page["nextToken"]
        found.sort(key=lambda e: e.get("startDate") or datetime.min.replace(tzinfo=timezone.utc), reverse=True)
        return found[:limit]


def validate_function(definition: dict[str, Any]) -> Optional[str]:
    """The Lambda function the definition's Validate step (or first step) invokes."""
    states = definition.get("States", {})
    for name in (STATE_VALIDATE, definition.get("StartAt")):
        state = states.get(name) if name else None
        if not isinstance(state, dict) or state.get("Type") != "Task":
            continue
        resource = str(state.get("Resource", ""))
        if resource.startswith("arn:") and ":lambda:" in resource and ":function:" in resource:
            return resource
        if resource.startswith("arn:") and ":states:::lambda:invoke" in resource:
            function = (state.get("Parameters") or state.get("Arguments") or {}).get("FunctionName")
            if isinstance(function, str):
                return function
    return None


def progress_of(events: list[dict[str, Any]]) -> tuple[Optional[str], Optional[str]]:
    """(the step entered last, the job status last reported by a step) from recent history events."""
    state = job = None
    for event in sorted(events, key=lambda e: e.get("id", 0), reverse=True):
        if state is None and "stateEnteredEventDetails" in event:
            state = event["stateEnteredEventDetails"].get("name")
        if job is None:
            details = event.get("lambdaFunctionSucceededEventDetails") or event.get("taskSucceededEventDetails")
            output = _json(details.get("output")) if details else None
            if isinstance(output, dict) and "phase" in output and isinstance(output.get("status"), str):
                job = output["status"]
        if state and job:
            break
    return state, job


def state_machine_of(execution_arn: str) -> Optional[str]:
    """``arn:...:execution:MACHINE:NAME`` → ``arn:...:stateMachine:MACHINE``."""
    parts = execution_arn.split(":")
    if len(parts) >= 8 and parts[5] == "execution":
        return ":".join(parts[:5] + ["stateMachine", parts[6]])
    return None


@contextlib.contextmanager
def translate_errors(doing: str) -> Iterator[None]:
    """Turn botocore's exceptions into the CLI's (configuration: exit 4; other AWS failures: exit 5)."""
    from botocore.exceptions import (BotoCoreError, ClientError, NoCredentialsError, NoRegionError,
                                     PartialCredentialsError, ProfileNotFound)

    try:
        yield
    except ClientError as error:
        info = error.response.get("Error", {})
        code = str(info.get("Code", ""))
        message = info.get("Message") or str(error)
        text = f"could not {doing}: {code}: {message}" if code else f"could not {doing}: {message}"
        if code in _CONFIG_CODES:
            raise ConfigError(text) from None
        raise AwsError(text) from None
    except (NoCredentialsError, PartialCredentialsError) as error:
        raise ConfigError(f"could not {doing}: {error}", hint="configure AWS credentials or pass --profile") from None
    except NoRegionError as error:
        raise ConfigError(f"could not {doing}: {error}", hint="pass --region or set AWS_REGION") from None
    except ProfileNotFound as error:
        raise ConfigError(f"could not {doing}: {error}") from None
    except BotoCoreError as error:
        raise AwsError(f"could not {doing}: {error}") from None
    except Exception as error:  # boto3's transfer wraps S3 errors in its own
        from boto3.exceptions import S3UploadFailedError

        if isinstance(error, S3UploadFailedError):
            raise AwsError(f"could not {doing}: {error}") from None
        raise


def _json(text: Optional[str]) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def iso(moment: Optional[datetime]) -> Optional[str]:
    """A timestamp as ISO 8601 in UTC with a ``Z`` (how every command prints one)."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")

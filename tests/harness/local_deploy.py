"""``make local``: deploy the sample app for real, with the pinned CDK CLI, into a local AWS
emulator, run both workflows end to end through the deployed state machines, and tear down.

    python -m tests.harness.local_deploy run    # make local: start, deploy, run both, summary, destroy, stop
    python -m tests.harness.local_deploy up     # make local-up: start, deploy, print endpoint and outputs
    python -m tests.harness.local_deploy down   # make local-down: stop what `up` started

The emulator is ``tests/harness/server.py`` (moto's server on 127.0.0.1, a free port), started as
a child process. The CLI (``node_modules/.bin/cdk``) reaches it through ``AWS_ENDPOINT_URL``
with dummy credentials and empty AWS config files: no real credentials are read and nothing
leaves loopback. Local deploys are create-only (moto cannot update a stack through change sets),
so every run deploys a fresh stack with ``-c destroyOnRemoval=true`` and destroys it.

State lives in ``.local/`` (git-ignored): ``.local/run/`` for ``run`` (logs are kept there),
``.local/`` itself for ``up``/``down`` (``server.json`` holds the pid and port).
The deploy tier (``tests/deploy``) uses the same pieces.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from .server import (ACCOUNT, CAMPAIGN_NAME, FORBIDDEN_VARIABLES, HOST, NEWS_GROUP_NAME, REGION, SHOP_GROUP_NAME,
                     SOLUTION_NAME, STATE_FILE, isolated_environment)

ROOT = Path(__file__).resolve().parents[2]
CDK = ROOT / "node_modules" / ".bin" / "cdk"
VENV_BIN = ROOT / ".venv" / "bin"
STATE_ROOT = ROOT / ".local"
STACK_NAME = "CdkMlDataJobs"
DATASET_GROUP = f"arn:aws:personalize:{REGION}:{ACCOUNT}:dataset-group/{SHOP_GROUP_NAME}"
#: The request queue's second dataset group (no models to retrain).
NEWS_DATASET_GROUP = f"arn:aws:personalize:{REGION}:{ACCOUNT}:dataset-group/{NEWS_GROUP_NAME}"
SOLUTION = f"arn:aws:personalize:{REGION}:{ACCOUNT}:solution/{SOLUTION_NAME}"
CAMPAIGN = f"arn:aws:personalize:{REGION}:{ACCOUNT}:campaign/{CAMPAIGN_NAME}"
#: The sample app's context for a local deployment: the queue across both dataset groups, the quiet period, and
#: the retraining of the shop group's solution (its campaign updated).
LOCAL_CONTEXT = {
    "destroyOnRemoval": "true",
    "requestQueueDatasetGroupArns": f"{DATASET_GROUP},{NEWS_DATASET_GROUP}",
    "quietPeriod": "true",
    "retrainSolutionArns": f"{DATASET_GROUP}={SOLUTION}",
}
#: The queue's requests submitted by ``make local``: request ID -> user-ID file body (the last one is invalid).
LOCAL_REQUESTS = {
    "LOCAL-REQ-0001": ["local-user-0101", "local-user-0102"],
    "LOCAL-REQ-0002": ["local-user-0201"],
    "LOCAL-REQ-0003": ["local-user-0301", "local-user-0302", "local-user-0303"],
}
LOCAL_INVALID_REQUEST = "LOCAL-REQ-BAD"
#: Made-up user IDs for the sample deletion file.
SAMPLE_USER_IDS = [f"local-user-{n:04d}" for n in range(1, 8)]
OUTPUT_KEYS = ("DataBucketName", "DeletionPrefix", "DataAccessRoleArn", "DataDeletionStateMachineArn",
               "AudienceExportStateMachineArn", "RequestPrefix", "RequestRecordPrefix", "RequestLedgerTableName",
               "RequestBatchStateMachineArn")

Printer = Callable[[str], None]


class LocalRunError(RuntimeError):
    """A step failed; the message says which and where its logs are."""


def _say(message: str) -> None:
    print(message, flush=True)


# ---- the emulator process -----------------------------------------------------------------------
@dataclass
class EmulatorProcess:
    """This side of the emulator: the child process running ``tests.harness.server`` (whose
    :class:`~tests.harness.server.EmulatorServer` is the server itself), started, attached to, talked to."""

    state_dir: Path
    pid: int
    port: int
    generation_job_arn: str
    process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "server.log"

    @classmethod
    def start(cls, state_dir: Path, *, detach: bool = False, timeout: float = 60.0) -> "EmulatorProcess":
        """Start ``tests.harness.server`` and wait until it accepts requests.

        Attached (default): the server stops by itself when this process goes away.
        Detached (``up``): it runs in its own session until ``stop()``/``local-down``.
        """
        state_dir.mkdir(parents=True, exist_ok=True)
        (state_dir / STATE_FILE).unlink(missing_ok=True)
        command = [sys.executable, "-m", "tests.harness.server", "--state-dir", str(state_dir)]
        if not detach:
            command += ["--parent-pid", str(os.getpid())]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in FORBIDDEN_VARIABLES}
        env.update(isolated_environment(state_dir), PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
        with open(state_dir / "server.log", "ab") as log:
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=detach)
        deadline = time.monotonic() + timeout
        state_file = state_dir / STATE_FILE
        while not state_file.is_file():
            if process.poll() is not None:
                raise LocalRunError(f"the emulator exited with {process.returncode} before it was ready; "
                                    f"see {state_dir / 'server.log'}")
            if time.monotonic() > deadline:
                process.terminate()
                raise LocalRunError(f"the emulator was not ready after {timeout:.0f} s; see {state_dir / 'server.log'}")
            time.sleep(0.05)
        state = json.loads(state_file.read_text())
        return cls(state_dir, state["pid"], state["port"], state["generationJobArn"], process)

    @classmethod
    def attach(cls, state_dir: Path) -> "EmulatorProcess | None":
        """The emulator recorded in ``state_dir``, if it is still running."""
        state_file = state_dir / STATE_FILE
        if not state_file.is_file():
            return None
        state = json.loads(state_file.read_text())
        emulator = cls(state_dir, state["pid"], state["port"], state["generationJobArn"])
        return emulator if emulator.alive() else None

    def alive(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        try:
            cmdline = Path(f"/proc/{self.pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        return b"tests.harness.server" in cmdline  # our server, not a recycled pid

    def stop(self, timeout: float = 15.0) -> None:
        if not self.alive():
            return
        os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        if self.process is not None:
            self.process.wait(5)
        (self.state_dir / STATE_FILE).unlink(missing_ok=True)

    # -- talking to it
    def client(self, service: str) -> Any:
        import boto3

        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                        aws_session_token="testing", region_name=REGION)
        return session.client(service, endpoint_url=self.endpoint)

    def control(self, path: str, payload: Any = None) -> Any:
        """The emulator's ``/_local/`` endpoint: ``state`` (GET), ``plan``, ``generation-job`` (POST)."""
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(f"{self.endpoint}/_local/{path}", data=data,
                                         method="GET" if data is None else "POST",
                                         headers={"Content-Type": "application/json"})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
        with opener.open(request, timeout=10) as response:
            return json.loads(response.read())

    def virtual_now(self) -> datetime:
        return datetime.fromisoformat(self.control("state")["now"])

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


# ---- the CDK CLI ----------------------------------------------------------------------------------
@dataclass
class Cdk:
    """The pinned CDK CLI, pointed at the emulator and nothing else.

    ``synth`` first (it needs no emulator, so it can run while the emulator starts); then
    ``bootstrap``, ``deploy`` and ``destroy`` read that cloud assembly (``--app``) instead of
    synthesizing the app again each (the CLI would otherwise synthesize for bootstrap too).
    """

    work_dir: Path  # cloud assembly, outputs file, CLI log
    emulator: EmulatorProcess | None = None
    context: dict[str, str] = field(default_factory=lambda: dict(LOCAL_CONTEXT))

    @property
    def log_path(self) -> Path:
        return self.work_dir / "cdk.log"

    @property
    def assembly(self) -> Path:
        return self.work_dir / "cdk.out"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in FORBIDDEN_VARIABLES}
        port = self.emulator.port if self.emulator else None
        env.update(isolated_environment(self.work_dir, port))
        if port is not None:
            # moto reads a TemplateURL path-style only when its host is "localhost" (still loopback)
            env["AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION"] = f"http://localhost:{port}"
        env.update({
            "CDK_DISABLE_CLI_TELEMETRY": "true", "CDK_DISABLE_VERSION_CHECK": "1",
            "CDK_HOME": os.environ.get("CDK_HOME") or str(ROOT / ".cdk"),
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "PYTHONDONTWRITEBYTECODE": "1",
            "NO_PROXY": "127.0.0.1,localhost", "FORCE_COLOR": "0",
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        })
        return env

    def run(self, *args: str, timeout: float = 300.0) -> str:
        if not CDK.is_file():
            raise LocalRunError(f"{CDK.relative_to(ROOT)} is missing: run `make node_modules/.installed` "
                                "(or `make local`, which installs it)")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        context = [arg for key, value in self.context.items() for arg in ("-c", f"{key}={value}")]
        app = [] if args[0] == "synth" else ["--app", str(self.assembly)]
        command = [str(CDK), *args, "--no-notices", *app, "--output", str(self.assembly), *context]
        started = time.monotonic()
        result = subprocess.run(command, cwd=ROOT, env=self.environment(), stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=timeout)
        with open(self.log_path, "a") as log:
            log.write(f"$ cdk {' '.join(args)}  ({time.monotonic() - started:.1f} s, exit {result.returncode})\n")
            log.write(result.stdout + result.stderr + "\n")
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-25:])
            where = f"\nemulator log (moto tracebacks): {self.emulator.log_path}" if self.emulator else ""
            raise LocalRunError(f"`cdk {args[0]}` failed (exit {result.returncode}):\n{tail}\n"
                                f"CLI log: {self.log_path}{where}")
        return result.stdout + result.stderr

    def synth(self) -> None:
        shutil.rmtree(self.assembly, ignore_errors=True)
        self.run("synth", "--quiet")

    def bootstrap(self) -> None:
        self.run("bootstrap", f"aws://{ACCOUNT}/{REGION}")

    def deploy(self, stack: str = STACK_NAME) -> dict[str, str]:
        outputs_file = self.work_dir / "outputs.json"
        outputs_file.unlink(missing_ok=True)
        # --method=direct: moto fills the stack outputs only then (the change-set path leaves them empty)
        self.run("deploy", stack, "--require-approval", "never", "--method=direct",
                 "--outputs-file", str(outputs_file))
        outputs = json.loads(outputs_file.read_text()).get(stack, {})
        missing = [k for k in OUTPUT_KEYS if k not in outputs]
        if missing:
            raise LocalRunError(f"the deployed stack has no output(s) {', '.join(missing)}: {outputs}")
        return outputs

    def destroy(self, stack: str = STACK_NAME) -> None:
        self.run("destroy", stack, "--force")


def start_and_synth(state_dir: Path, *, detach: bool = False, say: Printer = _say) -> tuple[EmulatorProcess, Cdk]:
    """Start the emulator while the CLI synthesizes the app (the two do not depend on each other)."""
    cdk = Cdk(state_dir)
    started = time.monotonic()
    with ThreadPoolExecutor(1) as pool:
        synth = pool.submit(cdk.synth)
        try:
            emulator = EmulatorProcess.start(state_dir, detach=detach)
        except BaseException:
            synth.cancel()
            raise
        say(f"emulator started on {emulator.endpoint} (pid {emulator.pid}) "
            f"({time.monotonic() - started:.1f} s)")
        try:
            synth.result()
        except BaseException:
            emulator.stop()
            raise
    say(f"synthesized the sample app with {CDK.relative_to(ROOT)} ({time.monotonic() - started:.1f} s)")
    cdk.emulator = emulator
    return emulator, cdk


# ---- executions -------------------------------------------------------------------------------------
@dataclass
class Outcome:
    workflow: str
    execution_arn: str
    status: str
    output: Any
    error: str | None
    cause: str | None
    checks: int  # status checks (CheckJob) made
    events: int  # history events
    virtual_seconds: float  # on the emulator's clock (Wait states and retries advance it)
    real_seconds: float

    def cause_json(self) -> Any:
        try:
            return json.loads(self.cause) if self.cause else None
        except ValueError:
            return None


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def _history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events, token = [], None
    while True:
        kwargs = {"executionArn": execution_arn, "maxResults": 1000, **({"nextToken": token} if token else {})}
        page = sfn.get_execution_history(**kwargs)
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            return events


def follow(emulator: EmulatorProcess, workflow: str, execution_arn: str, *, say: Printer = _say,
           every: int = 5, timeout: float = 120.0, started: float | None = None,
           clock_before: datetime | None = None) -> Outcome:
    """Follow an execution to its end, printing its progress: the job's status whenever it changes
    and every ``every`` checks, with the virtual time since the start (the sum of the waits)."""
    sfn = emulator.client("stepfunctions")
    started = started if started is not None else time.monotonic()
    clock_before = clock_before or emulator.virtual_now()
    seen, checks, waited, last_status = 0, 0, 0.0, None
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        history = _history(sfn, execution_arn)
        for event in history[seen:]:
            kind = event["type"]
            if kind == "WaitStateEntered":
                state_input = json.loads(event["stateEnteredEventDetails"].get("input") or "{}")
                waited += float((state_input.get("tracker") or {}).get("waitSeconds") or 0)
            elif kind.endswith("StateExited") and event["stateExitedEventDetails"]["name"] in ("Launch", "CheckJob"):
                name = event["stateExitedEventDetails"]["name"]
                tracker = (json.loads(event["stateExitedEventDetails"].get("output") or "{}").get("tracker") or {})
                status = tracker.get("status")
                checks += name == "CheckJob"
                if name == "Launch":
                    job = tracker.get("job", {})
                    say(f"  [{workflow} +{_duration(waited)}] started {job.get('dataDeletionJobArn') or job.get('name')}"
                        f"{' (adopted)' if job.get('adopted') else ''}")
                elif status != last_status or checks % every == 0 or tracker.get("phase") != "RUNNING":
                    after = f", next check in {tracker['waitSeconds']} s" if tracker.get("phase") == "RUNNING" else ""
                    say(f"  [{workflow} +{_duration(waited)}] check {checks}: {status}{after}")
                last_status = status
        seen = len(history)
        if described["status"] != "RUNNING":
            break
        if time.monotonic() > deadline:
            sfn.stop_execution(executionArn=execution_arn, error="LocalRun.Timeout")
            raise LocalRunError(f"{execution_arn} still RUNNING after {timeout:.0f} s of real time; "
                                f"see {emulator.log_path}")
        time.sleep(0.1)
    real = time.monotonic() - started
    virtual = (emulator.virtual_now() - clock_before).total_seconds()
    output = json.loads(described["output"]) if described.get("output") else None
    return Outcome(workflow, execution_arn, described["status"], output, described.get("error"),
                   described.get("cause"), checks, len(history), virtual, real)


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")


def run_deletion(emulator: EmulatorProcess, outputs: dict[str, str], *, name: str | None = None,
                 user_ids: list[str] | None = None, header: str = "USER_ID", plan: dict[str, Any] | None = None,
                 say: Printer = _say, **follow_args: Any) -> Outcome:
    """Upload a CSV under the deployed bucket's deletion prefix and run the deletion workflow on it.
    ``plan`` scripts the faked Personalize job (JobPlan fields), keyed by the job name (= ``name``)."""
    name = name or f"local-deletion-{_stamp()}"
    user_ids = SAMPLE_USER_IDS if user_ids is None else user_ids
    bucket, prefix = outputs["DataBucketName"], outputs["DeletionPrefix"]
    key = f"{prefix}local/{name}.csv"
    emulator.client("s3").put_object(Bucket=bucket, Key=key, Body="\n".join([header, *user_ids, ""]).encode())
    emulator.control("plan", {"service": "personalize", "name": name, "plan": plan or {
        "duration": 40 * 60, "num_deleted": 3 * len(user_ids)}})
    payload = {"datasetGroupArn": DATASET_GROUP, "dataLocation": f"s3://{bucket}/{key}"}
    say(f"deletion: s3://{bucket}/{key} ({len(user_ids)} user IDs) -> {outputs['DataDeletionStateMachineArn']}")
    clock_before, started = emulator.virtual_now(), time.monotonic()
    arn = emulator.client("stepfunctions").start_execution(
        stateMachineArn=outputs["DataDeletionStateMachineArn"], name=name, input=json.dumps(payload))["executionArn"]
    return follow(emulator, "deletion", arn, say=say, started=started, clock_before=clock_before, **follow_args)


def run_export(emulator: EmulatorProcess, outputs: dict[str, str], *, name: str | None = None, size: int = 5000,
               plan: dict[str, Any] | None = None, generation_job_arn: str | None = None, say: Printer = _say,
               **follow_args: Any) -> Outcome:
    """Run the export workflow for the emulator's ACTIVE generation job; ``plan`` scripts the faked export."""
    name = name or f"local-export-{_stamp()}"
    if plan:
        emulator.control("plan", {"service": "cleanroomsml", "name": name, "plan": plan})
    payload = {"audienceGenerationJobArn": generation_job_arn or emulator.generation_job_arn,
               "audienceSize": {"type": "ABSOLUTE", "value": size}, "name": name}
    say(f"export: {payload['audienceGenerationJobArn']} size {size} -> {outputs['AudienceExportStateMachineArn']}")
    clock_before, started = emulator.virtual_now(), time.monotonic()
    arn = emulator.client("stepfunctions").start_execution(
        stateMachineArn=outputs["AudienceExportStateMachineArn"], name=name, input=json.dumps(payload))["executionArn"]
    return follow(emulator, "export", arn, say=say, started=started, clock_before=clock_before, **follow_args)


@dataclass
class BatchOutcome:
    execution: Outcome
    records: dict[str, dict[str, Any]]  # request ID -> its record (audit/deletion-requests/<id>.json)
    training_arn: str


def submit_requests(emulator: EmulatorProcess, outputs: dict[str, str], *, say: Printer = _say) -> list[str]:
    """Put the sample requests (one invalid) under the queue's request prefix, each with its ``request-id``
    metadata; S3 -> EventBridge -> the intake function registers them. Returns the request IDs."""
    s3, bucket, prefix = emulator.client("s3"), outputs["DataBucketName"], outputs["RequestPrefix"]
    bodies = {rid: "\n".join(["USER_ID", *ids, ""]).encode() for rid, ids in LOCAL_REQUESTS.items()}
    bodies[LOCAL_INVALID_REQUEST] = b"USERID\nlocal-user-0901\n"  # wrong header: REJECTED at intake
    for request_id, body in bodies.items():
        key = f"{prefix}local/{request_id.lower()}.csv"
        s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata={"request-id": request_id})
        lines = len(body.splitlines()) - 1
        say(f"request {request_id}: s3://{bucket}/{key} ({lines} user IDs)")
    settle(emulator)
    return list(bodies)


def read_record(emulator: EmulatorProcess, outputs: dict[str, str], request_id: str) -> dict[str, Any] | None:
    try:
        body = emulator.client("s3").get_object(Bucket=outputs["DataBucketName"],
                                                Key=f"{outputs['RequestRecordPrefix']}{request_id}.json")["Body"]
    except Exception:  # noqa: BLE001 - not written (yet)
        return None
    return json.loads(body.read())


def run_batch(emulator: EmulatorProcess, outputs: dict[str, str], *, say: Printer = _say,
              timeout: float = 240.0) -> BatchOutcome:
    """Submit the sample requests, start a training in the shop group (so the quiet period has something to
    wait for), start one batch run by hand (input ``{}``), follow it and read every request's record."""
    request_ids = submit_requests(emulator, outputs, say=say)
    training = emulator.control("training", {})["solutionVersionArn"]
    say(f"a training of {SOLUTION} is in progress ({training}): the shop group is busy")
    name = f"local-batch-{_stamp()}"
    clock_before, started = emulator.virtual_now(), time.monotonic()
    arn = emulator.client("stepfunctions").start_execution(
        stateMachineArn=outputs["RequestBatchStateMachineArn"], name=name, input="{}")["executionArn"]
    say(f"batch run: {arn} (input {{}}) across {DATASET_GROUP} and {NEWS_DATASET_GROUP}")
    sfn = emulator.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        if time.monotonic() > deadline:
            sfn.stop_execution(executionArn=arn, error="LocalRun.Timeout")
            raise LocalRunError(f"{arn} still RUNNING after {timeout:.0f} s of real time; see {emulator.log_path}")
        time.sleep(0.2)
    settle(emulator)
    output = json.loads(described["output"]) if described.get("output") else None
    execution = Outcome("batch", arn, described["status"], output, described.get("error"), described.get("cause"),
                        0, len(_history(sfn, arn)), (emulator.virtual_now() - clock_before).total_seconds(),
                        time.monotonic() - started)
    records = {rid: read_record(emulator, outputs, rid) or {} for rid in request_ids}
    return BatchOutcome(execution, records, training)


def batch_report(batch: BatchOutcome) -> str:
    """The batch run's summary and every request's record: statuses, targets, job ARNs, the quiet period, the
    trainings and campaign updates (counts and ARNs only, never a user ID)."""
    o = batch.execution
    lines = [f"Batch run {o.status} (virtual {_duration(o.virtual_seconds)}, real {o.real_seconds:.2f} s, "
             f"{o.events} history events)"]
    for group in (o.output or {}).get("datasetGroups", []):
        lines.append(f"  {group['datasetGroupArn'].rsplit('/', 1)[-1]:<11} {group['status']:<9} "
                     f"{group['requests']} request(s), jobs {', '.join(group['dataDeletionJobArns']) or '-'}")
    for deferred in (o.output or {}).get("deferred", []):
        lines.append(f"  deferred {deferred['datasetGroupArn']}: {deferred['reason']}")
    if o.error:
        lines.append(f"  error {o.error}: {(o.cause or '')[:300]}")
    lines.append("Request records (audit/deletion-requests/<requestId>.json)")
    for request_id, record in batch.records.items():
        if not record:
            lines.append(f"  {request_id:<15} no record")
            continue
        lines.append(f"  {request_id:<15} {record['status']:<10} userIds {record.get('userIds')}, received "
                     f"{record.get('receivedAt')}, completed {record.get('completedAt')}")
        if record.get("reason"):
            lines.append(f"    reason: {record['reason'][:200]}")
        for target in record.get("targets", []):
            follow = (target.get("followThrough") or {}).get("status")
            lines.append(f"    {target['datasetGroupArn'].rsplit('/', 1)[-1]:<11} {target['status']:<10} batch "
                         f"{target.get('batchId')}, attempts {target.get('attempts')}, follow-through {follow}")
            for job in target.get("dataDeletionJobArns") or []:
                lines.append(f"      job               {job}")
            quiet = target.get("quietPeriod") or {}
            if quiet:
                waited = ", ".join(f"{w['type']} {w['arn']} ({w['status']})" for w in quiet.get("waitedFor", []))
                lines.append(f"      quiet period      waited {_duration(float(quiet.get('waitedSeconds') or 0))} "
                             f"in {quiet.get('checks')} checks" + (f" for {waited}" if waited else ""))
            for version in target.get("solutionVersionArns") or []:
                lines.append(f"      retrained         {version}")
            for campaign in target.get("campaignArns") or []:
                lines.append(f"      campaign updated  {campaign}")
            if target.get("modelsRetrainedAt"):
                lines.append(f"      modelsRetrainedAt {target['modelsRetrainedAt']}")
    return "\n".join(lines)


def batch_problems(batch: BatchOutcome) -> list[str]:
    """What makes the local batch a failure: the run did not succeed, a valid request did not complete, the
    invalid one was not rejected, or the shop group's request was not retrained after its deletion."""
    problems = [] if batch.execution.status == "SUCCEEDED" else [f"batch run {batch.execution.status}"]
    for request_id, record in batch.records.items():
        expected = "REJECTED" if request_id == LOCAL_INVALID_REQUEST else "COMPLETED"
        if record.get("status") != expected:
            problems.append(f"request {request_id} is {record.get('status')}, not {expected}")
    return problems


def summary(outcomes: list[Outcome]) -> str:
    lines = ["Summary (virtual: the emulator's clock, which Wait states and retries advance; real: wall clock)"]
    for o in outcomes:
        out = o.output or {}
        lines.append(f"  {o.workflow:<9} {o.status:<9} virtual {_duration(o.virtual_seconds):>9}  real "
                     f"{o.real_seconds:5.2f} s  {o.checks} status checks, {o.events} history events")
        lines.append(f"    execution       {o.execution_arn}")
        if o.workflow == "deletion" and out:
            lines.append(f"    job             {out.get('dataDeletionJobArn')}")
            lines.append(f"    job status      {out.get('status')}, numDeleted {out.get('numDeleted')} "
                         f"(created {out.get('creationDateTime')}, finished {out.get('lastUpdatedDateTime')})")
        elif o.workflow == "export" and out:
            lines.append(f"    export          {out.get('name')} of {out.get('audienceGenerationJobArn')} "
                         f"({out.get('audienceSize', {}).get('type')} {out.get('audienceSize', {}).get('value')})")
            lines.append(f"    export status   {out.get('status')}, outputLocation {out.get('outputLocation')} "
                         f"(sizeCheck {out.get('sizeCheck')})")
        if o.error:
            lines.append(f"    error           {o.error}: {(o.cause or '')[:300]}")
    return "\n".join(lines)


def settle(emulator: EmulatorProcess, timeout: float = 30.0) -> dict[str, Any]:
    """Wait until the emulator's asynchronous invocations (EventBridge targets) have finished;
    returns its state."""
    deadline = time.monotonic() + timeout
    while True:
        state = emulator.control("state")
        if not state["pendingInvocations"] or time.monotonic() > deadline:
            return state


def invocation_report(state: dict[str, Any], stack: str = STACK_NAME) -> str:
    """One line: how often each deployed function ran, and which returned a function error."""
    counts: dict[str, list[int]] = {}
    for invocation in state["invocations"]:
        name = re.sub(rf"^{re.escape(stack)}-|[0-9A-F]{{8}}-[A-Z0-9]+$", "", invocation["function"])
        counts.setdefault(name, [0, 0])[bool(invocation["error"])] += 1
    parts = [f"{name} {ok}" + (f" (+{errors} function errors)" if errors else "")
             for name, (ok, errors) in sorted(counts.items())]
    return "Deployed functions run: " + ", ".join(parts)


def stack_leftovers(emulator: EmulatorProcess, outputs: dict[str, str], stack: str = STACK_NAME) -> list[str]:
    """What of the stack is still there after a destroy (should be nothing)."""
    left = []
    cfn = emulator.client("cloudformation")
    stacks = [s for s in cfn.list_stacks()["StackSummaries"]
              if s["StackName"] == stack and s["StackStatus"] != "DELETE_COMPLETE"]
    left += [f"stack {s['StackName']} {s['StackStatus']}" for s in stacks]
    buckets = {b["Name"] for b in emulator.client("s3").list_buckets()["Buckets"]}
    left += [f"bucket {b}" for b in buckets if b.startswith(stack.lower())]
    sfn = emulator.client("stepfunctions")
    left += [f"state machine {m['name']}" for m in sfn.list_state_machines()["stateMachines"]
             if m["name"].startswith(stack)]
    left += [f"function {f['FunctionName']}" for f in emulator.client("lambda").list_functions()["Functions"]
             if f["FunctionName"].startswith(stack)]
    return left


# ---- commands -----------------------------------------------------------------------------------------
def _phase(say: Printer, label: str, action: Callable[[], Any]) -> Any:
    started = time.monotonic()
    value = action()
    say(f"{label} ({time.monotonic() - started:.1f} s)")
    return value


def command_run(state_dir: Path, say: Printer = _say) -> int:
    """Start, bootstrap, deploy, run one deletion and one export, summarise, destroy, stop."""
    total = time.monotonic()
    shutil.rmtree(state_dir, ignore_errors=True)
    state_dir.mkdir(parents=True)
    emulator = None
    ok = False
    try:
        emulator, cdk = start_and_synth(state_dir, say=say)
        _phase(say, f"bootstrapped aws://{ACCOUNT}/{REGION}", cdk.bootstrap)
        outputs = _phase(say, f"deployed {STACK_NAME}", cdk.deploy)
        for key in OUTPUT_KEYS:
            say(f"  {key:<30} {outputs[key]}")
        outcomes = [run_deletion(emulator, outputs, say=say), run_export(emulator, outputs, say=say)]
        say(summary(outcomes))
        batch = _phase(say, "deletion request queue: one batch run", lambda: run_batch(emulator, outputs, say=say))
        say(batch_report(batch))
        state = settle(emulator)
        say(invocation_report(state))
        violations = state["violations"]
        if violations:
            say(f"requests that broke the service models: {violations}")
        _phase(say, f"destroyed {STACK_NAME}", cdk.destroy)
        leftovers = stack_leftovers(emulator, outputs)
        if leftovers:
            raise LocalRunError(f"left behind after destroy: {', '.join(leftovers)}")
        failed = [o.workflow for o in outcomes if o.status != "SUCCEEDED"] + batch_problems(batch)
        ok = not failed and not violations
        if not ok:
            say(f"FAILED: {', '.join(failed) or 'service model checks'}; emulator log: {emulator.log_path}")
    except LocalRunError as error:
        say(f"FAILED: {error}")
    except Exception as error:  # noqa: BLE001 - show where to look, then fail
        say(f"FAILED: {type(error).__name__}: {error}")
        if emulator is not None:
            say(f"emulator log: {emulator.log_path}\n{emulator.log_tail()}")
    finally:
        if emulator is not None:
            emulator.stop()
        shutil.rmtree(state_dir / "cdk.out", ignore_errors=True)
    say(f"{'OK' if ok else 'FAILED'}: make local took {time.monotonic() - total:.1f} s; emulator stopped "
        f"(logs in {state_dir.relative_to(ROOT) if state_dir.is_relative_to(ROOT) else state_dir})")
    return 0 if ok else 1


def command_up(state_dir: Path, say: Printer = _say) -> int:
    running = EmulatorProcess.attach(state_dir)
    if running is not None:
        say(f"already up: {running.endpoint} (pid {running.pid}); `make local-down` stops it")
        _print_access(running, json.loads((state_dir / "outputs.json").read_text()).get(STACK_NAME, {})
                      if (state_dir / "outputs.json").is_file() else {}, say)
        return 0
    for stale in ("cdk.out", "lambda-code"):
        shutil.rmtree(state_dir / stale, ignore_errors=True)
    try:
        emulator, cdk = start_and_synth(state_dir, detach=True, say=say)
    except Exception as error:
        say(f"FAILED: {error}")
        return 1
    try:
        _phase(say, f"bootstrapped aws://{ACCOUNT}/{REGION}", cdk.bootstrap)
        outputs = _phase(say, f"deployed {STACK_NAME}", cdk.deploy)
    except Exception as error:
        emulator.stop()
        say(f"FAILED: {error}")
        return 1
    _print_access(emulator, outputs, say)
    return 0


def _print_access(emulator: EmulatorProcess, outputs: dict[str, str], say: Printer) -> None:
    say(f"Local AWS emulator: {emulator.endpoint} (pid {emulator.pid}, log {emulator.log_path})")
    say("Stack outputs:")
    for key, value in outputs.items():
        say(f"  {key:<30} {value}")
    bucket = outputs.get("DataBucketName", "<bucket>")
    say(f"""Use it (dummy credentials; the Clean Rooms ML generation job {emulator.generation_job_arn} is ACTIVE):
  export AWS_ENDPOINT_URL={emulator.endpoint} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \\
         AWS_DEFAULT_REGION={REGION} AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
  .venv/bin/python - <<'EOF'
import boto3, json, time
boto3.client("s3").put_object(Bucket="{bucket}", Key="deletions/me.csv", Body=b"USER_ID\\nu-1\\n")
sfn = boto3.client("stepfunctions")
arn = sfn.start_execution(stateMachineArn="{outputs.get('DataDeletionStateMachineArn')}", input=json.dumps(
    {{"datasetGroupArn": "{DATASET_GROUP}", "dataLocation": "s3://{bucket}/deletions/me.csv"}}))["executionArn"]
while (d := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING": time.sleep(0.2)
print(d["status"], d.get("output") or d.get("cause"))
EOF
Wait states and retries run on the emulator's virtual clock: a 40-minute deletion takes about a second.
`make local-down` stops the emulator (the stack goes with it).""")


def command_down(state_dir: Path, say: Printer = _say) -> int:
    emulator = EmulatorProcess.attach(state_dir)
    if emulator is None:
        say("nothing to stop (no running emulator recorded in .local/)")
    else:
        emulator.stop()
        say(f"stopped the emulator on {emulator.endpoint} (pid {emulator.pid}); the deployed stack went with it")
    (state_dir / STATE_FILE).unlink(missing_ok=True)
    for stale in ("cdk.out", "lambda-code", "outputs.json"):
        path = state_dir / stale
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.harness.local_deploy", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("run", "up", "down"))
    args = parser.parse_args(argv)
    sys.dont_write_bytecode = True
    os.environ.update(isolated_environment(STATE_ROOT))  # this process reads no real AWS configuration either
    for name in FORBIDDEN_VARIABLES:
        os.environ.pop(name, None)
    if args.command == "run":
        return command_run(STATE_ROOT / "run")
    if args.command == "up":
        return command_up(STATE_ROOT)
    return command_down(STATE_ROOT)


if __name__ == "__main__":
    sys.exit(main())

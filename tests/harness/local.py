"""LocalWorkflows: execute the synthesized state machines in moto's ASL interpreter.

- Step Functions: moto's executor (``execute_state_machine``), fed the resolved
  definitions from the template.
- Lambda: moto's docker-less backend, whose ``invoke`` is replaced by one that
  imports the function's handler from its code folder, applies the function's
  environment and calls it in-process; exceptions come back as a Lambda
  function error (``errorType`` = class name), as on AWS.
- S3: moto. Personalize data deletion and Clean Rooms ML: the fakes in
  ``fakes.py``.
- Time: Wait states and Retry back-off advance a virtual clock; the handlers and
  the fakes read that clock. Nothing sleeps.

Known differences from AWS: handlers run under the test's Python with no
timeout; IAM is not enforced here (every AWS call the handlers make is recorded,
``self.recorder``, and evaluated against the template's policies by tests/iam); calls to the faked services are answered before
botocore's retry loop, so the SDK's own retries are not exercised here (the
state machine's Retry is).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Iterator

import boto3

from . import assembly, moto_fixes
from . import events as events_module
from .aws_calls import Recorder
from .clock import VirtualClock
from .fake_service import FakeService, install
from .fakes import FakeCleanRoomsML, FakePersonalize
from .lambda_runtime import Context, bind_jobkit, call_handler, environ, virtual_time
from .s3_pretend import S3Pretend

MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
HISTORY_LIMIT = 25_000


@dataclass
class Execution:
    arn: str
    status: str  # SUCCEEDED | FAILED | TIMED_OUT | ABORTED | HISTORY_LIMIT_EXCEEDED
    output: Any
    error: str | None
    cause: str | None
    history: list[dict[str, Any]]
    started: float  # virtual seconds since the clock's start
    stopped: float

    @property
    def events(self) -> int:
        return len(self.history)

    def count(self, event_type: str) -> int:
        return sum(1 for e in self.history if e["type"] == event_type)

    @property
    def transitions(self) -> int:
        return self.count("StateEntered") or sum(1 for e in self.history if e["type"].endswith("StateEntered"))

    def cause_json(self) -> Any:
        return json.loads(self.cause) if self.cause else None


@dataclass
class Invocation:
    function: str
    event: dict[str, Any]
    result: Any
    error: str | None
    at: float


class LocalWorkflows:
    """Context manager running a synthesized template's workflows locally."""

    def __init__(self, template: dict[str, Any], code_dir: str, *, clock: VirtualClock | None = None,
                 bucket_versioning: bool = True) -> None:
        self.template = template
        self.clock = clock or VirtualClock()
        self.resolver = assembly.Resolver(template)
        self.functions = assembly.functions(template, self.resolver, code_dir)
        self.machine_specs = assembly.machines(template, self.resolver)
        self.personalize = FakePersonalize(self.clock)
        self.cleanroomsml = FakeCleanRoomsML(self.clock)
        self.fakes: list[FakeService] = [self.personalize, self.cleanroomsml]
        self.s3_pretend = S3Pretend()  # object properties moto's S3 does not model
        self.invocations: list[Invocation] = []
        self._lost_responses: dict[str, int] = {}
        self._faults: dict[str, list[Exception | bytes]] = {}
        self.executions: list[Execution] = []
        self._extra_functions: dict[str, Any] = {}
        self._history_limit_hit = threading.Event()
        self.machine_arns: dict[str, str] = {}
        self.bucket_versioning = bucket_versioning
        self._stack = contextlib.ExitStack()
        self._invoke_lock = threading.RLock()  # reentrant: a function may start an execution (moto_fixes)
        #: every AWS call the handlers made (for the IAM evaluation, tests/iam)
        self.recorder = Recorder()

    # ---- set-up ---------------------------------------------------------------------
    def __enter__(self) -> "LocalWorkflows":
        from moto import mock_aws

        env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
               "AWS_DEFAULT_REGION": assembly.REGION, "AWS_REGION": assembly.REGION}
        self._stack.enter_context(environ(env))
        self._stack.enter_context(mock_aws(config=MOTO_CONFIG))
        self._stack.enter_context(self._patched_moto())
        boto3.DEFAULT_SESSION = _shared_session()  # mock_aws() set it to None; it restores the previous on exit
        self._stack.callback(install(self.fakes, boto3.DEFAULT_SESSION.events))
        self._stack.callback(self.s3_pretend.install(boto3.DEFAULT_SESSION.events))
        self._stack.callback(self.recorder.install(boto3.DEFAULT_SESSION.events).uninstall)
        code_dirs = {spec.code_dir for spec in self.functions.values()}
        self._stack.enter_context(_handler_imports(code_dirs, self.clock))
        self.s3 = boto3.client("s3")
        self.sfn = boto3.client("stepfunctions")
        self._create_buckets()
        self._create_tables()
        self._create_messaging()
        for logical_id, spec in self.machine_specs.items():
            created = self.sfn.create_state_machine(
                name=logical_id, definition=json.dumps(spec.definition), type="STANDARD",
                roleArn=f"arn:aws:iam::{assembly.ACCOUNT}:role/{logical_id}Role",
            )
            self.machine_arns[logical_id] = created["stateMachineArn"]
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stack.close()

    def _create_buckets(self) -> None:
        for logical_id, resource in self.template["Resources"].items():
            if resource["Type"] != "AWS::S3::Bucket":
                continue
            name = self.resolver.physical_name(logical_id)
            self.s3.create_bucket(Bucket=name)
            if self.bucket_versioning:
                self.s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})

    def _create_tables(self) -> None:
        """The template's DynamoDB tables (keys, attributes, global secondary indexes), as CloudFormation would."""
        dynamodb = boto3.client("dynamodb")
        for logical_id, resource in self.template["Resources"].items():
            if resource["Type"] != "AWS::DynamoDB::Table":
                continue
            props = self.resolver.resolve(resource["Properties"])
            kwargs = {"TableName": self.resolver.physical_name(logical_id), "KeySchema": props["KeySchema"],
                      "AttributeDefinitions": props["AttributeDefinitions"], "BillingMode": "PAY_PER_REQUEST"}
            if props.get("GlobalSecondaryIndexes"):
                kwargs["GlobalSecondaryIndexes"] = [
                    {k: v for k, v in index.items() if k in ("IndexName", "KeySchema", "Projection")}
                    for index in props["GlobalSecondaryIndexes"]]
            dynamodb.create_table(**kwargs)

    def _create_messaging(self) -> None:
        """SNS topics of the template, and queues that capture what the workflows announce."""
        self.rules = events_module.rules(self.template, self.resolver)
        self.deliveries: list[Invocation] = []
        self.dead_letters: list[Invocation] = []
        sqs, sns, bridge = boto3.client("sqs"), boto3.client("sns"), boto3.client("events")
        self._capture = {name: sqs.create_queue(QueueName=f"captured-{name}")["QueueUrl"]
                         for name in ("events", "notifications")}
        capture_arn = {name: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"] for name, url in self._capture.items()}
        for logical_id, resource in self.template["Resources"].items():
            if resource["Type"] == "AWS::SNS::Topic":
                topic = sns.create_topic(Name=self.resolver.physical_name(logical_id))["TopicArn"]
                sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=capture_arn["notifications"],
                              Attributes={"RawMessageDelivery": "false"})
        bridge.put_rule(Name="capture-outcomes", EventPattern=json.dumps({"source": [events_module.OUTCOME_SOURCE]}))
        bridge.put_targets(Rule="capture-outcomes", Targets=[{"Id": "queue", "Arn": capture_arn["events"]}])

    def emit(self, event: dict[str, Any]) -> list[Invocation]:
        """Deliver an AWS service event to the template's matching rules' Lambda targets (asynchronously
        invoked on AWS: a failure goes to the dead letters)."""
        delivered = []
        for rule in self.rules:
            if not events_module.matches(rule.pattern, event):
                continue
            for target in rule.targets:
                self._invoke(target, json.dumps(event), {}, asynchronous=True)
                invocation = self.invocations[-1]
                delivered.append(invocation)
                (self.dead_letters if invocation.error else self.deliveries).append(invocation)
        return delivered

    def captured(self, name: str) -> list[Any]:
        """Drain what was announced: ``"events"`` (EventBridge entries) or ``"notifications"`` (SNS messages)."""
        sqs = boto3.client("sqs")
        found = []
        while True:
            batch = sqs.receive_message(QueueUrl=self._capture[name], MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return found
            for message in batch:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self._capture[name], ReceiptHandle=message["ReceiptHandle"])

    def upload(self, key: str, body: bytes, bucket: str | None = None) -> list[Invocation]:
        """Put an object and deliver S3's "Object Created" event (as EventBridge notifications would)."""
        bucket = bucket or self.bucket()
        self.s3.put_object(Bucket=bucket, Key=key, Body=body)
        head = self.s3.head_object(Bucket=bucket, Key=key)
        self._sequence = getattr(self, "_sequence", 0) + 1
        return self.emit(events_module.s3_object_created(bucket, key, head, self.clock.now(),
                                                         f"{self._sequence:018X}"))

    @contextlib.contextmanager
    def _patched_moto(self) -> Iterator[None]:
        from moto.awslambda_simple.models import LambdaSimpleBackend
        from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

        harness = self

        def invoke(backend: Any, function_name: str, qualifier: Any, body: Any, headers: Any,
                   response_headers: Any) -> bytes:
            return harness._invoke(function_name, body, response_headers)

        original_add_event = EventManager.add_event
        limit_hit = self._history_limit_hit

        def add_event(manager: Any, *args: Any, **kwargs: Any) -> Any:
            event_id = original_add_event(manager, *args, **kwargs)
            if isinstance(event_id, int) and event_id >= HISTORY_LIMIT:
                limit_hit.set()  # Step Functions fails an execution at 25,000 history events
            return event_id

        saved = (LambdaSimpleBackend.invoke, EventManager.add_event)
        LambdaSimpleBackend.invoke = invoke
        EventManager.add_event = add_event
        try:
            with virtual_time(self.clock), moto_fixes.service_integrations(), moto_fixes.partition_queries(), \
                    moto_fixes.under_invocation_lock(self._invoke_lock):
                yield
        finally:
            LambdaSimpleBackend.invoke, EventManager.add_event = saved

    # ---- Lambda ---------------------------------------------------------------------
    def lose_responses(self, path_part: str, times: int = 1) -> None:
        """The next ``times`` invocations of that function run, but Step Functions gets
        ``Lambda.ServiceException`` instead of the result (a response lost in transit)."""
        specs = [s for s in self.functions.values() if path_part in s.path]
        assert len(specs) == 1, f"{len(specs)} functions match {path_part!r}"
        self._lost_responses[specs[0].logical_id] = times

    def break_function(self, path_part: str, *faults: Exception | bytes) -> None:
        """The next invocations of that function fail, one per fault: an exception is raised by the
        handler (a bug, or an error nobody named); raw bytes come back as a function error's payload
        (what a runtime crash or a Lambda timeout can return)."""
        specs = [s for s in self.functions.values() if path_part in s.path]
        assert len(specs) == 1, f"{len(specs)} functions match {path_part!r}"
        self._faults.setdefault(specs[0].logical_id, []).extend(faults)

    def add_function(self, name: str, handler: Any) -> str:
        """Register an extra in-process function (e.g. a benchmark's reference handler); returns its ARN."""
        arn = f"arn:aws:lambda:{assembly.REGION}:{assembly.ACCOUNT}:function:{name}"
        self.functions[arn] = assembly.FunctionSpec(name, arn, f"{name}.handler", {}, "", name)
        self._extra_functions[arn] = handler
        return arn

    def create_machine(self, name: str, definition: dict[str, Any]) -> str:
        """Create an extra state machine from a definition; returns its ARN."""
        arn = self.sfn.create_state_machine(
            name=name, definition=json.dumps(definition), type="STANDARD",
            roleArn=f"arn:aws:iam::{assembly.ACCOUNT}:role/{name}Role")["stateMachineArn"]
        self.machine_arns[name] = arn
        return arn

    def _invoke(self, function_name: str, body: Any, response_headers: dict[str, str],
                asynchronous: bool = False) -> bytes:
        spec = self.functions.get(function_name) or next(
            s for s in self.functions.values() if s.logical_id == function_name)
        event = json.loads(body) if body else {}
        module_name, attribute = spec.handler.rsplit(".", 1)
        with self._invoke_lock, environ(spec.environment):
            at = self.clock.elapsed()
            try:
                handler = self._extra_functions.get(spec.arn) or getattr(
                    importlib.import_module(module_name), attribute)
            except Exception as error:  # noqa: BLE001 - an import error is a function error on Lambda too
                handler = _raiser(error)
            faults = self._faults.get(spec.logical_id)
            if faults:
                fault = faults.pop(0)
                if isinstance(fault, bytes):
                    response_headers["x-amz-function-error"] = "Unhandled"
                    self.invocations.append(Invocation(spec.logical_id, event, None, "raw payload", at))
                    return fault
                handler = _raiser(fault)
            with self.recorder.invocation(spec.logical_id, asynchronous):
                outcome = call_handler(handler, event, Context(spec.logical_id, spec.arn), response_headers)
            if outcome.error is not None:
                self.invocations.append(Invocation(spec.logical_id, event, None, outcome.error, at))
                return outcome.payload
            result, payload = outcome.result, outcome.payload.decode()
        self.invocations.append(Invocation(spec.logical_id, event, result, None, at))
        if self._lost_responses.get(spec.logical_id, 0) > 0:
            self._lost_responses[spec.logical_id] -= 1
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorMessage": "Rate exceeded (response lost)",
                               "errorType": "Lambda.ServiceException"}).encode()
        return payload.encode()

    # ---- executions -----------------------------------------------------------------
    def machine(self, path_part: str) -> str:
        """ARN of the state machine whose construct path contains ``path_part``."""
        matches = [self.machine_arns[lid] for lid, spec in self.machine_specs.items() if path_part in spec.path]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} state machines match {path_part!r}")
        return matches[0]

    def functions_env(self, path_part: str) -> dict[str, str]:
        """Environment of the one function whose construct path contains ``path_part``."""
        specs = [s for s in self.functions.values() if path_part in s.path]
        assert len(specs) == 1, f"{len(specs)} functions match {path_part!r}"
        return specs[0].environment

    def bucket(self, path_part: str = "Data/Bucket") -> str:
        for logical_id, resource in self.template["Resources"].items():
            if resource["Type"] == "AWS::S3::Bucket" and path_part in resource.get("Metadata", {}).get(
                    "aws:cdk:path", ""):
                return self.resolver.physical_name(logical_id)
        raise KeyError(path_part)

    def start(self, machine: str, payload: Any, name: str | None = None) -> str:
        arn = machine if machine.startswith("arn:") else self.machine(machine)
        # Step Functions names an execution with a UUID when no name is given; moto would use "None".
        kwargs = {"stateMachineArn": arn, "input": json.dumps(payload), "name": name or str(uuid.uuid4())}
        return self.sfn.start_execution(**kwargs)["executionArn"]

    def wait(self, execution_arn: str, timeout: float = 120.0, started: float = 0.0) -> Execution:
        deadline = time.monotonic() + timeout
        limit_exceeded = False
        while True:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                break
            if self._history_limit_hit.is_set() and not limit_exceeded:
                limit_exceeded = True
                self.sfn.stop_execution(executionArn=execution_arn, error="States.HistoryLimitExceeded",
                                        cause=f"The execution reached {HISTORY_LIMIT} history events.")
                continue
            if time.monotonic() > deadline:
                self.sfn.stop_execution(executionArn=execution_arn, error="Harness.Timeout")
                raise TimeoutError(f"{execution_arn} still RUNNING after {timeout} s of real time")
            time.sleep(0.02)  # the execution runs in moto's thread; polling less often leaves it the CPU
        history = self._history(execution_arn)
        output = described.get("output")
        self._history_limit_hit.clear()
        self.emit(events_module.sfn_status_change(described, self.clock.now()))
        status = "HISTORY_LIMIT_EXCEEDED" if limit_exceeded else described["status"]
        execution = Execution(execution_arn, status, json.loads(output) if output else None,
                              described.get("error"), described.get("cause"), history, started, self.clock.elapsed())
        self.executions.append(execution)
        return execution

    def run(self, machine: str, payload: Any, name: str | None = None, timeout: float = 120.0) -> Execution:
        started = self.clock.elapsed()
        return self.wait(self.start(machine, payload, name), timeout, started)

    def _history(self, execution_arn: str) -> list[dict[str, Any]]:
        """The execution's history events, read from the interpreter itself.

        The same events GetExecutionHistory pages through (same keys, ``type``
        a str enum), without serialising thousands of events through moto's
        HTTP layer and back, which cost seconds for a three-day job.
        """
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        backend = stepfunctions_parser_backends[assembly.ACCOUNT][assembly.REGION]
        return list(backend.get_execution_history(execution_arn)["events"])

    # ---- S3 helpers -----------------------------------------------------------------
    def put_csv(self, key: str, user_ids: list[str], header: str = "USER_ID", bucket: str | None = None) -> str:
        bucket = bucket or self.bucket()
        body = "\n".join([header, *user_ids]) + "\n"
        self.s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
        return f"s3://{bucket}/{key}"


_SESSION: boto3.Session | None = None


def _shared_session() -> boto3.Session:
    """One boto3 session for every harness in this process.

    Its loader keeps the service models it has read, so creating the handlers'
    clients anew for each harness does not parse botocore's JSON models again
    (that cost ~0.15 s per harness). The fakes register on it and unregister on exit.
    """
    global _SESSION
    if _SESSION is None:
        _SESSION = boto3.Session(region_name=assembly.REGION)
    return _SESSION


def _raiser(error: Exception) -> Any:
    def handler(event: Any, context: Any) -> Any:
        raise error

    return handler


@contextlib.contextmanager
def _handler_imports(code_dirs: set[str], clock: VirtualClock) -> Iterator[None]:
    """Import handlers from the functions' code folders, with fresh clients and the virtual clock."""
    saved_path = list(sys.path)
    sys.path[:0] = sorted(code_dirs)
    undo = bind_jobkit(clock)
    try:
        yield
    finally:
        undo()
        sys.path[:] = saved_path

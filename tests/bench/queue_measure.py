"""Measure the deletion request queue on the real state machines and handlers (for ``queue_model.Measured``).

Everything here is counted from a run, never typed in:

- ``batch()``: N requests (one user ID each) submitted through the template's intake (S3 "Object Created" →
  the intake function), then one batch run of the synthesized batch state machine over 3 dataset groups, whose
  ``startExecution.sync:2`` tasks run the real deletion workflow against the fake Personalize. Counted: state
  transitions of the batch run and its child executions, Lambda invocations, the wall time of every handler call
  (intake, claim, record, summary: the "Lambda time in total"), and from the harness's recorded AWS calls
  (``LocalWorkflows.recorder``) the DynamoDB requests and their write/read units and the S3 requests.
- ``failed_launch()``: one deletion execution whose Launch gives up on ``LimitExceededException`` after all its
  retries (the fake Personalize's dataset group filled with 5 PENDING jobs first).
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterator

GROUPS = tuple(f"arn:aws:personalize:us-east-1:123456789012:dataset-group/bench-{name}"
               for name in ("shop", "news", "video"))
PREFIX = "deletions/requests/"
BATCH = "DeletionRequests/Batch"
QUEUE_FUNCTIONS = ("DeletionRequestsIntake", "DeletionRequestsClaim", "DeletionRequestsRecord",
                   "DeletionRequestsSummary")
BATCH_FUNCTIONS = QUEUE_FUNCTIONS[1:]  # what a batch run invokes: "claims and records"
#: the services whose requests the benchmark counts (Step Functions and Lambda are counted from the executions)
BILLED_SERVICES = ("s3", "dynamodb", "events", "sns", "cloudwatch")
S3_PUT_CLASS = {"PutObject", "CopyObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload",
                "ListObjectsV2", "ListObjects", "ListObjectVersions"}


@dataclass
class BatchFigures:
    requests: int
    groups: int
    batch_status: str
    completed_requests: int
    jobs: int
    batch_transitions: int  # the batch run's own
    batch_transitions_outside_groups: int  # DatasetGroups, EachDatasetGroup, Summarize
    child_transitions: int
    child_executions: int
    child_polls: int
    invocations: Counter = field(default_factory=Counter)  # by function, intake included
    handler_seconds: Counter = field(default_factory=Counter)  # wall time by function
    dynamodb_calls: Counter = field(default_factory=Counter)
    dynamodb_write_units: float = 0.0  # the table's own
    dynamodb_index_write_units: float = 0.0  # its global secondary indexes'
    dynamodb_read_units: float = 0.0
    s3_calls: Counter = field(default_factory=Counter)
    other_calls: Counter = field(default_factory=Counter)  # (service, op): EventBridge (and its entries), SNS, ...
    real_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def queue_lambda_seconds(self) -> float:
        return sum(self.handler_seconds[f] for f in QUEUE_FUNCTIONS)

    @property
    def s3_puts(self) -> int:
        return sum(n for op, n in self.s3_calls.items() if op in S3_PUT_CLASS)

    @property
    def s3_gets(self) -> int:
        return sum(n for op, n in self.s3_calls.items() if op not in S3_PUT_CLASS)


def _function_kind(logical_id: str) -> str:
    for name in QUEUE_FUNCTIONS + ("DataDeletionValidate", "DataDeletionLaunch", "DataDeletionPoll"):
        if logical_id.startswith(name):
            return name
    return logical_id


def _size(value: Any) -> int:
    return len(json.dumps(value, default=str).encode())


class _Counter:
    """Every S3 and DynamoDB call of the handlers, with DynamoDB's read and write request units.

    Write units are counted from the items themselves, read from moto's table just before and just after each
    write (in-process, so exact): on-demand bills a write by the larger of the item's sizes before and after,
    a write unit per 1 KB (2 per KB in ``TransactWriteItems``), nothing for a write a condition refused; and
    every global secondary index the write changes costs its own units (an entry added or removed: one write of
    the entry; its key changed: two, the old entry deleted and the new one put; an entry whose key stays but
    whose projected attributes changed: one), at the index entry's size (``ALL``: the item, ``KEYS_ONLY``: its
    keys). Reads: a read unit per 4 KB strongly consistent, half eventually consistent, 2 per 4 KB transactional.

    Hooked on the shared botocore session, so calls from the handlers' worker threads count too (the harness's
    ``Recorder`` keys calls on a context variable that ``ThreadPoolExecutor`` threads do not inherit). The
    benchmark's own calls (submitting the files, reading the records back) are made with ``paused``."""

    _WRITES = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem")

    def __init__(self) -> None:
        self.calls: Counter = Counter()
        self.write_units = 0.0
        self.index_write_units = 0.0
        self.read_units = 0.0
        self.paused = False
        self._events: Any = None
        self._lock = threading.Lock()

    def install(self, events: Any) -> "_Counter":
        for service in BILLED_SERVICES:
            events.register(f"provide-client-params.{service}.*", self._on_params, unique_id=f"bench-{service}-p")
            events.register(f"after-call.{service}.*", self._on_answer, unique_id=f"bench-{service}-a")
        events.register("before-call.dynamodb.*", self._before_write, unique_id="bench-dynamodb-b")
        self._events = events
        return self

    def uninstall(self) -> None:
        for service in BILLED_SERVICES:
            self._events.unregister(f"provide-client-params.{service}.*", unique_id=f"bench-{service}-p")
            self._events.unregister(f"after-call.{service}.*", unique_id=f"bench-{service}-a")
        self._events.unregister("before-call.dynamodb.*", unique_id="bench-dynamodb-b")

    def _on_params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if not self.paused:
            context["bench_params"] = params

    def _before_write(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        params = context.get("bench_params")
        if params is not None and model.name in self._WRITES:
            context["bench_before"] = [(t, k, _stored(t, k)) for t, k in _written(model.name, params)]

    def _on_answer(self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        params = context.get("bench_params")
        if params is None:
            return
        service, op = model.service_model.service_name, model.name
        with self._lock:
            self.calls[(service, op)] += 1
            if (service, op) == ("events", "PutEvents"):
                self.calls[("events", "entries")] += len(params.get("Entries", []))
        if service != "dynamodb" or (parsed or {}).get("Error"):
            return
        if op in self._WRITES:
            factor = 2 if op == "TransactWriteItems" else 1
            table_units = index_units = 0.0
            for table_name, key, before in context.get("bench_before", []):
                after = _stored(table_name, key)
                if before == after:
                    continue  # refused by its condition, or wrote nothing new
                table_units += factor * max(_kb(before), _kb(after))
                index_units += _index_units(table_name, before, after)
            with self._lock:
                self.write_units += table_units
                self.index_write_units += index_units
        else:
            units = self._read_units(op, params, parsed or {})
            with self._lock:
                self.read_units += units

    @staticmethod
    def _read_units(op: str, params: dict[str, Any], parsed: dict[str, Any]) -> float:
        def reads(items: list[Any], consistent: bool) -> float:
            return max(1, math.ceil(sum(_size(i) for i in items) / 4096)) * (1 if consistent else 0.5)

        if op == "GetItem":
            return reads([parsed.get("Item") or {}], params.get("ConsistentRead", False))
        if op in ("Query", "Scan"):
            return reads(parsed.get("Items", []), params.get("ConsistentRead", False))
        if op == "BatchGetItem":  # each item on its own, by its table's ConsistentRead
            asked = params.get("RequestItems", {})
            return sum(reads([i], asked.get(table, {}).get("ConsistentRead", False))
                       for table, items in parsed.get("Responses", {}).items() for i in items)
        if op == "TransactGetItems":
            return sum(2 * reads([r.get("Item") or {}], True) for r in parsed.get("Responses", []))
        return 0.0


def _kb(item: dict[str, Any] | None) -> int:
    return 0 if item is None else max(1, math.ceil(_size(item) / 1024))


_TABLES: dict[tuple[int, str], Any] = {}


def _moto_table(name: str) -> Any:
    import os

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][os.environ["AWS_DEFAULT_REGION"]]
    table = _TABLES.get((id(backend), name))
    if table is None:
        table = _TABLES[(id(backend), name)] = backend.get_table(name)
    return table


def _written(op: str, params: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(table, key)`` of every item a write request may change."""
    def key_of(table_name: str, body: dict[str, Any]) -> dict[str, Any]:
        if "Key" in body:
            return body["Key"]
        table = _moto_table(table_name)
        names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
        return {n: body["Item"][n] for n in names}

    if op in ("PutItem", "UpdateItem", "DeleteItem"):
        return [(params["TableName"], key_of(params["TableName"], params))]
    if op == "TransactWriteItems":
        return [(body["TableName"], key_of(body["TableName"], body))
                for entry in params["TransactItems"] for kind, body in entry.items() if kind != "ConditionCheck"]
    return [(name, key_of(name, next(iter(r.values())))) for name, requests in params["RequestItems"].items()
            for r in requests]


def _stored(table_name: str, key: dict[str, Any]) -> dict[str, Any] | None:
    """The item as moto holds it now (a copy), read without touching the table (moto's own ``get_item`` adds an
    empty partition for a key it does not hold)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    table = _moto_table(table_name)
    partition = table.items.get(DynamoType(key[table.hash_key_attr]))
    if partition is not None and table.range_key_attr:
        partition = partition.get(DynamoType(key[table.range_key_attr]))
    return None if partition is None else partition.to_json()["Attributes"]  # a fresh dict (moto builds it)


def _index_units(table_name: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> float:
    table = _moto_table(table_name)
    units = 0.0
    for index in table.global_indexes:
        names = [k["AttributeName"] for k in index.schema]
        projection = (index.projection or {}).get("ProjectionType", "ALL")
        base_keys = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])

        def entry(item: dict[str, Any] | None) -> dict[str, Any] | None:
            if item is None or any(n not in item for n in names):
                return None  # a sparse index holds only items with every key attribute
            if projection == "ALL":
                return item
            kept = set(names + base_keys) | set(index.projection.get("NonKeyAttributes", []))
            return {n: v for n, v in item.items() if n in kept}

        old, new = entry(before), entry(after)
        if old is None and new is None or old == new:
            continue
        if old is not None and new is not None and any(old[n] != new[n] for n in names):
            units += _kb(old) + _kb(new)  # the key changed: the old entry is deleted, the new one put
        else:
            units += max(_kb(old), _kb(new))
    return units


@contextlib.contextmanager
def item_level_transaction_rollback() -> Iterator[None]:
    """moto's ``TransactWriteItems`` backs up a transaction by deep-copying the whole table once per item (so
    10,000 intakes copy a growing table 10,000 times: hours, quadratic in the queue's size; AWS's cost does not
    grow with the table). For the benchmark only, the backup holds the items the transaction touches instead:
    the same all-or-nothing outcome (moto's own checks and writes run unchanged; on a cancelled transaction the
    touched items are put back as they were), at a cost per item."""
    from moto.dynamodb import models

    backend_class = models.DynamoDBBackend
    original = backend_class.transact_write_items
    real_copy = models.copy

    class _NoTableCopy:
        @staticmethod
        def deepcopy(value: Any, *args: Any) -> Any:
            return value if isinstance(value, models.Table) else real_copy.deepcopy(value, *args)

    def transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> None:
        saved = []
        for entry in transact_items:
            op = next(iter(entry.values()))
            if op.get("TableName") not in backend.tables:
                continue
            table = backend.get_table(op["TableName"])
            if "Item" in op:
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op["Key"]
            current = backend.get_item(op["TableName"], key)
            saved.append((op["TableName"], key, real_copy.deepcopy(current.to_json()["Attributes"])
                          if current is not None else None))
        try:
            original(backend, transact_items)
        except Exception:
            for table_name, key, attributes in saved:
                if attributes is None:
                    backend.delete_item(table_name, key)
                else:
                    backend.put_item(table_name, attributes)
            raise

    models.copy = _NoTableCopy
    backend_class.transact_write_items = transact_write_items
    try:
        yield
    finally:
        models.copy = real_copy
        backend_class.transact_write_items = original


@contextlib.contextmanager
def _timed(seconds: Counter) -> Iterator[None]:
    """The wall time of every handler call, by function: ``call_handler`` runs inside the harness's invocation
    lock, so time spent waiting for another function's call is not counted."""
    from tests.harness import local

    original = local.call_handler

    def call_handler(handler: Any, event: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(handler, event, context, *args, **kwargs)
        finally:
            seconds[_function_kind(context.function_name)] += time.perf_counter() - started

    local.call_handler = call_handler
    try:
        yield
    finally:
        local.call_handler = original


def _transitions(history: list[dict[str, Any]]) -> int:
    entered = sum(1 for e in history if e["type"].endswith("StateEntered"))
    retried = (sum(1 for e in history if e["type"] == "LambdaFunctionScheduled")
               - sum(1 for e in history if e["type"] == "TaskStateEntered"
                     and "Lambda" in json.dumps(e.get("stateEnteredEventDetails", {}))))
    return entered + max(0, retried)


def batch(template: dict[str, Any], requests: int, job_duration: float) -> BatchFigures:
    import boto3

    from cdk_ml_data_jobs._assets import lambda_code_dir
    from jobkit import contract
    from tests.harness.events import s3_object_created
    from tests.harness.fakes import JobPlan
    from tests.harness.local import LocalWorkflows

    seconds: Counter = Counter()
    real: dict[str, float] = {}
    with item_level_transaction_rollback(), _timed(seconds), \
            LocalWorkflows(template, str(lambda_code_dir())) as lw:
        lw.personalize.default_plan = JobPlan(duration=float(job_duration))
        # The harness copies every announced event into an SQS queue for the tests to read; moto's SendMessage
        # counts the queue's messages each time (quadratic in a batch of thousands). The benchmark reads no
        # event, so that copy is not made; the PutEvents calls themselves are made and counted.
        boto3.client("events").remove_targets(Rule="capture-outcomes", Ids=["queue"])
        counter = _Counter().install(boto3.DEFAULT_SESSION.events)
        bucket = lw.bucket()
        started = time.perf_counter()
        for i in range(requests):
            key = f"{PREFIX}bench/r{i:06d}.csv"
            counter.paused = True  # the requester's upload, not the queue's
            lw.s3.put_object(Bucket=bucket, Key=key, Body=f"USER_ID\nbench-user-{i:06d}\n".encode())
            head = lw.s3.head_object(Bucket=bucket, Key=key)
            counter.paused = False
            [delivery] = lw.emit(s3_object_created(bucket, key, head, lw.clock.now(), f"{i:018X}"))
            if delivery.error or not (delivery.result or {}).get("registered"):
                raise RuntimeError(f"request {i} was not registered: {delivery.error or delivery.result}")
        real["intake"] = time.perf_counter() - started
        started = time.perf_counter()
        ex = lw.run(BATCH, {}, name="bench-batch", timeout=3600)
        real["batch"] = time.perf_counter() - started
        counter.uninstall()
        if ex.status != "SUCCEEDED":
            raise RuntimeError(f"batch run {ex.status}: {ex.error} {ex.cause}")
        outside = {contract.STATE_BATCH_GROUPS, contract.STATE_BATCH_EACH_GROUP, contract.STATE_BATCH_SUMMARY}
        batch_outside = sum(1 for e in ex.history if e["type"].endswith("StateEntered")
                            and e.get("stateEnteredEventDetails", {}).get("name") in outside)
        children = lw.sfn.list_executions(stateMachineArn=lw.machine("DataDeletion/Workflow"))["executions"]
        child_transitions = sum(_transitions(lw._history(c["executionArn"])) for c in children)
        completed = sum(1 for g in ex.output["datasetGroups"] if g["status"] == "COMPLETED")
        listed = lw.s3.list_objects_v2(Bucket=bucket, Prefix="audit/deletion-requests/")
        done = 0
        while True:
            for obj in listed.get("Contents", []):
                body = json.loads(lw.s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
                done += body["status"] == contract.REQUEST_COMPLETED
            if not listed.get("IsTruncated"):
                break
            listed = lw.s3.list_objects_v2(Bucket=bucket, Prefix="audit/deletion-requests/",
                                           ContinuationToken=listed["NextContinuationToken"])
        if completed != len(GROUPS):
            raise RuntimeError(f"batch run: {ex.output}")
        return BatchFigures(
            requests=requests, groups=len(GROUPS), batch_status=ex.status, completed_requests=done,
            jobs=len(lw.personalize.jobs), batch_transitions=_transitions(ex.history),
            batch_transitions_outside_groups=batch_outside, child_transitions=child_transitions,
            child_executions=len(children),
            child_polls=sum(1 for inv in lw.invocations if inv.function.startswith("DataDeletionPoll")),
            invocations=Counter(_function_kind(inv.function) for inv in lw.invocations),
            handler_seconds=seconds,
            dynamodb_calls=Counter({op: n for (service, op), n in counter.calls.items() if service == "dynamodb"}),
            dynamodb_write_units=counter.write_units, dynamodb_index_write_units=counter.index_write_units,
            dynamodb_read_units=counter.read_units,
            s3_calls=Counter({op: n for (service, op), n in counter.calls.items() if service == "s3"}),
            other_calls=Counter({k: n for k, n in counter.calls.items() if k[0] not in ("s3", "dynamodb")}),
            real_seconds=real)


@dataclass
class FailedLaunch:
    """One request of (a) in one dataset group, start to end: the upload trigger's invocation, the execution, the
    outcome reporter's; and every S3, EventBridge, SNS and CloudWatch request they made."""

    outcome: str
    transitions: int
    invocations: int  # the upload trigger, the execution's functions, the outcome reporter
    trigger_invocations: int
    calls: Counter

    @property
    def s3_puts(self) -> int:
        return sum(n for (service, op), n in self.calls.items() if service == "s3" and op in S3_PUT_CLASS)

    @property
    def s3_gets(self) -> int:
        return sum(n for (service, op), n in self.calls.items() if service == "s3" and op not in S3_PUT_CLASS)

    def of(self, service: str, op: str) -> int:
        return self.calls[(service, op)]


UPLOAD_PREFIX = "deletions/uploads/"


def failed_launch(template: dict[str, Any]) -> FailedLaunch:
    """A user-ID file uploaded under an upload trigger's prefix, in a dataset group already holding 5 PENDING
    jobs: the trigger starts the deletion, Launch retries ``LimitExceededException`` and gives up, the outcome
    reporter records and announces the failure. ``template`` must configure the trigger (``UPLOAD_PREFIX`` →
    ``reference.GROUP``)."""
    from cdk_ml_data_jobs._assets import lambda_code_dir
    from tests.bench import reference
    from tests.harness.events import s3_object_created
    from tests.harness.fakes import JobPlan
    from tests.harness.local import LocalWorkflows

    import boto3

    with LocalWorkflows(template, str(lambda_code_dir())) as lw:
        counter = _Counter().install(boto3.DEFAULT_SESSION.events)
        p = lw.personalize
        p.add_existing_job("busy-running", reference.GROUP, "s3://elsewhere/x.csv",
                           JobPlan(duration=30 * 86400, pending=0), age=60)
        for i in range(5):
            p.add_existing_job(f"busy-{i}", reference.GROUP, "s3://elsewhere/x.csv", JobPlan(duration=30 * 86400))
        if p.pending_in(reference.GROUP) != 5:
            raise RuntimeError("the fake dataset group does not hold 5 PENDING jobs")
        counter.paused = True  # the requester's upload, not the library's
        bucket, key = lw.bucket(), f"{UPLOAD_PREFIX}bench-request.csv"
        lw.s3.put_object(Bucket=bucket, Key=key, Body=b"USER_ID\nbench-user-1\n")
        head = lw.s3.head_object(Bucket=bucket, Key=key)
        counter.paused = False
        [trigger] = lw.emit(s3_object_created(bucket, key, head, lw.clock.now(), "0" * 18))
        if trigger.error or not (trigger.result or {}).get("started"):
            raise RuntimeError(f"the upload trigger started nothing: {trigger.error or trigger.result}")
        ex = lw.wait(trigger.result["executionArn"], timeout=900)
        limited = [c for c in p.calls_of("CreateDataDeletionJob") if c.error]
        if ex.status != "FAILED" or not limited:
            raise RuntimeError(f"expected a FAILED launch on LimitExceededException, got {ex.status} {ex.error}")
        counter.uninstall()
        return FailedLaunch(f"FAILED ({ex.error})", _transitions(ex.history), len(lw.invocations),
                            sum(1 for inv in lw.invocations if inv.function == trigger.function),
                            Counter(counter.calls))

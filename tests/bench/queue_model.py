"""Erasure requests at scale, over 30 simulated days: one execution and job per request, against the queue.

A discrete-event model of what issue 12 states about Amazon Personalize: per
dataset group at most ``pending_limit`` data deletion jobs may be PENDING, a
group's jobs run one at a time in the order they were created, each for
``job_duration``; ``CreateDataDeletionJob`` beyond the limit answers
``LimitExceededException``.

(a) **one job per request** (today's upload trigger, once per dataset group):
    each request starts one execution per group on arrival; its Launch step
    retries ``LimitExceededException`` as the deletion workflow's state machine
    does (from 5 s, ×2, capped at ``retry_max_delay``, full jitter,
    ``retry_max_attempts`` retries) and then fails: the request has failed.
(b) **the queue**: every ``batch_interval`` each group's QUEUED requests are
    claimed into as few jobs as ``max_batch_bytes`` allows, as many as the
    group's free PENDING slots; what does not fit stays QUEUED for the next run.

What each execution costs in Step Functions transitions and Lambda invocations
follows from the library's own adaptive schedule (``jobkit.schedule``) and from
per-execution and per-batch figures measured on the real state machines and
handlers by ``tests/bench/run.py`` (:class:`Measured`); this module only adds
them up. No figure here is typed in: the measured ones are arguments.
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
import statistics
from collections import deque
from dataclasses import dataclass, field

#: Public list prices, us-east-1 (as of 2026-12-01).
PRICE_DATE = "2026-12-01"
PRICES = {
    "sfn_transition": 0.025 / 1000,  # Step Functions Standard
    "lambda_request": 0.20 / 1_000_000,
    "lambda_gb_second_arm": 0.0000133334,
    "dynamodb_write_unit": 0.625 / 1_000_000,  # on-demand, per write request unit
    "dynamodb_read_unit": 0.125 / 1_000_000,  # on-demand, per read request unit
    "s3_put": 0.005 / 1000,  # PUT, COPY, POST, LIST
    "s3_get": 0.0004 / 1000,  # GET, HEAD and other requests
    "events_entry": 1.00 / 1_000_000,  # EventBridge custom events (PutEvents), per 64 KB entry
    "sns_publish": 0.50 / 1_000_000,  # SNS standard topic publishes (deliveries not counted)
    "cloudwatch_put_metric": 0.01 / 1000,  # PutMetricData requests
}
LAMBDA_SECONDS = 0.1  # assumed billed duration of one ordinary invocation
LAMBDA_GB = 0.25  # the library's 256 MB
DAY = 86_400


@dataclass(frozen=True)
class Polling:
    """The deletion workflow's polling defaults (``DataDeletionWorkflow``: 60 s to 30 min, growth 0.1, 72 h)."""

    min_wait: int = 60
    max_wait: int = 1800
    growth: float = 0.1
    job_timeout: int = 72 * 3600

    def polls(self, seconds_from_creation_to_end: float) -> int:
        """Status checks until a job that ends this long after its creation is seen ended."""
        ages = self._ages()
        return min(len(ages), bisect.bisect_left(ages, seconds_from_creation_to_end) + 1)

    def _ages(self) -> list[float]:
        """The age of the request at each status check, until the job timeout (the schedule walked once)."""
        cached = _AGES.get(self)
        if cached is None:
            from jobkit.schedule import next_wait_seconds

            age, cached = 0.0, []
            while age < self.job_timeout:
                age += next_wait_seconds(age, min_wait=self.min_wait, max_wait=self.max_wait, growth=self.growth,
                                         remaining_seconds=self.job_timeout - age)
                cached.append(age)
            _AGES[self] = cached
        return cached


_AGES: dict[Polling, list[float]] = {}


@dataclass(frozen=True)
class Measured:
    """Figures measured on the real state machines and handlers (virtual clock) by ``tests/bench/run.py``."""

    # One deletion execution: transitions = transitions_base + transitions_per_poll × polls; same for invocations.
    transitions_base: float
    transitions_per_poll: float
    invocations_base: float
    invocations_per_poll: float
    # A deletion execution whose Launch gives up on LimitExceededException after its retries.
    failed_launch_transitions: float
    failed_launch_invocations: float
    # One execution per request and group in (a), around its state machine: the upload trigger's invocations
    # (not in the per-execution fit above), and the S3, EventBridge, SNS and CloudWatch requests of the execution
    # and its outcome reporter (the pre-flight's reads, the audit record, the outcome event).
    trigger_invocations: float
    execution_s3_puts: float
    execution_s3_gets: float
    execution_events: float
    execution_sns: float
    execution_metrics: float
    # (b): one batch run, per dataset group part and per request, on top of the child deletion executions.
    batch_transitions_base: float
    batch_transitions_per_group: float
    batch_invocations_base: float
    batch_invocations_per_group: float
    batch_lambda_seconds_per_request: float  # billed Lambda time of intake + claim + record, per request
    intake_invocations_per_request: float
    dynamodb_requests_per_request: float
    dynamodb_writes_per_request: float
    dynamodb_reads_per_request: float
    s3_puts_per_request: float
    s3_gets_per_request: float
    events_per_request: float
    sns_per_request: float
    metrics_per_request: float


@dataclass(frozen=True)
class Scenario:
    requests_per_day: int
    days: int = 30
    groups: int = 3
    job_duration: float = 6 * 3600
    pending_limit: int = 5
    batch_interval: float = DAY
    max_batch_bytes: int = 100 * 1024 * 1024
    bytes_per_request: int = 48  # a one-ID request file's USER_ID line in the merged batch input
    retry_max_attempts: int = 10
    retry_max_delay: float = 300.0
    seed: int = 7


@dataclass
class Cell:
    """One pattern on one scenario: what happened to the requests and what it cost."""

    pattern: str
    scenario: Scenario
    completed: int = 0
    failed: int = 0
    open_at_end: int = 0
    latencies: list[float] = field(default_factory=list)
    jobs: int = 0
    attempts: int = 0  # CreateDataDeletionJob calls, LimitExceededException included ((a) only)
    transitions: float = 0.0
    invocations: float = 0.0
    lambda_seconds: float = 0.0
    dynamodb_requests: float = 0.0
    dynamodb_writes: float = 0.0
    dynamodb_reads: float = 0.0
    s3_puts: float = 0.0
    s3_gets: float = 0.0
    events: float = 0.0  # EventBridge entries
    sns: float = 0.0  # SNS publishes
    metrics: float = 0.0  # CloudWatch PutMetricData requests

    @property
    def requests(self) -> int:
        return self.completed + self.failed + self.open_at_end

    def percentile(self, q: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]

    @property
    def cost(self) -> float:
        return (self.transitions * PRICES["sfn_transition"]
                + self.invocations * PRICES["lambda_request"]
                + self.lambda_seconds * LAMBDA_GB * PRICES["lambda_gb_second_arm"]
                + self.dynamodb_writes * PRICES["dynamodb_write_unit"]
                + self.dynamodb_reads * PRICES["dynamodb_read_unit"]
                + self.s3_puts * PRICES["s3_put"] + self.s3_gets * PRICES["s3_get"]
                + self.events * PRICES["events_entry"] + self.sns * PRICES["sns_publish"]
                + self.metrics * PRICES["cloudwatch_put_metric"])

    @property
    def cost_per_1000(self) -> float:
        return 1000 * self.cost / max(1, self.requests)

    @property
    def cost_per_1000_completed(self) -> float | None:
        return 1000 * self.cost / self.completed if self.completed else None


class Group:
    """One dataset group: jobs PENDING until the previous one ends, then running ``duration`` (FIFO)."""

    def __init__(self, duration: float, pending_limit: int) -> None:
        self.duration, self.limit = duration, pending_limit
        self.created: deque[float] = deque()  # start times of jobs not started yet, in order
        self.last_end = 0.0

    def pending(self, now: float) -> int:
        while self.created and self.created[0] <= now:
            self.created.popleft()
        return len(self.created)

    def create(self, now: float) -> float | None:
        """Create a job at ``now``; its end time, or None for LimitExceededException."""
        if self.pending(now) >= self.limit:
            return None
        start = max(now, self.last_end)
        self.last_end = start + self.duration
        if start > now:
            self.created.append(start)
        return self.last_end


def _arrivals(scenario: Scenario, rng: random.Random) -> list[float]:
    total = scenario.requests_per_day * scenario.days
    return sorted(rng.uniform(0, scenario.days * DAY) for _ in range(total))


def one_job_per_request(scenario: Scenario, measured: Measured, polling: Polling = Polling()) -> Cell:
    """(a): one execution per request and group, started on arrival."""
    rng = random.Random(scenario.seed)
    cell = Cell("one job per request", scenario)
    groups = [Group(scenario.job_duration, scenario.pending_limit) for _ in range(scenario.groups)]
    arrivals = _arrivals(scenario, rng)
    # attempt events: (time, request index, group, retry number)
    events = [(t, i, g, 0) for i, t in enumerate(arrivals) for g in range(scenario.groups)]
    heapq.heapify(events)
    ends: dict[int, list[float]] = {}
    failed: set[int] = set()
    while events:
        now, request, group, retry = heapq.heappop(events)
        end = groups[group].create(now)
        cell.attempts += 1
        if end is not None:
            cell.jobs += 1
            polls = polling.polls(end - now)
            cell.transitions += measured.transitions_base + measured.transitions_per_poll * polls
            cell.invocations += measured.invocations_base + measured.invocations_per_poll * polls
            cell.transitions += retry  # each retry of Launch is a transition and an invocation
            cell.invocations += retry + measured.trigger_invocations
            ends.setdefault(request, []).append(end)
        elif retry < scenario.retry_max_attempts:
            delay = rng.uniform(0, min(scenario.retry_max_delay, 5.0 * 2 ** retry))
            heapq.heappush(events, (now + delay, request, group, retry + 1))
        else:
            failed.add(request)
            cell.transitions += measured.failed_launch_transitions
            cell.invocations += measured.failed_launch_invocations
    executions = len(arrivals) * scenario.groups
    cell.s3_puts = measured.execution_s3_puts * executions
    cell.s3_gets = measured.execution_s3_gets * executions
    cell.events = measured.execution_events * executions
    cell.sns = measured.execution_sns * executions
    cell.metrics = measured.execution_metrics * executions
    cell.lambda_seconds = cell.invocations * LAMBDA_SECONDS
    for index, arrived in enumerate(arrivals):
        if index in failed:
            cell.failed += 1
        else:
            cell.completed += 1
            cell.latencies.append(max(ends[index]) - arrived)
    return cell


def the_queue(scenario: Scenario, measured: Measured, polling: Polling = Polling()) -> Cell:
    """(b): batch runs every ``batch_interval``; per group one job per ``max_batch_bytes`` of claimed requests."""
    rng = random.Random(scenario.seed)
    cell = Cell("request queue", scenario)
    groups = [Group(scenario.job_duration, scenario.pending_limit) for _ in range(scenario.groups)]
    arrivals = _arrivals(scenario, rng)
    per_job = max(1, scenario.max_batch_bytes // scenario.bytes_per_request)
    queued: list[deque[int]] = [deque() for _ in range(scenario.groups)]
    done: dict[int, list[float]] = {}
    next_arrival = 0
    run = 0
    horizon = scenario.days * DAY + 10 * scenario.batch_interval + 10 * scenario.job_duration
    while True:
        now = (run + 1) * scenario.batch_interval
        run += 1
        while next_arrival < len(arrivals) and arrivals[next_arrival] < now:
            for group in queued:
                group.append(next_arrival)
            next_arrival += 1
        if next_arrival >= len(arrivals) and not any(queued):
            break
        if now > horizon:
            break
        cell.transitions += measured.batch_transitions_base
        cell.invocations += measured.batch_invocations_base
        for g, group in enumerate(groups):
            free = scenario.pending_limit - group.pending(now)
            while queued[g] and free > 0:
                part = [queued[g].popleft() for _ in range(min(per_job, len(queued[g])))]
                end = group.create(now)
                assert end is not None  # free slots were counted
                free -= 1
                cell.jobs += 1
                polls = polling.polls(end - now)
                cell.transitions += (measured.transitions_base + measured.transitions_per_poll * polls
                                     + measured.batch_transitions_per_group)
                cell.invocations += (measured.invocations_base + measured.invocations_per_poll * polls
                                     + measured.batch_invocations_per_group)
                for request in part:
                    done.setdefault(request, []).append(end)
    cell.invocations += measured.intake_invocations_per_request * len(arrivals)
    cell.lambda_seconds = (cell.invocations * LAMBDA_SECONDS
                           + measured.batch_lambda_seconds_per_request * len(arrivals))
    cell.dynamodb_requests = measured.dynamodb_requests_per_request * len(arrivals)
    cell.dynamodb_writes = measured.dynamodb_writes_per_request * len(arrivals)
    cell.dynamodb_reads = measured.dynamodb_reads_per_request * len(arrivals)
    cell.s3_puts = measured.s3_puts_per_request * len(arrivals)
    cell.s3_gets = measured.s3_gets_per_request * len(arrivals)
    cell.events = measured.events_per_request * len(arrivals)
    cell.sns = measured.sns_per_request * len(arrivals)
    cell.metrics = measured.metrics_per_request * len(arrivals)
    for index, arrived in enumerate(arrivals):
        ends = done.get(index, [])
        if len(ends) == scenario.groups:
            cell.completed += 1
            cell.latencies.append(max(ends) - arrived)
        else:
            cell.open_at_end += 1
    return cell


def _hours(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds / 3600:.1f} h"


def table(cells: list[Cell]) -> list[str]:
    lines = ["| requests/day | job length | pattern | completed | failed | open at end | p50 | p95 | max | "
             "Personalize jobs created (attempted) | state transitions | Lambda invocations | DynamoDB requests | "
             "S3 requests | cost per 1,000 requests | per 1,000 completed |",
             "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for c in cells:
        s = c.scenario
        attempted = f" ({c.attempts:,})" if c.attempts else ""
        per_done = "–" if c.cost_per_1000_completed is None else f"${c.cost_per_1000_completed:.4f}"
        lines.append(
            f"| {s.requests_per_day:,} | {s.job_duration / 3600:g} h | {c.pattern} | {c.completed:,} | {c.failed:,} | "
            f"{c.open_at_end:,} | {_hours(c.percentile(0.5))} | {_hours(c.percentile(0.95))} | "
            f"{_hours(max(c.latencies) if c.latencies else None)} | {c.jobs:,}{attempted} | {c.transitions:,.0f} | "
            f"{c.invocations:,.0f} | {c.dynamodb_requests:,.0f} | {c.s3_puts + c.s3_gets:,.0f} | "
            f"${c.cost_per_1000:.4f} | {per_done} |")
    return lines


def median_latency(cell: Cell) -> float | None:
    return statistics.median(cell.latencies) if cell.latencies else None

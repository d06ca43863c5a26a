"""jobkit.schedule.next_wait_seconds and the polling settings built on it (jobkit.tracker)."""

from __future__ import annotations

import bisect
import json

import pytest

from jobkit import tracker
from jobkit.schedule import next_wait_seconds

DEFAULTS = {"min_wait": 60, "max_wait": 1800, "growth": 0.1}
DAY = 86_400


def test_young_job_waits_the_minimum():
    assert next_wait_seconds(0, **DEFAULTS) == 60
    assert next_wait_seconds(599, **DEFAULTS) == 60  # 0.1 * 599 = 59.9 < 60


def test_negative_age_counts_as_zero():
    assert next_wait_seconds(-500, **DEFAULTS) == 60


def test_wait_grows_with_age_between_the_bounds():
    assert next_wait_seconds(600, **DEFAULTS) == 60
    assert next_wait_seconds(3600, **DEFAULTS) == 360
    assert next_wait_seconds(10_000, **DEFAULTS) == 1000
    assert next_wait_seconds(3600, min_wait=60, max_wait=1800, growth=0.25) == 900


def test_old_job_waits_at_most_the_maximum():
    assert next_wait_seconds(18_000, **DEFAULTS) == 1800
    assert next_wait_seconds(50_000, **DEFAULTS) == 1800
    assert next_wait_seconds(10 * DAY, **DEFAULTS) == 1800


def test_fractional_waits_are_floored_to_whole_seconds():
    assert next_wait_seconds(1234.5, **DEFAULTS) == 123  # 123.45
    assert isinstance(next_wait_seconds(1234.5, **DEFAULTS), int)


def test_wait_is_capped_by_the_remaining_time():
    assert next_wait_seconds(50_000, **DEFAULTS, remaining_seconds=500) == 500
    assert next_wait_seconds(0, **DEFAULTS, remaining_seconds=30) == 30
    assert next_wait_seconds(50_000, **DEFAULTS, remaining_seconds=5000) == 1800
    assert next_wait_seconds(0, **DEFAULTS, remaining_seconds=30.9) == 30


@pytest.mark.parametrize("remaining", [0.5, 0, -10])
def test_wait_is_at_least_one_second_even_at_or_past_the_deadline(remaining):
    assert next_wait_seconds(50_000, **DEFAULTS, remaining_seconds=remaining) == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"min_wait": 0, "max_wait": 1800, "growth": 0.1}, "min_wait"),
        ({"min_wait": -5, "max_wait": 1800, "growth": 0.1}, "min_wait"),
        ({"min_wait": 600, "max_wait": 60, "growth": 0.1}, "max_wait"),
        ({"min_wait": 60, "max_wait": 1800, "growth": 0}, "growth"),
        ({"min_wait": 60, "max_wait": 1800, "growth": -0.5}, "growth"),
    ],
)
def test_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        next_wait_seconds(100, **kwargs)


def test_min_equal_to_max_gives_a_fixed_interval():
    assert {next_wait_seconds(age, min_wait=300, max_wait=300, growth=0.5) for age in (0, 10, 1e6)} == {300}


def test_monotonic_non_decreasing_in_age():
    previous = 0
    for age in range(0, 2 * DAY, 37):
        wait = next_wait_seconds(age, **DEFAULTS)
        assert wait >= previous, f"wait dropped at age {age}"
        assert 60 <= wait <= 1800
        previous = wait


def _simulate(horizon: float, remaining_from=None) -> list[float]:
    """Check times of a job followed from age 0: the next check is at age + wait."""
    checks = [0.0]
    age = 0.0
    while age < horizon:
        remaining = None if remaining_from is None else remaining_from - age
        age += next_wait_seconds(age, **DEFAULTS, remaining_seconds=remaining)
        checks.append(age)
    return checks


def test_a_day_long_job_needs_at_most_100_checks():
    checks = _simulate(DAY)
    assert checks[-1] >= DAY
    assert len(checks) <= 100, len(checks)
    # ...and the schedule is not trivially sparse: the first ten minutes are checked every minute.
    assert checks[:11] == [60.0 * i for i in range(11)]


def test_a_job_is_seen_within_max_60s_or_10_percent_of_its_age_and_within_30_minutes():
    checks = _simulate(DAY)
    worst_ratio = 0.0
    for finish in range(1, DAY + 1, 13):
        seen = checks[bisect.bisect_left(checks, finish)]
        delay = seen - finish
        assert 0 <= delay <= max(60.0, 0.1 * finish), (finish, delay)
        assert delay <= 1800, (finish, delay)
        worst_ratio = max(worst_ratio, delay / max(60.0, 0.1 * finish))
    assert worst_ratio > 0.9  # the bound is tight, not vacuous


def test_checks_never_pass_the_deadline():
    deadline = 50_000
    checks = _simulate(deadline, remaining_from=deadline)
    assert checks[-1] == deadline
    assert all(b > a for a, b in zip(checks, checks[1:]))


# --- jobkit.tracker: the polling settings and tracker documents ---------------------------------


def test_poll_settings_from_env(monkeypatch):
    monkeypatch.setenv("POLL_MIN_WAIT_SECONDS", "30")
    monkeypatch.setenv("POLL_MAX_WAIT_SECONDS", "900")
    monkeypatch.setenv("POLL_GROWTH", "0.25")
    monkeypatch.setenv("JOB_TIMEOUT_SECONDS", "7200")
    settings = tracker.PollSettings.from_env()
    assert settings == tracker.PollSettings(min_wait=30, max_wait=900, growth=0.25, job_timeout=7200)


def test_poll_settings_wait_for_respects_the_job_timeout():
    settings = tracker.PollSettings(min_wait=60, max_wait=1800, growth=0.1, job_timeout=10_000)
    assert settings.wait_for(0) == 60
    assert settings.wait_for(5000) == 500
    assert settings.wait_for(9_800) == 200  # 980 would overshoot the timeout
    for age in range(0, 10_000, 11):
        assert age + settings.wait_for(age) <= 10_000


def test_poll_settings_timed_out_boundary():
    settings = tracker.PollSettings(min_wait=60, max_wait=1800, growth=0.1, job_timeout=10_000)
    assert not settings.timed_out(9_999.9)
    assert settings.timed_out(10_000)
    assert settings.timed_out(10_001)


def test_tracker_documents():
    job = {"id": "x"}
    assert tracker.running(job, "PENDING", 60) == {"phase": "RUNNING", "status": "PENDING", "waitSeconds": 60,
                                                   "job": job}
    assert tracker.succeeded(job, "DONE", {"a": 1}) == {"phase": "SUCCEEDED", "status": "DONE", "job": job,
                                                       "result": {"a": 1}}
    stopped = tracker.stopped(job, "FAILED", "SomethingFailed", {"b": 2, "a": "é"})
    assert stopped["phase"] == "STOPPED"
    assert stopped["error"] == "SomethingFailed"
    assert stopped["cause"] == '{"a":"\\u00e9","b":2}'  # compact, sorted keys
    assert json.loads(stopped["cause"]) == {"a": "é", "b": 2}

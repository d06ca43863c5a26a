"""jobkit.jsonsafe and jobkit.clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from jobkit import clock
from jobkit.jsonsafe import iso, parse_iso


def test_iso_of_an_aware_utc_datetime_ends_in_z():
    assert iso(datetime(2026, 11, 23, 7, 0, 0, tzinfo=timezone.utc)) == "2026-11-23T07:00:00Z"


def test_iso_keeps_microseconds():
    assert iso(datetime(2026, 11, 23, 7, 0, 0, 123456, tzinfo=timezone.utc)) == "2026-11-23T07:00:00.123456Z"


def test_iso_converts_other_offsets_to_utc():
    tokyo = timezone(timedelta(hours=9))
    assert iso(datetime(2026, 11, 23, 16, 0, 0, tzinfo=tokyo)) == "2026-11-23T07:00:00Z"


def test_iso_treats_naive_datetimes_as_utc():
    assert iso(datetime(2026, 11, 23, 7, 0, 0)) == "2026-11-23T07:00:00Z"


def test_iso_of_none_is_none():
    assert iso(None) is None


@pytest.mark.parametrize("moment", [
    datetime(2026, 11, 23, 7, 0, 0, tzinfo=timezone.utc),
    datetime(2026, 2, 28, 23, 59, 59, 999999, tzinfo=timezone.utc),
    datetime(2026, 11, 23, 16, 0, 0, tzinfo=timezone(timedelta(hours=9))),
])
def test_parse_iso_round_trips(moment):
    parsed = parse_iso(iso(moment))
    assert parsed == moment
    assert parsed.utcoffset() == timedelta(0)


def test_parse_iso_accepts_offsets_and_naive_text():
    assert parse_iso("2026-11-23T09:00:00+02:00") == datetime(2026, 11, 23, 7, tzinfo=timezone.utc)
    naive = parse_iso("2026-11-23T07:00:00")
    assert naive.tzinfo is not None and naive == datetime(2026, 11, 23, 7, tzinfo=timezone.utc)


def test_clock_now_is_aware_utc_and_current():
    before = datetime.now(timezone.utc)
    now = clock.now()
    after = datetime.now(timezone.utc)
    assert now.utcoffset() == timedelta(0)
    assert before <= now <= after

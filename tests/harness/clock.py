"""A virtual clock: waits and retry back-off advance it; nothing sleeps."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

START = datetime(2026, 11, 23, 0, 0, 0, tzinfo=timezone.utc)


class VirtualClock:
    def __init__(self, start: datetime = START) -> None:
        self._now = start
        self.start = start
        self._lock = threading.Lock()
        self.waited = 0.0  # seconds advanced by Wait states
        self.backed_off = 0.0  # seconds advanced by Retry back-off

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def elapsed(self) -> float:
        return (self.now() - self.start).total_seconds()

    def advance(self, seconds: float, *, kind: str = "wait") -> None:
        with self._lock:
            self._now += timedelta(seconds=max(0.0, float(seconds)))
            if kind == "wait":
                self.waited += seconds
            else:
                self.backed_off += seconds

"""A virtual clock: waits and retry back-off advance it; nothing sleeps."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

START = datetime(2026, 11, 23, 0, 0, 0, tzinfo=timezone.utc)


class VirtualClock:
    """``real_time=True``: the clock also moves with real time (a long-running emulator whose
    executions an operator starts at will); otherwise only :meth:`advance` moves it."""

    def __init__(self, start: datetime = START, *, real_time: bool = False) -> None:
        self._now = start
        self.start = start
        self._lock = threading.Lock()
        self._real_start = time.monotonic() if real_time else None
        self.waited = 0.0  # seconds advanced by Wait states
        self.backed_off = 0.0  # seconds advanced by Retry back-off

    def now(self) -> datetime:
        with self._lock:
            now = self._now
        if self._real_start is not None:
            now += timedelta(seconds=time.monotonic() - self._real_start)
        return now

    def elapsed(self) -> float:
        return (self.now() - self.start).total_seconds()

    def advance(self, seconds: float, *, kind: str = "wait") -> None:
        with self._lock:
            self._now += timedelta(seconds=max(0.0, float(seconds)))
            if kind == "wait":
                self.waited += seconds
            else:
                self.backed_off += seconds

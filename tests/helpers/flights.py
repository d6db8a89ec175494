"""Seeing, without polling, when threads wait on another thread's model load (a ModelCache flight).

    waits = watch_flights(monkeypatch)   from now on every ModelCache load counts its waiters here
    assert waits.wait_for(3)             returns once three threads are blocked on someone's load

The cache itself is unchanged: only the event a waiter blocks on is swapped for one that reports
the wait first, so a test can open its loader's gate exactly when the waiters are there.
"""

from __future__ import annotations

import threading

import pytest

from genai_mcp.tools.models import cache as cache_module

__all__ = ["FlightWaits", "watch_flights"]


class FlightWaits:
    """How many threads have started waiting on a load that another thread is doing."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.count = 0

    def arrived(self) -> None:
        with self._changed:
            self.count += 1
            self._changed.notify_all()

    def wait_for(self, n: int, timeout: float = 30) -> bool:
        """True once at least `n` threads wait (False if that takes longer than `timeout` s)."""
        with self._changed:
            return self._changed.wait_for(lambda: self.count >= n, timeout)


def watch_flights(monkeypatch: pytest.MonkeyPatch) -> FlightWaits:
    waits = FlightWaits()
    real_flight = cache_module._Flight

    class ReportingEvent(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            waits.arrived()
            return super().wait(timeout)

    monkeypatch.setattr(cache_module, "_Flight", lambda: real_flight(done=ReportingEvent()))
    return waits

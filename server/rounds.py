"""Resolver results kept for the retry rounds of a 2026-07-28 tool call.

On 2026-07-28 connections a tool whose resolvers ask the client something (Sample / Elicit) is
called again once the client has answered, and the SDK runs every resolver again: plain results
are not carried in `request_state`. A resolver that does real work (running two classifiers,
preparing a training job) keeps its result here, keyed by its arguments, and the retry round (the
one that arrives with a `request_state`) reuses it. A first round always computes afresh, so a new
call never sees an old result (a file may have changed since). The wait between rounds is the
client's LLM or its user answering, so entries live for minutes.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

__all__ = ["RoundCache"]

T = TypeVar("T")


class RoundCache(Generic[T]):
    """A small, thread-safe, time-bounded memo of `compute()` by the arguments it was given.

    Entries older than `ttl_s` seconds by `clock` (monotonic seconds; a test passes its own) are
    dropped; at most `size` are kept, the oldest pushed out first.
    """

    def __init__(
        self, *, ttl_s: float = 300.0, size: int = 8, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s, self.size = ttl_s, size
        self._clock = clock
        self.hits = self.misses = 0
        self._items: OrderedDict[str, tuple[float, T]] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(self, arguments: Mapping[str, Any], compute: Callable[[], T], *, retry: bool) -> T:
        """The value computed for `arguments` by an earlier round if this is a retry round, else `compute()`."""
        key = self.key(arguments)
        now = self._clock()
        with self._lock:
            for old in [k for k, (t, _) in self._items.items() if now - t > self.ttl_s]:
                del self._items[old]
            if retry and key in self._items:
                self.hits += 1
                return self._items[key][1]
            self.misses += 1
        value = compute()  # outside the lock: other calls go on meanwhile
        with self._lock:
            self._items[key] = (now, value)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def pop(self, arguments: Mapping[str, Any]) -> T | None:
        with self._lock:
            entry = self._items.pop(self.key(arguments), None)
        return None if entry is None else entry[1]

    @staticmethod
    def key(arguments: Mapping[str, Any]) -> str:
        return hashlib.sha256(json.dumps(arguments, sort_keys=True, default=str).encode()).hexdigest()

"""Dynamic micro-batching: concurrent calls on the same model share one forward pass.

Callers arrive from worker threads, each with its own inputs already decoded and preprocessed (so a
bad input fails only its own caller, before any batching). `ForwardBatcher.run(key, item, forward)`
is leader-follower over threading primitives, one open batch per key:

    the first caller for a key opens a batch and leads it: if there is sign of company (another
    call on the key arrived within the last `window_s`, a forward on the key is running, or
    another call of its `group` is on its way: `with batcher.coming(group)` around a whole call,
    decoding included, says so from its start) it
    waits up to `window_s` (less if the batch fills to `max_batch` items); it then closes the
    batch, runs `forward(items)` once and hands each member its own output; callers that arrive
    while the batch is open join it and wait for that output; callers that arrive once it is
    closed open the next one.

A lone caller (nothing else on its model within the window) therefore runs at once, and no caller
waits more than the window; the first call of a burst waits for the burst only if the burst's other
calls announced themselves with `coming`, and otherwise goes alone while the rest batches. Window 0 (or max_batch 1) runs every call alone at once. Python threads cannot be interrupted, so a caller whose request was cancelled still finishes
its part and the others are not disturbed. If a shared forward raises, each member's item is run on
its own so that only the caller whose item fails sees the error. Items are counted in "rows" (e.g.
images) so that a caller with several images takes several places of `max_batch`.

The key must identify everything that makes items stackable (model object, input shape, dtype);
`forward` must map a list of items to a list of outputs of the same length and order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

__all__ = ["BatchStats", "ForwardBatcher"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class BatchStats:
    """Counters of one batcher since it was built (read them with ForwardBatcher.stats())."""

    calls: int = 0  # run() calls
    rows: int = 0  # rows (images, texts) of those calls
    forwards: int = 0  # forward passes run, shared or alone
    largest_batch: int = 0  # most calls in one forward pass
    max_wait_s: float = 0.0  # the longest a leader waited for its batch to form (at most the window)
    retried_alone: int = 0  # calls re-run on their own because a shared forward raised

    @property
    def calls_per_forward(self) -> float:
        return self.calls / self.forwards if self.forwards else 0.0


@dataclass
class _Batch(Generic[T, R]):
    items: list[T] = field(default_factory=list)
    rows: int = 0
    closed: bool = False
    full: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    outputs: list[R | BaseException] = field(default_factory=list)


class ForwardBatcher:
    """Micro-batches `run` calls per key; `window_s` 0 or `max_batch` 1 turns batching off."""

    def __init__(self, window_s: float = 0.002, max_batch: int = 32) -> None:
        if window_s < 0 or max_batch < 1:
            raise ValueError(f"window_s must be >= 0 and max_batch >= 1 (got {window_s}, {max_batch})")
        self.window_s = window_s
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._open: dict[Hashable, _Batch[Any, Any]] = {}
        # Only what the last window saw and what runs now: keys hold model objects, which must not
        # outlive their eviction from the model cache here.
        self._arrived: dict[Hashable, float] = {}
        self._running: dict[Hashable, int] = {}
        self._coming: dict[Hashable, int] = {}  # calls of a group under way (see `coming`)
        self._stats = BatchStats()

    @property
    def enabled(self) -> bool:
        return self.window_s > 0 and self.max_batch > 1

    def stats(self) -> BatchStats:
        with self._lock:
            return BatchStats(**vars(self._stats))

    @contextmanager
    def coming(self, group: Hashable) -> Iterator[None]:
        """Around a whole call that will `run(..., group=group)`: while it is under way, a leader of
        the same group knows to wait for it (a burst's first call no longer goes alone)."""
        with self._lock:
            self._coming[group] = self._coming.get(group, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._coming[group] -= 1
                if not self._coming[group]:
                    del self._coming[group]

    def run(
        self,
        key: Hashable,
        item: T,
        forward: Callable[[list[T]], list[R]],
        rows: int = 1,
        group: Hashable | None = None,
    ) -> R:
        """forward([item])[0], computed in one pass with the other callers' items of the same key that
        arrive within the window. Raises what the forward raised for this item. `group`: the one a
        surrounding `coming` announced, if any."""
        now = time.perf_counter()
        with self._lock:
            self._stats.calls += 1
            self._stats.rows += rows
            company = self._company(key, now) or (group is not None and self._coming.get(group, 0) > 1)
            batch = self._open.get(key)
            joined = (
                batch is not None
                and self.enabled
                and batch.rows + rows <= self.max_batch
                and not batch.closed
            )
            if joined:
                assert batch is not None
                index = len(batch.items)
                batch.items.append(item)
                batch.rows += rows
                if batch.rows >= self.max_batch:
                    batch.full.set()
            else:
                batch = _Batch(items=[item], rows=rows)
                index = 0
                # A full batch takes no followers; a lone caller does not wait for any.
                waits = self.enabled and rows < self.max_batch and company
                if waits:
                    self._open[key] = batch
        if joined:
            batch.done.wait()
        else:
            self._lead(key, batch, forward, waits)
        out: R | BaseException = batch.outputs[index]
        if isinstance(out, BaseException):
            raise out
        return out

    def _company(self, key: Hashable, now: float) -> bool:
        """Whether another call on `key` arrived within the window or is in its forward; records
        this arrival. Called under the lock."""
        last = self._arrived.get(key)
        company = (last is not None and now - last <= self.window_s) or self._running.get(key, 0) > 0
        stale = [k for k, t in self._arrived.items() if now - t > self.window_s]
        for k in stale:
            del self._arrived[k]
        self._arrived[key] = now
        return company

    def _lead(
        self, key: Hashable, batch: _Batch[T, R], forward: Callable[[list[T]], list[R]], waits: bool
    ) -> None:
        waited = 0.0
        if waits:
            started = time.perf_counter()
            batch.full.wait(self.window_s)
            waited = time.perf_counter() - started
        with self._lock:
            batch.closed = True
            if self._open.get(key) is batch:
                del self._open[key]
            self._stats.max_wait_s = max(self._stats.max_wait_s, waited)
            self._stats.largest_batch = max(self._stats.largest_batch, len(batch.items))
            self._stats.forwards += 1
            self._running[key] = self._running.get(key, 0) + 1
        try:
            batch.outputs = self._forward(batch.items, forward)
        except BaseException as exc:  # a bug or an interrupt: every member must still wake
            batch.outputs = [exc] * len(batch.items)
        finally:
            with self._lock:
                self._running[key] -= 1
                if not self._running[key]:
                    del self._running[key]
            batch.done.set()

    def _forward(self, items: list[T], forward: Callable[[list[T]], list[R]]) -> list[R | BaseException]:
        try:
            outputs = forward(items)
        except Exception as exc:
            if len(items) == 1:
                return [exc]
            # One item made the shared pass fail: run each alone so only its caller sees the error.
            with self._lock:
                self._stats.retried_alone += len(items)
                self._stats.forwards += len(items)
            alone: list[R | BaseException] = []
            for item in items:
                try:
                    alone.append(forward([item])[0])
                except Exception as item_exc:
                    alone.append(item_exc)
            return alone
        if len(outputs) != len(items):
            raise RuntimeError(f"forward returned {len(outputs)} outputs for {len(items)} items")
        return list(outputs)

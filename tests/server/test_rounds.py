"""RoundCache: a retry round reuses the first round's result; a new call always computes afresh."""

from __future__ import annotations

from itertools import count

from genai_mcp.server.rounds import RoundCache


def test_only_a_retry_round_reuses_and_entries_expire_and_are_bounded() -> None:
    calls = count(1)
    now = [1000.0]  # the cache's clock, in seconds: moved on by hand below
    cache: RoundCache[int] = RoundCache(ttl_s=0.2, size=2, clock=lambda: now[0])
    args = {"image": "a.png", "top_k": 3}
    first = cache.get_or_compute(args, lambda: next(calls), retry=False)
    assert cache.get_or_compute(args, lambda: next(calls), retry=True) == first == 1
    assert cache.get_or_compute(dict(reversed(args.items())), lambda: next(calls), retry=True) == 1
    # A new call (no request_state) never sees an old result: the file may have changed.
    assert cache.get_or_compute(args, lambda: next(calls), retry=False) == 2
    assert cache.get_or_compute({"image": "b.png"}, lambda: next(calls), retry=True) == 3  # nothing to reuse
    cache.get_or_compute({"image": "c.png"}, lambda: next(calls), retry=False)
    assert cache.get_or_compute(args, lambda: next(calls), retry=True) == 5  # pushed out (size 2)
    assert cache.pop(args) == 5 and cache.pop(args) is None
    assert cache.get_or_compute(args, lambda: next(calls), retry=False) == 6
    now[0] += 0.15
    assert cache.get_or_compute(args, lambda: next(calls), retry=True) == 6  # younger than ttl_s
    now[0] += 0.1
    assert cache.get_or_compute(args, lambda: next(calls), retry=True) == 7  # expired
    assert (cache.hits, cache.misses) == (3, 7)

"""ForwardBatcher (tools/models/batching.py) and the shared forward of classify_images / zero_shot_classify.

Threads are released together with a Barrier; whether batches formed, and how long a leader waited,
are read from the batcher's own counters. A batcher waits for company only once it has seen some (a
call within the window before, or a forward running), so each burst here follows one call on the
same key (`warm`): within GENEROUS_S, every caller of the burst then waits for the batch to fill.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

import pytest

from genai_mcp.tools.errors import InvalidInputError
from genai_mcp.tools.house.digits import digit_images
from genai_mcp.tools.models.batching import ForwardBatcher
from genai_mcp.tools.vision import ClassifyRequest, ZeroShotRequest, classify_images, zero_shot_classify
from tests.helpers.images import b64, encode

T = TypeVar("T")
GENEROUS_S = 30.0  # a window no test waits out: batches here are released by filling up


@pytest.fixture(scope="module")
def specs() -> list[str]:
    images, _ = digit_images("test")
    return [b64(encode(im)) for im in images[:8]]


def together(calls: list[Callable[[], T]]) -> list[T | BaseException]:
    """Run each call in its own thread, all released at once; each call's result or exception."""
    barrier = threading.Barrier(len(calls))

    def one(call: Callable[[], T]) -> T | BaseException:
        barrier.wait()
        try:
            return call()
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(one, calls))


def doubled(items: list[int]) -> list[int]:
    return [2 * x for x in items]


def warm(batcher: ForwardBatcher, key: str = "k") -> None:
    """One call on `key` before a burst, so that the burst's first caller sees company and waits."""
    batcher.run(key, 0, doubled)


def test_barrier_released_calls_share_forward_passes_and_get_their_own_outputs() -> None:
    batcher = ForwardBatcher(window_s=GENEROUS_S, max_batch=8)
    passes: list[list[int]] = []

    def forward(items: list[int]) -> list[int]:
        passes.append(list(items))
        return doubled(items)

    warm(batcher)
    outputs = together([partial(batcher.run, "k", i, forward) for i in range(8)])
    assert outputs == [2 * i for i in range(8)]
    stats = batcher.stats()
    assert stats.calls == 9 and stats.forwards == 2 == 1 + len(passes) and stats.largest_batch == 8
    assert sorted(x for p in passes for x in p) == list(range(8))


def test_a_lone_caller_runs_at_once_whatever_the_window() -> None:
    batcher = ForwardBatcher(window_s=GENEROUS_S, max_batch=8)
    assert batcher.run("k", 3, doubled) == 6
    assert batcher.run("other", 4, doubled) == 8  # a call on another model is no company
    stats = batcher.stats()
    assert stats.forwards == 2 and stats.largest_batch == 1 and stats.max_wait_s == 0.0


def test_the_first_call_of_a_burst_goes_alone_and_the_rest_batch() -> None:
    batcher = ForwardBatcher(window_s=GENEROUS_S, max_batch=7)  # the 7 after the first fill a batch
    assert together([partial(batcher.run, "k", i, doubled) for i in range(8)]) == [2 * i for i in range(8)]
    stats = batcher.stats()
    assert stats.forwards == 2 and stats.largest_batch == 7


def test_company_waits_no_longer_than_the_window() -> None:
    batcher = ForwardBatcher(window_s=0.02, max_batch=8)
    warm(batcher)
    assert batcher.run("k", 3, doubled) == 6  # company (the warm call), but nobody joins
    stats = batcher.stats()
    assert stats.forwards == 2 and stats.largest_batch == 1
    # The leader's wait is bounded by the window (a little more only for the thread to be scheduled).
    assert 0.0 < stats.max_wait_s < batcher.window_s + 0.25


def test_a_call_arriving_while_a_forward_runs_waits_for_company() -> None:
    batcher = ForwardBatcher(window_s=0.05, max_batch=8)
    started, release = threading.Event(), threading.Event()

    def slow(items: list[int]) -> list[int]:
        started.set()
        release.wait()
        return doubled(items)

    first = threading.Thread(target=batcher.run, args=("k", 1, slow))
    first.start()
    started.wait()
    batcher._arrived.clear()  # only the running forward is company now
    try:
        assert batcher.run("k", 2, doubled) == 4
    finally:
        release.set()
        first.join()
    assert batcher.stats().max_wait_s > 0.0


@pytest.mark.parametrize("window_s, max_batch", [(0.0, 8), (GENEROUS_S, 1)])
def test_window_zero_or_max_batch_one_runs_each_call_alone_without_waiting(
    window_s: float, max_batch: int
) -> None:
    batcher = ForwardBatcher(window_s=window_s, max_batch=max_batch)
    assert not batcher.enabled
    assert together([partial(batcher.run, "k", i, doubled) for i in range(4)]) == [0, 2, 4, 6]
    stats = batcher.stats()
    assert stats.forwards == 4 and stats.largest_batch == 1 and stats.max_wait_s == 0.0


def test_a_caller_with_more_rows_than_the_batch_holds_runs_at_once() -> None:
    batcher = ForwardBatcher(window_s=GENEROUS_S, max_batch=4)
    assert batcher.run("k", 5, doubled, rows=4) == 10
    assert batcher.stats().max_wait_s == 0.0


def test_an_item_that_fails_the_shared_pass_fails_only_its_caller() -> None:
    batcher = ForwardBatcher(window_s=GENEROUS_S, max_batch=4)

    def forward(items: list[int]) -> list[int]:
        if 3 in items:
            raise ValueError("3 is not allowed")
        return doubled(items)

    warm(batcher)
    outputs = together([partial(batcher.run, "k", i, forward) for i in range(4)])
    assert outputs[:3] == [0, 2, 4]
    assert isinstance(outputs[3], ValueError) and "3 is not allowed" in str(outputs[3])


def test_keys_never_share_a_pass() -> None:
    batcher = ForwardBatcher(window_s=GENEROUS_S, max_batch=2)
    seen: list[set[str]] = []

    def forward(items: list[str]) -> list[str]:
        seen.append({item[0] for item in items})
        return items

    for k in "ab":
        batcher.run(k, k, forward)
    together([partial(batcher.run, k, f"{k}{i}", forward) for k in "ab" for i in range(2)])
    assert all(len(kinds) == 1 for kinds in seen) and max(len(s) for s in seen) == 1
    assert batcher.stats().largest_batch == 2


def test_batched_classification_equals_unbatched_and_applies_each_callers_top_k(specs: list[str]) -> None:
    requests = [ClassifyRequest(image=spec, top_k=1 + i % 3) for i, spec in enumerate(specs[:6])]
    requests.append(ClassifyRequest(image=specs[6:8], top_k=4))  # one caller with two images
    alone = [classify_images(r) for r in requests]
    batcher = ForwardBatcher(window_s=GENEROUS_S, max_batch=8)  # 8 images: full once all have joined
    classify_images(requests[0], batcher=batcher)  # company for the burst: same model, same shape
    shared = together([partial(classify_images, r, batcher=batcher) for r in requests])
    assert batcher.stats().forwards < len(requests)
    for a, b in zip(alone, shared, strict=True):
        assert not isinstance(b, BaseException)
        assert len(a.results) == len(b.results)
        for ra, rb in zip(a.results, b.results, strict=True):
            assert [x.label for x in ra.labels] == [x.label for x in rb.labels]
            assert [x.probability for x in rb.labels] == pytest.approx(
                [x.probability for x in ra.labels], abs=1e-5
            )
        assert b.timing.forward_ms >= 0 and b.timing.total_ms >= b.timing.forward_ms


def test_an_undecodable_image_fails_only_its_caller(specs: list[str]) -> None:
    batcher = ForwardBatcher(window_s=0.05, max_batch=8)
    requests = [ClassifyRequest(image=spec) for spec in specs[:3]] + [
        ClassifyRequest(image=b64(b"not an image"))
    ]
    classify_images(requests[0], batcher=batcher)
    outputs = together([partial(classify_images, r, batcher=batcher) for r in requests])
    assert isinstance(outputs[3], InvalidInputError)
    for request, out in zip(requests[:3], outputs[:3], strict=True):
        assert not isinstance(out, BaseException)
        (expected,), (got,) = classify_images(request).results, out.results
        assert got.labels[0].label == expected.labels[0].label
        assert got.labels[0].probability == pytest.approx(expected.labels[0].probability, abs=1e-5)
    assert batcher.stats().calls == 4  # the warm call and three: the bad one never reached the batcher


def test_batched_zero_shot_equals_unbatched_with_each_callers_labels(specs: list[str]) -> None:
    label_sets = [["0", "1", "7"], ["seven", "two"], ["3", "4", "5", "6"], ["a digit", "a cat"]]
    requests: list[Any] = [
        ZeroShotRequest(image=spec, labels=labels) for spec, labels in zip(specs, label_sets, strict=False)
    ]
    alone = [zero_shot_classify(r) for r in requests]
    batcher = ForwardBatcher(window_s=GENEROUS_S, max_batch=len(requests))
    zero_shot_classify(requests[0], batcher=batcher)
    shared = together([partial(zero_shot_classify, r, batcher=batcher) for r in requests])
    assert batcher.stats().forwards < len(requests)
    for a, b in zip(alone, shared, strict=True):
        assert not isinstance(b, BaseException)
        (ra,), (rb,) = a.results, b.results
        assert [s.label for s in ra.scores] == [s.label for s in rb.scores]
        assert [s.probability for s in rb.scores] == pytest.approx(
            [s.probability for s in ra.scores], abs=1e-5
        )


def test_calls_announced_as_coming_batch_from_the_first() -> None:
    batcher = ForwardBatcher(window_s=GENEROUS_S, max_batch=8)
    all_coming = threading.Barrier(8)

    def call(i: int) -> int:
        with batcher.coming("g"):
            all_coming.wait()  # every call under way (decoding, say) before any reaches the batcher
            return batcher.run("k", i, doubled, group="g")

    assert together([partial(call, i) for i in range(8)]) == [2 * i for i in range(8)]
    stats = batcher.stats()
    assert stats.forwards == 1 and stats.largest_batch == 8  # no first call alone: no warm-up needed
    assert batcher._coming == {}
    lone = ForwardBatcher(window_s=GENEROUS_S, max_batch=8)
    with lone.coming("g"):  # a lone announced call still runs at once
        assert lone.run("k", 5, doubled, group="g") == 10
    assert lone.stats().max_wait_s == 0.0

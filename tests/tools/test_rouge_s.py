"""ROUGE-S / ROUGE-SU in text_metrics: Lin (2004)'s worked example and cases counted by hand with
ROUGE-1.5.5.pl's createSkipBigram rules (the reference: rouge-score has no ROUGE-S)."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from genai_mcp.tools.errors import LimitExceededError
from genai_mcp.tools.metrics import TextMetricsRequest, TextMetricsResult, text_metrics
from genai_mcp.tools.metrics import text as text_module
from genai_mcp.tools.metrics.skip_bigrams import skip_bigram_units

S1 = "police killed the gunman"
S2 = "police kill the gunman"
S3 = "the gunman kill police"
S4 = "the gunman police killed"


def run(candidates: list[str], references: list[list[str]], **options: object) -> TextMetricsResult:
    return text_metrics(TextMetricsRequest(candidates=candidates, references=references, **options))  # type: ignore[arg-type]


def f1s(result: TextMetricsResult, name: str) -> list[float]:
    summary = getattr(result, name)
    assert summary is not None
    return [s.f1 for s in summary.per_candidate]


def test_the_papers_worked_example() -> None:
    # Lin 2004, section 5, reference S1, beta 1; words as written (the paper does not stem).
    result = run([S2, S3, S4], [[S1]] * 3, metrics=["rougeS"], rouge_stemming=False)
    assert f1s(result, "rougeS") == pytest.approx([1 / 2, 1 / 6, 1 / 3])
    assert result.rougeS is not None
    # Equal lengths: P = R = F, each over C(4, 2) = 6 skip-bigrams.
    for s in result.rougeS.per_candidate:
        assert s.precision == pytest.approx(s.recall) == pytest.approx(s.f1)
    assert result.rougeS.mean.f1 == pytest.approx((1 / 2 + 1 / 6 + 1 / 3) / 3)
    assert result.bleu is None and result.rouge1 is None and result.rougeSU is None


def test_stemming_is_on_by_default_as_for_the_other_rouge_metrics() -> None:
    # "killed" stems to "kill": S1 and S2 become the same words.
    result = run([S2], [[S1]], metrics=["rougeS", "rouge1"])
    assert f1s(result, "rougeS") == [1.0] and f1s(result, "rouge1") == [1.0]
    unstemmed = run([S2], [[S1]], metrics=["rouge1"], rouge_stemming=False)
    assert f1s(unstemmed, "rouge1") == pytest.approx([3 / 4])


def test_the_maximum_skip_distance() -> None:
    # d = 0: bigrams only. S1: police killed, killed the, the gunman; S2 shares "the gunman": 1/3.
    # d = 1: S1 adds police-the, killed-gunman (5 pairs); S2 shares police-the, the-gunman: 2/5.
    # d = 2 reaches every pair of 4 words: the unlimited 1/2.
    scores = [
        f1s(run([S2], [[S1]], metrics=["rougeS"], rouge_s_max_skip=d, rouge_stemming=False), "rougeS")[0]
        for d in (0, 1, 2)
    ]
    assert scores == pytest.approx([1 / 3, 2 / 5, 1 / 2])
    # Different lengths, d = 1: reference "a b c d e" has ab ac bc bd cd ce de (7 pairs), candidate
    # "a c e" has ac ae ce (3). Shared: ac, ce. R = 2/7, P = 2/3.
    result = run(["a c e"], [["a b c d e"]], metrics=["rougeS"], rouge_s_max_skip=1)
    assert result.rougeS is not None
    (s,) = result.rougeS.per_candidate
    assert (s.precision, s.recall) == pytest.approx((2 / 3, 2 / 7))
    assert s.f1 == pytest.approx(2 * (2 / 3) * (2 / 7) / (2 / 3 + 2 / 7))


def test_rouge_su_adds_the_unigrams_of_every_word_but_the_last() -> None:
    # ROUGE-1.5.5 -u: S1 has 6 pairs + police, killed, the (its loop never starts at "gunman") = 9.
    # S2 shares 3 pairs + police, the = 5: 5/9 (all four unigrams, the paper's marker reading, would give 6/10).
    # S3 shares "the gunman" + the: 2/9. S4 shares the-gunman, police-killed + the, police: 4/9.
    result = run([S2, S3, S4], [[S1]] * 3, metrics=["rougeS", "rougeSU"], rouge_stemming=False)
    assert f1s(result, "rougeSU") == pytest.approx([5 / 9, 2 / 9, 4 / 9])
    assert f1s(result, "rougeS") == pytest.approx([1 / 2, 1 / 6, 1 / 3])
    # SU4 on S2: d = 0 gives 3 bigrams + 3 unigrams a side, shared "the gunman" + police, the: 3/6.
    su0 = run([S2], [[S1]], metrics=["rougeSU"], rouge_s_max_skip=0, rouge_stemming=False)
    assert f1s(su0, "rougeSU") == pytest.approx([1 / 2])
    # One word: no units at all (ROUGE-1.5.5 scores it 0 too).
    assert f1s(run(["police"], [["police"]], metrics=["rougeSU"]), "rougeSU") == [0.0]


def test_repeats_are_clipped_and_the_best_reference_counts() -> None:
    # "a a a": 3 pairs (a, a); "a a": 1. Shared min(3, 1) = 1: P = 1/3, R = 1.
    result = run(["a a a"], [["a a"]], metrics=["rougeS"])
    assert result.rougeS is not None
    (s,) = result.rougeS.per_candidate
    assert (s.precision, s.recall) == pytest.approx((1 / 3, 1.0))
    # Two references: S4 (1/3) and S2 (1/2) for candidate S1: the better F1 is kept.
    two = run([S1], [[S4, S2]], metrics=["rougeS"], rouge_stemming=False)
    assert f1s(two, "rougeS") == pytest.approx([1 / 2])
    # Nothing shared and an empty candidate are 0, not an error.
    assert f1s(run(["x y", "..."], [["a b"], ["a b"]], metrics=["rougeS"]), "rougeS") == [0.0, 0.0]


def test_unit_counts_match_the_closed_form() -> None:
    for n in range(0, 9):
        for d in (None, 0, 1, 3, 10):
            pairs = sum(1 for i in range(n) for j in range(i + 1, n) if d is None or j - i - 1 <= d)
            assert skip_bigram_units(n, d, False) == pairs, (n, d)
            assert skip_bigram_units(n, d, True) == pairs + max(n - 1, 0), (n, d)
    assert skip_bigram_units(1000, None, False) == math.comb(1000, 2)


def test_the_work_limit_and_bad_options_are_named() -> None:
    # 2100 words a side, unlimited: 2 x C(2100, 2) = 4.4 M skip-bigrams, over the limit.
    text = " ".join(f"w{i}" for i in range(2100))
    units = 2 * math.comb(2100, 2)
    with pytest.raises(
        LimitExceededError,
        match=rf"set rouge_s_max_skip, e\.g\. 4, or send shorter texts\) is {units}, over the limit of "
        rf"{text_module.MAX_ROUGE_S_UNITS}$",
    ):
        run([text], [[text]], metrics=["rougeS"])
    # The same texts with max skip 4: 2 x (5 x 2100 - 15) pairs, well inside.
    assert f1s(run([text], [[text]], metrics=["rougeS"], rouge_s_max_skip=4), "rougeS") == [1.0]
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        TextMetricsRequest(candidates=["a"], references=[["a"]], metrics=["rougeS"], rouge_s_max_skip=-1)
    with pytest.raises(ValidationError, match="'rougeS' or 'rougeSU'"):
        TextMetricsRequest(candidates=["a"], references=[["a"]], metrics=["rouge-s"])  # type: ignore[list-item]

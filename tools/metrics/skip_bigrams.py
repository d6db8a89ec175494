"""ROUGE-S and ROUGE-SU: skip-bigram co-occurrence, as ROUGE-1.5.5 counts it (rouge-score has neither).

Lin (2004), "ROUGE: A Package for Automatic Evaluation of Summaries", section 5: a skip-bigram is
any pair of words in sentence order, with any gap between them. For a reference X of m words and a
candidate Y of n words, with SKIP2(X, Y) the skip-bigrams they share (each counted at most as often
as the rarer side has it),

    recall R = SKIP2 / C(m, 2),   precision P = SKIP2 / C(n, 2),   F = (1 + b^2) R P / (R + b^2 P)

with b = 1 here (ROUGE-1.5.5's default alpha = 0.5). The paper's example, reference "police killed
the gunman": "police kill the gunman" 1/2, "the gunman kill police" 1/6, "the gunman police killed"
1/3 (reproduced by tests/tools/test_rouge_s.py).

Everything else follows ROUGE-1.5.5.pl's createSkipBigram and skipBigramScore exactly:

- max_skip = d (its `-2 d`): at most d words between the two words of a pair (d = 0 is ordinary
  bigrams, d = 4 is the ROUGE-S4 / SU4 of the DUC evaluations); None (its `-2 -1`, "ROUGE-S*") is no
  limit, the paper's definition. The denominators are the pairs actually formed, not C(m, 2).
- ROUGE-SU (its `-u`): each word also counts as a unit of its own (the paper's "begin-of-sentence
  marker" paired with every word) - except the text's last word, because ROUGE-1.5.5's loop over
  first words stops one short; we keep that so scores equal the published ROUGE-SU figures. A
  one-word text therefore has no units at all and scores 0.

Tokens are rouge-score's (its DefaultTokenizer, stemming or not), the same as text_metrics' ROUGE-1/2/L,
so the metrics agree on what a word is; ROUGE-1.5.5's own tokenizer differs from it only in details.
Each candidate is scored against each of its references and the best F1 kept, as rouge-score's
score_multi does for ROUGE-1/2/L (ROUGE-1.5.5 averages over references instead: its -f A).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Literal

from genai_mcp.tools.errors import LimitExceededError

__all__ = ["SKIP_METRICS", "SkipMetric", "best_skip_bigram_score", "skip_bigram_scores", "skip_bigram_units"]

SkipMetric = Literal["rougeS", "rougeSU"]
SKIP_METRICS: tuple[SkipMetric, ...] = ("rougeS", "rougeSU")
Scores = tuple[float, float, float]
"""(precision, recall, F1)."""


def skip_bigram_scores(
    candidates: Sequence[str],
    references: Sequence[Sequence[str]],
    metrics: Sequence[SkipMetric],
    *,
    max_skip: int | None,
    stem: bool,
    max_units: int,
) -> dict[SkipMetric, list[Scores]]:
    """Per metric, per candidate: its scores against the best of its references.

    Raises LimitExceededError before any counting when the units of all texts exceed max_units.
    """
    from rouge_score.tokenizers import DefaultTokenizer

    tokenizer = DefaultTokenizer(use_stemmer=stem)
    mine = [tokenizer.tokenize(c) for c in candidates]
    theirs = [[tokenizer.tokenize(r) for r in refs] for refs in references]
    lengths = [len(c) for c in mine] + [len(r) for refs in theirs for r in refs]
    units = sum(skip_bigram_units(n, max_skip, m == "rougeSU") for m in metrics for n in lengths)
    if units > max_units:
        raise LimitExceededError(
            "ROUGE-S/SU work (skip-bigrams of all candidates and references; set rouge_s_max_skip, "
            "e.g. 4, or send shorter texts)",
            units,
            max_units,
        )
    pairs = list(zip(mine, theirs, strict=True))
    return {
        m: [best_skip_bigram_score(c, refs, max_skip, m == "rougeSU") for c, refs in pairs] for m in metrics
    }


def skip_bigram_units(n_tokens: int, max_skip: int | None, unigrams: bool) -> int:
    """How many units a text of n_tokens words has: pairs at most max_skip apart (+ n - 1 unigrams)."""
    if n_tokens < 2:
        return 0
    reach = n_tokens - 1 if max_skip is None else min(max_skip + 1, n_tokens - 1)
    # The word at i pairs with min(n - 1 - i, reach) later words; summed over i = 0 .. n - 2.
    pairs = reach * (reach + 1) // 2 + (n_tokens - 1 - reach) * reach
    return pairs + (n_tokens - 1 if unigrams else 0)


def best_skip_bigram_score(
    candidate: Sequence[str], references: Sequence[Sequence[str]], max_skip: int | None, unigrams: bool
) -> Scores:
    """(precision, recall, F1) against the reference with the best F1 (the first on ties), as
    rouge-score's score_multi picks for ROUGE-1/2/L."""
    vocabulary: dict[str, int] = {}
    mine = _units(candidate, vocabulary, max_skip, unigrams)
    mine_total = sum(mine.values())
    best = (0.0, 0.0, 0.0)
    for i, reference in enumerate(references):
        theirs = _units(reference, vocabulary, max_skip, unigrams)
        hits = sum(min(count, theirs[unit]) for unit, count in mine.items() if unit in theirs)
        precision = hits / mine_total if mine_total else 0.0
        total = sum(theirs.values())
        recall = hits / total if total else 0.0
        f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
        if i == 0 or f1 > best[2]:
            best = (precision, recall, f1)
    return best


def _units(
    tokens: Sequence[str], vocabulary: dict[str, int], max_skip: int | None, unigrams: bool
) -> Counter[int]:
    # Units as ints (a unigram a is a, a pair (a, b) is (a + 1) * W + b): a long text's C(n, 2) pairs
    # as tuple keys would take several times the memory. W = 2^40 is above any word id.
    ids = [vocabulary.setdefault(t, len(vocabulary)) for t in tokens]
    width = 1 << 40
    n = len(ids)
    units: Counter[int] = Counter()
    for i in range(n - 1):  # ROUGE-1.5.5: i < $#m_tokens, so the last word starts nothing
        first = ids[i]
        if unigrams:
            units[first] += 1
        stop = n if max_skip is None else min(n, i + max_skip + 2)
        base = (first + 1) * width
        units.update(base + second for second in ids[i + 1 : stop])
    return units

"""Text-overlap metrics for generated text: BLEU and chrF (sacrebleu), ROUGE-1/2/L (rouge-score),
ROUGE-S/SU (skip_bigrams.py, as ROUGE-1.5.5 on rouge-score's tokens).

`text_metrics(TextMetricsRequest) -> TextMetricsResult`. Each candidate has its own list of one or
more references. Scales follow the libraries: BLEU and chrF are 0-100, ROUGE is 0-1.

sacrebleu and rouge_score are imported inside the functions: the server imports these models at
startup to build tool schemas and must not pay for the metric libraries until a call needs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from genai_mcp.tools.errors import LimitExceededError
from genai_mcp.tools.metrics.skip_bigrams import SKIP_METRICS, SkipMetric, skip_bigram_scores
from genai_mcp.tools.metrics.text_schemas import (
    MAX_CANDIDATES,
    MAX_REFERENCES_PER_CANDIDATE,
    MAX_ROUGE_L_CELLS,
    MAX_ROUGE_S_UNITS,
    MAX_TEXT_CHARS,
    MAX_TOTAL_CHARS,
    BleuResult,
    BleuScore,
    ChrfResult,
    RougeScore,
    RougeSummary,
    TextMetricsRequest,
    TextMetricsResult,
)

if TYPE_CHECKING:
    from sacrebleu.metrics.bleu import BLEUScore

__all__ = [
    "MAX_CANDIDATES",
    "MAX_REFERENCES_PER_CANDIDATE",
    "MAX_ROUGE_L_CELLS",
    "MAX_ROUGE_S_UNITS",
    "MAX_TEXT_CHARS",
    "MAX_TOTAL_CHARS",
    "BleuScore",
    "RougeScore",
    "RougeSummary",
    "TextMetricsRequest",
    "TextMetricsResult",
    "text_metrics",
]


def text_metrics(request: TextMetricsRequest) -> TextMetricsResult:
    """Score each candidate against its references with the requested metrics.

    Raises LimitExceededError when all texts together exceed MAX_TOTAL_CHARS, when ROUGE-L is
    requested and its quadratic work exceeds MAX_ROUGE_L_CELLS, or when ROUGE-S/SU is and the
    skip-bigrams exceed MAX_ROUGE_S_UNITS.
    """
    metrics = set(request.metrics)
    total_chars = sum(map(len, request.candidates)) + sum(len(r) for refs in request.references for r in refs)
    if total_chars > MAX_TOTAL_CHARS:
        raise LimitExceededError(
            "the total length of candidates and references in characters", total_chars, MAX_TOTAL_CHARS
        )
    if "rougeL" in metrics:
        _check_rouge_l_work(request)

    result = TextMetricsResult()
    if "bleu" in metrics:
        result.bleu = _bleu(request)
    if "chrf" in metrics:
        result.chrf = _chrf(request)
    rouge_types = [name for name in ("rouge1", "rouge2", "rougeL") if name in metrics]
    if rouge_types:
        for name, summary in _rouge(request, rouge_types).items():
            setattr(result, name, summary)
    skip_types = [name for name in SKIP_METRICS if name in metrics]
    if skip_types:
        for name, summary in _rouge_s(request, skip_types).items():
            setattr(result, name, summary)
    return result


def _reference_streams(references: list[list[str]]) -> list[list[str]]:
    # sacrebleu wants one stream per reference slot; None marks "this candidate has fewer references"
    # (documented in sacrebleu's _cache_references, though its type hints say str).
    width = max(map(len, references))
    return [[refs[j] if j < len(refs) else None for refs in references] for j in range(width)]  # type: ignore[misc]


def _bleu(request: TextMetricsRequest) -> BleuResult:
    from sacrebleu.metrics.bleu import BLEU

    tok, lower = request.bleu_tokenize, request.lowercase
    # force=True: skip sacrebleu's "looks tokenized" log nag, meant for its command line.
    corpus_bleu = BLEU(tokenize=tok, lowercase=lower, force=True)
    corpus = corpus_bleu.corpus_score(request.candidates, _reference_streams(request.references))
    # effective_order: a short sentence with no 4-gram match would otherwise score 0 (sacrebleu's advice).
    sentence_bleu = BLEU(tokenize=tok, lowercase=lower, force=True, effective_order=True)
    pairs = zip(request.candidates, request.references, strict=True)
    return BleuResult(
        corpus=_bleu_score(corpus),
        sentences=[_bleu_score(sentence_bleu.sentence_score(c, refs)) for c, refs in pairs],
        signature=str(corpus_bleu.get_signature()),
    )


def _bleu_score(s: BLEUScore) -> BleuScore:
    return BleuScore(
        score=s.score,
        precisions=list(s.precisions),
        counts=[int(x) for x in s.counts],
        totals=[int(x) for x in s.totals],
        brevity_penalty=s.bp,
        sys_len=int(s.sys_len),
        ref_len=int(s.ref_len),
    )


def _chrf(request: TextMetricsRequest) -> ChrfResult:
    from sacrebleu.metrics.chrf import CHRF

    chrf = CHRF(lowercase=request.lowercase)
    corpus = chrf.corpus_score(request.candidates, _reference_streams(request.references))
    pairs = zip(request.candidates, request.references, strict=True)
    sentences = [chrf.sentence_score(c, refs).score for c, refs in pairs]
    return ChrfResult(corpus=corpus.score, sentences=sentences, signature=str(chrf.get_signature()))


def _check_rouge_l_work(request: TextMetricsRequest) -> None:
    from rouge_score.tokenize import tokenize

    # Unstemmed token counts equal the stemmed ones: stemming maps each token to one token.
    cells = 0
    for candidate, refs in zip(request.candidates, request.references, strict=True):
        n = len(tokenize(candidate, None))
        cells += n * sum(len(tokenize(r, None)) for r in refs)
    if cells > MAX_ROUGE_L_CELLS:
        raise LimitExceededError(
            "ROUGE-L work (candidate tokens x reference tokens, summed over all pairs; leave rougeL out "
            "of metrics or send shorter texts)",
            cells,
            MAX_ROUGE_L_CELLS,
        )


def _rouge(request: TextMetricsRequest, rouge_types: Sequence[str]) -> dict[str, RougeSummary]:
    from rouge_score.rouge_scorer import RougeScorer

    scorer = RougeScorer(rouge_types, use_stemmer=request.rouge_stemming)
    per_type: dict[str, list[RougeScore]] = {t: [] for t in rouge_types}
    for candidate, refs in zip(request.candidates, request.references, strict=True):
        best = scorer.score_multi(refs, candidate)
        for t in rouge_types:
            s = best[t]
            per_type[t].append(RougeScore(precision=s.precision, recall=s.recall, f1=s.fmeasure))
    return {t: RougeSummary(per_candidate=scores, mean=_mean(scores)) for t, scores in per_type.items()}


def _rouge_s(request: TextMetricsRequest, names: Sequence[SkipMetric]) -> dict[str, RougeSummary]:
    scores = skip_bigram_scores(
        request.candidates,
        request.references,
        names,
        max_skip=request.rouge_s_max_skip,
        stem=request.rouge_stemming,
        max_units=MAX_ROUGE_S_UNITS,
    )
    summaries: dict[str, RougeSummary] = {}
    for name, triples in scores.items():
        per = [RougeScore(precision=p, recall=r, f1=f) for p, r, f in triples]
        summaries[name] = RougeSummary(per_candidate=per, mean=_mean(per))
    return summaries


def _mean(scores: list[RougeScore]) -> RougeScore:
    n = len(scores)
    return RougeScore(
        precision=sum(s.precision for s in scores) / n,
        recall=sum(s.recall for s in scores) / n,
        f1=sum(s.f1 for s in scores) / n,
    )

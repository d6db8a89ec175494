"""Text-overlap metrics for generated text: BLEU and chrF (sacrebleu), ROUGE-1/2/L (rouge-score),
ROUGE-S/SU (skip_bigrams.py, as ROUGE-1.5.5 on rouge-score's tokens).

`text_metrics(TextMetricsRequest) -> TextMetricsResult`. Each candidate has its own list of one or
more references. Scales follow the libraries: BLEU and chrF are 0-100, ROUGE is 0-1.

sacrebleu and rouge_score are imported inside the functions: the server imports these models at
startup to build tool schemas and must not pay for the metric libraries until a call needs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from genai_mcp.tools.errors import LimitExceededError
from genai_mcp.tools.metrics.skip_bigrams import SKIP_METRICS, SkipMetric, skip_bigram_scores

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

MAX_CANDIDATES = 10_000
"""Candidates (and reference lists) per request."""
MAX_REFERENCES_PER_CANDIDATE = 16
MAX_TEXT_CHARS = 20_000
"""Characters per candidate or reference text."""
MAX_TOTAL_CHARS = 1_000_000
"""Characters over all candidates and references together: a WMT-sized test set fits. Each of BLEU,
chrF and ROUGE-1/2 takes a few seconds per million characters on one CPU core."""
MAX_ROUGE_L_CELLS = 5_000_000
"""ROUGE-L work: candidate tokens x reference tokens summed over all pairs. rouge-score's LCS is
pure Python and quadratic (1-3 us a cell on one core here, so the limit is about 5-15 s)."""
MAX_ROUGE_S_UNITS = 2_000_000
"""ROUGE-S/SU work: skip-bigrams (+ unigrams) of every candidate and reference, summed (C(n, 2) a text
of n words with no max_skip). Pure Python, about 0.5 us a unit on one core here."""
MAX_SKIP = 1000

TextMetricName = Literal["bleu", "chrf", "rouge1", "rouge2", "rougeL", "rougeS", "rougeSU"]
BleuTokenizer = Literal["13a", "intl", "zh", "char", "none"]
ALL_METRICS: tuple[TextMetricName, ...] = ("bleu", "chrf", "rouge1", "rouge2", "rougeL")

Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]


class TextMetricsRequest(BaseModel):
    """Candidates (system outputs) and, for each one, the references to score it against."""

    candidates: list[Text] = Field(
        min_length=1,
        max_length=MAX_CANDIDATES,
        description=(
            f"System outputs to score, one string each (at most {MAX_CANDIDATES} candidates, "
            f"{MAX_TEXT_CHARS} characters each; all texts together at most {MAX_TOTAL_CHARS} characters)."
        ),
    )
    references: list[Annotated[list[Text], Field(min_length=1, max_length=MAX_REFERENCES_PER_CANDIDATE)]] = (
        Field(
            min_length=1,
            max_length=MAX_CANDIDATES,
            description=(
                "references[i] is the list of reference texts for candidates[i]: same length as candidates, "
                f"1 to {MAX_REFERENCES_PER_CANDIDATE} references per candidate; the count may differ between "
                "candidates."
            ),
        )
    )
    metrics: list[TextMetricName] = Field(
        default_factory=lambda: list(ALL_METRICS),
        min_length=1,
        description=(
            "Which metrics to compute; default all of bleu, chrf, rouge1, rouge2, rougeL. rougeL is "
            "quadratic: candidate tokens x reference tokens, summed over all pairs, may be at most "
            f"{MAX_ROUGE_L_CELLS}; leave it out for long texts. rougeS (skip-bigrams) and rougeSU "
            "(skip-bigrams + unigrams) are computed only when asked for, as ROUGE-1.5.5 does (see "
            f"rouge_s_max_skip); their skip-bigrams over all texts may be at most {MAX_ROUGE_S_UNITS}."
        ),
    )
    rouge_s_max_skip: int | None = Field(
        default=None,
        ge=0,
        le=MAX_SKIP,
        description=(
            "rougeS/rougeSU: at most this many words between the two words of a skip-bigram "
            "(ROUGE-1.5.5's -2 option): 0 is ordinary bigrams, 4 is the ROUGE-S4/SU4 of the DUC "
            "evaluations; null (default) is no limit (ROUGE-S*, Lin 2004's definition)."
        ),
    )
    rouge_stemming: bool = Field(
        default=True,
        description=(
            "Porter-stem words longer than 3 letters before every ROUGE metric (rouge-score's "
            "use_stemmer, ROUGE-1.5.5's -m). false compares words as written (lowercased)."
        ),
    )
    bleu_tokenize: BleuTokenizer = Field(
        default="13a",
        description=(
            "sacrebleu tokenizer for BLEU: '13a' (mteval default, for most languages), 'intl' "
            "(Unicode punctuation), 'zh' (Chinese), 'char' (character level), 'none' (text is "
            "already tokenized)."
        ),
    )
    lowercase: bool = Field(
        default=False,
        description=(
            "Lowercase before BLEU and chrF. ROUGE always lowercases (rouge-score's tokenizer does)."
        ),
    )

    @model_validator(mode="after")
    def _one_reference_list_per_candidate(self) -> TextMetricsRequest:
        if len(self.candidates) != len(self.references):
            raise ValueError(
                f"candidates has {len(self.candidates)} items but references has {len(self.references)}; "
                "give one list of references per candidate"
            )
        return self


class BleuScore(BaseModel):
    """BLEU for a corpus or one sentence, as sacrebleu computes it."""

    score: float = Field(description="BLEU, 0-100.")
    precisions: list[float] = Field(
        description=(
            "Modified 1- to 4-gram precisions in percent (0-100), with sacrebleu's 'exp' smoothing "
            "for orders that have no match; counts/totals give the raw ratios."
        )
    )
    counts: list[int] = Field(description="Matching (clipped) n-grams for n = 1..4.")
    totals: list[int] = Field(description="Candidate n-grams for n = 1..4.")
    brevity_penalty: float = Field(description="exp(1 - ref_len/sys_len) if sys_len < ref_len, else 1.")
    sys_len: int = Field(description="Candidate length in tokens.")
    ref_len: int = Field(description="Effective reference length in tokens (closest reference length).")


class BleuResult(BaseModel):
    corpus: BleuScore = Field(description="Corpus-level BLEU over all candidates (statistics summed).")
    sentences: list[BleuScore] = Field(
        description="Sentence-level BLEU per candidate, in order, with sacrebleu's effective_order=True."
    )
    signature: str = Field(description="sacrebleu signature of the corpus score, for reproducibility.")


class ChrfResult(BaseModel):
    corpus: float = Field(description="Corpus-level chrF2 (character 6-grams, beta 2), 0-100.")
    sentences: list[float] = Field(description="Sentence-level chrF2 per candidate, in order, 0-100.")
    signature: str = Field(description="sacrebleu signature of the corpus score, for reproducibility.")


class RougeScore(BaseModel):
    precision: float = Field(description="0-1.")
    recall: float = Field(description="0-1.")
    f1: float = Field(description="0-1.")


class RougeSummary(BaseModel):
    """rouge-score's tokenizer lowercases and keeps only runs of a-z and 0-9, then (rouge_stemming)
    Porter-stems words longer than 3 letters: text in other scripts (or accented letters) does not
    count. ROUGE-S/SU use the same tokens."""

    per_candidate: list[RougeScore] = Field(
        description="Per candidate, in order: the reference with the best F1 (rouge-score's score_multi)."
    )
    mean: RougeScore = Field(
        description="Mean over candidates of each per-candidate precision, recall and F1 (macro average)."
    )


class TextMetricsResult(BaseModel):
    """The requested metrics; a metric not requested is null."""

    bleu: BleuResult | None = None
    chrf: ChrfResult | None = None
    rouge1: RougeSummary | None = Field(default=None, description="Unigram overlap, Porter-stemmed.")
    rouge2: RougeSummary | None = Field(default=None, description="Bigram overlap, Porter-stemmed.")
    rougeL: RougeSummary | None = Field(  # camelCase: the name rouge-score and papers use
        default=None, description="Longest common subsequence, Porter-stemmed."
    )
    rougeS: RougeSummary | None = Field(
        default=None,
        description=(
            "Skip-bigram co-occurrence (Lin 2004, section 5; counted as ROUGE-1.5.5.pl does): words in "
            "order, at most rouge_s_max_skip words apart. P = shared / candidate skip-bigrams, R = shared "
            "/ reference skip-bigrams (C(n, 2) each with no limit), F1 (beta 1)."
        ),
    )
    rougeSU: RougeSummary | None = Field(
        default=None,
        description=(
            "rougeS with unigrams added (ROUGE-1.5.5's -u): every word but a text's last one also counts "
            "as a unit, exactly as ROUGE-1.5.5.pl does, so scores equal its ROUGE-SU figures."
        ),
    )


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

"""Requests and results of text_metrics (pydantic; import-light: no sacrebleu, no rouge_score).

The limits here are fixed (no setting changes them); text.py checks the ones a schema cannot.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

__all__ = [
    "ALL_METRICS",
    "MAX_CANDIDATES",
    "MAX_REFERENCES_PER_CANDIDATE",
    "MAX_ROUGE_L_CELLS",
    "MAX_ROUGE_S_UNITS",
    "MAX_SKIP",
    "MAX_TEXT_CHARS",
    "MAX_TOTAL_CHARS",
    "BleuResult",
    "BleuScore",
    "BleuTokenizer",
    "ChrfResult",
    "RougeScore",
    "RougeSummary",
    "TextMetricName",
    "TextMetricsRequest",
    "TextMetricsResult",
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
of n words with no max_skip). Pure Python, about 1 us a unit on one shared core here (2 M: ~2 s)."""
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

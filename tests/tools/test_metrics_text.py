"""text_metrics against hand-computed BLEU/ROUGE and the libraries' own documented examples."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
from pydantic import ValidationError

from genai_mcp.tools.errors import LimitExceededError
from genai_mcp.tools.metrics import TextMetricsRequest, text_metrics
from genai_mcp.tools.metrics import text as text_module


def run(candidates, references, **options):
    return text_metrics(TextMetricsRequest(candidates=candidates, references=references, **options))


def test_bleu_by_hand_single_sentence():
    # cand "the cat sat on the mat" (6 tokens), ref "the cat sat on the red mat" (7 tokens)
    # 1-grams 6/6; 2-grams 4/5 (not "the mat"); 3-grams 3/4 (not "on the mat"); 4-grams 2/3
    # BP = exp(1 - 7/6); BLEU = BP * (1 * 4/5 * 3/4 * 2/3) ** (1/4) = 0.8465 * 0.7953 = 67.32
    result = run(["the cat sat on the mat"], [["the cat sat on the red mat"]], metrics=["bleu"])
    assert result.bleu is not None
    corpus = result.bleu.corpus
    assert corpus.counts == [6, 4, 3, 2]
    assert corpus.totals == [6, 5, 4, 3]
    assert corpus.precisions == pytest.approx([100.0, 80.0, 75.0, 100 * 2 / 3])
    assert (corpus.sys_len, corpus.ref_len) == (6, 7)
    assert corpus.brevity_penalty == pytest.approx(math.exp(1 - 7 / 6))
    expected = 100 * math.exp(1 - 7 / 6) * (4 / 5 * 3 / 4 * 2 / 3) ** 0.25
    assert corpus.score == pytest.approx(expected)
    assert expected == pytest.approx(67.32, abs=0.01)
    assert result.bleu.sentences[0].score == pytest.approx(expected)
    assert result.chrf is None and result.rouge1 is None and result.rougeL is None


def test_bleu_corpus_sums_statistics_over_candidates_with_varying_reference_counts():
    # candidate 2 "a dog" (2 tokens) has refs "a dog barked" (3) and "the dog" (2): closest ref length 2,
    # 1-grams 2/2, 2-grams 1/1. Corpus counts [6+2, 4+1, 3, 2] / totals [8, 6, 4, 3], sys 8, ref 7+2.
    # BLEU = exp(1 - 9/8) * (8/8 * 5/6 * 3/4 * 2/3) ** (1/4)
    result = run(
        ["the cat sat on the mat", "a dog"],
        [["the cat sat on the red mat"], ["a dog barked", "the dog"]],
        metrics=["bleu"],
    )
    assert result.bleu is not None
    corpus = result.bleu.corpus
    assert (corpus.counts, corpus.totals) == ([8, 5, 3, 2], [8, 6, 4, 3])
    assert (corpus.sys_len, corpus.ref_len) == (8, 9)
    assert corpus.score == pytest.approx(100 * math.exp(1 - 9 / 8) * (5 / 6 * 3 / 4 * 2 / 3) ** 0.25)
    # sentence level, effective order: only 1- and 2-grams exist, both fully matched, no brevity penalty
    second = result.bleu.sentences[1]
    assert second.score == pytest.approx(100.0)
    assert second.brevity_penalty == 1.0
    assert "nrefs:var" in result.bleu.signature


def test_sacrebleu_readme_example():
    refs = [
        ["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
        ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."],
    ]
    sys_ = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]
    # sacrebleu takes reference *streams*; our references[i] belong to candidate i.
    per_candidate = [list(r) for r in zip(*refs, strict=True)]
    result = run(sys_, per_candidate, metrics=["bleu", "chrf"])
    assert result.bleu is not None and result.chrf is not None
    # README: "BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)"
    assert round(result.bleu.corpus.score, 2) == 48.53
    assert [round(p, 1) for p in result.bleu.corpus.precisions] == [82.4, 50.0, 45.5, 37.5]
    assert round(result.bleu.corpus.brevity_penalty, 3) == 0.943
    assert (result.bleu.corpus.sys_len, result.bleu.corpus.ref_len) == (17, 18)
    assert round(result.chrf.corpus, 2) == 59.73  # README: "chrF2 = 59.73"
    assert len(result.bleu.sentences) == len(result.chrf.sentences) == 3
    assert result.chrf.sentences[0] == pytest.approx(100.0)  # first candidate equals a reference


def test_rouge_readme_example_by_hand():
    # rouge-score README: score('The quick brown fox jumps over the lazy dog', 'The quick brown dog jumps
    # on the log.') with stemming. Target (9 tokens): the quick brown fox jump over the lazi dog;
    # prediction (8): the quick brown dog jump on the log.
    # ROUGE-1: overlap the*2, quick, brown, dog, jump = 6 -> P 6/8, R 6/9, F 2PR/(P+R) = 12/17
    # ROUGE-L: LCS "the quick brown jump the" = 5 -> P 5/8, R 5/9, F 10/17
    result = run(
        ["The quick brown dog jumps on the log."],
        [["The quick brown fox jumps over the lazy dog"]],
        metrics=["rouge1", "rougeL"],
    )
    assert result.rouge1 is not None and result.rougeL is not None and result.rouge2 is None
    r1 = result.rouge1.per_candidate[0]
    assert (r1.precision, r1.recall, r1.f1) == pytest.approx((6 / 8, 6 / 9, 12 / 17))
    rl = result.rougeL.per_candidate[0]
    assert (rl.precision, rl.recall, rl.f1) == pytest.approx((5 / 8, 5 / 9, 10 / 17))


def test_rouge_best_reference_stemming_and_mean():
    # candidate 1 matches its second reference exactly after stemming (cats->cat, running/runs->run);
    # candidate 2 "a b" vs "a c": ROUGE-1 P = R = F = 1/2, ROUGE-2 0 (bigram "a b" vs "a c").
    result = run(["cats running", "a b"], [["dogs sleep", "cat runs"], ["a c"]])
    assert result.rouge1 is not None and result.rouge2 is not None
    assert result.rouge1.per_candidate[0].f1 == pytest.approx(1.0)
    assert result.rouge1.per_candidate[1].f1 == pytest.approx(0.5)
    assert result.rouge1.mean.f1 == pytest.approx(0.75)
    assert result.rouge2.per_candidate[1].f1 == 0.0
    assert result.rouge2.mean.recall == pytest.approx(0.5)
    assert result.bleu is not None and result.chrf is not None and result.rougeL is not None


def test_lowercase_applies_to_chrf_and_bleu():
    cased = run(["The Cat Sat"], [["the cat sat"]], metrics=["chrf"])
    folded = run(["The Cat Sat"], [["the cat sat"]], metrics=["chrf"], lowercase=True)
    assert cased.chrf is not None and folded.chrf is not None
    assert cased.chrf.corpus < 100.0
    assert folded.chrf.corpus == pytest.approx(100.0)


def test_mismatched_lengths_name_both():
    with pytest.raises(ValidationError, match="candidates has 2 items but references has 1"):
        TextMetricsRequest(candidates=["a", "b"], references=[["a"]])


@pytest.mark.parametrize(
    ("candidates", "references", "needle"),
    [
        ([], [], "at least 1 item"),
        (["a"], [[]], "at least 1 item"),
        (["a"], [["r"] * 17], "at most 16 items"),
        (["a" * 20_001], [["r"]], "at most 20000 characters"),
    ],
)
def test_bad_shapes_are_rejected(candidates, references, needle):
    with pytest.raises(ValidationError, match=needle):
        TextMetricsRequest(candidates=candidates, references=references)


def test_unknown_metric_and_tokenizer_list_allowed_values():
    with pytest.raises(
        ValidationError, match="'bleu', 'chrf', 'rouge1', 'rouge2', 'rougeL', 'rougeS' or 'rougeSU'"
    ):
        TextMetricsRequest(candidates=["a"], references=[["a"]], metrics=["meteor"])
    with pytest.raises(ValidationError, match="'13a', 'intl', 'zh', 'char' or 'none'"):
        TextMetricsRequest(candidates=["a"], references=[["a"]], bleu_tokenize="spm")


def test_total_characters_limit():
    text = "a" * text_module.MAX_TEXT_CHARS
    n = text_module.MAX_TOTAL_CHARS // (2 * len(text)) + 1
    request = TextMetricsRequest(candidates=[text] * n, references=[[text]] * n, metrics=["chrf"])
    with pytest.raises(LimitExceededError, match=f"over the limit of {text_module.MAX_TOTAL_CHARS}"):
        text_metrics(request)


def test_rouge_l_work_limit():
    long_text = "word " * 2_000  # 2000 tokens; 2000 * 2000 * 2 references = 8M cells > 5M
    request = TextMetricsRequest(candidates=[long_text], references=[[long_text, long_text]])
    with pytest.raises(LimitExceededError, match=r"ROUGE-L work .* is 8000000, over the limit of 5000000"):
        text_metrics(request)


def test_schema_carries_limits_and_import_stays_light():
    schema = TextMetricsRequest.model_json_schema()
    assert schema["properties"]["candidates"]["maxItems"] == 10_000
    code = (
        "import sys, genai_mcp.tools.metrics as m; "
        "m.TextMetricsRequest.model_json_schema(); m.ClassificationMetricsRequest.model_json_schema(); "
        "m.RetrievalMetricsRequest.model_json_schema(); "
        "heavy = ('sacrebleu', 'rouge_score', 'sklearn', 'numpy', 'torch'); "
        "print(sorted(x for x in heavy if x in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

"""classification_metrics against hand-computed values and scikit-learn's documented examples."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from genai_mcp.tools.errors import InvalidInputError, LimitExceededError
from genai_mcp.tools.metrics import ClassificationMetricsRequest, classification_metrics


def scores(y_true, y_pred, **options):
    result = classification_metrics(ClassificationMetricsRequest(y_true=y_true, y_pred=y_pred, **options))
    assert result.task == "classification" and result.regression is None
    assert result.classification is not None
    return result.classification


# scikit-learn's confusion_matrix docstring example.
CM_TRUE = [2, 0, 2, 2, 0, 1]
CM_PRED = [0, 0, 2, 2, 0, 2]


def test_confusion_matrix_and_specificity_by_hand():
    # cm (rows true, cols predicted) = [[2,0,0],[0,0,1],[1,0,2]] (sklearn docs), N = 6.
    # class 0: TP 2, FP 3-2=1, FN 0, TN 6-2-1-0=3 -> spec 3/4; precision 2/3, recall 2/2
    # class 1: TP 0, FP 0, FN 1, TN 5           -> spec 5/5; precision 0 (never predicted: 0.0), recall 0
    # class 2: TP 2, FP 1, FN 1, TN 2           -> spec 2/3; precision 2/3, recall 2/3
    s = scores(CM_TRUE, CM_PRED, average="macro")
    assert s.labels == [0, 1, 2]
    assert s.confusion_matrix == [[2, 0, 0], [0, 0, 1], [1, 0, 2]]
    assert [c.specificity for c in s.per_class] == pytest.approx([3 / 4, 1.0, 2 / 3])
    assert [c.precision for c in s.per_class] == pytest.approx([2 / 3, 0.0, 2 / 3])
    assert [c.recall for c in s.per_class] == pytest.approx([1.0, 0.0, 2 / 3])
    assert [c.support for c in s.per_class] == [2, 1, 3]
    assert s.accuracy == pytest.approx(4 / 6)
    assert s.precision == pytest.approx((2 / 3 + 0 + 2 / 3) / 3)
    assert s.specificity == pytest.approx((3 / 4 + 1 + 2 / 3) / 3)  # macro: plain mean
    # weighted by support [2, 1, 3]: (3/4*2 + 1*1 + 2/3*3) / 6 = 4.5/6
    assert scores(CM_TRUE, CM_PRED, average="weighted").specificity == pytest.approx(0.75)
    # micro: sum TN / (sum TN + sum FP) = (3+5+2) / (10 + 1+0+1) = 10/12; micro P = R = F = accuracy
    micro = scores(CM_TRUE, CM_PRED, average="micro")
    assert micro.specificity == pytest.approx(10 / 12)
    assert (micro.precision, micro.recall, micro.f1) == pytest.approx((4 / 6, 4 / 6, 4 / 6))


def test_sklearn_confusion_matrix_string_example_with_label_order():
    y_true = ["cat", "ant", "cat", "cat", "ant", "bird"]
    y_pred = ["ant", "ant", "cat", "cat", "ant", "cat"]
    s = scores(y_true, y_pred, labels=["ant", "bird", "cat"])
    assert s.confusion_matrix == [[2, 0, 0], [0, 0, 1], [1, 0, 2]]  # as in sklearn's docstring
    assert s.labels == ["ant", "bird", "cat"]


def test_sklearn_precision_recall_fscore_support_example():
    y_true = ["cat", "dog", "pig", "cat", "dog", "pig"]
    y_pred = ["cat", "pig", "dog", "cat", "cat", "dog"]
    # docs: macro (0.22, 0.33, 0.26), micro (0.33, 0.33, 0.33), weighted (0.22, 0.33, 0.26)
    for average, expected in [
        ("macro", (0.22, 0.33, 0.26)),
        ("micro", (0.33,) * 3),
        ("weighted", (0.22, 0.33, 0.26)),
    ]:
        s = scores(y_true, y_pred, average=average)
        assert (s.precision, s.recall, s.f1) == pytest.approx(expected, abs=0.01)
    # docs, labels=['pig', 'dog', 'cat']: P [0, 0, 0.66], R [0, 0, 1], F [0, 0, 0.8], support [2, 2, 2]
    s = scores(y_true, y_pred, labels=["pig", "dog", "cat"])
    assert [c.label for c in s.per_class] == ["pig", "dog", "cat"]
    assert [c.precision for c in s.per_class] == pytest.approx([0, 0, 2 / 3])
    assert [c.recall for c in s.per_class] == pytest.approx([0, 0, 1])
    assert [c.f1 for c in s.per_class] == pytest.approx([0, 0, 0.8])
    assert [c.support for c in s.per_class] == [2, 2, 2]


def test_binary_by_hand():
    # sklearn docs: confusion_matrix([0, 1, 0, 1], [1, 1, 1, 0]).ravel() == (tn 0, fp 2, fn 1, tp 1)
    # P = 1/(1+2), R = 1/(1+1), F1 = 2PR/(P+R) = 0.4, specificity = TN/(TN+FP) = 0/2, accuracy 1/4
    s = scores([0, 1, 0, 1], [1, 1, 1, 0], average="binary")
    assert s.confusion_matrix == [[0, 2], [1, 1]]
    assert s.pos_label == 1
    assert (s.precision, s.recall, s.f1, s.specificity) == pytest.approx((1 / 3, 1 / 2, 0.4, 0.0))
    assert s.accuracy == pytest.approx(0.25)
    # "ham" positive: TP 1 (item 1), FP 1 (item 3), FN 1 (item 2), TN 1 (item 0) -> P 1/2, R 1/2, spec 1/2
    s = scores(
        ["spam", "ham", "ham", "spam"], ["spam", "ham", "spam", "ham"], average="binary", pos_label="ham"
    )
    assert (s.precision, s.recall, s.specificity) == pytest.approx((0.5, 0.5, 0.5))
    # TP 1 (item 1), FP 1 (item 0), FN 0, TN 1 (item 2) -> P 1/2, R 1, spec 1/2
    s = scores(["spam", "ham", "spam"], ["ham", "ham", "spam"], average="binary", pos_label="ham")
    assert (s.precision, s.recall, s.specificity) == pytest.approx((0.5, 1.0, 0.5))


def test_unseen_labels_get_zero_rows_without_warnings():
    s = scores([0, 1], [0, 1], labels=[0, 1, 7])
    assert s.confusion_matrix == [[1, 0, 0], [0, 1, 0], [0, 0, 0]]
    unseen = s.per_class[2]
    assert (unseen.precision, unseen.recall, unseen.f1, unseen.support) == (0.0, 0.0, 0.0, 0)
    assert s.precision == pytest.approx(2 / 3)  # macro over the 3 listed classes


def test_single_class_gives_a_1x1_matrix_without_warnings():
    # one class: TN + FP = 0, so specificity falls back to 0.0 (zero_division)
    s = scores([1, 1], [1, 1], average="binary")
    assert s.confusion_matrix == [[2]]
    assert (s.precision, s.recall, s.f1, s.specificity, s.accuracy) == (1.0, 1.0, 1.0, 0.0, 1.0)


def test_regression_sklearn_docs_example():
    # sklearn docs: mean_squared_error 0.375, mean_absolute_error 0.5, r2_score 0.948...
    result = classification_metrics(
        ClassificationMetricsRequest(y_true=[3, -0.5, 2, 7], y_pred=[2.5, 0.0, 2, 8], task="regression")
    )
    assert result.classification is None and result.regression is not None
    r = result.regression
    assert (r.mse, r.mae, r.rmse) == pytest.approx((0.375, 0.5, math.sqrt(0.375)))
    assert r.r2 == pytest.approx(0.9486081370449679)
    single = classification_metrics(
        ClassificationMetricsRequest(y_true=[1.0], y_pred=[3.0], task="regression")
    )
    assert single.regression is not None and single.regression.r2 is None and single.regression.mse == 4.0


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"y_true": [1, 0, 1], "y_pred": [1, 0]}, "y_true has 3 items but y_pred has 2"),
        ({"y_true": [], "y_pred": []}, "at least 1 item"),
        (
            {"y_true": [1, "1"], "y_pred": [1, 1]},
            r"labels mix types: y_true\[0\] is the integer 1 but y_true\[1\]",
        ),
        ({"y_true": ["a"], "y_pred": [2]}, "use one type for all labels"),
        ({"y_true": [1.5], "y_pred": [1.0]}, "must be strings or integers .*task='regression'"),
        ({"y_true": [True], "y_pred": [False]}, "valid string"),
        ({"y_true": [0], "y_pred": [0], "average": "samples"}, "'binary', 'macro', 'micro' or 'weighted'"),
        ({"y_true": [0, 1], "y_pred": [0, 1], "pos_label": 1}, "pos_label only applies to average='binary'"),
        ({"y_true": [0, 1], "y_pred": [0, 1], "labels": [0, 1, 1]}, "more than once"),
        ({"y_true": [0, 1], "y_pred": [0, 1], "labels": ["0", "1"]}, "labels holds the string '0'"),
        ({"y_true": [1, "a"], "y_pred": [1, 2], "task": "regression"}, r"needs numbers, but y_true\[1\]"),
        ({"y_true": [float("nan")], "y_pred": [1], "task": "regression"}, "finite"),
        ({"y_true": [10**400], "y_pred": [1], "task": "regression"}, "float range"),
        ({"y_true": [1.0], "y_pred": [1.0], "task": "regression", "labels": [1]}, "only apply to task="),
    ],
)
def test_invalid_requests(options, needle):
    with pytest.raises(ValidationError, match=needle):
        ClassificationMetricsRequest(**options)


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"y_true": [0, 1, 2], "y_pred": [0, 1, 1]}, "needs at most two classes but there are 3"),
        ({"y_true": [0, 1], "y_pred": [0, 1], "pos_label": 2}, "pos_label 2 does not occur"),
        ({"y_true": ["a", "b"], "y_pred": ["a", "b"]}, r"needs pos_label, one of \['a', 'b'\]"),
        ({"y_true": [0, 2], "y_pred": [0, 2]}, "default 1 is absent"),
    ],
)
def test_bad_binary_requests(options, needle):
    request = ClassificationMetricsRequest(average="binary", **options)
    with pytest.raises(InvalidInputError, match=needle):
        classification_metrics(request)


def test_labels_must_cover_observed_labels():
    request = ClassificationMetricsRequest(y_true=["a", "b"], y_pred=["a", "c"], labels=["a", "b"])
    with pytest.raises(InvalidInputError, match="missing: 'c'"):
        classification_metrics(request)


def test_class_count_limit():
    request = ClassificationMetricsRequest(y_true=list(range(101)), y_pred=list(range(101)))
    with pytest.raises(LimitExceededError, match="distinct classes is 101, over the limit of 100"):
        classification_metrics(request)


def test_regression_overflow_is_an_error():
    request = ClassificationMetricsRequest(y_true=[1e200], y_pred=[-1e200], task="regression")
    with pytest.raises(InvalidInputError, match="overflow"):
        classification_metrics(request)

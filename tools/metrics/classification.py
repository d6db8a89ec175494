"""Classification metrics (accuracy, precision, recall, F1, specificity, confusion matrix) and, in a
second mode, regression errors (MSE, MAE, RMSE, R²), computed with scikit-learn.

`classification_metrics(ClassificationMetricsRequest) -> ClassificationMetricsResult`. Any ratio
whose denominator is 0 (a class never predicted, never true) is reported as 0.0 (scikit-learn's
zero_division=0.0), never NaN.

scikit-learn and numpy are imported inside the functions so that importing these models, which the
server does at startup to build tool schemas, stays fast.
"""

from __future__ import annotations

import math
import sys
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictFloat, StrictInt, StrictStr, model_validator

from genai_mcp.tools.errors import InvalidInputError, LimitExceededError

__all__ = [
    "MAX_CLASSES",
    "MAX_LABEL_CHARS",
    "MAX_SAMPLES",
    "ClassMetrics",
    "ClassificationMetricsRequest",
    "ClassificationMetricsResult",
    "ClassificationScores",
    "RegressionScores",
    "classification_metrics",
]

MAX_SAMPLES = 1_000_000
"""Items in y_true (and in y_pred)."""
MAX_CLASSES = 100
"""Distinct classes; keeps the confusion matrix (classes² numbers) readable in a tool result."""
MAX_LABEL_CHARS = 1_000

Average = Literal["binary", "macro", "micro", "weighted"]
Label = Annotated[StrictStr, Field(max_length=MAX_LABEL_CHARS)] | StrictInt
# Floats are accepted by the schema so that regression shares the fields; classification rejects them.
Value = Annotated[StrictStr, Field(max_length=MAX_LABEL_CHARS)] | StrictInt | StrictFloat

_VALUES_DOC = (
    f"1 to {MAX_SAMPLES} items. Classification: labels, all strings or all integers (never mixed, "
    f"strings up to {MAX_LABEL_CHARS} characters). Regression: finite numbers."
)


class ClassificationMetricsRequest(BaseModel):
    """True and predicted labels (or, with task='regression', true and predicted numbers)."""

    y_true: list[Value] = Field(
        min_length=1, max_length=MAX_SAMPLES, description="True values. " + _VALUES_DOC
    )
    y_pred: list[Value] = Field(
        min_length=1,
        max_length=MAX_SAMPLES,
        description="Predicted values, same length as y_true. " + _VALUES_DOC,
    )
    task: Literal["classification", "regression"] = Field(
        default="classification",
        description=(
            "'classification' for labels; 'regression' for numbers (returns MSE/MAE/RMSE/R² instead)."
        ),
    )
    average: Average = Field(
        default="macro",
        description=(
            "How precision/recall/F1/specificity are summarised over classes: 'binary' (the pos_label "
            "class only; at most two classes), 'macro' (unweighted mean over classes), 'micro' (from "
            "counts pooled over classes), 'weighted' (mean weighted by each class's true count)."
        ),
    )
    pos_label: Label | None = Field(
        default=None,
        description=(
            "The positive class for average='binary' (default 1 when labels are integers). "
            "Only allowed with average='binary'."
        ),
    )
    labels: list[Label] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_CLASSES,
        description=(
            "Class order for per_class and the confusion matrix; must list every label that occurs in "
            "y_true or y_pred and may add classes that never occur. Default: the sorted distinct labels. "
            f"At most {MAX_CLASSES} classes."
        ),
    )

    @model_validator(mode="after")
    def _consistent(self) -> ClassificationMetricsRequest:
        if len(self.y_true) != len(self.y_pred):
            raise ValueError(
                f"y_true has {len(self.y_true)} items but y_pred has {len(self.y_pred)}; "
                "they must be the same length"
            )
        if self.task == "regression":
            _check_numbers(self)
        else:
            _check_labels(self)
        return self


def _describe(v: object) -> str:
    kind = {str: "the string", int: "the integer", float: "the number"}.get(type(v), "the value")
    return f"{kind} {v!r}"


def _items(request: ClassificationMetricsRequest) -> list[tuple[str, list[str | int | float]]]:
    return [("y_true", request.y_true), ("y_pred", request.y_pred)]


def _check_numbers(request: ClassificationMetricsRequest) -> None:
    for name, values in _items(request):
        for i, v in enumerate(values):
            if isinstance(v, str):
                raise ValueError(f"task='regression' needs numbers, but {name}[{i}] is {_describe(v)}")
            # abs() on an int: math.isfinite() raises OverflowError on ints beyond float range.
            if not (math.isfinite(v) if isinstance(v, float) else abs(v) <= sys.float_info.max):
                shown = repr(v) if len(repr(v)) <= 40 else repr(v)[:40] + "..."
                raise ValueError(
                    f"task='regression' needs finite numbers in 64-bit float range, but {name}[{i}] is {shown}"
                )
    given = {"average", "pos_label", "labels"} & request.model_fields_set
    if given:
        raise ValueError(f"{', '.join(sorted(given))} only apply to task='classification'")


def _check_labels(request: ClassificationMetricsRequest) -> None:
    first = request.y_true[0]
    for name, values in _items(request):
        if {type(v) for v in values} <= {type(first)} and not isinstance(first, float):
            continue
        for i, v in enumerate(values):
            if isinstance(v, float):
                raise ValueError(
                    f"{name}[{i}] is {_describe(v)}: classification labels must be strings or integers "
                    "(for numeric targets set task='regression')"
                )
            if type(v) is not type(first):
                raise ValueError(
                    f"labels mix types: y_true[0] is {_describe(first)} but {name}[{i}] is {_describe(v)}; "
                    "use one type for all labels (all strings or all integers)"
                )
    extra: list[tuple[str, str | int | None]] = [("pos_label", request.pos_label)]
    extra += [("labels", v) for v in request.labels or []]
    for name, given in extra:
        if given is not None and type(given) is not type(first):
            raise ValueError(
                f"{name} holds {_describe(given)} but y_true holds {_describe(first)}: use one type"
            )
    if request.labels is not None and len(set(request.labels)) != len(request.labels):
        raise ValueError("labels lists a class more than once")
    if request.pos_label is not None and request.average != "binary":
        raise ValueError(f"pos_label only applies to average='binary' (average is {request.average!r})")


class ClassMetrics(BaseModel):
    label: str | int
    precision: float = Field(description="TP / (TP + FP); 0.0 if the class is never predicted.")
    recall: float = Field(description="TP / (TP + FN); 0.0 if the class never occurs in y_true.")
    f1: float = Field(description="Harmonic mean of precision and recall; 0.0 if both are 0.")
    specificity: float = Field(description="One-vs-rest TN / (TN + FP); 0.0 if TN + FP = 0.")
    support: int = Field(description="How many items of y_true have this label.")


class ClassificationScores(BaseModel):
    """Scores in 0-1; a ratio whose denominator is 0 is reported as 0.0 (zero_division=0.0)."""

    n_samples: int
    average: Average
    pos_label: str | int | None = Field(description="The positive class used by average='binary', else null.")
    accuracy: float = Field(description="Fraction of items with y_pred == y_true, 0-1.")
    precision: float = Field(description="Precision summarised by `average`, 0-1.")
    recall: float = Field(description="Recall summarised by `average`, 0-1.")
    f1: float = Field(description="F1 summarised by `average`, 0-1.")
    specificity: float = Field(
        description=(
            "Specificity TN / (TN + FP) summarised by `average`: binary = of the pos_label class; macro = "
            "mean of per-class one-vs-rest values; weighted = weighted by support; micro = summed TN over "
            "summed TN + FP."
        )
    )
    labels: list[str | int] = Field(description="Class order of per_class and of both confusion-matrix axes.")
    per_class: list[ClassMetrics] = Field(description="One entry per class, in `labels` order.")
    confusion_matrix: list[list[int]] = Field(
        description=(
            "confusion_matrix[i][j] = number of items whose TRUE label is labels[i] and whose PREDICTED "
            "label is labels[j] (rows = true, columns = predicted)."
        )
    )


class RegressionScores(BaseModel):
    n_samples: int
    mse: float = Field(description="Mean squared error, in squared units of y.")
    mae: float = Field(description="Mean absolute error, in units of y.")
    rmse: float = Field(description="Square root of the MSE, in units of y.")
    r2: float | None = Field(
        description=(
            "Coefficient of determination 1 - SS_res/SS_tot; null with fewer than 2 samples; when y_true is "
            "constant: 1.0 for a perfect prediction, else 0.0 (scikit-learn's convention)."
        )
    )


class ClassificationMetricsResult(BaseModel):
    """Exactly one of `classification` and `regression` is set, matching `task`."""

    task: Literal["classification", "regression"]
    classification: ClassificationScores | None = None
    regression: RegressionScores | None = None


def classification_metrics(request: ClassificationMetricsRequest) -> ClassificationMetricsResult:
    """Scores y_pred against y_true; see ClassificationScores / RegressionScores for each number.

    Raises InvalidInputError for a label set that does not fit the request (binary average over more
    than two classes, pos_label absent, labels missing an observed label) and LimitExceededError for
    more than MAX_CLASSES classes.
    """
    if request.task == "regression":
        return ClassificationMetricsResult(task="regression", regression=_regression(request))
    return ClassificationMetricsResult(task="classification", classification=_classification(request))


def _class_order(request: ClassificationMetricsRequest) -> list[str | int]:
    # The validator has ruled out floats in classification mode.
    observed: set[str | int] = set(request.y_true) | set(request.y_pred)  # type: ignore[arg-type,assignment]
    if request.labels is None:
        labels: list[str | int] = sorted(observed)  # type: ignore[type-var]
    else:
        labels = list(request.labels)
        missing = observed - set(labels)
        if missing:
            shown = ", ".join(repr(v) for v in sorted(missing)[:10])  # type: ignore[type-var]
            raise InvalidInputError(f"labels must list every label in y_true and y_pred; missing: {shown}")
    if len(labels) > MAX_CLASSES:
        raise LimitExceededError("the number of distinct classes", len(labels), MAX_CLASSES)
    return labels


def _positive_class(request: ClassificationMetricsRequest, labels: list[str | int]) -> str | int:
    if len(labels) > 2:
        raise InvalidInputError(
            f"average='binary' needs at most two classes but there are {len(labels)} "
            f"({', '.join(repr(v) for v in labels[:10])}); use average 'macro', 'micro' or 'weighted'"
        )
    pos = request.pos_label
    if pos is None:
        if not isinstance(labels[0], int):
            raise InvalidInputError(f"average='binary' needs pos_label, one of {labels!r}")
        if 1 not in labels:
            raise InvalidInputError(
                f"average='binary' needs pos_label (default 1 is absent), one of {labels!r}"
            )
        return 1
    if pos not in labels:
        raise InvalidInputError(f"pos_label {pos!r} does not occur in y_true, y_pred or labels {labels!r}")
    return pos


def _classification(request: ClassificationMetricsRequest) -> ClassificationScores:
    import numpy as np
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    labels = _class_order(request)
    pos = _positive_class(request, labels) if request.average == "binary" else None

    # scikit-learn on class indices: ~10x faster than on Python labels, which it re-checks on every call.
    index: dict[str | int | float, int] = {label: i for i, label in enumerate(labels)}
    n = len(request.y_true)
    y_true = np.fromiter((index[v] for v in request.y_true), dtype=np.int64, count=n)
    y_pred = np.fromiter((index[v] for v in request.y_pred), dtype=np.int64, count=n)
    classes = np.arange(len(labels))

    # sklearn.metrics.confusion_matrix, minus its UserWarning for a single class (catching that
    # warning is not thread-safe, and tools run in worker threads).
    c = len(labels)
    cm = np.bincount(y_true * c + y_pred, minlength=c * c).reshape(c, c)  # (C, C), rows true
    p, r, f, support = precision_recall_fscore_support(
        y_true, y_pred, labels=classes, average=None, zero_division=0.0
    )
    tp = np.diag(cm)
    fp = cm.sum(axis=0) - tp
    tn = cm.sum() - cm.sum(axis=1) - fp  # everything that is neither true c nor predicted c
    spec = np.divide(tn, tn + fp, out=np.zeros(len(labels)), where=(tn + fp) > 0)

    if pos is not None:
        i = index[pos]
        summary = (p[i], r[i], f[i], spec[i])
    else:
        ap, ar, af, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=classes, average=request.average, zero_division=0.0
        )
        if request.average == "macro":
            aspec = spec.mean()
        elif request.average == "weighted":
            aspec = float(spec @ support) / support.sum()
        else:
            denominator = tn.sum() + fp.sum()
            aspec = tn.sum() / denominator if denominator else 0.0
        summary = (ap, ar, af, aspec)

    return ClassificationScores(
        n_samples=n,
        average=request.average,
        pos_label=pos,
        accuracy=float(accuracy_score(y_true, y_pred)),
        precision=float(summary[0]),
        recall=float(summary[1]),
        f1=float(summary[2]),
        specificity=float(summary[3]),
        labels=labels,
        per_class=[
            ClassMetrics(
                label=label,
                precision=float(p[i]),
                recall=float(r[i]),
                f1=float(f[i]),
                specificity=float(spec[i]),
                support=int(support[i]),
            )
            for i, label in enumerate(labels)
        ],
        confusion_matrix=cm.tolist(),
    )


def _regression(request: ClassificationMetricsRequest) -> RegressionScores:
    import numpy as np
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    y_true = np.asarray(request.y_true, dtype=np.float64)
    y_pred = np.asarray(request.y_pred, dtype=np.float64)
    # Huge inputs overflow to inf; that is reported as an error below instead of a numpy warning.
    with np.errstate(over="ignore", invalid="ignore"):
        mse = float(mean_squared_error(y_true, y_pred))
        mae = float(mean_absolute_error(y_true, y_pred))
        r2 = float(r2_score(y_true, y_pred)) if len(y_true) >= 2 else None
    if not all(math.isfinite(x) for x in (mse, mae, r2 if r2 is not None else 0.0)):
        raise InvalidInputError("the values are too large: their squared errors overflow 64-bit floats")
    return RegressionScores(n_samples=len(y_true), mse=mse, mae=mae, rmse=math.sqrt(mse), r2=r2)

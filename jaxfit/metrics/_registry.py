"""Metrics by name, for `search`, `cross_validate` and the CLI's `scoring = "..."`."""

from __future__ import annotations

from functools import partial
from typing import Callable, NamedTuple

from ._classification import accuracy, f1, log_loss, precision, recall, roc_auc
from ._regression import mae, mse, r2, rmse


class Metric(NamedTuple):
    """A scorer: `fn(y_true, y_pred, *, sample_weight=None, ...) -> scalar`.

    Attributes:
      fn: the metric function.
      greater_is_better: True for scores (accuracy, R²), False for errors (MSE, log
        loss); a search maximises `fn` or `-fn` accordingly.
    """

    fn: Callable
    greater_is_better: bool


def _averaged(name, fn):
    # scikit-learn's scorer names ("f1_macro", ...), so a config can pick the average.
    return {f"{name}_{average}": Metric(partial(fn, average=average), True)
            for average in ("micro", "macro", "weighted")}


METRICS: dict[str, Metric] = {
    "accuracy": Metric(accuracy, True),
    "log_loss": Metric(log_loss, False),
    "roc_auc": Metric(roc_auc, True),
    "precision": Metric(precision, True),
    "recall": Metric(recall, True),
    "f1": Metric(f1, True),
    **_averaged("precision", precision),
    **_averaged("recall", recall),
    **_averaged("f1", f1),
    "mse": Metric(mse, False),
    "rmse": Metric(rmse, False),
    "mae": Metric(mae, False),
    "r2": Metric(r2, True),
}


def check_multiclass_metric(name: str, arg: str, why: str = "this target has several classes") -> None:
    """Refuse, for a multiclass target (`why` it is one), a metric that scores class 1
    against the rest. In a search the labels are traced, so the metric cannot tell."""
    if name in ("precision", "recall", "f1", "roc_auc"):
        instead = "'accuracy' or a log loss" if name == "roc_auc" else f"'{name}_macro' or 'accuracy'"
        raise ValueError(f"{arg} {name!r} scores a binary target (class 1 against the rest), "
                         f"but {why}; use {instead}.")


def get_metric(name: str, arg: str = "name") -> Metric:
    """The `Metric(fn, greater_is_better)` registered under `name` (errors call it `arg`).

    Example:
      >>> fn, greater_is_better = get_metric("r2")
    """
    if not isinstance(name, str):
        raise TypeError(f"`{arg}` must be a metric name (str); got {type(name).__name__} {name!r}.")
    if name not in METRICS:
        raise ValueError(
            f"`{arg}` must be one of the metrics {sorted(METRICS)}; got {name!r}. Pass one "
            f"of these names, or a function fn(y_true, y_pred, *, sample_weight=None).")
    return METRICS[name]

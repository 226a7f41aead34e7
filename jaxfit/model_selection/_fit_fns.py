"""`make_fit_fns`: the `train_fn` / `score_fn` pair that `cross_validate` and `search`
need, built from a model, a loss and `jaxfit.fit`.

Preprocessing is fitted inside `train_fn` with the fold's training mask as weights,
so the test rows of a fold never reach its scaling statistics (no leakage), and each
fold carries its own `Scaling` to the scorer.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from .. import data as _data
from .. import losses as _losses
from .. import metrics as _metrics
from ..metrics._registry import check_multiclass_metric
from .._fit import check_labels, fit
from .._validation import check_int, check_scalar
from ..models import Model
from ..penalties import Penalty
from ..solvers import Solver
from ..solvers._glm import BoundCG

# What `fit` takes as its optimizer.
_OPTIMIZERS = (optax.GradientTransformation, Solver, BoundCG)

_BINARY = (_losses.binary_cross_entropy, _losses.hinge)
_MULTICLASS = (_losses.softmax_cross_entropy,)
# Metrics that score probabilities or continuous scores rather than hard labels.
_PROBABILITY_METRICS = ("log_loss",)
_SCORE_METRICS = ("roc_auc",)


class Trained(NamedTuple):
    """Fitted parameters with what is needed to predict from them.

    Attributes:
      params: the model parameters.
      scaling: the `jaxfit.data.Scaling` fitted on the training rows, or None.
      apply: the model's `apply`, as a `jax.tree_util.Partial` (static in the pytree).
    """

    params: Any
    scaling: Any
    apply: jax.tree_util.Partial

    def outputs(self, X) -> jax.Array:
        """Model outputs (logits for classifiers) on `X` in its original units."""
        return self.apply(self.params, X if self.scaling is None else self.scaling.apply(X))


class FitFns(NamedTuple):
    """What `make_fit_fns` returns; unpack as `train_fn, score_fn, predict = ...`.

    Attributes:
      train: `train(config, X, y, sample_weight, key) -> FitResult` whose params are
        a `Trained`. Its `check_inputs(X, y)`, which `cross_validate`, `search` and
        `refit` call before tracing, refuses labels the loss cannot read, as `fit` does.
      score: `score(params, X, y, sample_weight) -> scalar`, higher is better.
      predict: `predict(params, X) -> predictions` (class labels for classification
        losses, outputs otherwise), e.g. on `SearchResult.refit(X, y).params`.
    """

    train: Callable
    score: Callable
    predict: Callable


def _task(loss: Callable) -> str:
    if loss in _BINARY:
        return "binary"
    if loss in _MULTICLASS:
        return "multiclass"
    return "regression"


def _resolve_metric(metric, task: str):
    if metric is None:
        metric = "r2" if task == "regression" else "accuracy"
    if isinstance(metric, str):
        fn, greater_is_better = _metrics.get_metric(metric, "metric")
        return metric, fn, greater_is_better
    if isinstance(metric, _metrics.Metric):
        return getattr(metric.fn, "__name__", "metric"), metric.fn, metric.greater_is_better
    if callable(metric):
        # jaxfit's own error metrics passed as functions (metric=metrics.mse) keep their
        # direction, as their names do: maximising an error picks the worst configuration.
        known = {m.fn: n for n, m in _metrics.METRICS.items()}
        if metric in known:
            return _resolve_metric(known[metric], task)
        return getattr(metric, "__name__", "metric"), metric, True
    raise TypeError(f"`metric` must be a metric name such as 'accuracy', a "
                    f"jaxfit.metrics.Metric(fn, greater_is_better) or a function "
                    f"fn(y_true, y_pred, *, sample_weight) (higher is better); got {metric!r}.")


def _factory_error(name: str, kinds: tuple, example: str, value) -> TypeError:
    return TypeError(f"`{name}` must be a {' or '.join(k.__name__ for k in kinds)} or a function "
                     f"of the config returning one (e.g. {example}); got {type(value).__name__}.")


def _per_config(value, config, name: str, kinds: tuple, example: str):
    """A constant, or a factory called with the configuration."""
    if value is None or isinstance(value, kinds):
        return value
    value = value(config)
    if value is None or isinstance(value, kinds):
        return value
    raise _factory_error(name, kinds, example, value)


def _check_factory(value, name: str, kinds: tuple, example: str, *, required: bool) -> None:
    if value is None and not required:
        return
    if not (isinstance(value, kinds) or callable(value)):
        raise _factory_error(name, kinds, example, value)


def make_fit_fns(model, loss, *, optimizer, penalty=None, steps, batch_size=None,
                 standardize: bool = False, metric=None, tol: float | None = None) -> FitFns:
    """Build `train_fn`, `score_fn` and `predict` for `cross_validate` and `search`.

    Every argument that may depend on the hyperparameters is either a constant or a
    function of the config dict: traced values (`config["learning_rate"]`) flow into
    optax and penalties as arrays, static values (`config["hidden"]`) as Python values.

    Args:
      model: a `Model`, or `config -> Model` (e.g. `lambda c: models.mlp(c["hidden"])`
        with "hidden" in `search(static=...)`).
      loss: a per-sample loss or its name in `jaxfit.losses`.
      optimizer: an optax transform, a jaxfit `Solver` or `solvers.bound_cg()`, or `config -> ` one
        (e.g. `lambda c: optax.adam(c["learning_rate"])`).
      penalty: a `Penalty`, `config -> Penalty` (e.g. `lambda c: penalties.l2(c["alpha"])`)
        or None.
      steps: maximum optimizer steps, or `config -> int`.
      batch_size: None for full batch, an int, or `config -> int`.
      standardize: scale features with `jaxfit.data.standardize`, fitted on each fold's
        training rows only.
      metric: a `jaxfit.metrics` name, a `Metric(fn, greater_is_better)` or a function
        `fn(y_true, y_pred, *, sample_weight)` (higher is better, except for the
        functions of `jaxfit.metrics`, which keep their direction). Default "accuracy"
        for classification losses, "r2" otherwise. Metrics where lower is better are
        negated, so the score is always maximised. Classifiers are scored on labels,
        "log_loss" on probabilities and "roc_auc" on logits.
      tol: stopping tolerance passed to `fit`.

    Returns:
      `FitFns(train, score, predict)`.

    Example:
      >>> from jaxfit import models, penalties
      >>> from jaxfit.model_selection import grid, kfold, search
      >>> data = jaxfit.data.load_example("breast_cancer")
      >>> X, y = data.X, data.y
      >>> train_fn, score_fn, predict = make_fit_fns(
      ...     models.logistic(), "binary_cross_entropy",
      ...     optimizer=lambda c: optax.sgd(c["learning_rate"]),
      ...     penalty=lambda c: penalties.l2(c["alpha"]), steps=300, standardize=True)
      >>> result = search(train_fn, score_fn, X, y, grid(learning_rate=[0.1, 0.3],
      ...                 alpha=[1e-3, 1e-2]), kfold(len(X), 5))
      >>> result.scores.shape  # 4 configurations x 5 folds
      (4, 5)
      >>> best = result.refit(X, y)  # the best configuration, trained on all the data
      >>> predict(best.params, X[:5])  # class labels (1: malignant)
      Array([1, 1, 1, 1, 1], dtype=int32)
    """
    _check_factory(model, "model", (Model,), "models.logistic()", required=True)
    _check_factory(optimizer, "optimizer", _OPTIMIZERS,
                   "lambda c: optax.adam(c['learning_rate'])", required=True)
    _check_factory(penalty, "penalty", (Penalty,), "lambda c: penalties.l2(c['alpha'])",
                   required=False)
    if isinstance(loss, str) and loss not in _losses.LOSSES:
        raise ValueError(f"`loss` must be one of {sorted(_losses.LOSSES)} or a callable; got {loss!r}.")
    if not isinstance(loss, str) and not callable(loss):
        raise TypeError(f"`loss` must be a loss name or a callable loss(outputs, y); got "
                        f"{type(loss).__name__}.")
    for name, value in (("steps", steps), ("batch_size", batch_size)):
        if not callable(value):
            check_int(value, name, minimum=1, allow_none=name == "batch_size")
    if not isinstance(standardize, bool):
        raise TypeError(f"`standardize` must be True or False; got {standardize!r}.")
    check_scalar(tol, "tol", minimum=0.0, allow_none=True)
    loss = _losses.get_loss(loss)
    task = _task(loss)
    metric_name, metric_fn, greater_is_better = _resolve_metric(metric, task)
    if task == "multiclass":
        check_multiclass_metric(metric_name, "`metric`", "softmax_cross_entropy scores the target as "
                                "multiclass (for two classes, a binary metric needs "
                                "models.logistic() and binary_cross_entropy)")
    takes_n_classes = "n_classes" in inspect.signature(metric_fn).parameters

    def train_fn(config, X, y, sample_weight, key):
        scaling = _data.standardize(X, sample_weight) if standardize else None
        Xs = X if scaling is None else scaling.apply(X)
        m = _per_config(model, config, "model", (Model,), "models.logistic()")
        n_steps = steps(config) if callable(steps) else steps
        batch = batch_size(config) if callable(batch_size) else batch_size
        result = fit(m, loss, Xs, y,
                     optimizer=_per_config(optimizer, config, "optimizer", _OPTIMIZERS,
                                           "optax.adam(0.1)"),
                     penalty=_per_config(penalty, config, "penalty", (Penalty,), "penalties.l2(0.1)"),
                     steps=n_steps, batch_size=batch, sample_weight=sample_weight, key=key, tol=tol)
        return result._replace(params=Trained(result.params, scaling, jax.tree_util.Partial(m.apply)))

    def check_inputs(X, y):
        # `fit`'s label check, on the whole data: inside `cross_validate` and `search`
        # `y` is traced, and labels a loss cannot read fail silently there.
        if y is None:
            return
        n_classes = None  # with a model per config, unknown here
        if isinstance(model, Model):
            out = jax.eval_shape(lambda X: model.apply(model.init(jax.random.key(0), X.shape[1]), X), X)
            n_classes = out.shape[-1] if out.ndim == 2 else None
        check_labels(loss, y, n_classes)

    train_fn.check_inputs = check_inputs

    def _predictions(out, kind: str):
        if task == "regression" or kind == "scores":
            return out
        if kind == "proba":
            return jax.nn.sigmoid(out) if task == "binary" else jax.nn.softmax(out)
        return (out > 0).astype(jnp.int32) if task == "binary" else jnp.argmax(out, axis=-1)

    kind = ("proba" if metric_name in _PROBABILITY_METRICS else
            "scores" if metric_name in _SCORE_METRICS else "labels")

    def score_fn(params: Trained, X, y, sample_weight):
        out = params.outputs(X)
        # Labels are traced here, so the metric cannot count the classes itself.
        n_classes = {"binary": 2, "multiclass": out.shape[-1]}.get(task)
        extra = {"n_classes": n_classes} if takes_n_classes and n_classes else {}
        value = metric_fn(y, _predictions(out, kind), sample_weight=sample_weight, **extra)
        return value if greater_is_better else -value

    def predict(params: Trained, X):
        return _predictions(params.outputs(X), "labels")

    return FitFns(train_fn, score_fn, predict)

"""Supervised estimators as thin faces over `jaxfit.fit`, compiled once per shape.

An estimator class supplies two pure functions of its hyperparameters (`config`) and
of what the data fix (`Task`):

- `_train(config, task, X, y, sample_weight, key) -> FitResult`, which calls `fit`;
- `_model(config, task) -> Model`, whose `apply` gives the outputs to predict from.

`fit` validates in plain Python, then runs `_train` under one `jax.jit` in which the
numeric hyperparameters named in `_traced` (penalty strengths, learning rates) are
array arguments: changing `alpha` or `C` reuses the compiled program. `SearchCV` runs
the same `_train` under `jaxfit.model_selection.search`, vmapped over configurations.
"""

from __future__ import annotations

import functools
import numbers
import warnings
from typing import NamedTuple

import jax
import numpy as np

from .. import metrics
from .._validation import float_dtype, from_pandas, host_key
from ._base import BaseEstimator
from ._errors import ConvergenceWarning, sklearn_class
from ._inputs import as_sample_weight, as_targets, check_length, device_array, encode_labels, requires_y


class Task(NamedTuple):
    """What the training data fix about a fit; static, part of the compile key.

    Attributes:
      kind: "regression", "binary" or "multiclass".
      n_outputs: regression: None for `y` of shape `[n]`, m for `[n, m]`;
        classification: the number of classes.
      n_samples: rows of `X` (step budgets are counted in epochs over them).
    """

    kind: str
    n_outputs: int | None
    n_samples: int


def is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def split_config(cls, config: dict) -> tuple[dict, dict]:
    """`(traced, static)`: the numeric `_traced` hyperparameters as scalars of the working
    float dtype (NumPy: `jit` copies them to the device without compiling a conversion)."""
    traced = {name: np.asarray(float(config[name]), float_dtype())
              for name in cls._traced if is_number(config[name])}
    static = {name: value for name, value in config.items() if name not in traced}
    return traced, static


def _program(cls, static: tuple, task: Task):
    fixed = dict(static)

    def run(traced, X, y, sample_weight, key):
        return cls._train({**fixed, **traced}, task, X, y, sample_weight, key)

    return jax.jit(run)


_cached_program = functools.lru_cache(maxsize=64)(_program)


def train(cls, config: dict, task: Task, X, y, sample_weight, key):
    """Run `cls._train` compiled, reusing the program for the same static configuration."""
    traced, static = split_config(cls, config)
    items = tuple(sorted(static.items()))
    try:
        program = _cached_program(cls, items, task)
    except TypeError:  # an unhashable value (a user's callable is fine, a list is not)
        program = _program(cls, items, task)
    return jax.device_get(program(traced, X, y, sample_weight, key))


def to_numpy(tree):
    """Fitted parameters as float64 NumPy arrays, the dtype scikit-learn users expect."""
    return jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), tree)


class SupervisedEstimator(BaseEstimator):
    """`fit` and the outputs to predict from, over the hooks of a concrete estimator:

    - `_hyperparameters() -> config`: the validated parameters;
    - `_train` and `_model` (see the module docstring);
    - `_task(y, n_samples) -> (encoded y, Task)` (from the regressor or classifier mixin);
    - `_set_fitted(params, result)` and `_get_fitted_params()`: fitted attributes in
      scikit-learn's shapes, and back to the model's parameters;
    - `_warn_on_max_iter(config)`: whether a fit that did not converge ran out of
      `max_iter` (and should warn, as scikit-learn does).
    """

    _traced: tuple[str, ...] = ()

    def _key(self):
        return host_key(0)

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "_fit_task")

    def fit(self, X, y, sample_weight=None):
        """Fit to `X [n, d]` and `y`, with optional `sample_weight [n]`; returns self."""
        self.__dict__.pop("_fit_task", None)  # a fit that fails leaves the estimator unfitted
        config = self._hyperparameters()
        X = self._validate_X(X, reset=True)
        requires_y(self, y)
        y, task = self._task(y, X.shape[0])
        check_length(X, y)
        w = as_sample_weight(sample_weight, X.shape[0])
        y_device = jax.device_put(y) if y.dtype.kind in "iu" else device_array(y)
        result = train(type(self), config, task, device_array(X), y_device, device_array(w), self._key())
        self._fit_config, self._fit_task = config, task
        self._set_fitted(to_numpy(result.params), result)
        if bool(result.diverged):
            warnings.warn(sklearn_class("ConvergenceWarning", ConvergenceWarning)(
                f"{type(self).__name__}: the objective became non-finite after "
                f"{int(result.n_steps)} steps; the parameters are the last finite ones. "
                f"Lower the learning rate or standardize the features."))
        elif not bool(result.converged) and self._warn_on_max_iter(config):
            warnings.warn(sklearn_class("ConvergenceWarning", ConvergenceWarning)(
                f"{type(self).__name__} reached max_iter={config['max_iter']} before the "
                f"tolerance tol={config['tol']}; increase max_iter or scale the data."))
        return self

    def _warn_on_max_iter(self, config) -> bool:
        return True

    def _outputs(self, X) -> np.ndarray:
        """Model outputs (logits for classifiers) on validated `X`, as float64."""
        X = self._validate_X(X, reset=False)
        model = self._model(self._fit_config, self._fit_task)
        return np.asarray(model.apply(self._get_fitted_params(), device_array(X)), np.float64)


class RegressorMixin:
    """Regression targets, `predict` and `score` (R²), as scikit-learn's mixin."""

    _estimator_type = "regressor"
    _multi_output = False

    def _task(self, y, n_samples):
        y = as_targets(y, multi_output=self._multi_output)
        return y, Task("regression", None if y.ndim == 1 else y.shape[1], n_samples)

    def predict(self, X) -> np.ndarray:
        """Predicted targets `[n]` (or `[n, m]` when fitted on 2-D `y`)."""
        return self._outputs(X)

    def score(self, X, y, sample_weight=None) -> float:
        """R² of the predictions (`jaxfit.metrics.r2`, as `sklearn.metrics.r2_score`)."""
        pred = self.predict(X)
        y = as_targets(y, multi_output=True)
        check_length(pred, y)
        if y.ndim == 2 and y.shape[1] == 1 and pred.ndim == 1:  # a column, as r2_score takes
            y = y[:, 0]
        if y.shape != pred.shape:  # reshaping would pair targets with the wrong predictions
            raise ValueError(f"`y` must have shape {pred.shape}, the shape of this "
                             f"{type(self).__name__}'s predictions; got {y.shape}. Pass the "
                             f"targets of the outputs it was fitted on.")
        w = None if sample_weight is None else as_sample_weight(sample_weight, pred.shape[0])
        return float(metrics.r2(y, pred, sample_weight=w))

    def __sklearn_tags__(self):
        from sklearn.utils import RegressorTags, TargetTags

        tags = super().__sklearn_tags__()
        tags.target_tags = TargetTags(required=True, multi_output=self._multi_output)
        tags.regressor_tags = RegressorTags()
        return tags


class ClassifierMixin:
    """Class labels of any type, `predict`, `predict_proba`, `decision_function`, `score`."""

    _estimator_type = "classifier"

    def _task(self, y, n_samples):
        self.classes_, codes = encode_labels(y)
        k = self.classes_.size
        return codes, Task("binary" if k == 2 else "multiclass", k, n_samples)

    def decision_function(self, X) -> np.ndarray:
        """Logits: `[n]` for two classes (positive means `classes_[1]`), else `[n, k]`."""
        return self._outputs(X)

    def _log_proba(self, X) -> np.ndarray:
        # Two classes as logits (0, z): softmax gives both probabilities to full
        # relative precision, where 1 - sigmoid(z) would round small ones to zero.
        # In NumPy, in float64: the logits are on the host already, and JAX would
        # compile each operation at its first use in a process.
        logits = self.decision_function(X)
        if logits.ndim == 1:
            logits = np.stack([np.zeros_like(logits), logits], axis=1)
        shifted = logits - logits.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities `[n, k]`, columns in the order of `classes_`."""
        return np.exp(self._log_proba(X))

    def predict_log_proba(self, X) -> np.ndarray:
        """Logarithm of `predict_proba`."""
        return self._log_proba(X)

    def predict(self, X) -> np.ndarray:
        """Predicted class labels, taken from `classes_`."""
        logits = self.decision_function(X)
        index = (logits > 0).astype(int) if logits.ndim == 1 else np.argmax(logits, axis=1)
        return self.classes_[index]

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy (`jaxfit.metrics.accuracy`); labels not in `classes_` count as wrong."""
        pred = np.searchsorted(self.classes_, self.predict(X))
        w = None if sample_weight is None else as_sample_weight(sample_weight, pred.shape[0])
        return float(metrics.accuracy(self._class_indices(y), pred, sample_weight=w))

    def _class_indices(self, y) -> np.ndarray:
        """`y` as indices into `classes_`, -1 for labels not among them (never matched)."""
        y = np.asarray(from_pandas(y)).reshape(-1)
        known = np.isin(y, self.classes_)
        return np.where(known, np.searchsorted(self.classes_, np.where(known, y, self.classes_[0])), -1)

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, TargetTags

        tags = super().__sklearn_tags__()
        tags.target_tags = TargetTags(required=True)
        tags.classifier_tags = ClassifierTags()
        return tags


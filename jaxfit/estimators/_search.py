"""`SearchCV`: scikit-learn's `GridSearchCV` / `RandomizedSearchCV` over one compiled,
vmapped program per static combination (`jaxfit.model_selection.search`).

Candidates are validated one by one in Python (each is the estimator with those
parameters), then split: the estimator's numeric `_traced` hyperparameters (`alpha`,
`C`, `l1_ratio`, `learning_rate_init`) become the search space, vmapped over
configurations × folds; everything else (penalty kind, layer sizes, `max_iter`) is
static and groups the candidates, one compiled program per group.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import itertools
import math
import numbers
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from .. import metrics, model_selection
from ..metrics._registry import check_multiclass_metric
from ..model_selection import SearchResult
from ._base import BaseEstimator, clone
from ._errors import NotFittedError, sklearn_class
from ._inputs import as_sample_weight, as_targets, check_length, device_array, requires_y
from ._supervised import SupervisedEstimator, is_number

# scikit-learn scorer name -> (what the metric reads, jaxfit metric, sign).
_SCORERS = {
    "accuracy": ("labels", metrics.accuracy, 1.0),
    "r2": ("outputs", metrics.r2, 1.0),
    "neg_mean_squared_error": ("outputs", metrics.mse, -1.0),
    "neg_root_mean_squared_error": ("outputs", metrics.rmse, -1.0),
    "neg_mean_absolute_error": ("outputs", metrics.mae, -1.0),
    "neg_log_loss": ("proba", metrics.log_loss, -1.0),
    "roc_auc": ("outputs", metrics.roc_auc, 1.0),
    **{name: ("labels", fn, 1.0) for name, fn in
       (("f1", metrics.f1), ("precision", metrics.precision), ("recall", metrics.recall))},
    **{f"{name}_{avg}": ("labels", functools.partial(fn, average=avg), 1.0)
       for name, fn in (("f1", metrics.f1), ("precision", metrics.precision), ("recall", metrics.recall))
       for avg in ("micro", "macro", "weighted")},
}


_REGRESSION_SCORERS = ("r2", "neg_mean_squared_error", "neg_root_mean_squared_error",
                       "neg_mean_absolute_error")


def _check_scoring_task(scoring: str, task, estimator) -> None:
    """Refuse a scorer meant for the other kind of target. A regression scorer here reads
    a classifier's logits, not its predicted labels as scikit-learn does, so it gives a
    number without meaning; a classification scorer on a regressor's real-valued
    predictions fails or scores nothing (scikit-learn scores NaN)."""
    regression = task.kind == "regression"
    if (scoring in _REGRESSION_SCORERS) != regression:
        kind, instead = (("classification", "'r2' or 'neg_mean_squared_error'") if regression else
                         ("regression", "'accuracy' or 'neg_log_loss'"))
        raise ValueError(f"`scoring` {scoring!r} is a {kind} scorer, but {type(estimator).__name__} "
                         f"is a {'regressor' if regression else 'classifier'}; use {instead}.")


def _check_grids(param_grid, argument: str) -> list[dict]:
    """`param_grid` as a list of `{name: non-empty list of values}`."""
    grids = [param_grid] if isinstance(param_grid, dict) else list(param_grid)
    for grid in grids:
        if not isinstance(grid, dict):
            raise TypeError(f"`{argument}` must be a dict or a list of dicts; got {grid!r}.")
        for name in sorted(grid):
            if isinstance(grid[name], str) or not hasattr(grid[name], "__iter__") or len(grid[name]) == 0:
                raise ValueError(f"`{argument}[{name!r}]` must be a non-empty list of values; got "
                                 f"{grid[name]!r}.")
    return grids


def _grid_candidates(param_grid) -> list[dict]:
    """scikit-learn's `ParameterGrid` order: per dict, sorted names, last one fastest."""
    return [dict(zip(names, values)) for grid in _check_grids(param_grid, "param_grid")
            for names in [sorted(grid)] for values in itertools.product(*(grid[n] for n in names))]


def _grid_size(grids: list[dict]) -> int:
    return sum(math.prod(len(values) for values in grid.values()) for grid in grids)


def _grid_candidate(grids: list[dict], index: int) -> dict:
    """`_grid_candidates(grids)[index]` without building the others (a grid of lists
    sampled by a random search may be far larger than `n_iter`)."""
    for grid in grids:
        size = math.prod(len(values) for values in grid.values())
        if index >= size:
            index -= size
            continue
        candidate = {}
        for name in sorted(grid, reverse=True):  # the last name cycles fastest
            index, offset = divmod(index, len(grid[name]))
            candidate[name] = grid[name][offset]
        return dict(sorted(candidate.items()))
    raise IndexError(index)


def _sample_without_replacement(n_population: int, n_samples: int, rng) -> np.ndarray:
    """scikit-learn's `sample_without_replacement` ("auto"), draw for draw, so a seed gives
    the candidates `RandomizedSearchCV` gives."""
    ratio = n_samples / n_population
    if 0.01 < ratio < 0.99:
        return rng.permutation(n_population)[:n_samples]
    if ratio < 0.2:  # tracking selection: redraw until unseen
        out, seen = [], set()
        for _ in range(n_samples):
            j = rng.randint(n_population)
            while j in seen:
                j = rng.randint(n_population)
            seen.add(j)
            out.append(j)
        return np.asarray(out, int)
    out = np.arange(n_samples)  # reservoir sampling
    for i in range(n_samples, n_population):
        j = rng.randint(0, i + 1)
        if j < n_samples:
            out[j] = i
    return out


def _sampled_candidates(distributions, n_iter: int, random_state) -> list[dict]:
    """`n_iter` draws, as scikit-learn's `ParameterSampler`: when every value is a list,
    distinct candidates of the grid (at most all of it, with a warning); otherwise lists
    are sampled uniformly and objects with `rvs` (scipy.stats) drawn, with replacement."""
    rng = random_state if isinstance(random_state, np.random.RandomState) else np.random.RandomState(random_state)
    dists = [distributions] if isinstance(distributions, dict) else list(distributions)
    for dist in dists:
        if not isinstance(dist, dict):
            raise TypeError(f"`param_distributions` must be a dict or a list of dicts; got {dist!r}.")
    if not any(hasattr(values, "rvs") for dist in dists for values in dist.values()):
        grids = _check_grids(dists, "param_distributions")
        size = _grid_size(grids)
        if size < n_iter:
            warnings.warn(f"The total space of parameters {size} is smaller than n_iter={n_iter}. "
                          f"Running {size} iterations. For exhaustive searches, use SearchCV "
                          f"with param_grid.", UserWarning, stacklevel=4)
            n_iter = size
        return [_grid_candidate(grids, int(i)) for i in _sample_without_replacement(size, n_iter, rng)]
    candidates = []
    for _ in range(n_iter):
        dist = dists[rng.randint(len(dists))]
        draw = {}
        for name in sorted(dist):
            values = dist[name]
            draw[name] = values.rvs(random_state=rng) if hasattr(values, "rvs") else values[rng.randint(len(values))]
        candidates.append(draw)
    return candidates


def _folds(cv, X, y, task, groups):
    """Folds for `cv`; `y` holds the user's labels for a classifier (named in messages)."""
    n = X.shape[0]
    if cv is None:  # scikit-learn's default
        cv = 5
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        if cv < 2:  # scikit-learn's messages, for both ends
            raise ValueError(f"The 'cv' parameter of SearchCV must be an int in the range [2, inf), "
                             f"a scikit-learn splitter, an iterable of (train, test) index pairs "
                             f"or None. Got {cv} instead.")
        if cv > n:
            raise ValueError(f"Cannot have number of splits n_splits={cv} greater than the number "
                             f"of samples: n_samples={n}.")
        if task.kind == "regression":
            return model_selection.kfold(n, int(cv))
        return model_selection.stratified_kfold(y, int(cv), rare_classes="warn")
    if isinstance(cv, (str, bool)) or not (hasattr(cv, "split") or hasattr(cv, "__iter__")):
        raise TypeError(f"`cv` must be None (5 folds), an int >= 2, a scikit-learn splitter or an "
                        f"iterable of (train, test) index arrays; got {cv!r}.")
    splits = cv.split(X, y, groups) if hasattr(cv, "split") else cv
    return model_selection.Folds.from_indices(splits, n)


def _score_fn(model, task, scoring):
    read, fn, sign = _SCORERS[scoring]
    if task.kind == "multiclass":
        check_multiclass_metric(scoring, "`scoring`")
    extra = {}
    if "n_classes" in inspect.signature(getattr(fn, "func", fn)).parameters and task.kind != "regression":
        extra = {"n_classes": 2 if task.kind == "binary" else task.n_outputs}

    def score(params, X, y, sample_weight):
        out = model.apply(params, X)
        if read == "labels" and task.kind == "binary":
            out = (out > 0).astype(jnp.int32)
        elif read == "labels" and task.kind == "multiclass":
            out = jnp.argmax(out, axis=1)
        elif read == "proba":
            out = jax.nn.sigmoid(out) if task.kind == "binary" else jax.nn.softmax(out, axis=1)
        return sign * fn(y, out, sample_weight=sample_weight, **extra)

    return score


def _make_search_functions(cls, static_items: tuple, task, scoring):
    static = dict(static_items)

    def train_fn(config, X, y, fold_weight, key):
        return cls._train({**static, **config}, task, X, y, fold_weight, key)

    return train_fn, _score_fn(cls._model(static, task), task, scoring)


_cached_search_functions = functools.lru_cache(maxsize=64)(_make_search_functions)


def _search_functions(cls, static: dict, task, scoring):
    """`(train_fn, score_fn)`, the same objects for the same static values, so `search`
    reuses its compiled program when the same search runs again on the same shapes."""
    items = tuple(sorted(static.items()))
    try:
        return _cached_search_functions(cls, items, task, scoring)
    except TypeError:  # an unhashable static value
        return _make_search_functions(cls, items, task, scoring)


def _weighted(fn, weight, first, X, y, fold_weight, *key):
    """`train_fn(config, ...)` or `score_fn(params, ...)` on the fold's rows weighted by
    the user's `sample_weight`: scikit-learn's searches weight both the fits and, passing
    `sample_weight` on to the scorer, the scores."""
    return fn(first, X, y, fold_weight * weight, *key)


def _best_estimator(search, method: str):
    if not hasattr(search, "best_estimator_"):
        error = sklearn_class("NotFittedError", NotFittedError)
        raise error(f"This SearchCV instance has no best_estimator_: call fit with refit=True "
                    f"before {method}.")
    return search.best_estimator_


class _Delegated:
    """A method of `best_estimator_`, present only when the estimator has it."""

    def __init__(self, name):
        self.name = name

    def __get__(self, search, owner):
        if search is None:
            return self
        if not hasattr(search.estimator, self.name):
            raise AttributeError(f"{type(search.estimator).__name__} has no {self.name!r}.")

        @functools.wraps(getattr(type(search.estimator), self.name))
        def method(*args, **kwargs):
            return getattr(_best_estimator(search, self.name), self.name)(*args, **kwargs)

        return method


class SearchCV(BaseEstimator):
    """Grid or random search with cross-validation, as scikit-learn's `GridSearchCV`
    and `RandomizedSearchCV`, run as one vmapped program per static combination.

    Args:
      estimator: a jaxfit supervised estimator (linear models, MLPs).
      param_grid: `{name: [values]}` or a list of them (grid search).
      param_distributions: `{name: list or scipy.stats distribution}` or a list of them
        (random search, `n_iter` draws); give this or `param_grid`.
      n_iter: candidates drawn from `param_distributions`.
      cv: number of folds (stratified for classifiers, as scikit-learn; None is 5), a
        scikit-learn splitter, or an iterable of `(train, test)` index pairs.
      scoring: None (the estimator's `score`: accuracy or R²) or a scikit-learn scorer
        name: "accuracy", "r2", "neg_mean_squared_error", "neg_root_mean_squared_error",
        "neg_mean_absolute_error", "neg_log_loss", "roc_auc", "f1", "precision",
        "recall" (also "_micro", "_macro", "_weighted"); the first four for regressors,
        the others for classifiers.
      refit: refit the best candidate on all the data as `best_estimator_`.
      random_state: seed for drawing from `param_distributions`.

    Attributes:
      cv_results_: scikit-learn's columns ("params", "param_<name>", "mean_test_score",
        "std_test_score", "rank_test_score", "split<i>_test_score") plus "status".
      best_index_, best_params_, best_score_, best_estimator_ (with `refit`),
      n_splits_, search_result_ (the jaxfit `SearchResult`s, one per static group),
      n_features_in_, feature_names_in_.
    """

    def __init__(self, estimator, param_grid=None, param_distributions=None, *, n_iter=10, cv=5,
                 scoring=None, refit=True, random_state=None):
        self.estimator = estimator
        self.param_grid = param_grid
        self.param_distributions = param_distributions
        self.n_iter = n_iter
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.random_state = random_state

    predict = _Delegated("predict")
    predict_proba = _Delegated("predict_proba")
    predict_log_proba = _Delegated("predict_log_proba")
    decision_function = _Delegated("decision_function")
    transform = _Delegated("transform")
    _estimator_score = _Delegated("score")

    def score(self, X, y=None, sample_weight=None) -> float:
        """`scoring` of `best_estimator_` on `X, y` (its own `score` when `scoring` is None),
        as scikit-learn's searches: e.g. -MSE for "neg_mean_squared_error"."""
        if self.scoring is None:
            return self._estimator_score(X, y, sample_weight=sample_weight)
        best = _best_estimator(self, "score")
        task = best._fit_task
        X = best._validate_X(X, reset=False)
        y = (as_targets(y, multi_output=task.n_outputs is not None) if task.kind == "regression"
             else best._class_indices(y))
        w = None if sample_weight is None else as_sample_weight(sample_weight, X.shape[0])
        score_fn = _score_fn(best._model(best._fit_config, task), task, self._scoring())
        return float(score_fn(best._get_fitted_params(), device_array(X), y, w))

    @property
    def _estimator_type(self):
        return getattr(self.estimator, "_estimator_type", None)

    @property
    def classes_(self):
        return self.best_estimator_.classes_

    def _candidates(self) -> list[dict]:
        if (self.param_grid is None) == (self.param_distributions is None):
            raise ValueError("SearchCV needs exactly one of `param_grid` (grid search) or "
                             "`param_distributions` (random search).")
        if self.param_grid is not None:
            return _grid_candidates(self.param_grid)
        n_iter = self.n_iter
        if isinstance(n_iter, bool) or not isinstance(n_iter, numbers.Integral) or n_iter < 1:
            raise ValueError(f"The 'n_iter' parameter of SearchCV must be an int >= 1; got {n_iter!r}.")
        return _sampled_candidates(self.param_distributions, int(n_iter), self.random_state)

    def _scoring(self) -> str:
        if self.scoring is None:
            return "accuracy" if self._estimator_type == "classifier" else "r2"
        if not isinstance(self.scoring, str):
            raise TypeError(f"The 'scoring' parameter of SearchCV must be None or a scorer name "
                            f"(str), one of {sorted(_SCORERS)}; got {self.scoring!r}. Callables "
                            f"and several metrics at once (lists, dicts) are not supported.")
        if self.scoring not in _SCORERS:
            raise ValueError(f"The 'scoring' parameter of SearchCV must be None or one of "
                             f"{sorted(_SCORERS)}; got {self.scoring!r}.")
        return self.scoring

    def fit(self, X, y=None, *, groups=None, sample_weight=None):
        """Cross-validate every candidate, then refit the best on all of `X, y`.

        Args:
          X: `[n, d]` features.
          y: targets or class labels.
          groups: group labels for a scikit-learn group splitter given as `cv`.
          sample_weight: `[n]` weights of the rows of every fold, in training and in
            scoring (as scikit-learn's searches, which pass it on to the scorer), and of
            the refit.
        """
        if not isinstance(self.estimator, SupervisedEstimator):
            raise TypeError(f"SearchCV searches jaxfit's supervised estimators (linear models, "
                            f"MLPs); got {type(self.estimator).__name__}. Use scikit-learn's "
                            f"GridSearchCV for other estimators.")
        scoring = self._scoring()
        candidates = self._candidates()
        estimators = [clone(self.estimator).set_params(**params) for params in candidates]
        configs = [est._hyperparameters() for est in estimators]
        X_checked = self._validate_X(X, reset=True)
        requires_y(self, y)
        encoder = clone(self.estimator)
        y_np, task = encoder._task(y, X_checked.shape[0])
        check_length(X_checked, y_np)
        _check_scoring_task(scoring, task, self.estimator)
        labels = y_np if task.kind == "regression" else encoder.classes_[y_np]
        folds = _folds(self.cv, X_checked, labels, task, groups)
        data = (device_array(X_checked), jnp.asarray(y_np) if y_np.dtype.kind in "iu" else device_array(y_np))
        weight = None if sample_weight is None else device_array(as_sample_weight(sample_weight, X_checked.shape[0]))

        cls = type(self.estimator)
        traced = [name for name in cls._traced
                  if all(is_number(c[name]) and np.isfinite(c[name]) for c in configs)]
        groups_of: dict[str, tuple[dict, list]] = {}
        for i, config in enumerate(configs):
            static = {k: v for k, v in config.items() if k not in traced}
            groups_of.setdefault(repr(sorted(static.items())), (static, []))[1].append(i)
        shape = (len(candidates), folds.n_splits)
        scores, status, n_steps = np.full(shape, np.nan), np.empty(shape, object), np.zeros(shape, np.int32)
        self.search_result_ = []
        for static, rows in groups_of.values():
            train_fn, score_fn = _search_functions(cls, static, task, scoring)
            if weight is not None:
                train_fn = functools.partial(_weighted, train_fn, weight)
                score_fn = functools.partial(_weighted, score_fn, weight)
            space = {name: np.asarray([configs[i][name] for i in rows], np.float64) for name in traced}
            result = model_selection.search(train_fn, score_fn, *data, space, folds, key=estimators[rows[0]]._key())
            scores[rows], status[rows], n_steps[rows] = result.scores, result.status, result.n_steps
            # Without its refit closure, so the fitted SearchCV pickles.
            self.search_result_.append(dataclasses.replace(result, _refit=None))

        merged = SearchResult(configs={}, scores=scores, status=status.astype(str), n_steps=n_steps,
                              timings={}, chunks={})
        self.cv_results_ = self._results(candidates, merged)
        self.n_splits_ = folds.n_splits
        self.best_index_ = merged.best_index
        self.best_params_ = candidates[self.best_index_]
        self.best_score_ = merged.best_score
        if self.refit:
            kwargs = {} if sample_weight is None else {"sample_weight": sample_weight}
            self.best_estimator_ = clone(self.estimator).set_params(**self.best_params_).fit(X, y, **kwargs)
        return self

    @staticmethod
    def _results(candidates, result: SearchResult) -> dict:
        table = {"params": candidates}
        for name in sorted({name for params in candidates for name in params}):
            column = np.empty(len(candidates), object)
            column[:] = [params.get(name) for params in candidates]
            table[f"param_{name}"] = column
        table["mean_test_score"] = result.mean
        table["std_test_score"] = result.std
        table["rank_test_score"] = result.rank
        for i in range(result.scores.shape[1]):
            table[f"split{i}_test_score"] = result.scores[:, i]
        table["status"] = result.config_status()
        return table

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "cv_results_")

    def __sklearn_tags__(self):
        return self.estimator.__sklearn_tags__()

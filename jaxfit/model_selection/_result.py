"""`SearchResult`: per-fold scores of every configuration, ranked, with a refit."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

from ._cv import STATUS


def rank_scores(mean: np.ndarray) -> np.ndarray:
    """Rank 1 for the highest mean; ties share the lowest rank ("min", as scikit-learn);
    every mean that is not finite (NaN, ±inf) shares the rank after the last finite one."""
    finite = np.isfinite(mean)
    rank = np.full(mean.shape, int(finite.sum()) + 1, np.int64)
    if finite.any():
        neg = np.sort(-mean[finite])
        rank[finite] = np.searchsorted(neg, -mean[finite], side="left") + 1
    return rank


def _python(value):
    return value.item() if isinstance(value, np.generic) else value


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class SearchResult:
    """The outcome of `search`; rows are configurations (static combinations outer,
    the space's configurations inner), columns of `scores` are folds.

    Attributes:
      configs: `{name: array [N]}` hyperparameters of every configuration (traced ones
        as numbers, static ones as given; an object array when not numeric).
      scores: `[N, k]` test score of each configuration on each fold (higher is
        better); NaN where the fit diverged.
      status: `[N, k]` "ok", "converged", "max_steps", "diverged" or "invalid_score"
        (see `cross_validate`).
      n_steps: `[N, k]` optimizer steps each fit took (-1 when unknown).
      timings: `{"compile": s, "run": s}`: seconds spent making the programs (tracing,
        lowering, and XLA compiling or reading the persistent cache) and running them.
      chunks: `{"computed": c, "resumed": r, "chunk_size": size, "n_devices": d}`:
        chunks computed in this call and read back from the checkpoint.

    `jaxfit.io.save` writes a SearchResult (static values such as layer-size tuples and
    strings included) and `jaxfit.io.load` reads it back: everything above, and what is
    derived from it (`table`, `best_config`, `mean`, `rank`, the plots), comes back
    equal. `train_fn` is code, which a file never holds, so a loaded result cannot
    `refit`: train `best_config` with your `train_fn`.
    """

    configs: dict
    scores: np.ndarray
    status: np.ndarray
    n_steps: np.ndarray
    timings: dict
    chunks: dict
    _refit: Callable = dataclasses.field(default=None)

    @property
    def mean(self) -> np.ndarray:
        """`[N]` mean test score over folds: NaN if a fold diverged, not finite if a
        fold's score was not ("invalid_score"); `rank` puts both last."""
        return self.scores.mean(axis=1)

    @property
    def std(self) -> np.ndarray:
        """`[N]` standard deviation of the test scores over folds (population, as
        scikit-learn)."""
        return self.scores.std(axis=1)

    @property
    def rank(self) -> np.ndarray:
        """`[N]` rank of the mean score: 1 is best; means that are not finite come last."""
        return rank_scores(self.mean)

    @property
    def n_configs(self) -> int:
        return int(self.scores.shape[0])

    @property
    def best_index(self) -> int:
        """Row of the best configuration (the first among ties)."""
        if not np.isfinite(self.mean).any():
            # The fix depends on why: the fits, or the metric on some test fold.
            fix = ("The metric was not finite on some test fold (e.g. roc_auc on a fold "
                   "with one class, r2 on a fold of one sample): use other folds (stratified, "
                   "fewer) or another metric." if (self.status == "invalid_score").any() else
                   "Narrow the space to stable values (e.g. smaller learning rates).")
            raise ValueError(f"no configuration has a finite mean score (see `status`: every "
                             f"configuration diverged or scored NaN on some fold), so there is "
                             f"no best one. {fix}")
        return int(np.argmin(self.rank))

    def config(self, index: int) -> dict[str, Any]:
        """The hyperparameters of row `index` as Python values."""
        return {name: _python(values[index]) for name, values in self.configs.items()}

    @property
    def best_config(self) -> dict[str, Any]:
        """Hyperparameters of the best configuration, as Python values."""
        return self.config(self.best_index)

    @property
    def best_score(self) -> float:
        """Mean test score of the best configuration."""
        return float(self.mean[self.best_index])

    def config_status(self) -> np.ndarray:
        """`[N]` the most serious status over each configuration's folds."""
        names = np.asarray(STATUS)  # ordered from least to most serious
        codes = (self.status[..., None] == names).argmax(axis=-1)
        return names[codes.max(axis=1)]

    def table(self) -> dict[str, Any]:
        """Columns in the shape of scikit-learn's `cv_results_`.

        Returns:
          `{"params": [dict per configuration], "param_<name>": array,
          "mean_test_score", "std_test_score", "rank_test_score",
          "split<i>_test_score" for each fold, "status", "mean_n_steps"}`.
        """
        columns: dict[str, Any] = {"params": [self.config(i) for i in range(self.n_configs)]}
        for name, values in self.configs.items():
            if np.ndim(values) > 1:  # a vector per configuration: one object per row
                rows = np.empty(len(values), object)
                rows[:] = list(np.asarray(values))
                values = rows
            columns[f"param_{name}"] = values
        columns["mean_test_score"] = self.mean
        columns["std_test_score"] = self.std
        columns["rank_test_score"] = self.rank
        for i in range(self.scores.shape[1]):
            columns[f"split{i}_test_score"] = self.scores[:, i]
        columns["status"] = self.config_status()
        columns["mean_n_steps"] = self.n_steps.mean(axis=1)
        return columns

    def to_pandas(self):
        """`table()` as a pandas DataFrame, one row per configuration."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_pandas() needs pandas: pip install pandas (or jaxfit[csv]); "
                              "table() gives the same columns as a dict.") from None
        return pd.DataFrame(self.table())

    def refit(self, X, y):
        """Train the best configuration on all of `X, y` (all-ones weights).

        Returns what `train_fn` returns (params, or a `FitResult`).
        """
        if self._refit is None:
            raise ValueError("This SearchResult has no train_fn to refit with: SearchCV keeps "
                             "its results without one, and jaxfit.io.load cannot restore one "
                             "(files hold no code). Train `best_config` with your train_fn, "
                             "use the estimator's best_estimator_, or run search() again for "
                             "a result that refits.")
        return self._refit(self.best_config, X, y)

    def __repr__(self) -> str:
        n, k = self.scores.shape
        try:
            best = f"best_config={self.best_config}, best_score={self.best_score:.6g}"
        except ValueError:
            best = "no finite score"
        return f"SearchResult({n} configurations x {k} folds, {best})"

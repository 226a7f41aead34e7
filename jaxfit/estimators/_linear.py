"""Linear models with scikit-learn's names, parameters and objectives.

Each maps scikit-learn's objective onto jaxfit's `weighted mean loss + penalty` (see
`jaxfit.penalties`), with `Σw` the total sample weight (n without weights):

| estimator | loss | penalty |
| --- | --- | --- |
| `LinearRegression()` | squared error | none |
| `Ridge(alpha)` | squared error | `l2(2·alpha/Σw)` |
| `Lasso(alpha)` | squared error | `l1(2·alpha)` |
| `ElasticNet(alpha, l1_ratio)` | squared error | `elastic_net(2·alpha, l1_ratio)` |
| `LogisticRegression(C)` | cross-entropy | `l2`, `l1` or `elastic_net` of `1/(C·Σw)` |

so the minimiser is scikit-learn's, with an unpenalised intercept.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from .. import losses, models, penalties, solvers
from .._fit import FitResult, fit
from ._base import check_integer, check_option, check_real
from ._inputs import device_array
from ._supervised import ClassifierMixin, RegressorMixin, SupervisedEstimator


class _LinearModel(SupervisedEstimator):
    """Fitted `coef_` / `intercept_` in scikit-learn's shapes, and back to params."""

    @classmethod
    def _model(cls, config, task):
        if task.kind == "binary":
            return models.logistic()
        if task.kind == "multiclass":
            return models.softmax(task.n_outputs)
        return models.linear(task.n_outputs)

    def _set_fitted(self, params, result):
        w, b = params["w"], params["b"]
        kind, one_d = self._fit_task.kind, self._fit_task.n_outputs is None
        if kind == "binary":
            self.coef_, self.intercept_ = w[None, :], np.reshape(b, (1,))
        elif kind == "regression" and one_d:
            self.coef_ = w
            self.intercept_ = np.reshape(b, (1,)) if getattr(self, "_column_target", False) else float(b)
        else:
            self.coef_, self.intercept_ = w.T, b
        self.n_iter_ = self._n_iter(int(result.n_steps))

    def _n_iter(self, n_steps):
        return n_steps

    def _get_fitted_params(self):
        coef, intercept = np.asarray(self.coef_), np.asarray(self.intercept_)
        if self._fit_task.kind == "binary":
            coef, intercept = coef[0], intercept[0]
        elif coef.ndim == 2:
            coef = coef.T
        return {"w": device_array(coef), "b": device_array(intercept)}


class _LinearRegressor(RegressorMixin, _LinearModel):
    _multi_output = True
    _ravel_column = True  # scikit-learn's Ridge, Lasso, ElasticNet; not LinearRegression

    def _task(self, y, n_samples):
        # A column y `[n, 1]` gives scikit-learn's Ridge, Lasso and ElasticNet `coef_`
        # `[d]`, predictions `[n]`, and an intercept_ `[1]`.
        y, task = super()._task(y, n_samples)
        self._column_target = self._ravel_column and task.n_outputs == 1
        return (y[:, 0], task._replace(n_outputs=None)) if self._column_target else (y, task)

    @classmethod
    def _train(cls, config, task, X, y, sample_weight, key):
        total = sample_weight.sum()
        # Centred on the weighted means, as scikit-learn does: the unpenalised intercept
        # drops out. The normal equations keep their precision in float32 when features
        # have large means (uncentred, 0.9 off at mean 1000, std 1), and the iterative
        # solvers meet a well-conditioned problem (uncentred, FISTA stalled far from the
        # minimum on features of mean 50, std 10).
        x_mean, y_mean = sample_weight @ X / total, sample_weight @ y / total
        closed = config["solver"] == "closed_form"
        result = fit(cls._model(config, task), "squared_error", X - x_mean, y - y_mean,
                     optimizer=solvers.closed_form() if closed else _SOLVERS[config["solver"]](),
                     penalty=cls._penalty(config, total), steps=1 if closed else config["max_iter"],
                     tol=None if closed else config["tol"], sample_weight=sample_weight, key=key)
        w = result.params["w"]
        return result._replace(params={"w": w, "b": result.params["b"] + y_mean - x_mean @ w})

    def _warn_on_max_iter(self, config):
        return config["solver"] != "closed_form"


class LinearRegression(_LinearRegressor):
    """Ordinary least squares, as `sklearn.linear_model.LinearRegression`.

    Solved exactly by an SVD of the weighted, centred `X` (`jnp.linalg.lstsq`), as
    scikit-learn does with SciPy's `lstsq`: when `X` is rank-deficient (collinear
    columns, more features than samples) least squares has many solutions, and this
    is scikit-learn's, the one of minimum norm.

    Attributes:
      coef_: `[d]` weights (`[m, d]` for 2-D `y`).
      intercept_: the intercept (`[m]` for 2-D `y`).
      n_iter_: solver steps (1).
      n_features_in_, feature_names_in_: the columns seen in `fit`.

    Example:
      >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
      >>> y = 2 * X[:, 0] + 1
      >>> np.round(LinearRegression().fit(X, y).predict(X[:2]), 3)
      array([1., 3.])
    """

    _ravel_column = False

    def __init__(self):
        pass

    def _hyperparameters(self):
        return {"solver": "closed_form"}

    @classmethod
    def _train(cls, config, task, X, y, sample_weight, key):
        del config, task, key  # one exact solve
        total = sample_weight.sum()
        x_mean, y_mean = sample_weight @ X / total, sample_weight @ y / total
        root = jnp.sqrt(sample_weight)
        # Centred (the intercept drops out) and scaled by √weight; an SVD, not the normal
        # equations, so that a rank-deficient X gets the minimum-norm solution (a
        # jittered Cholesky solve picked one by rounding: ‖w‖ 0.871 against 0.868).
        Xc, yc = X - x_mean, y - y_mean
        w = jnp.linalg.lstsq(root[:, None] * Xc, root.reshape(root.shape + (1,) * (y.ndim - 1)) * yc)[0]
        params = {"w": w, "b": y_mean - x_mean @ w}
        value = sample_weight @ losses.squared_error(Xc @ w, yc) / total
        finite = jnp.isfinite(value) & jnp.all(jnp.isfinite(w))
        return FitResult(params, value[None], jnp.int32(1), finite, ~finite,
                         jnp.full((1,), jnp.nan, value.dtype))


class Ridge(_LinearRegressor):
    """Least squares with an L2 penalty, as `sklearn.linear_model.Ridge`.

    Minimises `Σᵢ wᵢ (yᵢ - xᵢ·coef - intercept)² + alpha·||coef||²`.

    Args:
      alpha: penalty strength, >= 0; traced, so a new value reuses the compiled fit.
      solver: "auto" or "cholesky" (exact: `jaxfit.solvers.closed_form`), or "lbfgs"
        (`jaxfit.solvers.lbfgs`, iterative, for many features).
      max_iter: steps for "lbfgs" (default 15000, as scikit-learn).
      tol: "lbfgs" stops when the largest gradient entry falls to `tol`.

    Attributes:
      coef_, intercept_, n_iter_, n_features_in_, feature_names_in_: as
      `LinearRegression`.
    """

    _traced = ("alpha",)

    def __init__(self, alpha=1.0, *, solver="auto", max_iter=None, tol=1e-4):
        self.alpha = alpha
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol

    def _hyperparameters(self):
        solver = check_option(self, "solver", ("auto", "cholesky", "lbfgs"))
        max_iter = check_integer(self, "max_iter", allow_none=True)
        return {"alpha": check_real(self, "alpha", low=0.0),
                "solver": "closed_form" if solver in ("auto", "cholesky") else "lbfgs",
                "max_iter": 15000 if max_iter is None else max_iter,
                "tol": check_real(self, "tol", low=0.0)}

    @staticmethod
    def _penalty(config, total_weight):
        return penalties.l2(2.0 * config["alpha"] / total_weight)


class ElasticNet(_LinearRegressor):
    """Least squares with L1 and L2 penalties, as `sklearn.linear_model.ElasticNet`.

    Minimises `1/(2Σw)·Σᵢ wᵢ (yᵢ - xᵢ·coef - intercept)² + alpha·l1_ratio·||coef||₁
    + alpha·(1 - l1_ratio)/2·||coef||²` by proximal gradient (FISTA,
    `jaxfit.solvers.proximal_gradient`), whose soft-thresholding gives exact zeros.

    Args:
      alpha: penalty strength, >= 0 (traced).
      l1_ratio: the L1 share of the penalty, in [0, 1] (traced).
      max_iter: most FISTA steps.
      tol: stop when the largest entry of the gradient mapping (zero exactly at the
        minimum) falls to `tol`. scikit-learn's `tol` bounds the duality gap instead.

    Attributes:
      coef_, intercept_, n_iter_, n_features_in_, feature_names_in_: as
      `LinearRegression`.
    """

    _traced = ("alpha", "l1_ratio")

    def __init__(self, alpha=1.0, *, l1_ratio=0.5, max_iter=1000, tol=1e-4):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.max_iter = max_iter
        self.tol = tol

    def _hyperparameters(self):
        return {"alpha": check_real(self, "alpha", low=0.0),
                "l1_ratio": check_real(self, "l1_ratio", low=0.0, high=1.0),
                "solver": "proximal_gradient",
                "max_iter": check_integer(self, "max_iter"),
                "tol": check_real(self, "tol", low=0.0)}

    @staticmethod
    def _penalty(config, total_weight):
        del total_weight  # scikit-learn scales the L1 penalty with the mean loss
        return penalties.elastic_net(2.0 * config["alpha"], config["l1_ratio"])


class Lasso(ElasticNet):
    """Least squares with an L1 penalty, as `sklearn.linear_model.Lasso`.

    Minimises `1/(2Σw)·Σᵢ wᵢ (yᵢ - xᵢ·coef - intercept)² + alpha·||coef||₁`; see
    `ElasticNet` for the solver, `max_iter` and `tol`.
    """

    _traced = ("alpha",)

    def __init__(self, alpha=1.0, *, max_iter=1000, tol=1e-4):
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol

    def _hyperparameters(self):
        return {"alpha": check_real(self, "alpha", low=0.0), "l1_ratio": 1.0,
                "solver": "proximal_gradient",
                "max_iter": check_integer(self, "max_iter"),
                "tol": check_real(self, "tol", low=0.0)}


# scikit-learn's solver names -> jaxfit's solvers (built inside the traced fit).
_SOLVERS = {"lbfgs": solvers.lbfgs, "proximal_gradient": solvers.proximal_gradient,
            "newton-cg": solvers.newton, "newton-cholesky": solvers.newton,
            "saga": solvers.proximal_gradient}
_LOGISTIC_SOLVERS = ("lbfgs", "newton-cg", "newton-cholesky", "saga")


class LogisticRegression(ClassifierMixin, _LinearModel):
    """Binary and multinomial logistic regression, as `sklearn.linear_model.LogisticRegression`.

    Minimises `C·Σᵢ wᵢ·cross-entropyᵢ + penalty(coef)` over the weights and an
    unpenalised intercept; with three or more classes the loss is the multinomial one.

    Args:
      penalty: "auto" (scikit-learn 1.8's way: `l1_ratio` chooses: 0 is "l2", 1 is
        "l1", between is "elasticnet"; `C=numpy.inf` is None), or explicitly "l2",
        "l1", "elasticnet" or None.
      C: inverse penalty strength, > 0 (`numpy.inf`: no penalty); traced.
      l1_ratio: the L1 share in [0, 1] of "auto" and "elasticnet" (traced); an explicit
        "l2" or "l1" accepts only 0, 1 (with "l1") or None.
      solver: "lbfgs" (`jaxfit.solvers.lbfgs`), "newton-cg" or "newton-cholesky"
        (`jaxfit.solvers.newton`) for "l2" and None; "saga" (proximal gradient, exact
        zeros) for every penalty.
      max_iter: most solver steps.
      tol: stop when the optimality measure (largest gradient entry, or of the
        gradient mapping for "saga") falls to `tol`.

    Attributes:
      classes_: the sorted class labels (numbers or strings).
      coef_: `[1, d]` for two classes, else `[k, d]`.
      intercept_: `[1]` or `[k]`.
      n_iter_: `[1]` solver steps.
      n_features_in_, feature_names_in_: the columns seen in `fit`.
    """

    _traced = ("C", "l1_ratio")

    def __init__(self, penalty="auto", *, C=1.0, l1_ratio=0.0, solver="lbfgs", max_iter=100, tol=1e-4):
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol

    def _hyperparameters(self):
        penalty = check_option(self, "penalty", ("auto", "l2", "l1", "elasticnet", None))
        solver = check_option(self, "solver", _LOGISTIC_SOLVERS)
        C = check_real(self, "C", low=0.0, open_low=True, allow_inf=True)
        l1_ratio = check_real(self, "l1_ratio", low=0.0, high=1.0, allow_none=True)
        if penalty == "auto":
            penalty = (None if C == np.inf else "l2" if not l1_ratio else
                       "l1" if l1_ratio == 1 else "elasticnet")
        elif penalty == "elasticnet" and l1_ratio is None:
            raise ValueError("penalty='elasticnet' needs `l1_ratio` in [0, 1]; got None.")
        elif penalty != "elasticnet" and l1_ratio not in (None, 0.0, 1.0 if penalty == "l1" else None):
            raise ValueError(f"`l1_ratio`={self.l1_ratio!r} disagrees with penalty={penalty!r}; "
                             f"leave penalty at 'auto' and let l1_ratio choose it, or use "
                             f"penalty='elasticnet'.")
        if penalty in ("l1", "elasticnet") and solver != "saga":
            raise ValueError(f"Solver {solver} supports only 'l2' or None penalties, got "
                             f"{penalty} penalty; use solver='saga'.")
        return {"penalty": penalty, "C": C, "l1_ratio": l1_ratio, "solver": solver,
                "max_iter": check_integer(self, "max_iter"), "tol": check_real(self, "tol", low=0.0)}

    @classmethod
    def _train(cls, config, task, X, y, sample_weight, key):
        strength = 1.0 / (config["C"] * sample_weight.sum())
        kind = config["penalty"]
        if kind is None:
            penalty = penalties.none()
        elif kind == "elasticnet":
            penalty = penalties.elastic_net(strength, config["l1_ratio"])
        else:
            penalty = (penalties.l1 if kind == "l1" else penalties.l2)(strength)
        loss = "binary_cross_entropy" if task.kind == "binary" else "softmax_cross_entropy"
        return fit(cls._model(config, task), loss, X, y, optimizer=_SOLVERS[config["solver"]](),
                   penalty=penalty, steps=config["max_iter"], tol=config["tol"],
                   sample_weight=sample_weight, key=key)

    def _n_iter(self, n_steps):
        return np.array([n_steps])

"""`cross_validate`: every fold of one configuration under a single `vmap`.

Each fold sees the full `X` with its training mask as `sample_weight` and is scored
with its test mask, so the folds share `X` and the batch of fits is one program. The
same per-fold evaluation (`evaluate`) is what `search` vmaps over configurations.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._fit import FitResult
from .._validation import as_array, check_key, check_length, dtype_kind, from_pandas
from ._split import Folds, check_folds

# Status of one (configuration, fold) fit; the codes travel through jit as int8.
STATUS = ("ok", "converged", "max_steps", "diverged", "invalid_score")
OK, CONVERGED, MAX_STEPS, DIVERGED, INVALID_SCORE = range(len(STATUS))


class CVResult(NamedTuple):
    """What `cross_validate` returns; every field has a leading fold axis k.

    Attributes:
      scores: `[k]` test score of each fold (higher is better); NaN for a diverged fit.
      params: the fitted parameters of each fold (what `train_fn` returned), each leaf
        with a leading axis k.
      status: `[k]` strings: "ok" (train_fn returned bare params), "converged",
        "max_steps" (a FitResult that ran all its steps), "diverged", or
        "invalid_score" (the score was not finite).
      n_steps: `[k]` optimizer steps taken (-1 when train_fn returned bare params).
    """

    scores: jax.Array
    params: Any
    status: np.ndarray
    n_steps: jax.Array


def status_names(codes) -> np.ndarray:
    """Status codes (int) to their names."""
    return np.asarray(STATUS)[np.asarray(codes)]


def evaluate(train_fn: Callable, score_fn: Callable, config, X, y, train_weight, test_weight, key):
    """Train on one fold and score it; returns `(score, status code, n_steps, params)`.

    A diverged fit scores NaN whatever its last finite parameters would score, so it
    can never be chosen as the best; a non-finite score is flagged as such.
    """
    dtype = X.dtype
    out = train_fn(config, X, y, train_weight.astype(dtype), key)
    if isinstance(out, FitResult):
        params, n_steps = out.params, jnp.asarray(out.n_steps, jnp.int32)
        code = jnp.where(out.diverged, DIVERGED, jnp.where(out.converged, CONVERGED, MAX_STEPS))
    else:
        params, n_steps, code = out, jnp.int32(-1), jnp.asarray(OK)
    score = jnp.asarray(score_fn(params, X, y, test_weight.astype(dtype)))
    if score.shape != ():
        raise ValueError(f"`score_fn` must return a scalar; got shape {tuple(score.shape)}.")
    code = jnp.where((code != DIVERGED) & ~jnp.isfinite(score), INVALID_SCORE, code)
    score = jnp.where(code == DIVERGED, jnp.nan, score).astype(dtype)
    return score, code.astype(jnp.int8), n_steps, params


def check_callables(train_fn, score_fn) -> None:
    for name, fn, signature in (("train_fn", train_fn, "train_fn(config, X, y, sample_weight, key)"),
                                ("score_fn", score_fn, "score_fn(params, X, y, sample_weight)")):
        if not callable(fn):
            raise TypeError(f"`{name}` must be a function {signature}; got {type(fn).__name__}. "
                            f"make_fit_fns(model, loss, ...) builds both from a model.")


def check_data(X, y, train_fn=None):
    """`X` as a 2-D float array and `y` (optional) with one entry per row, and whatever
    `train_fn.check_inputs(X, y)` checks (`make_fit_fns`'s: the labels its loss can
    read, which inside the traced fits no check can see)."""
    X = as_array(X, "X", ndim=2)
    if y is None:
        return X, None
    y = from_pandas(y)
    y = as_array(y, "y", ndim=(1, 2), dtype="float" if dtype_kind(y) == "f" else "int")
    check_length(X.shape[0], y, "y")
    check_inputs = getattr(train_fn, "check_inputs", None)
    if check_inputs is not None:
        check_inputs(X, y)
    return X, y


def fold_keys(key, n_splits: int) -> jax.Array:
    """One key per fold, shared by every configuration trained on that fold.

    Sharing means configurations see the same initialisation and mini-batch draws, so
    their scores differ by their hyperparameters only (fold a "seed" hyperparameter into
    the key inside `train_fn` to vary it).
    """
    return jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(n_splits))


def cross_validate(train_fn: Callable, score_fn: Callable, X, y, folds: Folds, *, config=None,
                   key=None) -> CVResult:
    """Train and score one configuration on every fold, all folds under one `vmap`.

    Args:
      train_fn: `train_fn(config, X, y, sample_weight, key) -> params` or a `FitResult`
        (whose `converged`/`diverged` flags become the status). `sample_weight` is the
        fold's 0/1 training mask: every reduction must be weighted by it (and any
        preprocessing fitted with it) so test rows never leak into training.
      score_fn: `score_fn(params, X, y, sample_weight) -> scalar`, higher is better;
        `sample_weight` is the fold's 0/1 test mask.
      X: `[n, d]` features, shared by all folds (never copied per fold).
      y: `[n]` (or `[n, m]`) targets, or None for unsupervised models.
      folds: `Folds(train, test)` from a splitter such as `kfold`.
      config: hyperparameters passed to `train_fn` (a dict of scalars, default `{}`).
      key: `jax.random.key`; fold i trains with `fold_in(key, i)` (default key 0).

    Returns:
      `CVResult(scores, params, status, n_steps)`, each with a leading fold axis.

    Example:
      >>> import optax
      >>> from jaxfit.model_selection import kfold, make_fit_fns
      >>> data = jaxfit.data.load_example("breast_cancer")
      >>> X, y = data.X, data.y
      >>> train_fn, score_fn, _ = make_fit_fns(
      ...     jaxfit.models.logistic(), "binary_cross_entropy", optimizer=optax.adam(0.1),
      ...     steps=200, standardize=True)
      >>> result = cross_validate(train_fn, score_fn, X, y, kfold(len(X), 5))
      >>> result.scores.shape  # one accuracy per fold
      (5,)
      >>> bool(result.scores.mean() > 0.9)
      True
    """
    check_callables(train_fn, score_fn)
    X, y = check_data(X, y, train_fn)
    folds = check_folds(folds, X.shape[0])
    config = {} if config is None else config
    if not isinstance(config, dict):
        raise TypeError(f"`config` must be a dict of hyperparameters; got {type(config).__name__}.")
    try:
        run = _cached_program(train_fn, score_fn, _frozen(config))
    except TypeError:  # a config value that cannot be hashed: compile for this call
        run = _program(train_fn, score_fn, _frozen(config))
    scores, codes, n_steps, params = run(X, y, folds.train, folds.test, check_key(key))
    return CVResult(scores, params, status_names(codes), n_steps)


def _frozen(value):
    """A config as a hashable key that tells 1, 1.0 and True apart, and arrays by their
    contents (a repr would not: NumPy elides long arrays with `...`)."""
    if type(value) in (dict, tuple, list):
        items = value.items() if type(value) is dict else enumerate(value)
        return (type(value), tuple((k, _frozen(v)) for k, v in items))
    if isinstance(value, (np.ndarray, jax.Array)):
        array = np.asarray(value)
        if array.dtype.kind not in "biufcUS":  # object arrays hold references, not values
            raise TypeError(f"cannot use an array of dtype {array.dtype} as a key")
        return (np.ndarray, (array.dtype.str, array.shape, array.tobytes()))
    return (type(value), value)  # a NamedTuple stays itself; an unhashable value raises here


def _thawed(key):
    kind, value = key
    if kind is dict:
        return {k: _thawed(v) for k, v in value}
    if kind in (tuple, list):
        return kind(_thawed(v) for _, v in value)
    if kind is np.ndarray:
        dtype, shape, data = value
        return np.frombuffer(data, dtype).reshape(shape)
    return value


def _program(train_fn, score_fn, config_key):
    """All folds of one configuration as one jitted function of the data."""
    config = _thawed(config_key)

    @jax.jit
    def run(X, y, train, test, key):
        per_fold = lambda tr, te, k: evaluate(train_fn, score_fn, config, X, y, tr, te, k)
        return jax.vmap(per_fold)(train, test, fold_keys(key, train.shape[0]))

    return run


# The same functions and config give the same jitted function, so calling
# cross_validate again with new data of the same shapes reuses its compiled program.
_cached_program = functools.lru_cache(maxsize=32)(_program)

"""k-means by Lloyd iterations, seeding and restarts included, as one compiled program.

It follows scikit-learn's `KMeans(algorithm="lloyd")` so that results can be compared:

- the data are centered (weighted mean) before fitting, for accurate GEMM distances;
- `tol` is relative: iterations stop when the squared shift of all centers is at most
  `tol` times the mean feature variance, or when no label changes;
- an empty cluster takes the sample farthest from its center (with positive weight);
- the `n_init` restarts run side by side, and the run with the smallest inertia is kept
  (ranked from differences where the loop's GEMM-form inertia cannot tell them apart).

`n_clusters`, `n_init` and `max_iter` fix array shapes or loop bounds, so they are
static; `key`, `tol` and the data may be traced, so a search can `vmap` over seeds or
fold masks (passed as `sample_weight`) without recompiling. Seeding lives in
`_seeding`; the validation here is shared with `_minibatch`.

On a CPU a first call is mostly XLA compilation, about 10 ms per fused kernel, so the
program is kept small as well as fast (see also `_seeding`): the restarts are an
explicit leading axis, so one GEMM gives every restart's distances, one more every
cluster's sums and counts; the final E-step is the loop's own last pass rather than a
copy of it; small reductions are GEMMs with constant matrices; and `jaxfit._compile`
asks XLA for its cheaper CPU kernel emitter.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import _compile, _programs
from .._validation import (as_array, check_choice, check_int, check_key, check_scalar, is_traced,
                           optional_weights, weights_or_ones)
from ..metrics._clustering import _check_centers, _inertia_of_labels, _nearest
from ._seeding import _augment, _seed, _seed_size, _uniform

_INITS = ("k-means++", "random")
# Inertias within this many eps of the smallest are ties (see `_first_smallest`).
_MARGIN = 100


@_programs.serializable
class KMeansResult(NamedTuple):
    """The outcome of `kmeans` or `minibatch_kmeans`.

    Attributes:
      centers: cluster centers `[k, d]`.
      labels: index of the nearest center per sample `[n]` (int32).
      inertia: weighted sum of squared distances to the nearest center `[]`.
      n_iter: Lloyd iterations of the kept run, or mini-batch steps `[]` (int32).
      converged: whether a stopping rule fired before the iteration limit `[]` (bool).
    """

    centers: jax.Array
    labels: jax.Array
    inertia: jax.Array
    n_iter: jax.Array
    converged: jax.Array


# --------------------------------------------------------------------------- Lloyd


def _relocate_empty(Xa, labels, far_key, sums):
    """Give each empty cluster one of the samples farthest from their centers.

    As scikit-learn: the j-th empty cluster takes the j-th farthest sample, which
    leaves its old cluster. Samples of weight 0 are never taken (`far_key` is their
    distance to the nearest center, -1 for weight 0); when no sample is away from its
    center (more clusters than distinct points), empty clusters keep their old center.
    Per restart (leading axis): `labels`, `far_key` `[r, n]`, and `sums`
    `[r, k, d + 3]`, each cluster's weighted sum of `Xa` rows, its weight at `d`.
    Without an empty cluster nothing moves; the work is a top-k over the samples.
    """
    r, k = sums.shape[:2]
    d = Xa.shape[1] - 3
    empty = sums[..., d] <= 0
    far_d, far = jax.lax.top_k(far_key, k)  # [r, k]
    j = np.arange(k)
    # The j-th cluster, if empty, takes the far sample ranked by the empty ones before it.
    rank = empty.astype(Xa.dtype) @ np.triu(np.ones((k, k), Xa.dtype), 1)  # [r, k]
    take = empty[:, :, None] & (rank[:, :, None] == j)  # [r, k (cluster), k (rank)]
    far_df = jnp.stack([far_d, far.astype(Xa.dtype)], axis=-1)[:, None]  # [r, 1, k, 2]
    taken = jnp.sum(jnp.where(take[..., None], far_df, 0.0), axis=2)  # [r, k, 2]
    moved = empty & (taken[..., 0] > 0)
    source = taken[..., 1].astype(jnp.int32)
    x_moved = Xa[source]  # [r, k, d + 3], weight at d + 2
    x_moved = x_moved * jnp.where(moved, x_moved[..., -1], 0.0)[..., None]
    leaves = labels[np.arange(r)[:, None], source][..., None] == j  # [r, k (moved), k (left)]
    left = jnp.sum(jnp.where(leaves[..., None], x_moved[:, :, None, :], 0.0), axis=1)
    return jnp.where(moved[..., None], x_moved, sums - left)


class _LloydState(NamedTuple):
    centers: jax.Array  # [r, k, d]
    previous: jax.Array  # [r, k, d] centers before the last M-step
    labels: jax.Array  # [r, n] int32, of the last E-step
    totals: jax.Array  # [r, d + 3] Σ (distance to the nearest center)·[x, 1, ‖x‖², w]
    n_iter: jax.Array  # [r, 2] int32: M-steps taken; 0 running, 1 stopped, 2 converged
    squares: jax.Array  # [r] Σ w·‖x‖² (the same in every run)


def _lloyd(data, centers, tol, max_iter):
    """Lloyd iterations of `r` restarts side by side, from centers `[r, k, d]`.

    Each pass is an E-step (labels for the current centers) and, for the runs that
    go on, an M-step. A run stops at the E-step after its centers moved by at most
    `tol` times the mean feature variance, or after `max_iter` M-steps; that E-step
    gives its labels and inertia. No label changing means no center moving (the same
    sums), so scikit-learn's other rule needs no test of its own and `n_iter` matches
    scikit-learn's. Stopped runs keep their centers, so later passes reproduce their
    labels and inertia exactly. Distances are `[r, k, n]`, samples last: XLA's CPU
    reductions over k are then vectorized along n, several times faster than with k
    last.
    """
    Xa, w = data.Xa, data.w
    n, d = Xa.shape[0], Xa.shape[1] - 3
    r, k, _ = centers.shape
    j = np.arange(k)
    # Small reductions are GEMMs with constant matrices: XLA's CPU backend hands GEMMs
    # to a library but compiles each small reduction (two kernels past 32 terms). The
    # matrices are not uniform: XLA would turn a matrix of ones into a kernel of its own.
    # `by_cluster` sums a run's `[k, d]` values per cluster (columns < k) and in all.
    by_cluster = np.concatenate([np.repeat(np.eye(k, dtype=Xa.dtype), d, axis=0),
                                 np.ones((k * d, 1), Xa.dtype)], axis=1)  # [k·d, k + 1]
    # `totals` sums Σw (at d) and Σw·‖x‖² (at d + 1) over clusters: all samples' weight
    # and sum of squares.
    totals = np.zeros((k, d + 3, 2), Xa.dtype)
    totals[:, d, 0] = totals[:, d + 1, 1] = 1.0
    totals = totals.reshape(k * (d + 3), 2)

    def step(s: _LloydState) -> _LloydState:
        # ‖c‖² per cluster, and each run's squared center shift of the last M-step.
        sq = (jnp.stack([s.centers, s.centers - s.previous]) ** 2).reshape(2 * r, k * d) @ by_cluster
        coef = jnp.concatenate([-2.0 * s.centers, sq[:r, :k, None],
                                jnp.zeros((r, k, 2), Xa.dtype)], axis=2)  # [r, k, d + 3]
        score = (coef.reshape(r * k, d + 3) @ Xa.T).reshape(r, k, n)  # ‖x - c‖² - ‖x‖²
        labels = jnp.argmin(score, axis=1).astype(jnp.int32)  # [r, n]
        # Distance to the nearest center, and -1 for weight 0: never the farthest.
        far_key = jnp.where(w > 0, jnp.maximum(Xa[:, d + 1] + jnp.min(score, axis=1), 0.0), -1.0)
        member = jnp.where(labels[:, None, :] == j[:, None], w, 0.0).reshape(r * k, n)
        sums = (member @ Xa).reshape(r, k, d + 3)  # Σw·x, Σw, Σw·‖x‖², Σw² per cluster
        # `tol` is relative to the mean feature variance, Σw·‖x‖² / (Σw·d) (any run's).
        # Columns of [r, 2], not rows of its transpose: XLA folds a transpose into the
        # product's operands, which XLA's library (YNNPACK) refuses, and the fallback
        # generates its kernels on first use (~20 ms of a first call).
        both = sums.reshape(r, k * (d + 3)) @ totals
        weight, squares = both[:, 0], both[:, 1]
        n_iter, status = s.n_iter[:, 0], s.n_iter[:, 1]
        running = status == 0
        small = (n_iter > 0) & (sq[r:, k] * weight * d <= tol * squares)
        stop = ~running | small | (n_iter >= max_iter)
        status = jnp.where(running, stop.astype(jnp.int32) + small.astype(jnp.int32), status)

        sums = _relocate_empty(Xa, labels, far_key, sums)
        counts = sums[..., d:d + 1]
        new = jnp.where(counts > 0, sums[..., :d] / jnp.where(counts > 0, counts, 1.0), s.centers)
        return _LloydState(jnp.where(stop[:, None, None], s.centers, new), s.centers, labels,
                           far_key @ Xa, jnp.stack([n_iter + (~stop).astype(jnp.int32), status], axis=1),
                           squares)

    start = _LloydState(centers, centers, jnp.zeros((r, n), jnp.int32),
                        jnp.zeros((r, d + 3), Xa.dtype), jnp.zeros((r, 2), jnp.int32),
                        jnp.zeros(r, Xa.dtype))
    return jax.lax.while_loop(lambda s: jnp.min(s.n_iter[:, 1]) == 0, step, start)


@_programs.serializable
class _Restarts(NamedTuple):
    """Every restart's outcome, for choosing among them (`_keep`, `_rerank`)."""

    centers: jax.Array  # [r, k, d], centred
    labels: jax.Array  # [r, n] int32
    n_iter: jax.Array  # [r, 2] int32: M-steps taken; 0 running, 1 stopped, 2 converged
    inertia: jax.Array  # [r] the loop's, in GEMM form
    squares: jax.Array  # [r] Σ w·‖x - mean‖² (the same in every run)
    mean: jax.Array  # [d] the weighted mean the data were centred on


def _first_smallest(inertia):
    """The first run within rounding of the smallest inertia.

    Runs that reach the same partition differ in inertia by rounding alone, and by a
    different rounding in a batched or a looped call: the first of them is kept.
    """
    return jnp.argmax(inertia <= jnp.min(inertia) * (1 + _MARGIN * jnp.finfo(inertia.dtype).eps))


def _in_doubt(inertia, squares, d, xp):
    """Whether the loop's GEMM-form `inertia` `[r]` may rank the restarts wrongly, given
    `squares`, Σw·‖x - mean‖², and `d` features (`xp`: NumPy eagerly, `jnp` in a program).

    Its distance to the nearest center errs by up to about (d + 4)·eps·(‖x‖² + ‖c‖²)
    per sample: a small fraction of the gaps between restarts for most data, more than
    them for tight clusters far from the mean. In doubt is a restart within that error
    of the smallest but not tied with it (ties reach the same partition, see
    `_first_smallest`).
    """
    eps = xp.finfo(inertia.dtype).eps
    least = xp.min(inertia)
    # Σw·‖c‖² <= 2Σw·‖x‖² + 2·inertia bounds the error by 6(d + 4)·eps·(Σw·‖x‖² + inertia).
    error = 6 * (d + 4) * eps * (squares + inertia)
    return xp.any((inertia > least * (1 + _MARGIN * eps)) & (inertia - least <= 2 * error))


def _keep(Xc, w, runs, best):
    """The result of restart `best`, its inertia computed again from differences:
    exact even for tight clusters far from the mean, where the loop's GEMM form is not."""
    labels = runs.labels[best]
    return KMeansResult(runs.centers[best] + runs.mean, labels,
                        _inertia_of_labels(Xc, runs.centers[best], labels, w),
                        runs.n_iter[best, 0], runs.n_iter[best, 1] == 2)


@_compile.jit(static_argnames=("n_clusters", "init", "n_init", "max_iter"), persist=True)
def _kmeans(X, w, key, init_centers, tol, *, n_clusters, init, n_init, max_iter):
    """The restart of smallest GEMM-form inertia, and every restart for `_rerank`."""
    n = X.shape[0]
    # `fallback`: a sample of positive weight (see `_seeding._sample`). For unit weights
    # it and the total weight are known here; computed from a constant `w`, XLA would
    # evaluate them while compiling, element by element (seconds for an argmax).
    if w is None:
        fallback, mean = 0, jnp.sum(X, axis=0) / n
        w = jnp.ones(n, X.dtype)
    else:
        fallback, mean = jnp.argmax(w > 0), (w @ X) / jnp.sum(w)
    centred = X - mean
    data = _augment(centred, w)
    if init == "array":
        starts = init_centers.astype(X.dtype).reshape(n_init, n_clusters, X.shape[1]) - mean
    else:
        u = _uniform(key, n_init * _seed_size(init, n, n_clusters), X.dtype)
        starts = _seed(u.reshape(n_init, -1), data, n_clusters, init, fallback)
    s = _lloyd(data, starts, tol, max_iter)
    runs = _Restarts(s.centers, s.labels[:, :n], s.n_iter, s.totals[:, -1], s.squares, mean)
    return _keep(centred, w, runs, _first_smallest(runs.inertia)), runs


@_compile.jit(persist=True)
def _rerank(X, w, runs):
    """The restart of smallest exact inertia, from differences, where `_in_doubt`.

    A gather of n·d per restart (10 restarts of 100_000 × 50: 25 ms, a fifth of the
    fit, and 0.1 s to compile), hence only in doubt. A loop, not a cond, holds one
    restart's `[n, d]` at a time and, under vmap, runs only while some batch member is
    in doubt.
    """
    Xc, w = X - runs.mean, weights_or_ones(w, X.shape[0], X.dtype)

    def exact(carry):
        j, inertia = carry
        return j + 1, inertia.at[j].set(_inertia_of_labels(Xc, runs.centers[j], runs.labels[j], w))

    doubt = _in_doubt(runs.inertia, runs.squares, X.shape[1], jnp)
    stop = jnp.where(doubt, runs.inertia.shape[0], 0)
    inertia = jax.lax.while_loop(lambda carry: carry[0] < stop, exact, (0, runs.inertia))[1]
    return _keep(Xc, w, runs, _first_smallest(inertia))


# --------------------------------------------------------------------------- validation


def _check_inputs(X, n_clusters, key, init, sample_weight, tol, max_iter, *, random_steps):
    X = as_array(X, "X", ndim=2)
    n = X.shape[0]
    n_clusters = check_int(n_clusters, "n_clusters", minimum=1)
    if n_clusters > n:
        raise ValueError(
            f"`n_clusters` must be <= n_samples = {n}; got {n_clusters}. Ask for fewer "
            f"clusters or pass more samples.")
    w = optional_weights(sample_weight, X)
    if w is not None and not is_traced(w) and int(np.sum(np.asarray(w) > 0)) < n_clusters:
        raise ValueError(
            f"`sample_weight` gives positive weight to {int(np.sum(np.asarray(w) > 0))} "
            f"samples, fewer than n_clusters = {n_clusters}; lower n_clusters or keep more "
            f"samples in the mask.")
    check_scalar(tol, "tol", minimum=0.0)
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    if isinstance(init, str):
        check_choice(init, "init", _INITS)
        key = check_key(key, default=None)
        init_centers = None
    else:
        init_centers = as_array(init, "init", ndim=(2, 3))
        if init_centers.shape[-2:] != (n_clusters, X.shape[1]):
            raise ValueError(
                f"`init` must have shape (n_clusters, n_features) = ({n_clusters}, "
                f"{X.shape[1]}), or (n_starts, {n_clusters}, {X.shape[1]}) for several "
                f"starts; got {tuple(init_centers.shape)}. Pass one row per cluster.")
        # Lloyd from a given start needs no randomness; mini-batches always do.
        if key is not None or random_steps:
            key = check_key(key, default=None)
    # A NumPy scalar unless traced: jnp.asarray would compile a conversion on first use.
    tol = jnp.asarray(tol, X.dtype) if is_traced(tol) else np.asarray(tol, X.dtype)
    return X, n_clusters, w, key, init_centers, tol, max_iter


# --------------------------------------------------------------------------- public


def kmeans(X, n_clusters: int, *, key=None, n_init: int = 10, init="k-means++",
           max_iter: int = 300, tol=1e-4, sample_weight=None) -> KMeansResult:
    """k-means clustering by Lloyd's algorithm, compiled whole.

    Args:
      X: data `[n, d]`.
      n_clusters: number of clusters k (static), `1 <= k <= n`.
      key: a PRNG key (`jax.random.key(seed)`) for the initialization; required unless
        `init` is an array. May be traced: `jax.vmap` over keys fits several seeds.
      n_init: restarts from independent seedings, run side by side in one program;
        the one with the smallest inertia is kept. Ignored when `init` is an array.
      init: "k-means++" (greedy D² seeding, as scikit-learn), "random" (k distinct
        samples drawn by weight), initial centers `[k, d]`, or a stack of them
        `[r, k, d]` to run r restarts from given starts.
      max_iter: most Lloyd iterations per run.
      tol: stop when the squared shift of all centers is at most `tol` times the
        (weighted) mean feature variance; a run also stops when no label changes.
      sample_weight: non-negative weights `[n]`; integer weights act as repetitions and
        a 0/1 fold mask clusters that fold.

    Returns:
      A `KMeansResult(centers, labels, inertia, n_iter, converged)`.

    Example:
      >>> X = jnp.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
      >>> result = kmeans(X, 2, key=jax.random.key(0))
      >>> result.labels[0] == result.labels[1]
      Array(True, dtype=bool)
    """
    X, n_clusters, w, key, init_centers, tol, max_iter = _check_inputs(
        X, n_clusters, key, init, sample_weight, tol, max_iter, random_steps=False)
    n_init = check_int(n_init, "n_init", minimum=1)
    if init_centers is not None:
        n_init = 1 if init_centers.ndim == 2 else init_centers.shape[0]
        init = "array"
    result, runs = _kmeans(X, w, key, init_centers, tol, n_clusters=n_clusters, init=init,
                           n_init=n_init, max_iter=max_iter)
    # Eagerly, `_rerank` is compiled only for data that need it: most data do not, and a
    # first call is mostly compilation.
    if n_init > 1 and (is_traced(runs.inertia) or _in_doubt(
            np.asarray(runs.inertia), np.asarray(runs.squares), X.shape[1], np)):
        result = _rerank(X, w, runs)
    return result


@_compile.jit
def _assign(centers, X):
    return _nearest(X, centers)


def assign(centers, X) -> jax.Array:
    """Index of the nearest center for each row of `X`: labels `[n]` for new data.

    Example:
      >>> assign(jnp.array([[0.0], [10.0]]), jnp.array([[1.0], [9.0]]))
      Array([0, 1], dtype=int32)
    """
    X = as_array(X, "X", ndim=2)
    return _assign(_check_centers(centers, X), X)

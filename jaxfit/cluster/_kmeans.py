"""k-means by Lloyd iterations, seeding and restarts included, as one compiled program.

It follows scikit-learn's `KMeans(algorithm="lloyd")` so that results can be compared:

- the data are centered (weighted mean) before fitting, for accurate GEMM distances;
- `tol` is relative: iterations stop when the squared shift of all centers is at most
  `tol` times the mean feature variance, or when no label changes;
- an empty cluster takes the sample farthest from its center (with positive weight);
- the `n_init` restarts run side by side under one `jax.vmap`, and the run with the
  smallest inertia is kept.

`n_clusters`, `n_init` and `max_iter` fix array shapes or loop bounds, so they are
static; `key`, `tol` and the data may be traced, so a search can `vmap` over seeds or
fold masks (passed as `sample_weight`) without recompiling. The seeding and validation
here are shared with `_minibatch`.
"""

from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._validation import as_array, check_choice, check_int, check_key, check_scalar, is_traced
from ..metrics._clustering import (_check_centers, _check_sample_weight, _inertia_of_labels,
                                   _nearest, _ones_if_none, _sq_distances)

_INITS = ("k-means++", "random")


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


# --------------------------------------------------------------------------- seeding


def _sample(u, weights):
    """Indices with probability proportional to `weights`, from uniforms `u` in [0, 1).

    `side="right"` never returns an index of zero weight, so fold masks stay exact.
    Comparing against every entry of the CDF costs O(n · u.size) but no loop, which
    keeps the compiled program small for k-means++'s few draws per center.
    """
    cdf = jnp.cumsum(weights)
    idx = jnp.searchsorted(cdf, u * cdf[-1], side="right", method="compare_all")
    return jnp.minimum(idx, weights.shape[0] - 1)


def _n_trials(n_clusters):
    return 2 + int(math.log(n_clusters))


def _kmeans_plusplus(u, X, w, x_sq, n_clusters):
    """Greedy k-means++ (scikit-learn's): `2 + log(k)` D² candidates per center.

    Each new center is the candidate that most lowers the weighted potential; the
    first is the first candidate drawn by weight alone. One loop covers all centers,
    so the program holds a single sampler. `u` holds the uniforms `[k, n_trials]`.
    """
    def add_center(c, carry):
        centers, closest = carry
        cand = _sample(u[c], w * jnp.where(c == 0, 1.0, closest))
        dist = jnp.minimum(closest[:, None], _sq_distances(X, X[cand], x_sq, x_sq[cand]))
        best = jnp.where(c == 0, 0, jnp.argmin(w @ dist))
        return centers.at[c].set(X[cand[best]]), dist[:, best]

    start = (jnp.zeros((n_clusters, X.shape[1]), X.dtype), jnp.full_like(x_sq, jnp.inf))
    centers, _ = jax.lax.fori_loop(0, n_clusters, add_center, start)
    return centers


def _seed_shape(init, n, n_clusters):
    """Shape of the uniforms that one seeding of `n` samples consumes."""
    return (n_clusters, _n_trials(n_clusters)) if init == "k-means++" else (n,)


def _seed(u, X, w, x_sq, n_clusters, init):
    """Initial centers `[k, d]` from uniforms `u` of shape `_seed_shape(...)`.

    The callers draw the uniforms for all restarts in one call outside `vmap`: a PRNG
    call batched over keys costs several times more XLA compilation.
    """
    if init == "k-means++":
        return _kmeans_plusplus(u, X, w, x_sq, n_clusters)
    # "random": k distinct samples with probability proportional to weight, by the
    # Gumbel top-k trick (jax.random.choice's method); weight 0 gives -inf, never kept.
    _, idx = jax.lax.top_k(jnp.log(w) - jnp.log(-jnp.log(u)), n_clusters)
    return X[idx]


# --------------------------------------------------------------------------- Lloyd


def _relocate_empty(X, w, labels, d_min, sums, counts):
    """Give each empty cluster one of the samples farthest from their centers.

    As scikit-learn: the j-th empty cluster takes the j-th farthest sample, which
    leaves its old cluster. Samples of weight 0 are never taken; when no sample is
    away from its center (more clusters than distinct points), empty clusters keep
    their old center.
    """
    n_clusters = counts.shape[0]
    empty = counts <= 0
    far_d, far = jax.lax.top_k(jnp.where(w > 0, d_min, -jnp.inf), n_clusters)
    rank = jnp.clip(jnp.cumsum(empty) - 1, 0, n_clusters - 1)
    moved = empty & (far_d[rank] > 0)
    w_moved = jnp.where(moved, w[far[rank]], 0.0)
    x_moved = X[far[rank]] * w_moved[:, None]
    source = jax.nn.one_hot(labels[far[rank]], n_clusters, dtype=X.dtype)
    sums = jnp.where(moved[:, None], x_moved, sums - source.T @ x_moved)
    counts = jnp.where(moved, w_moved, counts - source.T @ w_moved)
    return sums, counts


class _LloydState(NamedTuple):
    n_iter: jax.Array  # [] int32
    centers: jax.Array  # [k, d]
    labels: jax.Array  # [n] int32, labels of the previous E-step
    shift: jax.Array  # [] squared center shift of the last step
    strict: jax.Array  # [] bool, no label changed in the last step


def _lloyd(X, w, x_sq, centers, tol, max_iter):
    n_clusters = centers.shape[0]

    def step(s: _LloydState) -> _LloydState:
        d2 = _sq_distances(X, s.centers, x_sq)
        labels = jnp.argmin(d2, axis=1).astype(jnp.int32)
        member = jax.nn.one_hot(labels, n_clusters, dtype=X.dtype) * w[:, None]
        sums, counts = member.T @ X, jnp.sum(member, axis=0)
        sums, counts = _relocate_empty(X, w, labels, jnp.min(d2, axis=1), sums, counts)
        new = jnp.where(counts[:, None] > 0, sums / jnp.where(counts > 0, counts, 1.0)[:, None],
                        s.centers)
        shift = jnp.sum((new - s.centers) ** 2)
        return _LloydState(s.n_iter + 1, new, labels, shift, jnp.all(labels == s.labels))

    def keep_going(s: _LloydState):
        return (s.n_iter < max_iter) & ~s.strict & (s.shift > tol)

    start = _LloydState(jnp.int32(0), centers, jnp.full(X.shape[0], -1, jnp.int32),
                        jnp.asarray(jnp.inf, X.dtype), jnp.asarray(False))
    s = jax.lax.while_loop(keep_going, step, start)
    # One more E-step so that the labels belong to the returned centers. Its GEMM-form
    # inertia ranks the restarts; the caller recomputes the kept one exactly.
    d2 = _sq_distances(X, s.centers, x_sq)
    return KMeansResult(s.centers, jnp.argmin(d2, axis=1).astype(jnp.int32),
                        w @ jnp.min(d2, axis=1), s.n_iter, s.strict | (s.shift <= tol))


def _center(X, w, tol):
    """Weights (ones for None), weighted mean, centered data and `tol` in data units.

    `tol` is relative to the mean feature variance, as in scikit-learn.
    """
    w = _ones_if_none(w, X)
    mean = (w @ X) / jnp.sum(w)
    Xc = X - mean
    variance = (w @ (Xc * Xc)) / jnp.sum(w)
    return w, mean, Xc, tol * jnp.mean(variance)


def _best(runs: KMeansResult) -> KMeansResult:
    best = jnp.argmin(runs.inertia)
    return jax.tree_util.tree_map(lambda a: a[best], runs)


@partial(jax.jit, static_argnames=("n_clusters", "init", "n_init", "max_iter"))
def _kmeans(X, w, key, init_centers, tol, *, n_clusters, init, n_init, max_iter):
    w, mean, Xc, tol = _center(X, w, tol)
    x_sq = jnp.sum(Xc * Xc, axis=1)
    if init == "array":
        starts = init_centers.astype(X.dtype).reshape(n_init, n_clusters, X.shape[1]) - mean
    else:
        u = jax.random.uniform(key, (n_init, *_seed_shape(init, X.shape[0], n_clusters)), X.dtype)
        starts = jax.vmap(lambda u: _seed(u, Xc, w, x_sq, n_clusters, init))(u)
    if starts.shape[0] == 1:  # no vmap: a smaller program to compile
        result = _lloyd(Xc, w, x_sq, starts[0], tol, max_iter)
    else:
        result = _best(jax.vmap(lambda c: _lloyd(Xc, w, x_sq, c, tol, max_iter))(starts))
    return result._replace(centers=result.centers + mean,
                           inertia=_inertia_of_labels(Xc, result.centers, result.labels, w))


# --------------------------------------------------------------------------- validation


def _check_inputs(X, n_clusters, key, init, sample_weight, tol, max_iter, *, random_steps):
    X = as_array(X, "X", ndim=2)
    n = X.shape[0]
    n_clusters = check_int(n_clusters, "n_clusters", minimum=1)
    if n_clusters > n:
        raise ValueError(
            f"`n_clusters` must be <= n_samples = {n}; got {n_clusters}. Ask for fewer "
            f"clusters or pass more samples.")
    w = _check_sample_weight(sample_weight, X)
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
    return X, n_clusters, w, key, init_centers, jnp.asarray(tol, X.dtype), max_iter


# --------------------------------------------------------------------------- public


def kmeans(X, n_clusters: int, *, key=None, n_init: int = 10, init="k-means++",
           max_iter: int = 300, tol=1e-4, sample_weight=None) -> KMeansResult:
    """k-means clustering by Lloyd's algorithm, compiled whole.

    Args:
      X: data `[n, d]`.
      n_clusters: number of clusters k (static), `1 <= k <= n`.
      key: a PRNG key (`jax.random.key(seed)`) for the initialization; required unless
        `init` is an array. May be traced: `jax.vmap` over keys fits several seeds.
      n_init: restarts from independent seedings, run side by side under `vmap`; the
        one with the smallest inertia is kept. Ignored when `init` is an array.
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
    return _kmeans(X, w, key, init_centers, tol, n_clusters=n_clusters, init=init,
                   n_init=n_init, max_iter=max_iter)


@jax.jit
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

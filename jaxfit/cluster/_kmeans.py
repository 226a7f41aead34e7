"""k-means by Lloyd iterations, seeding and restarts included, as one compiled program.

It follows scikit-learn's `KMeans(algorithm="lloyd")` so that results can be compared:

- the data are centered (weighted mean) before fitting, for accurate GEMM distances;
- `tol` is relative: iterations stop when the squared shift of all centers is at most
  `tol` times the mean feature variance, or when no label changes;
- an empty cluster takes the sample farthest from its center (with positive weight);
- the `n_init` restarts run side by side, and the run with the smallest inertia is kept.

`n_clusters`, `n_init` and `max_iter` fix array shapes or loop bounds, so they are
static; `key`, `tol` and the data may be traced, so a search can `vmap` over seeds or
fold masks (passed as `sample_weight`) without recompiling. The seeding and validation
here are shared with `_minibatch`.

On a CPU the first call is mostly XLA compilation, about 10 ms per fused kernel, so
the program is kept small as well as fast:

- the restarts are an explicit leading axis `r`, so one GEMM gives every restart's
  distances `‖x‖² − 2·x·c + ‖c‖²` (the `‖c‖²` term rides in the GEMM on a column of
  ones appended to the data), one more every cluster's sums and counts, and the final
  E-step is the loop's own last pass rather than a copy of it;
- k-means++ draws by a two-level inverse CDF (block masses, then within one block)
  whose prefix sums are small triangular GEMMs: a cumulative sum over all samples
  compiles to a tree of some thirty kernels;
- the uniforms are Threefry-2x32 written out (`_uniform`, bit for bit
  `jax.random.uniform`): JAX's CPU lowering rolls it into a loop of ten kernels.
"""

from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._validation import as_array, check_choice, check_int, check_key, check_scalar, is_traced
from ..metrics._clustering import _check_centers, _check_sample_weight, _nearest, _ones_if_none

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


# --------------------------------------------------------------------------- randomness


def _threefry2x32(k1, k2, x1, x2):
    """Threefry-2x32, 20 rounds (Salmon et al., 2011), unrolled: one fused kernel."""
    ks = (k1, k2, k1 ^ k2 ^ np.uint32(0x1BD11BDA))
    x1, x2 = x1 + ks[0], x2 + ks[1]
    for i in range(5):
        for rot in ((13, 15, 26, 6), (17, 29, 16, 24))[i % 2]:
            x1 = x1 + x2
            x2 = ((x2 << np.uint32(rot)) | (x2 >> np.uint32(32 - rot))) ^ x1
        x1 = x1 + ks[(i + 1) % 3]
        x2 = x2 + ks[(i + 2) % 3] + np.uint32(i + 1)
    return x1, x2


def _uniform(key, size, dtype):
    """`jax.random.uniform(key, (size,), dtype)`, bit for bit, in one kernel.

    Other key implementations (or the legacy non-partitionable Threefry) go through
    `jax.random.uniform` itself.
    """
    if str(jax.random.key_impl(key)) != "threefry2x32" or not jax.config.jax_threefry_partitionable:
        return jax.random.uniform(key, (size,), dtype)
    k = jax.random.key_data(key)
    count = jax.lax.iota(jnp.uint32, size)  # the low words of a 64-bit counter; high words 0
    b1, b2 = _threefry2x32(k[0], k[1], jnp.zeros_like(count), count)
    if jnp.dtype(dtype).itemsize == 8:
        bits = (b1.astype(jnp.uint64) << np.uint64(32)) | b2.astype(jnp.uint64)
        one, shift = np.float64(1.0).view(np.uint64), np.uint64(12)
    else:
        bits, one, shift = b1 ^ b2, np.float32(1.0).view(np.uint32), np.uint32(9)
    return jax.lax.bitcast_convert_type((bits >> shift) | one, dtype) - jnp.asarray(1.0, dtype)


# --------------------------------------------------------------------------- data layout


class _Data(NamedTuple):
    """The centered data as every step of the fit reads it.

    Rows are padded with zeros (weight 0) to `size²` samples, so that the k-means++
    sampler can view any `[r, n]` row as `size × size` blocks without copying.
    """

    Xa: jax.Array  # [size², d + 3]: x - mean, 1, ‖x - mean‖², w (zeros on padding rows)
    w: jax.Array  # [size²] weights, 0 on padding rows
    size: int  # block size of the sampler, ceil(√n)


def _augment(Xc, w):
    """`_Data` from centered data `[n, d]` and weights `[n]`.

    With rows `[x, 1, ‖x‖², w]`, one GEMM gives squared distances to any points `y`,
    `‖x - y‖² - ‖x‖² = [x, 1, ‖x‖², w]·[-2y, ‖y‖², 0, 0]`; one GEMM with the weighted
    memberships gives each cluster's `Σw·x`, `Σw` and `Σw·‖x‖²` (means, and the
    total variance that scales `tol`), and one with per-sample values their weighted
    sum (a GEMM rather than a matrix-vector product, which XLA's CPU backend would
    compile as a kernel of its own).
    """
    n = Xc.shape[0]
    size = math.isqrt(n - 1) + 1
    x_sq = jnp.sum(Xc * Xc, axis=1, keepdims=True)
    Xa = jnp.concatenate([Xc, jnp.ones_like(x_sq), x_sq, w[:, None]], axis=1)
    return _Data(jnp.pad(Xa, ((0, size**2 - n), (0, 0))), jnp.pad(w, (0, size**2 - n)), size)


# --------------------------------------------------------------------------- seeding


def _count(mask, dtype):
    """Number of True along the last axis, as a float sum (XLA's CPU backend hands
    large float reductions to a library, but compiles integer ones)."""
    return jnp.sum(mask, axis=-1, dtype=dtype).astype(jnp.int32)


def _sample(u, p, size, fallback):
    """Indices `[r, t]` drawn with probability proportional to the rows of `p` `[r, size²]`.

    Inverse CDF in two levels: the block of `size` samples whose running mass first
    exceeds `u · total`, then the sample within it, each running sum a small GEMM
    with a triangle of ones (a cumulative sum over all samples would compile to a
    tree of some thirty kernels). Such running sums never decrease (each adds the
    same terms in the same order, and zeros exactly), so the first one past the
    threshold is the count of those at or below it, and its sample has `p > 0`.
    When no mass is left (every sample already a center) or rounding leaves a
    threshold unmet, `fallback` (a sample of positive weight) stands in.
    """
    r = p.shape[0]
    upper = np.triu(np.ones((size, size), p.dtype))  # v @ upper: v's running sum
    P = p.reshape(r, size, size)
    upto = jnp.sum(P, axis=2) @ upper  # [r, m], running mass to each block's end
    thr = u * upto[:, -1:]  # [r, t]
    blk = _count(upto[:, None, :] <= thr[..., None], p.dtype)  # [r, t]
    row = np.arange(r)[:, None]
    before = jnp.where(blk > 0, upto[row, blk - 1], 0.0)  # mass of the blocks before
    inner = P[row, jnp.minimum(blk, size - 1)]  # [r, t, size]
    pos = _count(inner @ upper <= (thr - before)[..., None], p.dtype)
    return jnp.where((blk < size) & (pos < size), blk * size + pos, fallback).astype(jnp.int32)


def _n_trials(n_clusters):
    return 2 + int(math.log(n_clusters))


def _kmeans_plusplus(u, data, n_clusters, fallback):
    """Greedy k-means++ (scikit-learn's): `2 + log(k)` D² candidates per center.

    Each new center is the candidate that most lowers the weighted potential; the
    first is the first candidate drawn by weight alone. One loop covers all centers
    and all restarts. `u` holds the uniforms `[r, k, n_trials]`. Returns the indices
    of the chosen samples `[r, k]`.
    """
    Xa, w, size = data
    r, _, t = u.shape
    d = Xa.shape[1] - 3
    # A candidate's row [y, 1, ‖y‖², w] times `scale`, plus its ‖y‖² at `d`: [-2y, ‖y‖², 0, 0].
    scale = np.r_[np.full(d, -2.0), 0.0, 0.0, 0.0].astype(Xa.dtype)
    at_d = np.arange(d + 3) == d

    def add_center(c, carry):
        # q: weight times squared distance to the closest center so far (w at first).
        chosen, q = carry  # [r, k] int32, [r, size²]
        cand = _sample(u[:, c], q, size, fallback)  # [r, t]
        rows = Xa[cand]  # [r, t, d + 3]
        coef = rows * scale + jnp.where(at_d, rows[..., d + 1:d + 2], 0.0)
        dist = w * jnp.maximum(coef @ Xa.T + Xa[:, d + 1], 0.0)  # [r, t, size²]
        dist = jnp.where(c == 0, dist, jnp.minimum(q[:, None, :], dist))
        best = jnp.where(c == 0, 0, jnp.argmin(jnp.sum(dist, axis=2), axis=1))[:, None]  # [r, 1]
        q = jnp.take_along_axis(dist, best[..., None], axis=1)[:, 0]
        pick = jnp.take_along_axis(cand, best, axis=1)
        return jnp.where(np.arange(n_clusters) == c, pick, chosen), q

    start = (jnp.zeros((r, n_clusters), jnp.int32), jnp.broadcast_to(w, (r, size**2)))
    return jax.lax.fori_loop(0, n_clusters, add_center, start)[0]


def _seed_size(init, n, n_clusters):
    """How many uniforms one seeding of `n` samples consumes."""
    return n_clusters * _n_trials(n_clusters) if init == "k-means++" else n


def _seed(u, data, n_clusters, init, fallback=0):
    """Initial centers `[r, k, d]` from uniforms `u` `[r, _seed_size(...)]`.

    `fallback` is a sample of positive weight (see `_sample`).
    """
    if init == "k-means++":
        idx = _kmeans_plusplus(u.reshape(u.shape[0], n_clusters, -1), data, n_clusters, fallback)
    else:
        # "random": k distinct samples with probability proportional to weight, by the
        # Gumbel top-k trick (jax.random.choice's method); weight 0 gives -inf, never kept.
        n = u.shape[1]
        _, idx = jax.lax.top_k(jnp.log(data.w[:n]) - jnp.log(-jnp.log(u)), n_clusters)
    return data.Xa[idx, :-3]


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
    inertia: jax.Array  # [r] of the last E-step
    n_iter: jax.Array  # [r] int32, M-steps taken
    status: jax.Array  # [r] int32: 0 running, 1 stopped, 2 stopped and converged


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
    Xa, w, _ = data
    n, d = Xa.shape[0], Xa.shape[1] - 3
    r, k, _ = centers.shape
    j = np.arange(k)
    # Row sums of `[‖c‖²], [‖c - previous‖²]` as a GEMM (XLA compiles small reductions).
    ones = np.ones((d, 2), Xa.dtype)

    def step(s: _LloydState) -> _LloydState:
        sq = (jnp.stack([s.centers, s.centers - s.previous]) ** 2 @ ones)[..., 0]  # [2, r, k]
        coef = jnp.concatenate([-2.0 * s.centers, sq[0][..., None],
                                jnp.zeros((r, k, 2), Xa.dtype)], axis=2)  # [r, k, d + 3]
        score = (coef.reshape(r * k, d + 3) @ Xa.T).reshape(r, k, n)  # ‖x - c‖² - ‖x‖²
        labels = jnp.argmin(score, axis=1).astype(jnp.int32)  # [r, n]
        # Distance to the nearest center, and -1 for weight 0: never the farthest.
        far_key = jnp.where(w > 0, jnp.maximum(Xa[:, d + 1] + jnp.min(score, axis=1), 0.0), -1.0)
        member = jnp.where(labels[:, None, :] == j[:, None], w, 0.0).reshape(r * k, n)
        sums = (member @ Xa).reshape(r, k, d + 3)  # Σw·x, Σw, Σw·‖x‖², Σw² per cluster
        # The mean feature variance, the unit of `tol`, from the sums (any run's).
        unit = jnp.sum(sums[..., d + 1], axis=1) / (jnp.sum(sums[..., d], axis=1) * d)
        running = s.status == 0
        small = (s.n_iter > 0) & (jnp.sum(sq[1], axis=1) <= tol * unit)
        stop = ~running | small | (s.n_iter >= max_iter)

        sums = _relocate_empty(Xa, labels, far_key, sums)
        counts = sums[..., d:d + 1]
        new = jnp.where(counts > 0, sums[..., :d] / jnp.where(counts > 0, counts, 1.0), s.centers)
        return _LloydState(jnp.where(stop[:, None, None], s.centers, new), s.centers, labels,
                           (far_key @ Xa)[:, -1], s.n_iter + (~stop).astype(jnp.int32),
                           jnp.where(running, stop.astype(jnp.int32) + small.astype(jnp.int32),
                                     s.status))

    zeros = jnp.zeros(r, jnp.int32)
    start = _LloydState(centers, centers, jnp.zeros((r, n), jnp.int32), jnp.zeros(r, Xa.dtype),
                        zeros, zeros)
    return jax.lax.while_loop(lambda s: jnp.min(s.status) == 0, step, start)


@partial(jax.jit, static_argnames=("n_clusters", "init", "n_init", "max_iter"))
def _kmeans(X, w, key, init_centers, tol, *, n_clusters, init, n_init, max_iter):
    n = X.shape[0]
    if w is None:  # unit weights: sums in Python, which XLA would otherwise fold slowly
        fallback, mean = 0, jnp.sum(X, axis=0) / n
        w = jnp.ones(n, X.dtype)
    else:  # the first sample of positive weight: see `_sample`
        fallback, mean = jnp.argmax(w > 0), (w @ X) / jnp.sum(w)
    data = _augment(X - mean, w)
    if init == "array":
        starts = init_centers.astype(X.dtype).reshape(n_init, n_clusters, X.shape[1]) - mean
    else:
        u = _uniform(key, n_init * _seed_size(init, n, n_clusters), X.dtype)
        starts = _seed(u.reshape(n_init, -1), data, n_clusters, init, fallback)
    s = _lloyd(data, starts, tol, max_iter)
    # Runs that reach the same partition differ in inertia by rounding alone, and
    # by a different rounding in a batched or a looped call: the first of the runs
    # within that margin of the smallest inertia is kept.
    margin = 100 * jnp.finfo(X.dtype).eps
    best = jnp.argmax(s.inertia <= jnp.min(s.inertia) * (1 + margin))
    return KMeansResult(s.centers[best] + mean, s.labels[best, :n], s.inertia[best],
                        s.n_iter[best], s.status[best] == 2)


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

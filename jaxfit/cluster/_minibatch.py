"""Mini-batch k-means, as scikit-learn's `MiniBatchKMeans`, compiled whole.

It shares seeding, validation and `KMeansResult` with `_kmeans`; only the update
differs: each step moves centers towards the mean of a random batch with a per-center
learning rate, and smoothed batch inertia decides when to stop.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from .. import _compile
from .._validation import check_int, check_scalar, weights_or_ones
from ..metrics._clustering import _inertia_of_labels, _nearest, _sq_distances
from ._kmeans import KMeansResult, _check_inputs
from ._seeding import _augment, _seed, _seed_size


class _Sampler(NamedTuple):
    """Running sums of the weights in two levels: over blocks of about √n rows, and
    within each block (the rows padded with weight 0 to a square)."""

    blocks: jax.Array  # [m] running mass to each block's end
    within: jax.Array  # [m·m] running mass within each block, block after block


def _sampler(w):
    """The `_Sampler` of weights `w` `[n]`.

    One running sum over all rows would stall in float32: past 2^24, adding a unit
    weight adds 0 or 2, so half the rows could never be drawn. These sums run over
    about √n terms, where rounding moves each row's probability by about √n·eps of
    its block's mass.
    """
    n = w.shape[0]
    m = math.isqrt(n - 1) + 1
    within = jnp.cumsum(jnp.pad(w, (0, m * m - n)).reshape(m, m), axis=1)
    return _Sampler(jnp.cumsum(within[:, -1]), within.reshape(-1))


def _draw(key, sampler, n, size):
    """`size` row indices drawn with replacement, with probability proportional to
    weight: uniformly for unit weights (`sampler` None), else by `sampler`.

    A block is drawn by its mass, then a row within it by a second uniform (a single
    uniform for both would resolve no finer than eps·Σw). Each search returns the first
    running sum above its threshold, which never falls on a weight of zero.
    """
    if sampler is None:
        return jax.random.randint(key, (size,), 0, n)
    k_block, k_row = jax.random.split(key)
    m = sampler.blocks.shape[0]
    u = jax.random.uniform(k_block, (size,), sampler.blocks.dtype) * sampler.blocks[-1]
    block = jnp.searchsorted(sampler.blocks, u, side="right")
    start = block * m
    v = jax.random.uniform(k_row, (size,), u.dtype) * sampler.within[start + m - 1]

    def halve(_, bounds):  # binary search of v in the block's running sums
        low, high = bounds
        mid = (low + high) // 2
        right = sampler.within[mid] <= v
        return jnp.where(right, mid + 1, low), jnp.where(right, high, mid)

    return jax.lax.fori_loop(0, m.bit_length(), halve, (start, start + m - 1))[0]


class _MiniBatchState(NamedTuple):
    step: jax.Array  # [] int32, steps taken
    centers: jax.Array  # [k, d]
    counts: jax.Array  # [k] samples seen per center: the inverse learning rates
    key: jax.Array  # PRNG key
    since_reassign: jax.Array  # [] int32, samples seen since the last reassignment
    ewa: jax.Array  # [] smoothed mean batch inertia (NaN before the second step)
    ewa_min: jax.Array  # [] best smoothed inertia so far
    no_improvement: jax.Array  # [] int32, steps since ewa_min improved
    converged: jax.Array  # [] bool


def _reassign(centers, counts, Xb, ratio):
    """Move centers that have seen too few samples onto batch samples.

    As scikit-learn: at most half a batch moves, and the moved centers' counts are
    reset to the smallest count kept, so they are not moved again at once. The batch
    rows are independent random draws already, so taking the first ones is a random
    choice.
    """
    n_clusters, batch = counts.shape[0], Xb.shape[0]
    low = counts < ratio * jnp.max(counts)
    # Rank of each center by count (ties by index); only the batch // 2 lowest move.
    idx = jnp.arange(n_clusters)
    below = (counts[None, :] < counts[:, None]) | ((counts[None, :] == counts[:, None])
                                                   & (idx[None, :] < idx[:, None]))
    low &= jnp.sum(below, axis=1) < batch // 2
    rank = jnp.clip(jnp.cumsum(low) - 1, 0, batch - 1)
    centers = jnp.where(low[:, None], Xb[rank], centers)
    counts = jnp.where(low, jnp.min(jnp.where(low, jnp.inf, counts)), counts)
    return centers, counts


@_compile.jit(static_argnames=("n_clusters", "init", "n_init", "batch_size", "n_steps",
                               "max_no_improvement"))
def _minibatch(X, w, key, init_centers, tol, ratio, *, n_clusters, init, n_init, batch_size,
               n_steps, max_no_improvement):
    n = X.shape[0]
    sampler = None if w is None else _sampler(w.astype(X.dtype))
    w = weights_or_ones(w, n, X.dtype)
    mean = (w @ X) / jnp.sum(w)
    Xc = X - mean
    tol = tol * jnp.mean((w @ (Xc * Xc)) / jnp.sum(w))  # relative to the mean feature variance
    key, k_subsets, k_init = jax.random.split(key, 3)
    if init == "array":
        centers = init_centers.astype(X.dtype).reshape(n_clusters, X.shape[1]) - mean
    else:
        # Seed on subsets drawn by weight (so later weights are 1); keep the seeding
        # with the smallest inertia on a common validation subset (the last one).
        init_size = min(n, max(3 * batch_size, 3 * n_clusters))
        subsets = Xc[_draw(k_subsets, sampler, n, (n_init + 1) * init_size)].reshape(
            n_init + 1, init_size, X.shape[1])
        Xv, ones = subsets[-1], jnp.ones(init_size, X.dtype)

        def seed(u, Xs):
            c = _seed(u[None], _augment(Xs, ones), n_clusters, init)[0]
            return c, _inertia_of_labels(Xv, c, _nearest(Xv, c), ones)

        u = jax.random.uniform(k_init, (n_init, _seed_size(init, init_size, n_clusters)), X.dtype)
        seeds, scores = jax.vmap(seed)(u, subsets[:-1])
        centers = seeds[jnp.argmin(scores)]
    alpha = min(1.0, 2.0 * batch_size / (n + 1))  # scikit-learn's smoothing of inertia

    def step(s: _MiniBatchState) -> _MiniBatchState:
        key, k_batch = jax.random.split(s.key)
        # Batches are drawn with probability proportional to weight, then count once.
        Xb = Xc[_draw(k_batch, sampler, n, batch_size)]
        d2 = _sq_distances(Xb, s.centers)
        member = jax.nn.one_hot(jnp.argmin(d2, axis=1), n_clusters, dtype=X.dtype)
        seen = jnp.sum(member, axis=0)
        counts = s.counts + seen
        # Per-center learning rate 1/count: each center is the mean of all it has seen.
        new = jnp.where(seen[:, None] > 0,
                        (s.centers * s.counts[:, None] + member.T @ Xb)
                        / jnp.maximum(counts, 1.0)[:, None], s.centers)
        since = s.since_reassign + batch_size
        due = jnp.any(s.counts == 0) | (since >= 10 * n_clusters)
        new, counts = jax.lax.cond(due & (ratio > 0), _reassign, lambda c, m, xb, r: (c, m),
                                   new, counts, Xb, ratio)
        since = jnp.where(due, 0, since)
        shift = jnp.sum((new - s.centers) ** 2)
        batch_inertia = jnp.mean(jnp.min(d2, axis=1))
        first = s.step == 0  # its inertia only reflects the initialization
        ewa = jnp.where(jnp.isnan(s.ewa), batch_inertia, s.ewa * (1 - alpha) + batch_inertia * alpha)
        ewa = jnp.where(first, s.ewa, ewa)
        improved = ~first & ~(ewa >= s.ewa_min)
        no_improvement = jnp.where(first, 0, jnp.where(improved, 0, s.no_improvement + 1))
        converged = ~first & (((tol > 0) & (shift <= tol))
                              | (no_improvement >= max_no_improvement))
        return _MiniBatchState(s.step + 1, new, counts, key, since, ewa,
                               jnp.where(improved, ewa, s.ewa_min), no_improvement, converged)

    nan = jnp.asarray(jnp.nan, X.dtype)
    start = _MiniBatchState(jnp.int32(0), centers, jnp.zeros(n_clusters, X.dtype), key,
                            jnp.int32(0), nan, nan, jnp.int32(0), jnp.asarray(False))
    s = jax.lax.while_loop(lambda s: (s.step < n_steps) & ~s.converged, step, start)
    labels = _nearest(Xc, s.centers)
    return KMeansResult(s.centers + mean, labels, _inertia_of_labels(Xc, s.centers, labels, w),
                        s.step, s.converged)


def minibatch_kmeans(X, n_clusters: int, *, key=None, batch_size: int = 1024,
                     max_iter: int = 100, n_init: int = 3, init="k-means++", tol=0.0,
                     max_no_improvement: int = 10, reassignment_ratio=0.01,
                     sample_weight=None) -> KMeansResult:
    """Mini-batch k-means, as scikit-learn's `MiniBatchKMeans`, compiled whole.

    Each step draws `batch_size` samples (with probability proportional to weight),
    assigns them to the nearest center and moves each center towards their mean with
    learning rate `1 / (samples the center has seen)`. Centers that have seen fewer
    than `reassignment_ratio` times the busiest center's samples are moved onto random
    batch samples. The best of `n_init` seedings, each on `3 · batch_size` samples, is
    chosen by inertia on a validation subset; one mini-batch run follows.

    Args:
      X: data `[n, d]`.
      n_clusters: number of clusters k (static).
      key: a PRNG key; required. May be traced.
      batch_size: samples per step (static; capped at n).
      max_iter: passes over the data: at most `max_iter · n // batch_size` steps.
      n_init: seedings compared on the validation subset (ignored for an array init).
      init: "k-means++", "random" or initial centers `[k, d]`.
      tol: stop when the squared shift of all centers in one step is at most `tol`
        times the mean feature variance (0 disables this rule, the default).
      max_no_improvement: stop after this many steps without a new minimum of the
        smoothed batch inertia.
      reassignment_ratio: see above; 0 disables reassignment.
      sample_weight: non-negative weights `[n]`.

    Returns:
      A `KMeansResult`; `n_iter` counts mini-batch steps, and `labels` and `inertia`
      are computed on all of `X` with the final centers.
    """
    X, n_clusters, w, key, init_centers, tol, max_iter = _check_inputs(
        X, n_clusters, key, init, sample_weight, tol, max_iter, random_steps=True)
    batch_size = min(check_int(batch_size, "batch_size", minimum=1), X.shape[0])
    n_init = check_int(n_init, "n_init", minimum=1)
    max_no_improvement = check_int(max_no_improvement, "max_no_improvement", minimum=1)
    # Above 1 every center, the busiest too, would be moved at each reassignment.
    check_scalar(reassignment_ratio, "reassignment_ratio", minimum=0.0, maximum=1.0)
    if init_centers is not None:
        if init_centers.ndim == 3 and init_centers.shape[0] > 1:
            raise ValueError(
                f"`init` must have shape (n_clusters, n_features) = ({n_clusters}, "
                f"{X.shape[1]}) for minibatch_kmeans; got {tuple(init_centers.shape)}. "
                f"Several starts are supported by kmeans only.")
        n_init, init = 1, "array"
    n_steps = max(1, max_iter * X.shape[0] // batch_size)
    return _minibatch(X, w, key, init_centers, tol, jnp.asarray(reassignment_ratio, X.dtype),
                      n_clusters=n_clusters, init=init, n_init=n_init, batch_size=batch_size,
                      n_steps=n_steps, max_no_improvement=max_no_improvement)

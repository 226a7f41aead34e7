"""k-means seeding, shared by `kmeans` and `minibatch_kmeans`: the data layout every
step reads, k-means++ and random starts, and their uniforms.

Each piece is shaped by what XLA's CPU backend compiles cheaply (a fit's first call is
mostly compilation, about 10 ms per fused kernel) as well as by what runs fast:

- the data carry three extra columns, `[x, 1, ‖x‖², w]`, so that distances to any
  points, cluster sums and counts, and weighted totals are all GEMMs, which XLA hands
  to a library instead of compiling (`_augment`);
- k-means++ draws by a two-level inverse CDF (block masses, then within one block)
  whose running sums are small triangular GEMMs: a cumulative sum over all samples
  compiles to a tree of 16 reduce-windows with their pads and slices (`_sample`);
- all restarts are one leading axis `r`: one GEMM scores every restart's candidates;
- the uniforms are Threefry-2x32 written out (`_uniform`, bit for bit
  `jax.random.uniform`): JAX's CPU lowering rolls it into a loop of ten kernels.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


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
    size: int  # block size of the sampler, ceil(√n)

    @property
    def w(self):
        return self.Xa[:, -1]


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
    return _Data(jnp.pad(Xa, ((0, size**2 - n), (0, 0))), size)


# --------------------------------------------------------------------------- seeding


def _count(mask, dtype):
    """Number of True along the last axis, as a float sum (XLA's CPU backend hands
    large float reductions to a library, but compiles integer ones)."""
    return jnp.sum(mask, axis=-1, dtype=dtype).astype(jnp.int32)


def _sample(u, p, size, fallback):
    """Indices `[r, t]` drawn with probability proportional to the rows of `p` `[r, size²]`.

    Inverse CDF in two levels, one uniform each (`u` `[r, 2, t]`): the block of `size`
    samples whose running mass first exceeds `u[:, 0] · total`, then the sample whose
    running mass within that block first exceeds `u[:, 1] · (the block's mass)`. A
    single uniform for both would place the sample no finer than eps·total: in float32
    a block of mass total/2^20 would have 8 positions, and samples past about 2^23
    could never be drawn. Each running sum is a small GEMM with a triangle of ones (a
    cumulative sum over all samples compiles to a tree of 16 reduce-windows with their
    pads and slices). Such running sums never decrease (every column adds the same
    terms in the same order, and a zero term adds exactly nothing), so the first one
    past the threshold is the count of those at or below it, and its sample has `p > 0`.
    When no mass is left (every sample already a center) or rounding leaves a
    threshold unmet, `fallback` (a sample of positive weight) stands in.
    """
    r = p.shape[0]
    upper = np.triu(np.ones((size, size), p.dtype))  # v @ upper: v's running sum
    P = p.reshape(r, size, size)
    upto = jnp.sum(P, axis=2) @ upper  # [r, m], running mass to each block's end
    thr = u[:, 0] * upto[:, -1:]  # [r, t]
    blk = _count(upto[:, None, :] <= thr[..., None], p.dtype)  # [r, t]
    within = P[np.arange(r)[:, None], jnp.minimum(blk, size - 1)] @ upper  # [r, t, size]
    pos = _count(within <= (u[:, 1] * within[..., -1])[..., None], p.dtype)
    return jnp.where((blk < size) & (pos < size), blk * size + pos, fallback).astype(jnp.int32)


def _n_trials(n_clusters):
    return 2 + int(math.log(n_clusters))


def _kmeans_plusplus(u, data, n_clusters, fallback):
    """Greedy k-means++ (scikit-learn's): `2 + log(k)` D² candidates per center.

    Each new center is the candidate that most lowers the weighted potential; the
    first is the first candidate drawn by weight alone. One loop covers all centers
    and all restarts. `u` holds the uniforms `[r, k, 2, n_trials]` (two per draw, see
    `_sample`). Returns the centers `[r, k, d]`.
    """
    Xa, size = data
    w = data.w
    r = u.shape[0]
    d = Xa.shape[1] - 3
    # A candidate's row [y, 1, ‖y‖², w] times `scale`, plus its ‖y‖² at `d`: [-2y, ‖y‖², 0, 0].
    scale = np.r_[np.full(d, -2.0), 0.0, 0.0, 0.0].astype(Xa.dtype)
    at_d = np.arange(d + 3) == d

    def add_center(c, carry):
        # q: weight times squared distance to the closest center so far (w at first).
        centers, q = carry  # [r, k, d], [r, size²]
        rows = Xa[_sample(u[:, c], q, size, fallback)]  # [r, t, d + 3]
        coef = rows * scale + jnp.where(at_d, rows[..., d + 1:d + 2], 0.0)
        dist = w * jnp.maximum(coef @ Xa.T + Xa[:, d + 1], 0.0)  # [r, t, size²]
        dist = jnp.where(c == 0, dist, jnp.minimum(q[:, None, :], dist))
        best = jnp.where(c == 0, 0, jnp.argmin(jnp.sum(dist, axis=2), axis=1))
        pick = coef[np.arange(r), best, :d] * -0.5  # the chosen y, from -2y (exact)
        return (jnp.where((np.arange(n_clusters) == c)[:, None], pick[:, None], centers),
                dist[np.arange(r), best])

    start = (jnp.zeros((r, n_clusters, d), Xa.dtype), jnp.broadcast_to(w, (r, size**2)))
    return jax.lax.fori_loop(0, n_clusters, add_center, start)[0]


def _seed_size(init, n, n_clusters):
    """How many uniforms one seeding of `n` samples consumes."""
    return 2 * n_clusters * _n_trials(n_clusters) if init == "k-means++" else n


def _seed(u, data, n_clusters, init, fallback=0):
    """Initial centers `[r, k, d]` from uniforms `u` `[r, _seed_size(...)]`.

    `fallback` is a sample of positive weight (see `_sample`).
    """
    if init == "k-means++":
        return _kmeans_plusplus(u.reshape(u.shape[0], n_clusters, 2, -1), data, n_clusters, fallback)
    # "random": k distinct samples with probability proportional to weight, by the
    # Gumbel top-k trick (jax.random.choice's method); weight 0 gives -inf, never kept.
    n = u.shape[1]
    _, idx = jax.lax.top_k(jnp.log(data.w[:n]) - jnp.log(-jnp.log(u)), n_clusters)
    return data.Xa[idx, :-3]

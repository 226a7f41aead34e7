"""`blocked_product`: `aᵀ b` over many rows, accurate in float32 on the CPU.

XLA's CPU backend may add a product's n rows one after another when its result is
small (a 2 × 2 scatter matrix, a confusion matrix), and a float32 running sum stops
taking in terms once it is 2^24 times larger than they are. Reductions are added as a
tree, so each block of rows is a product and the blocks' results are summed.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def blocked_product(a: jax.Array, b: jax.Array, block: int, precision=None) -> jax.Array:
    """`a.T @ b` for `a [n, i]` and `b [n, j]`, as one product per `block` rows (the
    last zero-padded) whose `[i, j]` results are summed by a reduction."""
    n = a.shape[0]
    m = -(-n // block)
    a, b = (jnp.pad(x, ((0, m * block - n), (0, 0))).reshape(m, block, x.shape[1]) for x in (a, b))
    return jnp.einsum("mbi,mbj->mij", a, b, precision=precision).sum(axis=0)

"""A keyed permutation of `[0, n)` evaluated one position at a time, for shuffling.

`fit` draws each mini-batch as the images of the positions `pos, …, pos + batch - 1`
under a permutation of the active samples' ranks. A shuffle then costs O(batch) per
step: no O(n log n) sort per epoch, which under `vmap` (where a `while_loop` with a
batched predicate carries every value per lane) every lane would pay on its own.

The permutation is a Feistel network (Luby & Rackoff) on pairs `(high, low)` in
`[0, m) × [0, 2**j)`, `x = high · 2**j + low`, with `2**j ≈ √n` and `m = ⌈n / 2**j⌉`:
rounds alternate `high += F(low) (mod m)` and `low ^= F(high)`, each a bijection
whatever the round function `F` (a 32-bit integer hash, Wellons' "lowbias32", of the
half and a round key drawn from `key`). The pairs cover `[0, n)` and fewer than
`2**j` more, so an image at or past `n` is rare (under 2/√n of them) and is mapped
again until it lands inside ("cycle walking": Black & Rogaway, "Ciphers with
arbitrary finite domains", 2002), which keeps the whole a bijection of `[0, n)`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

# Four rounds suffice in theory (Luby-Rackoff), but with this hash and halves of a few
# bits, four left consecutive ranks ~20% likelier than chance to share a batch (n = 100
# or 1000, batches of 4) and six still skewed domains of n <= 9; eight showed neither.
# Eight cost ~50 µs a step for 24 lanes of 256 on a 2-core CPU.
_ROUNDS = 8  # even: half update `high`, half `low`
_UNROLLED_WALKS = 2


def _hash(x):
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def permute(key, index, n):
    """The images of `index` under the permutation of `[0, n)` that `key` selects.

    Args:
      key: a `jax.random` key; the same key gives the same permutation, bit for bit.
      index: integer array, values in `[0, n)`; any other value is mapped as 0 is.
      n: the domain size, `1 <= n < 2**31`; may be traced (values below 1 act as 1).

    Returns:
      int32 array of the shape of `index`: for a fixed key and `n`, distinct indices
      give distinct images, all in `[0, n)`.
    """
    n = jnp.maximum(jnp.asarray(n, jnp.uint32), 1)
    low_bits = (32 - jax.lax.clz(n - 1)) // 2  # half of ⌈log₂ n⌉, rounded down
    low_mask = (1 << low_bits) - 1
    m = ((n - 1) >> low_bits) + 1  # ⌈n / 2**low_bits⌉ <= 2**16
    round_keys = jax.random.bits(key, (_ROUNDS,), jnp.uint32)

    def feistel(x):
        high, low = x >> low_bits, x & low_mask
        for r in range(0, _ROUNDS, 2):
            # The hash's top 16 bits scaled to [0, m) (no division); high, F < m.
            high = high + ((_hash(low ^ round_keys[r]) >> 16) * m >> 16)
            high = jnp.where(high >= m, high - m, high)
            low = low ^ (_hash(high ^ round_keys[r + 1]) & low_mask)
        return (high << low_bits) | low

    # Only a start inside [0, n) is sure to walk back into it: one outside could sit on
    # a cycle that never does.
    x = jnp.asarray(index).astype(jnp.uint32)
    x = feistel(jnp.where(x < n, x, 0))
    # Two unconditional passes leave almost nothing to walk (for 6,144 indices of
    # n = 13,334, 0.003 expected), so the loop, costly per iteration under `vmap`,
    # rarely turns.
    for _ in range(_UNROLLED_WALKS):
        x = jnp.where(x >= n, feistel(x), x)
    x = jax.lax.while_loop(lambda x: jnp.any(x >= n), lambda x: jnp.where(x >= n, feistel(x), x), x)
    return x.astype(jnp.int32)

"""A keyed permutation of `[0, n)` evaluated one position at a time, for shuffling.

`fit` draws each mini-batch as the images of the positions `pos, …, pos + batch - 1`
under a permutation of the active samples' ranks. A shuffle then costs O(batch) per
step: no O(n log n) sort per epoch, which under `vmap` (where a `while_loop` with a
batched predicate carries every value per lane) every lane would pay on its own.

The permutation is a Feistel network (Luby & Rackoff) on pairs `(high, low)` in
`[0, m) × [0, 2**j)`, `x = high · 2**j + low`, with `2**j ≈ √n` and `m = ⌈n / 2**j⌉`:
rounds alternate `high += F(low) (mod m)` and `low ^= F(high)`, each a bijection
whatever the round function `F` (a 32-bit integer hash, Wellons' "lowbias32", of the
half and a round key hashed from `key`'s data and a counter). The pairs cover `[0, n)` and fewer than
`2**j` more, so an image at or past `n` is rare (under √(2/n) of them) and is mapped
again until it lands inside ("cycle walking": Black & Rogaway, "Ciphers with
arbitrary finite domains", 2002), which keeps the whole a bijection of `[0, n)`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

# Four rounds suffice in theory (Luby-Rackoff) for random round functions. Measured
# over many keys: with four, ranks 1 or 2 apart were 13-17% likelier than chance to
# share a batch of 4 (n = 1000; tests/test_fit_shuffle.py fails them); with six, up to
# 10% at n = 13,334 (300 keys) and a skewed spread over positions for n <= 9; eight
# showed neither.
_ROUNDS = 8  # even: half the rounds update `high`, half `low`
_UNROLLED_WALKS = 1


def _hash(x):
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def _round_keys(key, counter):
    """`_ROUNDS` uint32 round keys from the key's data and a counter, with a handful of
    integer operations: `jax.random` (threefry, expanded inline on CPU) would add
    ~0.4 s of XLA compilation to every program that shuffles."""
    state = jnp.asarray(counter).astype(jnp.uint32)
    # Each step is a bijection of the state for a fixed word and of the word for a
    # fixed state, so keys differing in one word never share round keys.
    for word in jax.random.key_data(key).reshape(-1):
        state = _hash(state ^ _hash(word.astype(jnp.uint32) + jnp.uint32(0x9E3779B9)))
    return _hash(state ^ (jnp.arange(1, _ROUNDS + 1, dtype=jnp.uint32) * jnp.uint32(0x85EBCA6B)))


# A jit of its own, so that it is traced once per process and shape: every `fit`
# program compiled later in the process reuses the trace (~0.3 s of W3's tracing).
@jax.jit
def permute(key, index, n, counter=0):
    """The images of `index` under the permutation of `[0, n)` that `key` and
    `counter` select.

    Args:
      key: a `jax.random` key; the same key and counter give the same permutation,
        bit for bit.
      index: integer array, values in `[0, n)`; any other value is mapped as 0 is.
      n: the domain size, `1 <= n < 2**31`; may be traced (values below 1 act as 1).
      counter: an integer (e.g. the epoch) that selects another permutation for the
        same key, without splitting it.

    Returns:
      int32 array of the shape of `index`: for a fixed key, counter and `n`, distinct
      indices give distinct images, all in `[0, n)`.
    """
    n = jnp.maximum(jnp.asarray(n, jnp.uint32), 1)
    low_bits = (32 - jax.lax.clz(n - 1)) // 2  # half of ⌈log₂ n⌉, rounded down
    low_mask = (1 << low_bits) - 1
    m = ((n - 1) >> low_bits) + 1  # ⌈n / 2**low_bits⌉ <= 2**16
    round_keys = _round_keys(key, counter)

    def feistel(x):
        high, low = x >> low_bits, x & low_mask
        for r in range(0, _ROUNDS, 2):
            # The hash's top 16 bits scaled to [0, m) (no division); high, F < m.
            high = high + ((_hash(low ^ round_keys[r]) >> 16) * m >> 16)
            high = jnp.minimum(high, high - m)  # below m, high - m wraps past 2**32
            low = low ^ (_hash(high ^ round_keys[r + 1]) & low_mask)
        return (high << low_bits) | low

    # Only a start inside [0, n) is sure to walk back into it: one outside could sit on
    # a cycle that never does.
    x = jnp.asarray(index).astype(jnp.uint32)
    x = feistel(jnp.where(x < n, x, 0))
    # One unconditional second pass leaves little to walk (of 6,144 indices of
    # n = 13,334, 0.4 expected), so the loop, whose turns cost more than a pass inside
    # `fit`'s vmapped loops, seldom turns. (W3 measured 0, 1, 2 passes: 1.60, 1.36,
    # 1.49 s.)
    for _ in range(_UNROLLED_WALKS):
        x = jnp.where(x >= n, feistel(x), x)
    x = jax.lax.while_loop(lambda x: jnp.any(x >= n), lambda x: jnp.where(x >= n, feistel(x), x), x)
    return x.astype(jnp.int32)

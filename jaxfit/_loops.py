"""`while_loop`: `jax.lax.while_loop` whose carry is batched from the start under `vmap`.

Under `vmap`, `lax.while_loop` learns which parts of its carry are batched by a
fixpoint: it batches the body with the initial carry's batching, widens the carry to
what came out, and batches the body again, then once more for the final program. A
loop nested in the body repeats all of that for every batching of the outer body.
jaxfit's fits start from a carry that is not batched over configurations (the
parameters come from the fold's key) and end with every part batched (each
configuration converges on its own), so the fixpoint never holds at once: with a
mini-batch loop and its shuffle nested in the epoch loop, this was 0.55 s of W3's
0.85 s of tracing. Here, when anything the body reads is batched, the whole initial
carry is broadcast first, so every level holds at its first round. The results are
the same: a carry that would have become batched after one step is batched one step
earlier, as copies.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap


@custom_vmap
def _batched_together(carry, witness):
    """`carry`; under `vmap`, every leaf batched if any leaf of `carry` or `witness` is."""
    return carry


@_batched_together.def_vmap
def _batched_together_rule(axis_size, in_batched, carry, witness):
    carry_batched, witness_batched = in_batched
    if not any(jax.tree_util.tree_leaves((carry_batched, witness_batched))):
        return carry, carry_batched
    spread = lambda x, batched: x if batched else jnp.broadcast_to(x, (axis_size, *jnp.shape(x)))
    carry = jax.tree_util.tree_map(spread, carry, carry_batched)
    # Applied again, so that an enclosing `vmap` batches the carry over its axis too.
    return _batched_together(carry, witness), jax.tree_util.tree_map(lambda _: True, carry)


def while_loop(cond_fun: Callable, body_fun: Callable, init: Any) -> Any:
    """`jax.lax.while_loop(cond_fun, body_fun, init)`, tracing the body once up front to
    find the arrays it reads (`jax.closure_convert`); see the module docstring."""
    body, consts = jax.closure_convert(body_fun, init)
    init = _batched_together(init, consts)
    return jax.lax.while_loop(cond_fun, lambda carry: body(carry, *consts), init)

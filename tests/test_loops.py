"""`jaxfit._loops.while_loop`: the same results as `lax.while_loop`, batched or not."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxfit._loops import while_loop


def _fit_like(loop, rate, start, key):
    """A loop shaped like jaxfit's fits: an unbatched start, a batched rate read from the
    closure, a nested loop, integer, boolean and key leaves, a per-lane stopping rule."""

    def inner(carry):
        x, i = carry
        return x - rate * jnp.sin(x), i + 1

    def body(s):
        x, _ = loop(lambda c: c[1] < 3, inner, (s["x"], jnp.int32(0)))
        noise = jax.random.normal(jax.random.fold_in(s["key"], s["step"]), x.shape)
        return {"x": x + 1e-3 * noise, "step": s["step"] + 1, "key": s["key"],
                "done": jnp.max(jnp.abs(x - s["x"])) < 1e-3}

    init = {"x": start, "step": jnp.int32(0), "key": key, "done": jnp.bool_(False)}
    return loop(lambda s: ~s["done"] & (s["step"] < 50), body, init)


@pytest.mark.parametrize("batched_start", [False, True])
def test_equals_lax_while_loop_under_nested_vmap(batched_start):
    rates = jnp.linspace(0.05, 0.9, 6).reshape(2, 3)  # [folds, configs]
    keys = jax.random.split(jax.random.key(1), 2)
    starts = jnp.stack([jnp.full(4, 2.0), jnp.full(4, -1.0)])

    def run(loop):
        def per_fold(rates, key, start):
            one = lambda rate: _fit_like(loop, rate, start, key)
            return jax.vmap(one)(rates)
        return jax.jit(jax.vmap(per_fold, in_axes=(0, 0, 0 if batched_start else None)))(
            rates, keys, starts if batched_start else starts[0])

    ours, theirs = run(while_loop), run(jax.lax.while_loop)
    for name in ("x", "step", "done"):
        np.testing.assert_array_equal(ours[name], theirs[name])
    np.testing.assert_array_equal(jax.random.key_data(ours["key"]),
                                  jax.random.key_data(theirs["key"]))
    assert len(set(np.asarray(ours["step"]).ravel().tolist())) > 1  # lanes stopped apart


def test_unbatched_and_closure_free_loops():
    np.testing.assert_array_equal(
        _fit_like(while_loop, 0.3, jnp.arange(3.0), jax.random.key(0))["x"],
        _fit_like(jax.lax.while_loop, 0.3, jnp.arange(3.0), jax.random.key(0))["x"])
    assert int(while_loop(lambda i: i < 5, lambda i: i + 1, jnp.int32(0))) == 5

"""Penalties as `Penalty(value, prox)` pairs; weights ("w" leaves) only, never biases.

Scaling follows glmnet and scikit-learn, with the objective
`weighted mean loss + penalty.value(params)`:

- `l2(s)`: `s/2 · ||w||²`
- `l1(s)`: `s · ||w||₁`
- `elastic_net(s, l1_ratio)`: `s · (l1_ratio · ||w||₁ + (1 - l1_ratio)/2 · ||w||²)`

so scikit-learn's `Ridge(alpha)` on n samples is `l2(2·alpha/n)` with squared error
(whose objective is `||y - Xw||² + alpha·||w||²`), `Lasso(alpha)` is `l1(2·alpha)` with
squared error (it halves the loss), and `LogisticRegression(C)` is `l2(1/(C·n))`.

The functions are `jax.tree_util.Partial`s, so a Penalty is a pytree whose leaves are
its strengths: they may be traced, vmapped over, and passed to a jitted function without
recompiling for each value.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax.tree_util import Partial

from .._validation import check_scalar


class Penalty(NamedTuple):
    """A regularizer: `value(params) -> scalar` and its proximal operator.

    `prox(params, step) -> params` returns `argmin_z penalty(z) + ||z - params||² / (2·step)`
    on weights; biases pass through unchanged.
    """

    value: Callable
    prox: Callable


def is_weight(path) -> bool:
    """Leaves whose key is "w" are weights; everything else (biases "b") is not penalised."""
    last = path[-1] if path else None
    return getattr(last, "key", None) == "w"


def _sum_weights(fn, params):
    leaves = [fn(x) for path, x in jax.tree_util.tree_leaves_with_path(params) if is_weight(path)]
    return sum(leaves) if leaves else jnp.zeros(())


def _map_weights(fn, params):
    return jax.tree_util.tree_map_with_path(lambda p, x: fn(x) if is_weight(p) else x, params)


def _soft_threshold(x, t):
    return jnp.sign(x) * jnp.maximum(jnp.abs(x) - t, 0.0)


def _elastic_value(params, strength, l1_ratio):
    l1 = _sum_weights(lambda w: jnp.abs(w).sum(), params)
    l2 = _sum_weights(lambda w: (w * w).sum(), params)
    return strength * (l1_ratio * l1 + 0.5 * (1.0 - l1_ratio) * l2)


def _elastic_prox(params, step, strength, l1_ratio):
    t = step * strength
    return _map_weights(
        lambda w: (_soft_threshold(w, t * l1_ratio) / (1.0 + t * (1.0 - l1_ratio))).astype(w.dtype),
        params)


def _as_strength(value, name):
    check_scalar(value, name, minimum=0.0)
    return jnp.asarray(value, dtype=jnp.result_type(float))


def elastic_net(strength, l1_ratio=0.5) -> Penalty:
    """`strength · (l1_ratio·||w||₁ + (1 - l1_ratio)/2·||w||²)`; both may be traced."""
    s = _as_strength(strength, "strength")
    check_scalar(l1_ratio, "l1_ratio", minimum=0.0, maximum=1.0)
    r = jnp.asarray(l1_ratio, dtype=jnp.result_type(float))
    return Penalty(Partial(_elastic_value, strength=s, l1_ratio=r),
                   Partial(_elastic_prox, strength=s, l1_ratio=r))


def l1(strength) -> Penalty:
    """Lasso penalty `strength · ||w||₁`; its prox is soft-thresholding (exact zeros)."""
    return elastic_net(strength, 1.0)


def _l2_value(params, strength):
    return 0.5 * strength * _sum_weights(lambda w: (w * w).sum(), params)


def _l2_prox(params, step, strength):
    return _map_weights(lambda w: (w / (1.0 + step * strength)).astype(w.dtype), params)


def l2(strength) -> Penalty:
    """Ridge penalty `strength/2 · ||w||²`; its prox shrinks by `1 / (1 + step·strength)`."""
    s = _as_strength(strength, "strength")
    # Functions of its own (not elastic_net with l1_ratio 0), so solvers that need a
    # smooth penalty can recognise it even when the strength is traced.
    return Penalty(Partial(_l2_value, strength=s), Partial(_l2_prox, strength=s))


def _zero_value(params):
    del params
    return jnp.zeros(())


def _identity_prox(params, step):
    del step
    return params


def none() -> Penalty:
    """No penalty: value 0 and the identity as prox, which add nothing to a compiled step."""
    return Penalty(Partial(_zero_value), Partial(_identity_prox))

"""Per-sample losses: `loss(outputs, y) -> [n]`, reduced by the caller with weights.

Every loss has the same signature (optax's), with hyperparameters keyword-only, so
`fit`, `cross_validate` and `search` treat them alike. Labels for the binary losses are
0/1, as jaxfit's data loaders produce them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax


def _same_shape(outputs, y):
    # `outputs - y` would broadcast [n] against [n, 1] into [n, n]: every prediction
    # scored against every target, and a plausible-looking, wrong fit.
    if jnp.shape(outputs) != jnp.shape(y):
        raise ValueError(f"model outputs of shape {jnp.shape(outputs)} and targets of shape "
                         f"{jnp.shape(y)} differ; pass y as [n] for one output (y.ravel()) "
                         f"or [n, m] for a model with m outputs.")


def _per_sample(values):
    # Multi-output regression sums over outputs so each sample gives one number.
    return values.sum(axis=-1) if values.ndim == 2 else values


def squared_error(outputs, y):
    """`(outputs - y)²` per sample (summed over outputs when 2-D), as optax."""
    _same_shape(outputs, y)
    return _per_sample(optax.losses.squared_error(outputs, y))


def absolute_error(outputs, y):
    """`|outputs - y|` per sample (summed over outputs when 2-D)."""
    _same_shape(outputs, y)
    return _per_sample(jnp.abs(outputs - y))


def huber(outputs, y, *, delta: float = 1.0):
    """Huber loss: quadratic within `delta` of the target, linear beyond (optax's)."""
    _same_shape(outputs, y)
    return _per_sample(optax.losses.huber_loss(outputs, y, delta=delta))


def binary_cross_entropy(logits, y):
    """Logistic loss from logits `[n]` and 0/1 labels; stable for large logits.

    Written as `softplus(z) - y·z` (optax's form takes two log-sigmoids): the same
    value with one transcendental per sample, which matters inside vmapped searches.
    A scalar label applies to every logit.
    """
    if jnp.ndim(y):
        _same_shape(logits, y)
    return jax.nn.softplus(logits) - y.astype(logits.dtype) * logits


def softmax_cross_entropy(logits, y):
    """Multinomial loss from logits `[n, n_classes]` and integer labels `[n]`."""
    if jnp.shape(y) != jnp.shape(logits)[:-1]:
        one_hot = jnp.ndim(logits) >= 2 and jnp.shape(y) == jnp.shape(logits)
        hint = ("for one-hot rows pass y.argmax(axis=1)" if one_hot else
                "build the model with one output per class (models.softmax(n_classes), "
                "models.mlp(..., n_outputs=n_classes))")
        raise ValueError(f"softmax_cross_entropy takes logits [n, n_classes] and integer class "
                         f"labels [n]; got logits of shape {jnp.shape(logits)} and labels of shape "
                         f"{jnp.shape(y)}: {hint}.")
    return optax.losses.softmax_cross_entropy_with_integer_labels(logits, y.astype(jnp.int32))


def hinge(outputs, y):
    """Hinge loss `max(0, 1 - s·outputs)` with `s = 2y - 1` for 0/1 labels (a scalar
    label applies to every output)."""
    if jnp.ndim(y):
        _same_shape(outputs, y)
    return optax.losses.hinge_loss(outputs, 2.0 * y.astype(outputs.dtype) - 1.0)

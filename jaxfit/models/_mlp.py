"""Multi-layer perceptron with dropout."""

from __future__ import annotations

import functools
import numbers
from typing import Sequence

import jax
import jax.numpy as jnp

from .. import _compile
from .._validation import check_choice, check_int, check_scalar, float_dtype
from ._model import Model

ACTIVATIONS = {
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    "logistic": jax.nn.sigmoid,
    "sigmoid": jax.nn.sigmoid,
    "gelu": jax.nn.gelu,
    "identity": lambda x: x,
}


def mlp(hidden: Sequence[int] = (64,), activation: str = "relu", dropout: float = 0.0,
        n_outputs: int | None = None) -> Model:
    """A fully connected network `X -> hidden layers -> outputs`.

    Weights start Glorot-uniform as scikit-learn's MLP has them (bound
    `sqrt(6 / (fan_in + fan_out))`, or `sqrt(2 / ...)` for the logistic activation),
    biases at zero. Dropout is
    applied to every hidden layer's output during training (`train=True`), drawing
    from the `key` given to `apply`; it is off when `train=False`.

    Args:
      hidden: widths of the hidden layers; `()` gives a linear model.
      activation: one of "relu", "tanh", "logistic"/"sigmoid", "gelu", "identity".
      dropout: probability of dropping a hidden unit while training, in [0, 1).
      n_outputs: `None` for outputs of shape `[n]` (regression, binary logits),
        else `[n, n_outputs]` (multi-output, or `n_classes` logits).

    Returns:
      `Model(init, apply)`; params are `{"layers": [{"w", "b"}, ...]}`.
    """
    # NumPy integers are widths too (np.array([32, 16]), a value drawn from a grid).
    widths = tuple(hidden) if hasattr(hidden, "__iter__") and not isinstance(hidden, str) else None
    if widths is None or not all(isinstance(h, numbers.Integral) and not isinstance(h, bool) for h in widths):
        raise TypeError(f"`hidden` must be a sequence of layer widths such as (64,) or (32, 16); got {hidden!r}.")
    hidden = tuple(check_int(width, "hidden", minimum=1) for width in widths)
    check_choice(activation, "activation", ACTIVATIONS)
    check_scalar(dropout, "dropout", minimum=0.0)
    if float(dropout) >= 1.0:
        raise ValueError(f"`dropout` must be in [0, 1); got {dropout}.")
    if n_outputs is not None:
        check_int(n_outputs, "n_outputs", minimum=1)
    return _mlp(hidden, activation, float(dropout), n_outputs)


# Cached: equal arguments give the same Model, so `fit` does not recompile for a model
# built afresh with the same architecture.
@functools.lru_cache(maxsize=256)
def _mlp(hidden: tuple, activation: str, dropout: float, n_outputs: int | None) -> Model:
    act = ACTIVATIONS[activation]
    out_width = 1 if n_outputs is None else n_outputs
    factor = 2.0 if act is jax.nn.sigmoid else 6.0  # scikit-learn's `_init_coef`

    def init(key, n_features):
        check_int(n_features, "n_features", minimum=1)
        sizes = (n_features, *hidden, out_width)
        layers = []
        for k, (fan_in, fan_out) in zip(jax.random.split(key, len(sizes) - 1), zip(sizes[:-1], sizes[1:])):
            bound = jnp.sqrt(factor / (fan_in + fan_out))
            layers.append({"w": jax.random.uniform(k, (fan_in, fan_out), float_dtype(), -bound, bound),
                           "b": jnp.zeros((fan_out,), float_dtype())})
        return {"layers": layers}

    # One compiled program when called on concrete arrays (a prediction); traced
    # inline inside `fit` and other jits and vmaps.
    @_compile.jit(static_argnames="train")
    def apply(params, X, *, key=None, train=False):
        layers = params["layers"]
        use_dropout = train and dropout > 0.0
        if use_dropout and key is None:
            raise ValueError("`key` is required by apply(train=True) when dropout > 0.")
        keys = jax.random.split(key, len(layers)) if use_dropout else [None] * len(layers)
        h = X
        for layer, k in zip(layers[:-1], keys):
            h = act(h @ layer["w"] + layer["b"])
            if use_dropout:
                keep = jax.random.bernoulli(k, 1.0 - dropout, h.shape)
                h = jnp.where(keep, h / (1.0 - dropout), 0.0)
        out = h @ layers[-1]["w"] + layers[-1]["b"]
        return out[:, 0] if n_outputs is None else out

    return Model(init, apply)

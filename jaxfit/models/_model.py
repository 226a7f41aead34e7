"""The `Model(init, apply)` pair and the generalized linear models."""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from .. import _compile, _programs
from .._validation import check_int, float_dtype

Params = Any  # a pytree of arrays: plain dicts, weights under "w", biases under "b"


class Model(NamedTuple):
    """A model as a pair of pure functions, like optax's `GradientTransformation`.

    Attributes:
      init: `init(key, n_features) -> params`, a dict pytree. Leaves named "w" are
        weights (penalised); leaves named "b" are biases (never penalised).
      apply: `apply(params, X, *, key=None, train=False) -> outputs`.
    """

    init: Callable[..., Params]
    apply: Callable[..., jax.Array]


# Cached: equal arguments give the same Model, so `fit` (which compiles once per model)
# does not recompile when a model is built afresh for each call.
@functools.lru_cache(maxsize=None)
def _glm(n_outputs: int | None) -> Model:
    shape = () if n_outputs is None else (n_outputs,)

    def init(key, n_features):
        del key  # convex models start at zero, as scikit-learn and glmnet do
        check_int(n_features, "n_features", minimum=1)
        return {"w": jnp.zeros((n_features, *shape), float_dtype()),
                "b": jnp.zeros(shape, float_dtype())}

    # One compiled program when called on concrete arrays (a prediction); traced
    # inline inside `fit` and other jits and vmaps.
    @_compile.jit(static_argnames="train")
    def apply(params, X, *, key=None, train=False):
        del key, train
        return X @ params["w"] + params["b"]

    return _programs.name(Model(init, apply), f"jaxfit.models._glm({n_outputs})")


def linear(n_outputs: int | None = None) -> Model:
    """Linear regression `X @ w + b`: outputs `[n]`, or `[n, n_outputs]` when given.

    Example:
      >>> model = linear()
      >>> params = model.init(jax.random.key(0), 3)
      >>> model.apply(params, jnp.ones((2, 3))).shape
      (2,)
    """
    if n_outputs is not None:
        check_int(n_outputs, "n_outputs", minimum=1)
    return _glm(n_outputs)


def logistic() -> Model:
    """Binary logistic regression: `apply` returns logits of shape `[n]`.

    Pair it with `losses.binary_cross_entropy`; `jax.nn.sigmoid` of the logits is the
    probability of class 1.
    """
    return _glm(None)


def softmax(n_classes: int) -> Model:
    """Multinomial (softmax) regression: `apply` returns logits of shape `[n, n_classes]`.

    Pair it with `losses.softmax_cross_entropy` and integer labels in `[0, n_classes)`.
    """
    check_int(n_classes, "n_classes", minimum=2)
    return _glm(n_classes)

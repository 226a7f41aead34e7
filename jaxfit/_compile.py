"""The XLA compiler options jaxfit compiles its programs with.

On CPU, XLA's newer fusion emitters spend about 40% more time generating code for
jaxfit's loops than the classic emitters, for the same run time (measured on the
W1 search program: 1.65 s against 2.5-2.8 s to compile, 0.27-0.34 s to run either
way), and compilation is most of what a first call waits for. So jaxfit's own
programs ask for the classic emitters on CPU; other backends get XLA's defaults.
An XLA that no longer knows the option is probed once and left to its defaults.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import numpy as np

_CPU_OPTIONS = {"xla_cpu_use_fusion_emitters": False}


@functools.cache
def options(platform: str) -> dict[str, Any] | None:
    """Compiler options for programs that run on `platform` ("cpu", "gpu", ...)."""
    if platform != "cpu":
        return None
    try:  # a trivial program tells whether this XLA accepts the options
        jax.jit(lambda x: x + 1, compiler_options=_CPU_OPTIONS).lower(np.float32(0)).compile()
    except Exception:  # noqa: BLE001 (any refusal means: use the defaults)
        return None
    return dict(_CPU_OPTIONS)


def jit(fun: Callable | None = None, **kwargs) -> Callable:
    """`jax.jit` with `options` for the default backend, chosen at the first call."""
    if fun is None:
        return functools.partial(jit, **kwargs)
    by_backend: dict[str, Callable] = {}

    @functools.wraps(fun)
    def call(*args, **kw):
        # Inside another trace this jit is inlined into the outer program, which cannot
        # take options from it (the outer program chooses them).
        traced = any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves((args, kw)))
        backend = None if traced else jax.default_backend()
        if backend not in by_backend:
            by_backend[backend] = jax.jit(
                fun, compiler_options=None if traced else options(backend), **kwargs)
        return by_backend[backend](*args, **kw)

    call._cache_size = lambda: sum(f._cache_size() for f in by_backend.values())  # for tests
    return call

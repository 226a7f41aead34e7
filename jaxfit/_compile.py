"""The XLA compiler options jaxfit compiles its programs with.

On CPU, XLA's newer fusion emitters spend about 40% more time generating code for
jaxfit's loops than the classic emitters, for the same run time (measured on the
W1 search program: 1.65 s against 2.5-2.8 s to compile, 0.27-0.34 s to run either
way), and compilation is most of what a first call waits for. So jaxfit's own
programs ask for the classic emitters on CPU. They also ask LLVM for its level-1
optimizations without the expensive passes: the time of jaxfit's programs goes to
matrix products and reductions in XLA's runtime libraries, not to the loops LLVM
compiles, so the first calls of the W1 search, k-means and PCA compiled 6%, 11% and
20% faster (medians of 8 fresh processes each) and ran as fast as before. Other
backends get XLA's defaults.
An XLA that no longer knows the option refuses it at the first compilation; from
then on programs compile with the defaults (no probe compilation up front: in a
fresh process that cost ~20 ms, a tenth of a cold PCA).
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax

_CPU_OPTIONS = {"xla_cpu_use_fusion_emitters": False, "xla_backend_optimization_level": 1,
                "xla_llvm_disable_expensive_passes": True}
_refused: set[str] = set()  # platforms whose XLA refused the options


def options(platform: str) -> dict[str, Any] | None:
    """Compiler options for programs that run on `platform` ("cpu", "gpu", ...)."""
    return dict(_CPU_OPTIONS) if platform == "cpu" and platform not in _refused else None


def _is_refusal(error: Exception) -> bool:
    return isinstance(error, jax.errors.JaxRuntimeError) and "compile option" in str(error)


def compile(lowered: jax.stages.Lowered, platform: str) -> jax.stages.Compiled:
    """`lowered.compile` with `options(platform)`, or XLA's defaults if it refuses them."""
    try:
        return lowered.compile(options(platform))
    except jax.errors.JaxRuntimeError as error:
        if not _is_refusal(error):
            raise
        _refused.add(platform)
        return lowered.compile()


def jit(fun: Callable | None = None, **kwargs) -> Callable:
    """`jax.jit` with `options` for the default backend, chosen at the first call;
    called with traced arguments, `fun` itself, traced into the caller's program."""
    if fun is None:
        return functools.partial(jit, **kwargs)
    by_backend: dict[str, Callable] = {}

    @functools.wraps(fun)
    def call(*args, **kw):
        # Inside another trace (a search's vmaps) the outer program chooses the options,
        # and `fun` is traced inline: a nested jit would be traced, then batched again
        # as a jaxpr, which cost a third of the W1 search's tracing time.
        if any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves((args, kw))):
            return fun(*args, **kw)
        backend = jax.default_backend()
        if backend not in by_backend:
            by_backend[backend] = jax.jit(fun, compiler_options=options(backend), **kwargs)
        try:
            return by_backend[backend](*args, **kw)
        except jax.errors.JaxRuntimeError as error:
            if not _is_refusal(error):
                raise
            _refused.add(backend)
            by_backend[backend] = jax.jit(fun, **kwargs)
            return by_backend[backend](*args, **kw)

    call._cache_size = lambda: sum(f._cache_size() for f in by_backend.values())  # for tests
    return call

"""The XLA compiler options jaxfit compiles its programs with.

On CPU, XLA's newer fusion emitters spend about 40% more time generating code than
the classic emitters (measured on the W1 search program: 1.65 s against 2.5-2.8 s to
compile), and for programs whose time goes to matrix products and reductions in XLA's
runtime libraries (the W1 search with `bound_cg`, k-means, PCA, the metrics) they run
no faster: there compilation is most of what a first call waits for, and jaxfit asks
for the classic emitters. Loops of many cheap steps are the other way round: `fit`
with an optax optimizer or one of jaxfit's iterative solvers spends its time in the
small fused kernels of each step, which the fusion emitters make 1.3-3.5x faster (W3's
MLP search 1.11 -> 0.82 s, a vmapped Adam search of logistic regression 0.28 -> 0.08 s;
0.05-0.2 s more to compile). Such functions are marked `runtime_first`, and a program
they are traced into (`search`'s) compiles the same way; called on their own, they may
decide per call (`fit` does by the work it expects: a short loop, such as the README's
quickstart, compiled 0.1 s faster the classic way and ran about as fast).

Both ask LLVM for its level-1 optimizations without the expensive passes: the first
calls of the W1 search, k-means and PCA compiled 6%, 11% and 20% faster (medians of 8
fresh processes each) and ran as fast as before; the Adam loops above ran as fast as
with XLA's defaults. Both split the LLVM work into as many parts as there are cores
(below). Other backends get XLA's defaults.
An XLA that no longer knows an option refuses it at the first compilation; from then
on programs compile with the defaults (no probe compilation up front: in a fresh
process that cost ~20 ms, a tenth of a cold PCA).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
from typing import Any, Callable

import jax

from . import _programs


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# LLVM compiles a program's kernels in this many parts in parallel; XLA's default, 32,
# is for large machines: on 2 cores, 2 parts compiled the first calls of the W1 search,
# k-means and PCA 5-10% faster (medians of 6-8 fresh processes, alternating).
_CPU_OPTIONS = {"xla_cpu_use_fusion_emitters": False, "xla_backend_optimization_level": 1,
                "xla_llvm_disable_expensive_passes": True,
                "xla_cpu_parallel_codegen_split_count": min(32, _cores())}
_CPU_RUNTIME_FIRST = {**_CPU_OPTIONS, "xla_cpu_use_fusion_emitters": True}
_refused: set[str] = set()  # platforms whose XLA refused the options
# While `tracing_notes()` is active: whether a `runtime_first` function was traced.
_notes: contextvars.ContextVar[list | None] = contextvars.ContextVar("jaxfit_compile_notes",
                                                                     default=None)


def options(platform: str, runtime_first: bool = False) -> dict[str, Any] | None:
    """Compiler options for programs that run on `platform` ("cpu", "gpu", ...)."""
    if platform != "cpu" or platform in _refused:
        return None
    return dict(_CPU_RUNTIME_FIRST if runtime_first else _CPU_OPTIONS)


@contextlib.contextmanager
def tracing_notes():
    """Yields a list that gains an entry for each `runtime_first` function traced
    inside the block (into an enclosing program)."""
    notes: list = []
    token = _notes.set(notes)
    try:
        yield notes
    finally:
        _notes.reset(token)


def _is_refusal(error: Exception) -> bool:
    return isinstance(error, jax.errors.JaxRuntimeError) and "compile option" in str(error)


def compile(lowered: jax.stages.Lowered, platform: str,
            runtime_first: bool = False) -> jax.stages.Compiled:
    """`lowered.compile` with `options(platform, runtime_first)`, or XLA's defaults if
    it refuses them."""
    try:
        return lowered.compile(options(platform, runtime_first))
    except jax.errors.JaxRuntimeError as error:
        if not _is_refusal(error):
            raise
        _refused.add(platform)
        return lowered.compile()


def jit(fun: Callable | None = None, *, runtime_first: bool | Callable[..., bool] = False,
        persist: bool = False, **kwargs) -> Callable:
    """`jax.jit` with `options` for the default backend, chosen at the first call;
    called with traced arguments, `fun` itself, traced into the caller's program
    (which `tracing_notes` tells that `fun` is `runtime_first`). A callable
    `runtime_first` decides from each call's arguments. With `persist`, the traced
    program is kept across processes while JAX's persistent cache is on (`_programs`):
    for programs that take milliseconds or more, as each call describes its arguments."""
    if fun is None:
        return functools.partial(jit, runtime_first=runtime_first, persist=persist, **kwargs)
    by_backend: dict[str, Callable] = {}
    static_argnums = _as_tuple(kwargs.get("static_argnums", ()))
    static_argnames = _as_tuple(kwargs.get("static_argnames", ()))

    @functools.wraps(fun)
    def call(*args, **kw):
        # Inside another trace (a search's vmaps) the outer program chooses the options,
        # and `fun` is traced inline: a nested jit would be traced, then batched again
        # as a jaxpr, which cost a third of the W1 search's tracing time.
        if any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves((args, kw))):
            notes = _notes.get()
            if runtime_first and notes is not None:  # a program of many calls' work
                notes.append(fun.__qualname__)
            return fun(*args, **kw)
        which = (jax.default_backend(),
                 bool(runtime_first(*args, **kw) if callable(runtime_first) else runtime_first))
        if which not in by_backend:
            by_backend[which] = jax.jit(fun, compiler_options=options(*which), **kwargs)
        try:
            if persist:
                result = _programs.call(fun, args, kw, static_argnums, static_argnames, options(*which))
                if result is not NotImplemented:
                    return result
            return by_backend[which](*args, **kw)
        except jax.errors.JaxRuntimeError as error:
            if not _is_refusal(error):
                raise
            _refused.add(which[0])
            by_backend[which] = jax.jit(fun, **kwargs)
            return call(*args, **kw)

    call._cache_size = lambda: sum(f._cache_size() for f in by_backend.values())  # for tests
    return call


def _as_tuple(x) -> tuple:
    return (x,) if isinstance(x, (int, str)) else tuple(x)

"""jaxfit's own programs kept across processes, traced and lowered, beside JAX's
persistent compilation cache.

JAX's persistent cache spares a new process XLA's compilation, but every process
still traces its programs from Python and lowers them to StableHLO before it can look
the executable up: for W2's lasso paths that was 0.13 s of a 0.25 s first call with
the cache warm (0.18 s with this), and as much again for k-means. While that cache
is on (`jax_compilation_cache_dir` set), the functions jaxfit compiles with
`persist=True` (`_compile.jit`: regularization paths and their strength grid,
k-means, PCA, `bound_cg`'s loop, `ridge_loo`) are also kept as `jax.export`
serializations (flatbuffers, never pickle) in `<cache dir>/jaxfit-programs/`; a later
call with the same versions, configuration, static arguments and argument shapes
calls the stored program instead of tracing it. Files are written atomically; the
folder may be deleted at any time.

Storing costs the first process a little: `jax.export` serializes a portable module
(about 0.1 s to trace, lower and serialize k-means, as much as tracing and lowering
it for `jit`), and the stored module is lowered once more around its call (~10 ms).
Portable modules spell out some operations the `jit` lowering leaves to XLA (top-k
becomes a sort), so k-means' program compiles ~5% slower: its first process took
0.03 s more (median of 8 paired fresh processes) for 0.1 s less in every later one.

A program is stored only when everything that shaped it has a description that is
the same in every process: plain static values, jaxfit's module-level functions, the
models of jaxfit's factories (`name`) and the pytrees built from those. A user's
function, a closure, or arrays placed anywhere but the default device take the
ordinary path (traced in every process), as does any program `jax.export` cannot
serialize.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import sys
import types
from typing import Any, Callable

import jax
import numpy as np

from ._atomic import write_atomically

_FOLDER = "jaxfit-programs"
_TRUSTED = {"builtins", "collections", "jax", "jaxlib", "jaxfit", "numpy", "optax"}
_names: dict[int, tuple[Any, str]] = {}     # id -> (object, its description)
_loaded: dict[str, Callable | None] = {}    # key -> jitted stored program (None: not kept)
_serializable: list[type] = []              # result NamedTuples, registered lazily
_registered: set[type] = set()
counts = {"stored": 0, "loaded": 0}         # for tests
_log = logging.getLogger(__name__)


class Unstable(Exception):
    """Something that shaped the program has no description stable across processes."""


def name(obj, description: str):
    """Give `obj` (made by a jaxfit factory, kept alive by it) a stable description."""
    _names[id(obj)] = (obj, description)
    return obj


def serializable(cls: type) -> type:
    """Class decorator: a NamedTuple that persisted programs may return."""
    _serializable.append(cls)
    return cls


def _type_name(kind: type) -> str:
    if kind.__module__.split(".")[0] not in _TRUSTED:
        raise Unstable(kind)
    return f"{kind.__module__}.{kind.__qualname__}"


def _function_name(fun: types.FunctionType) -> str:
    # A module-level function of jaxfit is named by where it lives (its code is in the
    # source hash); closures and everything else's functions have no such name.
    target: Any = sys.modules.get(fun.__module__)
    for part in fun.__qualname__.split("."):
        target = getattr(target, part, None)
    if fun.__module__.split(".")[0] != "jaxfit" or fun.__closure__ or target is not fun:
        raise Unstable(fun)
    return f"{fun.__module__}.{fun.__qualname__}"


def describe(x) -> str:
    """A description of a static value equal in every process, or `Unstable`."""
    entry = _names.get(id(x))
    if entry is not None and entry[0] is x:
        return f"<{entry[1]}>"
    if x is None or isinstance(x, (bool, int, float, complex, str, bytes, np.dtype)):
        return f"{type(x).__name__}:{x!r}"
    if isinstance(x, (tuple, list)):
        return f"{_type_name(type(x))}({','.join(map(describe, x))})"
    if isinstance(x, dict):
        return f"dict({','.join(sorted(describe(k) + ':' + describe(v) for k, v in x.items()))})"
    if isinstance(x, type):
        return _type_name(x)
    if isinstance(x, types.FunctionType):
        return _function_name(x)
    raise Unstable(x)


def _describe_tree(treedef) -> str:
    node = treedef.node_data()
    if node is None:
        return "*"
    kind, aux = node
    children = ",".join(_describe_tree(child) for child in treedef.children())
    return f"{_type_name(kind)}[{describe(aux)}]({children})"


def _describe_leaf(leaf, device) -> str:
    if isinstance(leaf, jax.Array) and leaf.sharding.device_set != {device}:
        raise Unstable(leaf.sharding)
    if not isinstance(leaf, (jax.Array, np.ndarray, np.generic, bool, int, float, complex)):
        raise Unstable(leaf)  # not an array: the ordinary jit reports it
    return repr(jax.typeof(leaf))


@functools.lru_cache(maxsize=None)
def _versions() -> str:
    """Versions, the device, and a hash of jaxfit's own source (an edited checkout
    keeps its version number)."""
    import jaxlib
    import optax

    root = os.path.dirname(os.path.abspath(__file__))
    source = hashlib.sha256()
    for folder, _, files in sorted(os.walk(root)):
        for file in sorted(files):
            if file.endswith(".py"):
                path = os.path.join(folder, file)
                source.update(os.path.relpath(path, root).encode())
                with open(path, "rb") as f:
                    source.update(f.read())
    device = jax.devices()[0]
    return (f"jax {jax.__version__} jaxlib {jaxlib.__version__} optax {optax.__version__} "
            f"numpy {np.__version__} python {sys.version_info[:2]} {device.platform} "
            f"{device.device_kind} jaxfit {source.hexdigest()}")


def _configuration() -> str:
    # Every flag: any of them may change what tracing makes (x64, matmul precision,
    # the PRNG, ...), and a flag that does not merely split the files.
    return repr(sorted((key, repr(value)) for key, value in jax.config.values.items()
                       if key != "jax_compilation_cache_dir"))


def _folder() -> str | None:
    """Where programs are stored, or None while JAX's persistent cache is off (or this
    JAX predates what storing needs)."""
    path = jax.config.jax_compilation_cache_dir
    if (not path or "://" in path or not jax.config.jax_enable_compilation_cache
            or not hasattr(jax, "typeof") or not hasattr(jax.export, "register_namedtuple_serialization")):
        return None
    return os.path.join(path, _FOLDER)


def _register_results() -> None:
    for cls in _serializable:
        if cls not in _registered:
            jax.export.register_namedtuple_serialization(
                cls, serialized_name=f"{cls.__module__}.{cls.__qualname__}")
            _registered.add(cls)


def _load(path: str, compiler_options) -> Callable | None:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    try:
        _register_results()
        exported = jax.export.deserialize(bytearray(data))
    except Exception as error:  # damaged, or from an incompatible JAX: store it afresh
        _log.debug("jaxfit: stored program %s unreadable (%s)", path, error)
        return None
    counts["loaded"] += 1
    return jax.jit(exported.call, compiler_options=compiler_options)


def _store(path: str, fun: Callable, treedef, leaves, compiler_options) -> Callable | None:
    try:
        _register_results()
        exported = jax.export.export(jax.jit(lambda *leaves: fun(*treedef.unflatten(leaves))))(*leaves)
        data = exported.serialize()
    except Exception as error:  # e.g. a host callback or an unregistered result type
        _log.debug("jaxfit: %s not stored (%s)", fun, error)
        return None
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_atomically(path, lambda f: f.write(data))
        counts["stored"] += 1
    except OSError as error:  # a read-only cache: the program still runs
        _log.debug("jaxfit: could not write %s (%s)", path, error)
    return jax.jit(exported.call, compiler_options=compiler_options)


def call(fun: Callable, args: tuple, kwargs: dict, static_argnums: tuple[int, ...],
         static_argnames: tuple[str, ...], compiler_options) -> Any:
    """`fun(*args, **kwargs)` through a stored program (read, or traced and written),
    or `NotImplemented` where the program is not kept (see the module docstring)."""
    folder = _folder()
    if folder is None:
        return NotImplemented
    fixed = {i: args[i] for i in static_argnums if i < len(args)}
    named_fixed = {k: v for k, v in kwargs.items() if k in static_argnames}
    dynamic = ([a for i, a in enumerate(args) if i not in fixed],
               {k: v for k, v in kwargs.items() if k not in named_fixed})
    leaves, treedef = jax.tree_util.tree_flatten(dynamic)
    try:
        device = jax.devices()[0]
        key = hashlib.sha256("\n".join([
            _versions(), _configuration(), repr(compiler_options), f"{fun.__module__}.{fun.__qualname__}",
            describe((sorted(fixed.items()), sorted(named_fixed.items()))), _describe_tree(treedef),
            ",".join(_describe_leaf(leaf, device) for leaf in leaves)]).encode()).hexdigest()
    except Unstable:
        return NotImplemented
    if key not in _loaded:
        def whole(positional, named):  # the arguments again, from the dynamic ones
            rest = iter(positional)
            merged = [fixed[i] if i in fixed else next(rest) for i in range(len(args))]
            return fun(*merged, **named, **named_fixed)

        path = os.path.join(folder, key + ".jaxexport")
        _loaded[key] = _load(path, compiler_options) or _store(path, whole, treedef, leaves, compiler_options)
    program = _loaded[key]
    return NotImplemented if program is None else program(*leaves)

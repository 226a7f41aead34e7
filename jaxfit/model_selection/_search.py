"""`search`: every configuration × every fold in one compiled, sharded, chunked program.

The vmaps are nested with folds outside and configurations inside, so data shared by
the configurations of a fold (`X`, the fold's masks, its key) stays unbatched: for a
linear model the products of all configurations with `X` become one wide matrix
product instead of one copy of `X` per configuration (a flat vmap over per-config
copies measured 5.7× slower). The configuration axis is cut into chunks that bound
memory, each chunk is sharded across devices, and each finished chunk can be
checkpointed.
"""

from __future__ import annotations

import itertools
import json
import math
import numbers
import re
import time
from collections import OrderedDict
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from .. import _compile, _progress
from .._validation import check_int, check_key, float_dtype
from ._checkpoint import Checkpoint, array_digest, describe_fingerprint
from ._cv import _frozen, check_callables, check_data, evaluate, fold_keys, status_names
from ._result import SearchResult
from ._space import check_space
from ._split import Folds, check_folds

MEMORY_BUDGET = 1 << 30  # bytes per chunk when `chunk_size` is None


def _static_combinations(static: Any, space: dict) -> list[dict]:
    if static is None:
        return [{}]
    if not isinstance(static, dict):
        raise TypeError(f"`static` must be a dict of name -> list of values, such as "
                        f"{{'hidden': [(32,), (64,)]}}; got {type(static).__name__}.")
    for name, values in static.items():
        if not isinstance(name, str):
            raise TypeError(f"`static` keys must be hyperparameter names (str); got {name!r}.")
        if name in space:
            raise ValueError(f"`static` and `space` both define {name!r}; a hyperparameter is "
                             f"either traced (space) or static, not both.")
        if not isinstance(values, (list, tuple)) or not values:
            raise TypeError(f"`static['{name}']` must be a non-empty list of values to try; got "
                            f"{values!r}. Wrap a single value in a list: [{values!r}].")
    return [dict(zip(static, combo)) for combo in itertools.product(*static.values())]


def _check_devices(devices) -> list:
    if devices is None:
        return list(jax.devices())
    devices = list(devices) if isinstance(devices, (list, tuple)) else devices
    if not isinstance(devices, list) or not devices or not all(
            isinstance(d, jax.Device) for d in devices):
        raise TypeError(f"`devices` must be a non-empty list of jax.Device, such as "
                        f"jax.devices(); got {devices!r:.100}.")
    if len(set(devices)) != len(devices):
        raise ValueError(f"`devices` lists a device more than once: {devices!r:.200}. Give "
                         f"each device once, e.g. jax.devices().")
    return devices


def _config_table(space: dict, combos: list[dict], n_space: int) -> dict[str, np.ndarray]:
    """`{name: [S·G]}`: static combinations outer, the space's configurations inner."""
    table = {name: np.tile(values, (len(combos),) + (1,) * (values.ndim - 1))
             for name, values in space.items()}
    for name in combos[0]:
        values = [combo[name] for combo in combos for _ in range(n_space)]
        if all(isinstance(v, numbers.Number) and not isinstance(v, bool) for v in values):
            table[name] = np.asarray(values)
        else:
            table[name] = np.empty(len(values), object)
            table[name][:] = values
    return table


def _put(x: np.ndarray, sharding) -> jax.Array:
    # make_array_from_callback also builds global arrays under jax.distributed: each
    # process fills only the shards its devices hold.
    return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])


def _program(train_fn, score_fn, combo: dict, width: int, key_impl, n_splits: int):
    """The evaluation of `width` configurations × all folds, as one function to jit."""

    def run(cfg, X, y, train, test, key_data):
        keys = fold_keys(jax.random.wrap_key_data(key_data, impl=key_impl), n_splits)

        def one(c, tr, te, k):
            score, code, n_steps, _ = evaluate(train_fn, score_fn, {**combo, **c}, X, y, tr, te, k)
            return score, code, n_steps

        per_config = jax.vmap(one, in_axes=(0, None, None, None), axis_size=width)
        out = jax.vmap(per_config, in_axes=(None, 0, 0, 0))(cfg, train, test, keys)
        return tuple(o.T for o in out)  # [k, C] -> [C, k]

    return run


# Compiled programs, kept across `search` calls (least recently used dropped first) so a
# repeated search with the same functions, static values and shapes does not compile.
_COMPILED: OrderedDict = OrderedDict()
_MAX_COMPILED = 16


class _Programs:
    """The compiled programs of one search, one per (static combination, width).

    With `progress`, the fit loops they contain report their steps (see
    `jaxfit._progress`); such programs are cached apart from those without.
    """

    def __init__(self, train_fn, score_fn, key_impl, mesh: Mesh, n_splits: int, cfg_spec: dict,
                 shared: list, progress: bool):
        self.train_fn, self.score_fn, self.key_impl, self.mesh = train_fn, score_fn, key_impl, mesh
        self.n_splits, self.cfg_spec, self.shared = n_splits, cfg_spec, shared
        self.progress = progress
        self.seconds = 0.0
        self.unhashable: dict = {}  # programs for static values without a hash, this search only

    def get(self, combo: dict, width: int):
        """The program for static values `combo` and `width` configurations."""
        shapes = tuple((a.shape, a.dtype) for a in self.shared if a is not None)
        try:
            key = (self.train_fn, self.score_fn, _frozen(combo), width, str(self.key_impl),
                   tuple(self.mesh.devices.flat), tuple(self.cfg_spec.items()), shapes,
                   self.progress)
            hash(key)
            cache = _COMPILED
        except TypeError:  # `combo` lives as long as the search, and so does its id
            key, cache = (id(combo), width), self.unhashable
        if key in cache:
            if cache is _COMPILED:
                _COMPILED.move_to_end(key)
            return cache[key]
        t0 = time.perf_counter()
        replicated = NamedSharding(self.mesh, PartitionSpec())
        sharded = NamedSharding(self.mesh, PartitionSpec("configs"))
        cfg = {n: jax.ShapeDtypeStruct((width, *shape), dtype, sharding=sharded)
               for n, (shape, dtype) in self.cfg_spec.items()}
        run = _program(self.train_fn, self.score_fn, combo, width, self.key_impl, self.n_splits)
        with _progress.tracing(self.progress), _compile.tracing_notes() as fit_loops:
            lowered = jax.jit(run, in_shardings=(sharded,) + (replicated,) * 5,
                              out_shardings=replicated).lower(cfg, *self.shared)
        # A `fit` loop of many cheap steps inside: compiled for run time (see _compile).
        compiled = _compile.compile(lowered, self.mesh.devices.flat[0].platform, bool(fit_loops))
        self.seconds += time.perf_counter() - t0
        cache[key] = compiled
        if len(_COMPILED) > _MAX_COMPILED:
            _COMPILED.popitem(last=False)
        return compiled

    def chunk_size(self, combos: list[dict], n_space: int, n_dev: int) -> int:
        """Configurations per chunk so that each device's working memory stays within
        `MEMORY_BUDGET`, from XLA's own account of the compiled program's buffers."""
        width = _width(n_space, n_dev)
        per_config = 0.0
        for combo in combos:
            stats = self.get(combo, width).memory_analysis()
            if stats is not None:
                per_device = stats.temp_size_in_bytes + stats.output_size_in_bytes
                per_config = max(per_config, per_device * n_dev / width)
        if per_config * width / n_dev <= MEMORY_BUDGET:
            return n_space
        size = int(MEMORY_BUDGET * n_dev // per_config)
        # Every call runs at least 2 lanes per device (`_width`): fill them with work,
        # but name no more configurations than there are, as an explicit chunk_size does
        # (else a checkpoint refuses chunk_size=n_space, the same single chunk).
        return min(max(size - size % n_dev, 2 * n_dev), n_space)


def _describe_static(value: Any) -> str:
    """A static value's repr, made the same in every process and distinct for distinct
    values: arrays by their bytes (NumPy's repr elides long ones) and functions by their
    qualified name (their repr holds a memory address), inside lists, tuples and dicts too.
    A lambda, or a function made inside another or holding a closure, is not told apart
    from its siblings by its name (`make_scale(1.0)` and `make_scale(10.0)`): its repr,
    with its address, marks it for `fingerprint`."""
    if isinstance(value, (np.ndarray, jax.Array)):
        return f"array {array_digest(value)}"
    if type(value) in (list, tuple):
        items = ", ".join(map(_describe_static, value))
        return f"[{items}]" if type(value) is list else f"({items}{',' * (len(value) == 1)})"
    if type(value) is dict:
        return "{" + ", ".join(f"{k!r}: {_describe_static(v)}" for k, v in value.items()) + "}"
    if callable(value) and hasattr(value, "__qualname__"):
        named = not ({"<lambda>", "<locals>"} & set(value.__qualname__.split("."))
                     or getattr(value, "__closure__", None))
        return f"{getattr(value, '__module__', '')}.{value.__qualname__}" if named else repr(value)
    return repr(value)


# A memory address in a repr ("<function f at 0x7f...>"): it differs in every process.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _describe_combos(combos: list[dict], user: str | None) -> str:
    """The static values as text the same in every process. Values that only a repr
    with memory addresses describes (optax transforms, closures) are kept without the
    addresses, which cannot tell two of them apart: `fingerprint` must then do it."""
    described = [{k: _describe_static(v) for k, v in c.items()} for c in combos]
    unstable = sorted({k for c in described for k, text in c.items() if _ADDRESS.search(text)})
    if unstable and user is None:
        name = unstable[0]
        example = next(c[name] for c in described if _ADDRESS.search(c[name]))
        raise ValueError(f"`static` values of {unstable} have no description that a resumed "
                         f"search could recognise: their repr holds memory addresses, which "
                         f"change every run (e.g. {example:.120}), so a `checkpoint` of them "
                         f"could never be resumed. Pass `fingerprint=` describing them, e.g. "
                         f"fingerprint={{'{name}': ['adam(0.1)', 'sgd(0.01)']}}, or make them "
                         f"names or numbers that train_fn turns into objects.")
    return json.dumps([{k: _ADDRESS.sub("", t) for k, t in c.items()} for c in described],
                      sort_keys=True)


def _fingerprint(train_fn, score_fn, X, y, space, combos, folds, key_data,
                 user: str | None) -> dict[str, str]:
    name = lambda fn: f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', type(fn).__name__)}"
    # Only present when given (or not the default), so folders written without them
    # still resume.
    extra = {} if user is None else {"fingerprint": user}
    if np.dtype(float_dtype()) != np.float32:  # traced hyperparameters in float64 (x64)
        extra["hyperparameter_dtype"] = np.dtype(float_dtype()).name
    return extra | {
        "space": f"{sorted(space)} {array_digest(*(space[n] for n in sorted(space)))}",
        "static": _describe_combos(combos, user),
        "folds": array_digest(folds.train, folds.test),
        "data_shape": f"X {tuple(X.shape)} {X.dtype}, y {None if y is None else tuple(y.shape)}",
        "data": array_digest(X, y),
        "key": array_digest(key_data),
        "functions": f"{name(train_fn)} {name(score_fn)}",
    }


def search(train_fn: Callable, score_fn: Callable, X, y, space: dict, folds: Folds, *,
           key=None, static: dict | None = None, chunk_size: int | None = None,
           devices=None, checkpoint=None, progress: bool = False,
           fingerprint: Any = None) -> SearchResult:
    """Cross-validate every configuration of `space` as one compiled program.

    Traced hyperparameters (the arrays of `space`) are vmapped over configurations ×
    folds and compile once for all their values; each combination of `static` values
    (passed into the config as Python values) compiles its own program. Configurations
    run in chunks of `chunk_size`, each sharded across `devices`. A fit that diverges
    scores NaN, is ranked last and is never chosen as best; it does not disturb the
    other configurations. Fold i trains every configuration with the key
    `fold_in(key, i)`, so configurations share initialisations and mini-batch draws.

    Compiling costs seconds; JAX's persistent cache keeps programs across processes:
    `jax.config.update("jax_compilation_cache_dir", "/path/to/cache")`.

    Args:
      train_fn: `train_fn(config, X, y, sample_weight, key) -> params | FitResult`
        (see `cross_validate`); `make_fit_fns` builds one from a model.
      score_fn: `score_fn(params, X, y, sample_weight) -> scalar`, higher is better.
      X: `[n, d]` features, shared (never copied per configuration).
      y: `[n]` targets, or None.
      space: `{name: array [G]}` of traced hyperparameters, e.g. from `grid` or
        `random_search_space`; `{}` for a search over `static` values only.
      folds: `Folds(train, test)` from a splitter.
      key: `jax.random.key` (default key 0); `refit` trains with `key` itself.
      static: `{name: [values]}` of hyperparameters that change shapes or code (layer
        sizes, batch size, step count); their cartesian product is searched.
      chunk_size: configurations per compiled call. Default: as many as fit a 1 GiB
        estimate (from the shapes of X, the folds and the parameters), a multiple of
        the number of devices. Results do not depend on it beyond rounding: XLA may
        pick other matrix kernels and reduction orders for another number of
        configurations per device, which changes the last bits of the fits (scores
        differ by about one float32 ulp), and chaotic fits (large learning rates)
        amplify that.
      devices: devices to shard configurations over (default `jax.devices()`); each
        chunk is padded to a multiple of their number, and to at least 2 configurations
        per device (a configuration axis of size 1 compiles to other arithmetic), with
        copies of a configuration whose results are dropped. As for `chunk_size`,
        results equal the one-device run up to rounding.
      checkpoint: a folder; each finished chunk is saved there atomically, and calling
        `search` again with the same arguments resumes, recomputing only unfinished
        chunks. A folder written by a different search is refused: one whose `space`,
        `static` values, `folds`, data (`X`, `y`: shapes and bytes), `key`,
        `fingerprint`, `jax_enable_x64` (the hyperparameters' dtype), or
        `train_fn`/`score_fn` *names* differ, or an explicit `chunk_size` that splits
        the configurations differently (any size from their number up is one chunk).
        A new folder belongs to the first search to write its manifest: one started
        on it at the same time with other arguments is refused. Static values known
        only by a repr holding memory addresses (optax transforms, lambdas, closures)
        need `fingerprint` to describe them. Not detected: what the functions compute,
        that is the values their closures or globals capture (`steps`, the optimizer,
        the model given to `make_fit_fns`) and edits to their code, nor library
        versions; pass `fingerprint` to cover those.
      progress: show tqdm progress bars: one over chunks and, below it, the steps of
        the running chunk's fits (those of `jaxfit.fit`, which report from inside the
        compiled loop through `jax.debug.callback`, about a hundred times per fit; the
        slowest configuration × fold counts, and a stopped one counts as done). A
        `train_fn` that does not call `fit` shows only the chunk bar. Results are
        identical with and without progress, but the programs differ, so switching
        it compiles once more.
      fingerprint: a description of whatever the results depend on that the
        checkpoint cannot see, mixed into its fingerprint so that resuming with a
        different one is refused: a str, or a JSON-able value (numbers, str, bool,
        None, lists and dicts with str keys, NumPy arrays), such as
        `{"steps": 500, "optimizer": "adam"}` for the settings the closures capture.
        Key order does not matter, nor tuple against list. A folder written with a
        fingerprint refuses a search without one, and the other way round.

    Returns:
      A `SearchResult` (rows: static combinations outer, the space's configurations
      inner).

    Example:
      >>> from jaxfit import models, penalties, solvers
      >>> from jaxfit.model_selection import grid, make_fit_fns, stratified_kfold
      >>> data = jaxfit.data.load_example("breast_cancer")
      >>> X, y = data.X, data.y
      >>> train_fn, score_fn, _ = make_fit_fns(  # bound_cg: no line search under vmap
      ...     models.logistic(), "binary_cross_entropy", optimizer=solvers.bound_cg(),
      ...     penalty=lambda c: penalties.l2(c["alpha"]), steps=100, tol=1e-6,
      ...     standardize=True)
      >>> result = search(train_fn, score_fn, X, y, grid(alpha=np.logspace(-4, 0, 20)),
      ...                 stratified_kfold(y, 5))
      >>> result.scores.shape  # 20 configurations x 5 folds
      (20, 5)
      >>> result.best_config
      {'alpha': ...}
      >>> table = result.to_pandas()  # one row per configuration, like cv_results_
      >>> list(table.columns)
      ['params', 'param_alpha', 'mean_test_score', 'std_test_score', 'rank_test_score', ...]
    """
    check_callables(train_fn, score_fn)
    X, y = check_data(X, y, train_fn)
    folds = check_folds(folds, X.shape[0])
    space, n_space = check_space(space)
    device_space = {n: v.astype(np.dtype(float_dtype())) if v.dtype.kind == "f" else v
                    for n, v in space.items()}
    combos = _static_combinations(static, space)
    key = check_key(key)
    chunk_size = check_int(chunk_size, "chunk_size", minimum=1, allow_none=True)
    if chunk_size is not None:  # any size from n_space up is one chunk, and a checkpoint says so
        chunk_size = min(chunk_size, n_space)
    devices = _check_devices(devices)
    if not isinstance(progress, bool):
        raise TypeError(f"`progress` must be True or False; got {progress!r}.")
    user_fingerprint = describe_fingerprint(fingerprint)
    n_splits, n_dev = folds.n_splits, len(devices)

    mesh = Mesh(np.asarray(devices), ("configs",))
    replicated = NamedSharding(mesh, PartitionSpec())
    sharded = NamedSharding(mesh, PartitionSpec("configs"))
    key_data = np.asarray(jax.random.key_data(key))
    shared = [None if a is None else _put(np.asarray(a), replicated)
              for a in (X, y, folds.train, folds.test, key_data)]
    programs = _Programs(train_fn, score_fn, jax.random.key_impl(key), mesh, n_splits,
                         {n: (v.shape[1:], v.dtype) for n, v in device_space.items()}, shared,
                         progress)
    default_chunk_size = lambda: programs.chunk_size(combos, n_space, n_dev)

    ckpt = None
    if checkpoint is not None:
        ckpt = Checkpoint(checkpoint, _fingerprint(train_fn, score_fn, X, y, space, combos,
                                                   folds, key_data, user_fingerprint),
                          chunk_size, default_chunk_size)
        chunk_size = ckpt.chunk_size
    elif chunk_size is None:
        chunk_size = default_chunk_size()
    width = _width(chunk_size, n_dev)

    n_total = len(combos) * n_space
    scores = np.empty((n_total, n_splits), np.dtype(X.dtype))
    codes = np.empty((n_total, n_splits), np.int8)
    n_steps = np.empty((n_total, n_splits), np.int32)
    n_chunks = math.ceil(n_space / chunk_size)
    run_seconds = 0.0
    computed = 0
    bar = _progress.SearchBar(len(combos) * n_chunks) if progress else _progress.NoBar()
    for s, combo in enumerate(combos):
        for c in range(n_chunks):
            start, stop = c * chunk_size, min(n_space, (c + 1) * chunk_size)
            name = f"chunk-{s:04d}-{c:06d}"
            expected = {k: (stop - start, n_splits) for k in ("scores", "status", "n_steps")}
            done = ckpt.load(name, expected) if ckpt is not None else None
            if done is None:
                cfg = {n: _put(_pad(v[start:stop], width), sharded) for n, v in device_space.items()}
                compiled = programs.get(combo, width)
                t0 = time.perf_counter()
                out = [o[: stop - start] for o in bar.run(compiled, cfg, *shared)]
                run_seconds += time.perf_counter() - t0
                done = dict(zip(("scores", "status", "n_steps"), out))
                if ckpt is not None:
                    ckpt.save(name, done)
                computed += 1
            rows = slice(s * n_space + start, s * n_space + stop)
            scores[rows], codes[rows], n_steps[rows] = done["scores"], done["status"], done["n_steps"]
            bar.chunk_done()
    bar.close()

    return SearchResult(
        configs=_config_table(space, combos, n_space), scores=scores,
        status=status_names(codes), n_steps=n_steps,
        timings={"compile": programs.seconds, "run": run_seconds},
        chunks={"computed": computed, "resumed": 0 if ckpt is None else ckpt.loaded,
                "chunk_size": chunk_size, "n_devices": n_dev},
        _refit=_make_refit(train_fn, device_space, combos, key))


def _width(chunk_size: int, n_dev: int) -> int:
    """Lanes of the compiled call for chunks of `chunk_size` configurations: padded so
    every device gets equal lanes, and at least 2 each. A configuration axis of size 1
    is degenerate: XLA drops it and emits other fusions and summation orders, whose
    results differ from every wider chunk's in the last bits."""
    return max(2, math.ceil(chunk_size / n_dev)) * n_dev


def _pad(values: np.ndarray, width: int) -> np.ndarray:
    """Pad the configuration axis to `width` with copies of the first configuration."""
    extra = width - values.shape[0]
    return np.concatenate([values, np.repeat(values[:1], extra, axis=0)]) if extra else values


def _make_refit(train_fn, space: dict, combos: list[dict], key):
    traced_names, static_names = list(space), list(combos[0])
    programs = {}  # one per static values: a second refit reuses the compiled program

    def program(fixed):
        return jax.jit(lambda t, X, y, w, k: train_fn({**fixed, **t}, X, y, w, k))

    def refit(config: dict, X, y):
        X, y = check_data(X, y, train_fn)
        traced = {n: jnp.asarray(config[n], dtype=space[n].dtype) for n in traced_names}
        fixed = {n: config[n] for n in static_names}
        try:
            name = _frozen(fixed)
            if name not in programs:  # TypeError when a static value cannot be hashed
                programs[name] = program(fixed)
            run = programs[name]
        except TypeError:  # compiled for this call only, not kept
            run = program(fixed)
        return run(traced, X, y, jnp.ones(X.shape[0], X.dtype), key)

    return refit

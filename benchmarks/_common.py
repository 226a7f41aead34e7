"""What every benchmark shares: timing, medians, the matmul peak, the machine, and the
first call of jaxfit's programs in fresh processes (with the persistent compilation
cache empty, then warm).

Fresh-process protocol: a workload module that defines
`jaxfit_calls(quick: bool) -> dict[str, Callable[[], Any]]` (names to zero-argument
functions, each running one of jaxfit's programs to completion on data the function
built beforehand) can have its first calls timed in new Python processes by
`compile_in_two_processes(module_name, quick, cache_root)`: the first process starts
with an empty persistent compilation cache and fills it, the second reads it. Each
process times every call twice, cold then warm, so `cold - warm` is that process's
compilation (tracing, lowering, XLA) without the run itself.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

REPO = Path(__file__).resolve().parents[1]
# Idle time before each timed call, so that one library's thread pools, still spinning
# after their last job (XLA's, OpenBLAS's, OpenMP's), do not take the cores from the
# next library's timed call.
PAUSE_S = 0.2


def timed(fn: Callable[[], Any], pause: float = PAUSE_S) -> tuple[float, Any]:
    """Wall seconds of `fn()` (JAX results waited for) and its output."""
    if pause:
        time.sleep(pause)
    start = time.perf_counter()
    out = jax.block_until_ready(fn())
    return time.perf_counter() - start, out


def median(values) -> float:
    return float(statistics.median(values))


def alternate(fns: dict[str, Callable[[], Any]], repeats: int = 3, *, warm_up: bool = True,
              warm_ups: dict[str, Callable[[], Any]] | None = None,
              pause: float = PAUSE_S) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """Time several competitors side by side: each runs once untimed (warm-up), then
    `repeats` rounds run each once, the order rotating every round so that none always
    follows the same neighbour (on a shared machine, load drifts within a round).

    Args:
      fns: name -> zero-argument function running one competitor once.
      repeats: timed rounds.
      warm_up: run each competitor once, untimed, before the rounds.
      warm_ups: name -> a cheaper warm-up to run instead of `fns[name]` (enough to
        start a library's thread or process pools when it compiles nothing).
      pause: idle seconds before each timed call.

    Returns:
      `({name: [seconds per round]}, {name: output of its last run})`.
    """
    names = list(fns)
    outputs = {}
    if warm_up:
        for name in names:
            jax.block_until_ready((warm_ups or {}).get(name, fns[name])())
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            seconds, outputs[name] = timed(fns[name], pause)
            times[name].append(seconds)
    return times, outputs


def matmul_peak(n: int = 2048, repeats: int = 5) -> dict:
    """Float32 GFLOP/s of an `n × n` `jnp.dot` on the default device.

    Returns:
      `{"gflops": median, "best_gflops": best, "n": n}`; the median is the peak used for
      fractions (on a shared machine the best is a lucky draw).
    """
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    dot = jax.jit(jnp.dot)
    dot(a, a).block_until_ready()
    seconds = [timed(lambda: dot(a, a), pause=0.0)[0] for _ in range(repeats)]
    flops = 2.0 * n ** 3
    return {"gflops": flops / median(seconds) / 1e9, "best_gflops": flops / min(seconds) / 1e9, "n": n}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """What the figures were measured on."""
    versions = {"python": platform.python_version(), "jax": jax.__version__, "numpy": np.__version__}
    # From the installed metadata: importing PyTorch here would load its OpenMP runtime
    # before bench_mlp chooses its wait policy.
    for name, dist in (("jaxlib", "jaxlib"), ("optax", "optax"), ("sklearn", "scikit-learn"),
                       ("torch", "torch")):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(dist)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu_model(), "cores": cores, "platform": platform.platform(),
            "device": str(jax.devices()[0]), "load_average": list(os.getloadavg()),
            "versions": versions}


def use_compilation_cache(path: str | os.PathLike) -> None:
    """Turn on JAX's persistent compilation cache at `path`, for every program."""
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def _fresh_process(module: str, quick: bool, cache_dir: str, only: str | None = None) -> dict:
    command = [sys.executable, "-m", "benchmarks._common", module, "--cache-dir", cache_dir]
    command += ["--only", only] if only is not None else []
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    done = subprocess.run(command + (["--quick"] if quick else []), cwd=REPO, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"fresh-process run of benchmarks.{module} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compile_in_two_processes(module: str, quick: bool, cache_root: str | None = None,
                             only: str | None = None) -> dict:
    """First calls of `benchmarks.<module>.jaxfit_calls(quick)` in two new processes.

    Args:
      module: a module of this package that defines `jaxfit_calls`.
      quick: passed to `jaxfit_calls`.
      cache_root: folder under which an empty cache folder is made for this measurement
        (kept, to be inspected); default a temporary folder, removed afterwards.
      only: time only this one of the calls. Calls that share programs (a data
        preparation step, say) must each have processes of their own, or every call
        after the first finds those programs compiled and is no first call.

    Returns:
      `{name: {"first_process_s", "first_process_warm_s", "compile_first_s",
      "second_process_s", "second_process_warm_s", "compile_second_s",
      "compile_ratio"}}` where `compile_* = cold - warm` in that process and
      `compile_ratio = compile_second / compile_first`.
    """
    with contextlib.ExitStack() as stack:
        if cache_root is None:
            root = stack.enter_context(tempfile.TemporaryDirectory(prefix="jaxfit-bench-cache-"))
        else:
            Path(cache_root).mkdir(parents=True, exist_ok=True)
            root = cache_root
        cache = tempfile.mkdtemp(prefix=f"{module}-", dir=root)  # empty: the first process compiles
        first, second = (_fresh_process(module, quick, cache, only) for _ in range(2))
    out = {}
    for name in first:
        a, b = first[name], second[name]
        compile_first = max(a["cold_s"] - a["warm_s"], 0.0)
        compile_second = max(b["cold_s"] - b["warm_s"], 0.0)
        out[name] = {"first_process_s": a["cold_s"], "first_process_warm_s": a["warm_s"],
                     "compile_first_s": compile_first, "second_process_s": b["cold_s"],
                     "second_process_warm_s": b["warm_s"], "compile_second_s": compile_second,
                     "compile_ratio": compile_second / compile_first if compile_first > 0 else float("nan")}
    return out


def first_call_line(label: str, f: dict, digits: int = 3) -> str:
    """One line on `compile_in_two_processes`'s figures, for the printed tables."""
    return (f"{label}'s first call: {f['first_process_s']:.{digits}f} s in a fresh process "
            f"(compilation {f['compile_first_s']:.{digits}f} s), {f['second_process_s']:.{digits}f} s "
            f"with the persistent cache warm (compilation {f['compile_second_s']:.{digits}f} s)")


def _child(argv=None) -> None:
    parser = argparse.ArgumentParser(description="time jaxfit's first calls in this fresh process")
    parser.add_argument("module")
    parser.add_argument("--cache-dir", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", help="time only this one of the module's calls")
    args = parser.parse_args(argv)
    use_compilation_cache(args.cache_dir)
    calls = importlib.import_module(f"benchmarks.{args.module}").jaxfit_calls(args.quick)
    if args.only is not None:
        calls = {args.only: calls[args.only]}
    # The full garbage collection that importing JAX, scikit-learn and SciPy owes
    # (~0.1 s here) would fall on the first timed call; the peers' timings in the
    # parent process never include it either (as in bench_unsupervised).
    gc.collect()
    jax.devices()  # start the runtime: process start-up, not the program
    report = {}
    for name, call in calls.items():
        cold, _ = timed(call, pause=0.0)
        warm, _ = timed(call, pause=0.0)
        report[name] = {"cold_s": cold, "warm_s": warm}
    print(json.dumps(report))


if __name__ == "__main__":
    _child()

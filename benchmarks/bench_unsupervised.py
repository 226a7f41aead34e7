"""jaxfit's `kmeans` and `pca` against scikit-learn's `KMeans` and `PCA`, same run.

    python benchmarks/bench_unsupervised.py [--quick] [--repeats N] [--cold-runs N]
                                            [--cache-dir DIR] [--fresh-cache-dir DIR]
    python benchmarks/bench_unsupervised.py --phases [--quick] [--cold-runs N] [--code DIR]

Data: `make_blobs(n_samples=100_000, n_features=50, centers=8, random_state=0)`
(10_000 samples with --quick), as float32 for both libraries. The target is "at least
as fast as scikit-learn, compilation included", so the headline is jaxfit's cold
call: the first call of a fresh Python process whose persistent compilation cache is
empty (tracing, XLA compilation and the run). Each task gets its own fresh processes
(a second one then reads the cache the first wrote), `--cold-runs` times, each pair
followed by a timing of scikit-learn's fit in this process, so that the two libraries
alternate as the machine's load drifts; medians are compared.

In this process scikit-learn runs each fit once as warm-up (thread pools, page
faults) and the JAX runtime is started on a tiny program; then jaxfit's first call
here (compilation included, persistent cache off unless --cache-dir) is timed, and
`--repeats` alternating repetitions give both libraries' steady-state medians.

A fresh process collects garbage once after its imports and data, before timing: a
process that has imported JAX, scikit-learn and SciPy owes a full collection (about
0.1 s on the 2-core benchmark machine) that falls on whichever call comes first,
jaxfit's or scikit-learn's; scikit-learn's timings here never include it either.

A comparison is marked "void" when the two fits disagree: the inertia by more than
1%, or the sum of explained variance ratios by more than 1e-3.

`--phases` shows where a cold call's time goes: for each task, `--cold-runs` fresh
processes (no persistent cache) time the first call and split it, through JAX's
monitoring events, into tracing, lowering to MLIR and XLA compilation of the programs
it compiled; the rest is the run, validation and dispatch. Each process is followed
by a scikit-learn fit timed in this process. `--code DIR` imports `jaxfit` from
another checkout (for instance the commit before a change, from `git archive`).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import json
import subprocess
import time

import jax
import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.decomposition import PCA

from benchmarks import _common

TASKS = ("kmeans", "pca")
# Which of TASKS `jaxfit_calls` returns in a fresh process (all when unset).
TASK_ENV = "JAXFIT_BENCH_UNSUPERVISED_TASK"


def _timed(fn):
    # A long pause: OpenBLAS's threads spin a while after scikit-learn's last call.
    return _common.timed(fn, pause=0.5)


def make_data(quick: bool) -> np.ndarray:
    X, _ = make_blobs(n_samples=10_000 if quick else 100_000, n_features=50, centers=8, random_state=0)
    return X.astype(np.float32)


def _import_jaxfit():
    """jaxfit's functions, imported at first use (so that `--code` can point the phase
    measurement at another checkout); callers import before timing anything."""
    from jaxfit.cluster import kmeans
    from jaxfit.decomposition import pca

    return {"kmeans": kmeans, "pca": pca}


def _jaxfit(task: str, X, seed: int = 0):
    fit = _import_jaxfit()[task]
    if task == "kmeans":  # the key is made inside: creating it is part of the call
        return fit(X, 8, key=jax.random.key(seed), n_init=10)
    return fit(X, 10)


def _sklearn(task: str, X, seed: int = 0):
    if task == "kmeans":
        return KMeans(8, n_init=10, random_state=seed).fit(X)
    return PCA(10).fit(X)


def jaxfit_calls(quick: bool) -> dict:
    """For `_common.compile_in_two_processes`: each task's first call (only the task
    named by the environment variable `TASK_ENV`, when set)."""
    X = make_data(quick)
    tasks = [os.environ[TASK_ENV]] if os.environ.get(TASK_ENV) else TASKS
    _import_jaxfit()
    gc.collect()  # the imports' garbage: see the module docstring
    return {task: (lambda task=task: _jaxfit(task, X)) for task in tasks}


def _warm_up(X):
    # scikit-learn's first fits at full size are slow (thread pools, page faults), so
    # it runs each benchmark fit once; jaxfit is imported and only starts its runtime
    # on a tiny program.
    for task in TASKS:
        _sklearn(task, X)
    _import_jaxfit()
    jax.block_until_ready(jax.numpy.ones(8) @ jax.numpy.ones(8))


def _cache_state() -> str:
    path = jax.config.jax_compilation_cache_dir
    if not path:
        return "persistent compilation cache off"
    n_entries = len(os.listdir(path)) if os.path.isdir(path) else 0
    return f"persistent cache at {path} holding {n_entries} entries before the first call"


def _cold(task: str, quick: bool, cache_root: str | None) -> dict:
    """One pair of fresh processes for `task` alone (`_common.compile_in_two_processes`)."""
    os.environ[TASK_ENV] = task
    try:
        return _common.compile_in_two_processes("bench_unsupervised", quick, cache_root)[task]
    finally:
        del os.environ[TASK_ENV]


def _quality(task: str, fitted) -> float:
    """Inertia, or the sum of explained variance ratios, of either library's fit."""
    sk = isinstance(fitted, (KMeans, PCA))
    if task == "kmeans":
        return float(fitted.inertia_ if sk else fitted.inertia)
    return float(np.sum(fitted.explained_variance_ratio_ if sk else fitted.explained_variance_ratio))


def run(quick: bool = False, repeats: int = 3, cache_dir: str | None = None,
        cache_root: str | None = None, cold_runs: int = 3) -> dict:
    """Time both libraries; returns the figures that `main` prints.

    Args:
      quick: 10_000 samples instead of 100_000.
      repeats: alternating steady-state repetitions in this process (at least 3).
      cache_dir: turn on JAX's persistent compilation cache in this process. A second
        run with the same directory shows the first call of a new process with a
        warm cache.
      cache_root: where the fresh processes' compilation caches go (default: a
        temporary folder).
      cold_runs: pairs of fresh processes per task (at least 1).

    Returns:
      A dict with the setup and, per task ("kmeans", "pca"): jaxfit's first call in
      this process (`jax_first_s`), its steady-state median (`jax_s`), scikit-learn's
      steady-state median (`sk_s`), the cold first calls (`fresh_process`: medians
      over the pairs of `_common.compile_in_two_processes` fields, with every pair's
      figures under `runs`), scikit-learn's fit timed after each pair (`sk_cold_s`),
      the headline `ratio_cold` = median cold first call / median of those
      scikit-learn fits, with `target_met` when it is at most 1, the other ratios,
      both libraries' fitted quality and whether the comparison is void.
    """
    repeats, cold_runs = max(3, repeats), max(1, cold_runs)
    if cache_dir is not None:
        jax.config.update("jax_compilation_cache_dir", cache_dir)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    X = make_data(quick)
    _warm_up(X)
    cache = _cache_state()

    out = {"n_samples": X.shape[0], "n_features": X.shape[1], "repeats": repeats,
           "cold_runs": cold_runs, "cache": cache, "device": str(jax.devices()[0]),
           "dtype": "float32", "raw_s": {}}
    firsts = {task: _timed(lambda task=task: _jaxfit(task, X)) for task in TASKS}
    for task in TASKS:
        jax_times, sk_times, jax_q, sk_q = [], [], [_quality(task, firsts[task][1])], []
        for r in range(repeats):
            t, fitted = _timed(lambda: _jaxfit(task, X, r + 1))
            jax_times.append(t)
            jax_q.append(_quality(task, fitted))
            t, fitted = _timed(lambda: _sklearn(task, X, r + 1))
            sk_times.append(t)
            sk_q.append(_quality(task, fitted))
        pairs, sk_cold = [], []
        for _ in range(cold_runs):
            pairs.append(_cold(task, quick, cache_root))
            sk_cold.append(_timed(lambda: _sklearn(task, X))[0])
        fresh = {key: statistics.median(p[key] for p in pairs) for key in pairs[0]}
        fresh["runs"] = pairs
        jax_quality, sk_quality = statistics.median(jax_q), statistics.median(sk_q)
        void = (abs(jax_quality - sk_quality) > 0.01 * sk_quality if task == "kmeans"
                else abs(jax_quality - sk_quality) > 1e-3)
        jax_s, sk_s = statistics.median(jax_times), statistics.median(sk_times)
        ratio_cold = fresh["first_process_s"] / statistics.median(sk_cold)
        out[task] = {
            "jax_first_s": firsts[task][0], "jax_s": jax_s, "sk_s": sk_s, "sk_cold_s": sk_cold,
            "ratio_cold": ratio_cold, "ratio_first": firsts[task][0] / sk_s, "ratio": jax_s / sk_s,
            "target_met": None if void else bool(ratio_cold <= 1.0),
            "jax_quality": jax_quality, "sk_quality": sk_quality, "void": void,
            "fresh_process": fresh,
        }
        out["raw_s"][task] = {"jax": [round(t, 4) for t in jax_times], "sk": [round(t, 4) for t in sk_times],
                              "jax_cold": [round(p["first_process_s"], 4) for p in pairs],
                              "sk_cold": [round(t, 4) for t in sk_cold]}
    return out


def _phases_child(task: str, quick: bool) -> None:
    """In a fresh process: time `task`'s first call and split it by JAX's compile events."""
    events = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, seconds, **kw: events.append((event, kw.get("fun_name", ""), seconds)))
    X = make_data(quick)
    _import_jaxfit()
    gc.collect()  # the imports' garbage: see the module docstring
    jax.devices()
    start = time.perf_counter()
    jax.block_until_ready(_jaxfit(task, X))
    cold = time.perf_counter() - start
    start = time.perf_counter()
    jax.block_until_ready(_jaxfit(task, X))
    warm = time.perf_counter() - start
    seconds = lambda name, keep: sum(s for e, f, s in events if e.endswith(name) and keep(f))  # noqa: E731
    compiled = {f for e, f, _ in events if e.endswith("backend_compile_duration")}
    report = {"cold_s": cold, "warm_s": warm,
              "trace_s": seconds("jaxpr_trace_duration", lambda f: f"jit({f})" in compiled),
              "lower_s": seconds("jaxpr_to_mlir_module_duration", lambda f: True),
              "xla_s": seconds("backend_compile_duration", lambda f: True),
              "programs": sorted(compiled)}
    report["rest_s"] = cold - report["trace_s"] - report["lower_s"] - report["xla_s"]
    print(json.dumps(report))


def phases(quick: bool = False, rounds: int = 3, code: str | None = None) -> dict:
    """Where each task's cold call goes, `rounds` fresh processes each (see the module
    docstring), with a scikit-learn fit timed after each; medians per field."""
    X = make_data(quick)
    _warm_up(X)
    path = os.pathsep.join(filter(None, [str(_common.REPO), os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, PYTHONPATH=path)
    child = [sys.executable, str(Path(__file__).resolve()), "--child-phases"]
    options = (["--quick"] if quick else []) + (["--code", code] if code else [])
    out = {}
    for task in TASKS:
        runs, sk = [], []
        for _ in range(max(1, rounds)):
            done = subprocess.run([*child, task, *options], env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"phase measurement of {task} failed:\n{done.stderr[-3000:]}")
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
            sk.append(_timed(lambda: _sklearn(task, X))[0])
        fields = [k for k in runs[0] if k.endswith("_s")]
        out[task] = {**{k: statistics.median(r[k] for r in runs) for k in fields}, "sk_s": statistics.median(sk),
                     "programs": runs[0]["programs"], "runs": runs, "sk_runs": sk}
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10_000 samples instead of 100_000")
    parser.add_argument("--repeats", type=int, default=3, help="alternating repetitions (>= 3)")
    parser.add_argument("--cold-runs", type=int, default=3, help="pairs of fresh processes per task")
    parser.add_argument("--cache-dir", help="use JAX's persistent compilation cache in this process")
    parser.add_argument("--fresh-cache-dir", help="where the fresh processes' compilation caches go")
    parser.add_argument("--phases", action="store_true", help="split each cold call into its phases")
    parser.add_argument("--code", help="with --phases: import jaxfit from this checkout")
    parser.add_argument("--child-phases", choices=TASKS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_phases:
        if args.code:
            sys.path.insert(0, args.code)
        _phases_child(args.child_phases, args.quick)
        import jaxfit  # noqa: F401 (imported by the call above: check which checkout it came from)
        assert not args.code or Path(jaxfit.__file__).resolve().is_relative_to(Path(args.code).resolve())
        return
    if args.phases:
        res = phases(quick=args.quick, rounds=args.cold_runs, code=args.code)
        print(f"cold first call in a fresh process (median of {args.cold_runs}), split by JAX's compile "
              f"events; jaxfit from {args.code or 'this checkout'}")
        print(f"{'task':<8}{'cold':>8}{'trace':>8}{'lower':>8}{'XLA':>8}{'rest':>8}{'2nd call':>10}"
              f"{'sklearn':>9}{'cold/sk':>9}  programs compiled")
        for task in TASKS:
            r = res[task]
            print(f"{task:<8}{r['cold_s']:>8.3f}{r['trace_s']:>8.3f}{r['lower_s']:>8.3f}{r['xla_s']:>8.3f}"
                  f"{r['rest_s']:>8.3f}{r['warm_s']:>10.3f}{r['sk_s']:>9.3f}{r['cold_s'] / r['sk_s']:>9.2f}  "
                  + ", ".join(r["programs"]))
        return
    res = run(quick=args.quick, repeats=args.repeats, cache_dir=args.cache_dir,
              cache_root=args.fresh_cache_dir, cold_runs=args.cold_runs)
    print(f"make_blobs n={res['n_samples']} d={res['n_features']} {res['dtype']}, {res['device']}; "
          f"cold: median of {res['cold_runs']} fresh processes (empty persistent cache), each "
          f"followed by a scikit-learn fit; steady state: median of {res['repeats']} alternating "
          f"runs ({res['cache']})")
    head = (f"{'task':<22}{'cold (s)':>10}{'sklearn (s)':>13}{'cold/sk':>9}{'cached (s)':>12}"
            f"{'here 1st':>10}{'compiled':>10}{'sklearn':>9}{'warm/sk':>9}{'jaxfit':>14}{'sklearn':>14}  verdict")
    print(head)
    print("-" * len(head))
    labels = {"kmeans": "kmeans k=8 n_init=10", "pca": "pca k=10"}
    quality = {"kmeans": "inertia", "pca": "sum EV ratio"}
    for task in TASKS:
        r, f = res[task], res[task]["fresh_process"]
        fmt = "{:>14.6g}" if task == "kmeans" else "{:>14.6f}"
        verdict = "void" if r["void"] else ("target met" if r["target_met"] else "target missed")
        print(f"{labels[task]:<22}{f['first_process_s']:>10.3f}{statistics.median(r['sk_cold_s']):>13.3f}"
              f"{r['ratio_cold']:>9.2f}{f['second_process_s']:>12.3f}{r['jax_first_s']:>10.3f}"
              f"{r['jax_s']:>10.3f}{r['sk_s']:>9.3f}{r['ratio']:>9.2f}" + fmt.format(r["jax_quality"])
              + fmt.format(r["sk_quality"]) + f"  {verdict} ({quality[task]})")
    for task in TASKS:
        f = res[task]["fresh_process"]
        print(f"{labels[task]}: compilation in the cold call {f['compile_first_s']:.3f} s (cold minus a "
              f"second call in the same process), {f['compile_second_s']:.3f} s with the cache warm")
    print("raw seconds:", res["raw_s"])


if __name__ == "__main__":
    main()

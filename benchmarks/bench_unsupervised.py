"""jaxfit's `kmeans` and `pca` against scikit-learn's `KMeans` and `PCA`, same run.

    python benchmarks/bench_unsupervised.py [--quick] [--repeats N] [--cache-dir DIR]
                                            [--fresh-cache-dir DIR]

Data: `make_blobs(n_samples=100_000, n_features=50, centers=8, random_state=0)`
(10_000 samples with --quick), as float32 for both libraries. scikit-learn runs each
benchmark fit once as warm-up and the JAX runtime is started, but jaxfit's programs
are not compiled beforehand: the "first call" column is one cold call, tracing and
XLA compilation included, with the persistent compilation cache state reported (off
unless --cache-dir is given). Then repetitions alternate between the libraries and
the medians are reported. The first calls are also timed in two fresh processes
sharing a new persistent cache (empty for the first, warm for the second; under
--fresh-cache-dir, default a temporary folder). A comparison is marked "void" when the two fits disagree:
the inertia by more than 1%, or the sum of explained variance ratios by more than 1e-3.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax
import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.decomposition import PCA

from benchmarks import _common
from jaxfit.cluster import kmeans
from jaxfit.decomposition import pca


def _timed(fn):
    # A long pause: OpenBLAS's threads spin a while after scikit-learn's last call.
    return _common.timed(fn, pause=0.5)


def make_data(quick: bool) -> np.ndarray:
    X, _ = make_blobs(n_samples=10_000 if quick else 100_000, n_features=50, centers=8, random_state=0)
    return X.astype(np.float32)


def jaxfit_calls(quick: bool) -> dict:
    """For `_common.compile_in_two_processes`: each task's first call."""
    X = make_data(quick)
    return {"kmeans": lambda: kmeans(X, 8, key=jax.random.key(0), n_init=10), "pca": lambda: pca(X, 10)}


def _warm_up(X):
    # scikit-learn's first fits at full size are slow (thread pools, page faults), so
    # it runs each benchmark fit once; jaxfit only starts its runtime on a tiny program.
    KMeans(8, n_init=10, random_state=0).fit(X)
    PCA(10).fit(X)
    jax.block_until_ready(jax.numpy.ones(8) @ jax.numpy.ones(8))


def _cache_state() -> str:
    path = jax.config.jax_compilation_cache_dir
    if not path:
        return "persistent compilation cache off"
    n_entries = len(os.listdir(path)) if os.path.isdir(path) else 0
    return f"persistent cache at {path} holding {n_entries} entries before the first call"


def run(quick: bool = False, repeats: int = 3, cache_dir: str | None = None,
        cache_root: str | None = None) -> dict:
    """Time both libraries; returns the figures that `main` prints.

    Args:
      quick: 10_000 samples instead of 100_000.
      repeats: alternating repetitions after the first call (at least 3).
      cache_dir: turn on JAX's persistent compilation cache there. A second run with
        the same directory shows the first call of a new process with a warm cache.
      cache_root: where the fresh processes' compilation caches go (default: a
        temporary folder).

    Returns:
      A dict with the setup and, per task ("kmeans", "pca"), jaxfit's first-call and
      median seconds, scikit-learn's median seconds, their ratios, the fitted quality
      of each library, whether the comparison is void, and the fresh-process first
      calls (`_common.compile_in_two_processes`).
    """
    repeats = max(3, repeats)
    if cache_dir is not None:
        jax.config.update("jax_compilation_cache_dir", cache_dir)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    X = make_data(quick)
    n = X.shape[0]
    _warm_up(X)
    cache = _cache_state()

    def jax_kmeans(seed):
        return kmeans(X, 8, key=jax.random.key(seed), n_init=10)

    def sk_kmeans(seed):
        return KMeans(8, n_init=10, random_state=seed).fit(X)

    def jax_pca():
        return pca(X, 10)

    def sk_pca():
        return PCA(10).fit(X)

    first_km, km = _timed(lambda: jax_kmeans(0))
    first_pca, pc = _timed(jax_pca)
    times = {"jax_kmeans": [], "sk_kmeans": [], "jax_pca": [], "sk_pca": []}
    inertias = {"jax": [float(km.inertia)], "sk": []}
    for r in range(repeats):
        t, km = _timed(lambda: jax_kmeans(r + 1))
        times["jax_kmeans"].append(t)
        inertias["jax"].append(float(km.inertia))
        t, ref = _timed(lambda: sk_kmeans(r + 1))
        times["sk_kmeans"].append(t)
        inertias["sk"].append(float(ref.inertia_))
        t, pc = _timed(jax_pca)
        times["jax_pca"].append(t)
        t, ref_pca = _timed(sk_pca)
        times["sk_pca"].append(t)
    med = {k: statistics.median(v) for k, v in times.items()}
    raw = {k: [round(t, 4) for t in v] for k, v in times.items()}

    fresh = _common.compile_in_two_processes("bench_unsupervised", quick, cache_root)
    jax_inertia, sk_inertia = statistics.median(inertias["jax"]), statistics.median(inertias["sk"])
    jax_ratio = float(np.sum(pc.explained_variance_ratio))
    sk_ratio = float(np.sum(ref_pca.explained_variance_ratio_))
    return {
        "n_samples": n, "n_features": 50, "repeats": repeats, "cache": cache,
        "device": str(jax.devices()[0]), "dtype": "float32", "raw_s": raw,
        "kmeans": {
            "jax_first_s": first_km, "jax_s": med["jax_kmeans"], "sk_s": med["sk_kmeans"],
            "ratio_first": first_km / med["sk_kmeans"], "ratio": med["jax_kmeans"] / med["sk_kmeans"],
            "jax_quality": jax_inertia, "sk_quality": sk_inertia,
            "void": abs(jax_inertia - sk_inertia) > 0.01 * sk_inertia,
            "fresh_process": fresh["kmeans"],
        },
        "pca": {
            "jax_first_s": first_pca, "jax_s": med["jax_pca"], "sk_s": med["sk_pca"],
            "ratio_first": first_pca / med["sk_pca"], "ratio": med["jax_pca"] / med["sk_pca"],
            "jax_quality": jax_ratio, "sk_quality": sk_ratio,
            "void": abs(jax_ratio - sk_ratio) > 1e-3,
            "fresh_process": fresh["pca"],
        },
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10_000 samples instead of 100_000")
    parser.add_argument("--repeats", type=int, default=3, help="alternating repetitions (>= 3)")
    parser.add_argument("--cache-dir", help="use JAX's persistent compilation cache there")
    parser.add_argument("--fresh-cache-dir", help="where the fresh processes' compilation caches go")
    args = parser.parse_args(argv)
    res = run(quick=args.quick, repeats=args.repeats, cache_dir=args.cache_dir,
              cache_root=args.fresh_cache_dir)
    print(f"make_blobs n={res['n_samples']} d={res['n_features']} {res['dtype']}, "
          f"{res['device']}, {res['cache']}, median of {res['repeats']} alternating runs")
    head = (f"{'task':<22}{'jaxfit 1st (s)':>15}{'jaxfit (s)':>12}{'sklearn (s)':>13}"
            f"{'1st/sk':>8}{'warm/sk':>9}{'jaxfit':>16}{'sklearn':>16}  verdict")
    print(head)
    print("-" * len(head))
    labels = {"kmeans": "kmeans k=8 n_init=10", "pca": "pca k=10"}
    quality = {"kmeans": "inertia", "pca": "sum EV ratio"}
    for task in ("kmeans", "pca"):
        r = res[task]
        fmt = "{:>16.6g}" if task == "kmeans" else "{:>16.6f}"
        print(f"{labels[task]:<22}{r['jax_first_s']:>15.3f}{r['jax_s']:>12.3f}{r['sk_s']:>13.3f}"
              f"{r['ratio_first']:>8.2f}{r['ratio']:>9.2f}" + fmt.format(r["jax_quality"])
              + fmt.format(r["sk_quality"]) + f"  {'void' if r['void'] else 'ok'} ({quality[task]})")
    for task in ("kmeans", "pca"):
        f = res[task]["fresh_process"]
        print(f"{labels[task]}: first call {f['first_process_s']:.3f} s in a fresh process (compilation "
              f"{f['compile_first_s']:.3f} s), {f['second_process_s']:.3f} s in a second one with the "
              f"persistent cache warm (compilation {f['compile_second_s']:.3f} s)")
    print("raw seconds per repetition:", res["raw_s"])


if __name__ == "__main__":
    main()

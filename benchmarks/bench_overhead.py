"""W4: the per-step cost of `jaxfit.fit`'s compiled loop, against the loops people write.

    python -m benchmarks.bench_overhead [--quick]

Linear regression, n=256, d=8 (float32), 10,000 plain gradient-descent steps
(`optax.sgd(0.05)`, no stopping tolerance, so every method takes every step):

- `jaxfit.fit(models.linear(), "squared_error", ..., steps=10_000)`, called as a user
  calls it (its Python validation included);
- a hand-written `jax.jit` of `lax.scan` over the same optax step, recording the loss
  of each step as `fit` does (the floor for a compiled loop);
- a Python `for` loop over a jitted optax step (one dispatch per step, what a
  PyTorch-style training loop does in JAX).

The problem is tiny on purpose: a step is a few thousand FLOPs, so the figure is the
loop's own overhead. The three end at the same loss (checked). Timings are medians of
15 alternating repetitions after a warm-up; the first call of `fit` is timed in fresh
processes (`benchmarks._common.compile_in_two_processes`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the `benchmarks` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxfit
from benchmarks import _common
from jaxfit import models

N, D, LEARNING_RATE = 256, 8, 0.05
LOSS_MARGIN = 1e-4  # relative difference of the final losses beyond which a row is void


def make_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, D)).astype(np.float32)
    y = (X @ rng.standard_normal(D) + 0.1 * rng.standard_normal(N)).astype(np.float32)
    return jnp.asarray(X), jnp.asarray(y)


def n_steps(quick: bool) -> int:
    return 2_000 if quick else 10_000


def _mean_squared_error(params, X, y):
    return jnp.mean((X @ params["w"] + params["b"] - y) ** 2)


# One model and one optimizer object for every call: `fit` compiles once per (model,
# solver) pair, and `models.linear()` builds new functions each time it is called.
MODEL = models.linear()
OPTIMIZER = optax.sgd(LEARNING_RATE)


def _step(params, state, X, y):
    loss, grad = jax.value_and_grad(_mean_squared_error)(params, X, y)
    updates, state = OPTIMIZER.update(grad, state, params)
    return optax.apply_updates(params, updates), state, loss


def _zeros():
    return {"w": jnp.zeros(D, jnp.float32), "b": jnp.zeros((), jnp.float32)}


@jax.jit(static_argnames="steps")
def scan_loop(X, y, *, steps):
    """The hand-written floor: all steps in one `lax.scan`, losses recorded."""
    def body(carry, _):
        params, state, loss = _step(*carry, X, y)
        return (params, state), loss

    params = _zeros()
    (params, _), losses = jax.lax.scan(body, (params, OPTIMIZER.init(params)), length=steps)
    return params, losses


_jitted_step = jax.jit(_step)


def python_loop(X, y, steps):
    """One dispatch of a jitted step per iteration."""
    params = _zeros()
    state = OPTIMIZER.init(params)
    for _ in range(steps):
        params, state, loss = _jitted_step(params, state, X, y)
    return params, loss


def jaxfit_fit(X, y, steps):
    return jaxfit.fit(MODEL, "squared_error", X, y, optimizer=OPTIMIZER, steps=steps)


def jaxfit_calls(quick: bool) -> dict:
    """For `_common.compile_in_two_processes`: `fit`'s first call in a fresh process."""
    X, y = make_data()
    steps = n_steps(quick)
    return {"fit": lambda: jaxfit_fit(X, y, steps)}


def _final_loss(params, X, y) -> float:
    return float(_mean_squared_error(params, X, y))


def run(quick: bool = False, *, repeats: int = 15, cache_root: str | None = None) -> dict:
    """Time the three loops side by side.

    Args:
      quick: 2,000 steps instead of 10,000.
      repeats: alternating repetitions after the warm-up (at least 3); a run takes
        milliseconds, so many repetitions steady the median of µs-scale figures.
      cache_root: where the fresh processes' compilation caches go (default: a
        temporary folder).

    Returns:
      A dict with the steps, per method its median seconds, µs per step and final
      loss, the raw seconds, the ratios to `fit` and the fresh-process first calls.
    """
    X, y = make_data()
    steps = n_steps(quick)
    fns = {
        "jaxfit.fit": lambda: jaxfit_fit(X, y, steps).params,
        "lax.scan (hand-written)": lambda: scan_loop(X, y, steps=steps)[0],
        "Python loop of jitted step": lambda: python_loop(X, y, steps)[0],
    }
    times, outputs = _common.alternate(fns, max(3, repeats))
    methods = {}
    for name, seconds in times.items():
        med = _common.median(seconds)
        methods[name] = {"seconds": med, "us_per_step": 1e6 * med / steps,
                         "final_loss": _final_loss(outputs[name], X, y), "raw_s": seconds}
    ours = methods["jaxfit.fit"]
    for name, m in methods.items():
        m["ratio_to_fit"] = m["seconds"] / ours["seconds"]
        m["void"] = abs(m["final_loss"] - ours["final_loss"]) > LOSS_MARGIN * abs(ours["final_loss"])
    flops = steps * (4.0 * N * D + 6.0 * N)  # two mat-vecs a step, plus the residual and its square
    return {"n": N, "d": D, "steps": steps, "learning_rate": LEARNING_RATE, "repeats": max(3, repeats),
            "loss_margin": LOSS_MARGIN, "methods": methods,
            "gflops": flops / ours["seconds"] / 1e9,
            "fresh_process": _common.compile_in_two_processes("bench_overhead", quick, cache_root)["fit"]}


def print_table(r: dict) -> None:
    print(f"W4 per-step overhead: linear regression n={r['n']}, d={r['d']}, {r['steps']} GD steps, "
          f"median of {r['repeats']} alternating runs")
    print(f"{'method':<30}{'seconds':>9}{'us/step':>9}{'÷ fit':>8}{'final loss':>14}  verdict")
    for name, m in r["methods"].items():
        print(f"{name:<30}{m['seconds']:>9.4f}{m['us_per_step']:>9.2f}{m['ratio_to_fit']:>8.2f}"
              f"{m['final_loss']:>14.6g}  {'void' if m['void'] else 'ok'}")
    print(_common.first_call_line("fit", r["fresh_process"]))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 steps instead of 10,000")
    parser.add_argument("--cache-dir", help="where the fresh processes' compilation caches go")
    args = parser.parse_args(argv)
    print_table(run(quick=args.quick, cache_root=args.cache_dir))


if __name__ == "__main__":
    main()

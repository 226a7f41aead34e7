"""Step progress from inside compiled loops, drawn by `search` as a second progress bar.

A fit's loop runs inside `jit` (in a search, under two vmaps and sharded over devices),
so it never returns to Python between steps. When progress is wanted, the loop calls
`jax.debug.callback` with the step of its slowest lane each time that step crosses a
multiple of `steps // REPORTS_PER_LOOP`: at most about a hundred callbacks per loop,
whatever its length or batch size. The callback only stores the value; `search` draws
it from the main thread while it waits for the chunk, at most every `REFRESH_SECONDS`.

Whether progress is wanted is decided when the loop is traced (`wanted()`, switched on
by `search` through `tracing()`), and `fit` hands it to its compiled loop as a static
argument: a loop traced without progress has no callback at all, exactly as before, and
a compiled program is never reused across the two.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import threading
import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

REPORTS_PER_LOOP = 100  # callbacks per fit loop, at most about this many
REFRESH_SECONDS = 0.1   # the step bar is redrawn at most this often

_WANTED = contextvars.ContextVar("jaxfit_progress_wanted", default=False)


def wanted() -> bool:
    """Whether a loop traced now should report its steps."""
    return _WANTED.get()


@contextlib.contextmanager
def tracing(enabled: bool = True):
    """Loops traced inside this block report their steps (when `enabled`)."""
    token = _WANTED.set(enabled)
    try:
        yield
    finally:
        _WANTED.reset(token)


class Steps:
    """The latest `(step, total)` reported by a loop; written from XLA's callback threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._latest: tuple[int, int] | None = None

    def put(self, step: int, total: int) -> None:
        with self._lock:
            self._latest = (step, total)

    def latest(self) -> tuple[int, int] | None:
        with self._lock:
            return self._latest


# Where callbacks deliver. A module global, not a context variable: callbacks run on
# XLA's threads, which do not see the caller's context.
_listener: Steps | None = None


@contextlib.contextmanager
def listening(steps: Steps):
    """Deliver the steps that loops report while this block runs to `steps`."""
    global _listener
    previous, _listener = _listener, steps
    try:
        yield steps
    finally:
        _listener = previous


def _deliver(step, *, total: int) -> None:
    listener = _listener  # a loop traced with progress may run outside a search: then no one listens
    if listener is not None:
        listener.put(int(step), total)


def report_steps(body: Callable, running: Callable, steps: int) -> Callable:
    """`body` of `lax.while_loop(running, body, state)`, also reporting progress.

    `state.step` counts up to `steps`. The value reported is the slowest lane's step,
    a lane that has stopped (converged, diverged, early-stopped) counting as done, so
    it reaches `steps` when the whole batch has finished. The state is left untouched:
    results are the same with and without progress.
    """
    every = max(1, steps // REPORTS_PER_LOOP)

    @jax.custom_batching.custom_vmap
    def report(before, after):
        # Unbatched here: under vmap the rule below has reduced over every lane.
        crossed = (after // every > before // every) | ((after == steps) & (before < steps))
        deliver = functools.partial(_deliver, total=steps)
        jax.lax.cond(crossed, lambda: jax.debug.callback(deliver, after, ordered=False),
                     lambda: None)
        return ()

    @report.def_vmap
    def report_slowest(axis_size, in_batched, before, after):
        # jax.debug.callback under vmap is unrolled into one callback per lane; one
        # callback with the slowest lane serves the batch (and a batched predicate
        # would make `cond` run the callback on every step).
        del axis_size
        before, after = (jnp.min(x, axis=0) if batched else x
                         for x, batched in zip((before, after), in_batched))
        return report(before, after), ()

    def reporting_body(state):
        new = body(state)
        # Under vmap the body also runs for lanes that have stopped; their results are
        # discarded, and they count as done.
        was_running = running(state)
        report(jnp.where(was_running, state.step, steps),
               jnp.where(was_running & running(new), new.step, steps))
        return new

    return reporting_body


class SearchBar:
    """tqdm bars for `search`: chunks done, and the steps of the running chunk's fits.

    The step bar appears once a loop reports steps (a `train_fn` that does not call
    `jaxfit.fit` shows only the chunk bar); it restarts when a loop with another
    number of steps begins, or a later one in the same chunk starts over.
    """

    def __init__(self, n_chunks: int):
        try:
            from tqdm.auto import tqdm
        except ImportError:
            raise ImportError("progress=True needs tqdm: pip install tqdm (or jaxfit[progress]).") from None
        self._tqdm = tqdm
        self.chunks = tqdm(total=n_chunks, desc="search", unit="chunk")
        self.steps = None

    def run(self, compiled: Callable, *args) -> list[np.ndarray]:
        """`compiled(*args)` as NumPy arrays, drawing its step progress while it runs."""
        reported = Steps()
        done = threading.Event()
        self._started = time.time()
        with listening(reported):
            outputs = compiled(*args)  # dispatched asynchronously

            def wait():
                try:
                    jax.block_until_ready(outputs)
                except Exception:  # raised again on the caller's thread by np.asarray below
                    pass
                finally:
                    done.set()

            threading.Thread(target=wait, daemon=True).start()
            while not done.wait(REFRESH_SECONDS):
                self._draw(reported.latest())
            jax.effects_barrier()  # every callback of the chunk has been delivered
        self._draw(reported.latest())
        if self.steps is not None:
            self.steps.refresh()
        return [np.asarray(o) for o in outputs]

    def _draw(self, latest: tuple[int, int] | None) -> None:
        if latest is None:
            return
        step, total = latest
        if self.steps is None:
            self.steps = self._tqdm(total=total, desc="steps", unit="step", leave=False)
            # The first report may come late (a fast chunk: only when it has finished);
            # timed from the chunk's start, the bar's rate and elapsed time are the loop's.
            self.steps.start_t = self.steps.last_print_t = self._started
        elif total != self.steps.total or step < self.steps.n:
            self.steps.reset(total=total)
        self.steps.update(step - self.steps.n)

    def chunk_done(self) -> None:
        self.chunks.update(1)
        if self.steps is not None:
            self.steps.reset()

    def close(self) -> None:
        if self.steps is not None:
            self.steps.close()
        self.chunks.close()


class NoBar:
    """What `search` uses without `progress`."""

    def run(self, compiled: Callable, *args) -> list[np.ndarray]:
        return [np.asarray(o) for o in compiled(*args)]

    def chunk_done(self) -> None:
        pass

    def close(self) -> None:
        pass

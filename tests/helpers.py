"""Reference problems shared by the tests."""

import numpy as np


def regression_problem(n=200, d=5, noise=0.1, seed=0):
    """A well-conditioned least-squares problem."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    coef = rng.normal(size=d)
    y = X @ coef + 0.5 + noise * rng.normal(size=n)
    return X.astype(np.float32), y.astype(np.float32)


def classification_problem(n=300, d=4, n_classes=2, seed=0):
    """Overlapping Gaussian classes (not separable), labels 0..n_classes-1."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, size=n)
    centers = rng.normal(size=(n_classes, d))
    X = centers[y] + 1.5 * rng.normal(size=(n, d))
    return X.astype(np.float32), y.astype(np.int32)


class _CompileLog:
    """Names of the XLA programs compiled while `recording()` is active.

    JAX listeners cannot be removed, so one is registered for the whole session.
    """

    def __init__(self):
        self.active, self.names = False, []
        import jax
        jax.monitoring.register_event_duration_secs_listener(self._event)

    def _event(self, event, seconds, **kwargs):
        if self.active and event.endswith("backend_compile_duration"):
            self.names.append(kwargs.get("fun_name"))

    def programs(self, fn, *args, **kwargs):
        """Call `fn` and return (its result, the programs compiled meanwhile)."""
        self.active, self.names = True, []
        try:
            return fn(*args, **kwargs), self.names
        finally:
            self.active = False


_compile_log = None


def compiled_by(fn, *args, **kwargs):
    """`(fn(*args, **kwargs), [names of the XLA programs that call compiled])`."""
    global _compile_log
    if _compile_log is None:
        _compile_log = _CompileLog()
    return _compile_log.programs(fn, *args, **kwargs)

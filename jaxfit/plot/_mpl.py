"""Lazy matplotlib: jaxfit imports without it; a plot asks for it only when drawn."""

from __future__ import annotations


def axes(ax):
    """`ax` itself, or the Axes of a new pyplot figure when `ax` is None."""
    if ax is not None:
        return ax
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError('jaxfit.plot needs matplotlib, which is not installed. Install it with '
                          'pip install "jaxfit[plot]".') from None
    _, ax = plt.subplots(figsize=(6.0, 4.0), layout="constrained")
    return ax


def figure(width: float = 6.0, height: float = 4.0):
    """A standalone `Figure` and its Axes, outside pyplot's global state.

    The CLI draws with these so it never opens a window or depends on the backend.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError('Plots need matplotlib, which is not installed. Install it with '
                          'pip install "jaxfit[plot]".') from None
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.add_subplot()


def is_log_spaced(values) -> bool:
    """True when positive values are closer to evenly spaced in log than in linear scale."""
    import numpy as np

    u = np.unique(np.asarray(values, dtype=float))
    if u.size < 2 or u[0] <= 0:
        return False
    if u.size == 2:
        return u[1] / u[0] >= 10.0
    spread = lambda v: np.std(np.diff(v)) / np.mean(np.diff(v))
    return bool(spread(np.log(u)) < spread(u))

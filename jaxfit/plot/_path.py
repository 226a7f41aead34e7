"""`regularization_path`: every weight against the penalty strength."""

from __future__ import annotations

import jax
import numpy as np

from ..penalties import is_weight
from ._mpl import axes, is_log_spaced

_LEGEND_MAX = 12  # name the lines in a legend only when there are few of them


def _weights(params) -> np.ndarray:
    """`[S, p]`: the weight leaves ("w") of stacked params, flattened; biases left out."""
    leaves = [np.asarray(leaf) for path, leaf in jax.tree_util.tree_leaves_with_path(params)
              if is_weight(path)]
    if not leaves:
        raise ValueError("`path_result.params` has no weights (leaves named 'w') to plot.")
    n = leaves[0].shape[0]
    return np.concatenate([leaf.reshape(n, -1) for leaf in leaves], axis=1)


def regularization_path(path_result, strengths=None, ax=None, *, feature_names=None):
    """Plot each weight along a regularization path (scikit-learn's lasso-path figure).

    Args:
      path_result: a `jaxfit.solvers.PathResult` (params stacked over strengths).
      strengths: the `[S]` strengths the path was fitted at, for the x-axis (log
        scale when log-spaced); without them the x-axis is the position on the path.
      ax: a matplotlib Axes (default: a new figure).
      feature_names: one name per weight, shown in a legend when there are at most 12.

    Returns:
      The matplotlib Axes.

    Example:
      >>> from jaxfit import models, penalties, solvers
      >>> data = jaxfit.data.load_example("diabetes")
      >>> X, y = jaxfit.data.standardize(data.X).apply(data.X), data.y
      >>> strengths = solvers.strength_grid(X, y, num=30)
      >>> path = solvers.regularization_path(models.linear(), "squared_error", X, y,
      ...                                    penalty=penalties.l1, strengths=strengths)
      >>> ax = regularization_path(path, strengths, feature_names=data.feature_names)
      >>> len(ax.lines)  # one line per weight, and the zero line
      11
    """
    if not hasattr(path_result, "params") or not hasattr(path_result, "n_steps"):
        raise TypeError(f"`path_result` must be a PathResult from jaxfit.solvers.regularization_path; "
                        f"got {type(path_result).__name__}.")
    if np.ndim(path_result.n_steps) != 1:  # e.g. one FitResult: its weights are no path
        raise ValueError(f"`path_result` must hold params stacked over the strengths (n_steps of "
                         f"shape [S]); got n_steps of shape {np.shape(path_result.n_steps)}. Pass "
                         f"the PathResult of solvers.regularization_path, or fits vmapped over "
                         f"the strengths.")
    coefs = _weights(path_result.params)
    n_points, n_weights = coefs.shape
    if strengths is None:
        xs, xlabel = np.arange(n_points), "position on the path (strongest penalty first)"
    else:
        xs = np.asarray(strengths, dtype=float)
        if xs.shape != (n_points,):
            raise ValueError(f"`strengths` must have one value per point of the path, shape "
                             f"({n_points},); got shape {xs.shape}.")
        xlabel = "penalty strength"
    if feature_names is not None and len(feature_names) != n_weights:
        raise ValueError(f"`feature_names` has {len(feature_names)} names for {n_weights} weights.")
    ax = axes(ax)
    named = feature_names is not None and n_weights <= _LEGEND_MAX
    for j in range(n_weights):
        ax.plot(xs, coefs[:, j], linewidth=1.2, label=str(feature_names[j]) if named else None)
    ax.axhline(0.0, color="black", linewidth=0.6)
    diverged = np.asarray(getattr(path_result, "diverged", np.zeros(n_points, bool)), bool)
    if diverged.any():
        ax.plot(xs[diverged], np.zeros(diverged.sum()), "x", color="crimson", markersize=9,
                mew=2, label="diverged")
    if strengths is not None and is_log_spaced(xs):
        ax.set_xscale("log")
    if strengths is not None and xs[0] > xs[-1]:
        ax.invert_xaxis()  # strongest penalty (fewest non-zero weights) on the left, as lasso_path plots
    nonzero = (coefs != 0).sum(axis=1)
    ax.set_title(f"non-zero weights: {nonzero[0]} → {nonzero[-1]} of {n_weights}", fontsize="small")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("weight")
    if named or diverged.any():
        ax.legend(fontsize="small", ncol=2 if named and n_weights > 6 else 1)
    return ax

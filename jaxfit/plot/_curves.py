"""Training curves and search results: `loss_curve`, `validation_curve`, `cv_scores`."""

from __future__ import annotations

import numpy as np

from .._fit import FitResult
from .._validation import check_int
from ._mpl import axes, is_log_spaced

_DENSE = 40  # above this many points a curve is drawn without markers
_LEGEND_MAX = 12  # above this many runs the legend names the line styles, not each run


def _as_rows(values, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim not in (1, 2) or arr.shape[-1] == 0:
        raise ValueError(f"`{name}` must be a loss history of shape [steps] or [runs, steps]; "
                         f"got shape {arr.shape}.")
    return np.atleast_2d(arr)


def _taken(row: np.ndarray) -> int:
    """Steps recorded: up to the last entry that is not NaN (the unused tail is NaN)."""
    recorded = np.flatnonzero(~np.isnan(row))
    return int(recorded[-1]) + 1 if recorded.size else 0


def loss_curve(history, ax=None, *, labels=None, log_y: bool | None = None):
    """Plot the objective against the optimizer step, with the validation loss if any.

    Args:
      history: a `FitResult` (also a batched one from `vmap`, or one read back by
        `jaxfit.io.load`), or its `history` array
        of shape `[steps]` or `[runs, steps]`. The NaN tail after the last step is
        dropped; a run that diverged ends with a cross at its last finite value (at
        the top of the axes if it had none).
      ax: a matplotlib Axes to draw into (default: a new figure).
      labels: one legend label per run, shown for up to 12 runs (past that the
        legend shows only the line styles).
      log_y: log-scale the loss axis; `None` chooses log when the positive values
        span more than two decades.

    Returns:
      The matplotlib Axes.

    Example:
      >>> import optax
      >>> X = jnp.linspace(-2, 2, 64)[:, None]
      >>> y = jnp.sin(2 * X[:, 0])
      >>> val_mask = (jnp.arange(64) % 4 == 0).astype(jnp.float32)  # every 4th sample
      >>> result = jaxfit.fit(jaxfit.models.mlp((32,)), "squared_error", X, y,
      ...                     optimizer=optax.adam(1e-2), steps=200,
      ...                     sample_weight=1 - val_mask, validation_weight=val_mask)
      >>> ax = loss_curve(result)
      >>> [line.get_label() for line in ax.lines]
      ['training', 'validation']
    """
    validation = n_steps = diverged = None
    # By its fields, not its class: `jaxfit.io.load` without `namedtuples=[FitResult]` gives
    # back a namedtuple of the same name and fields.
    if getattr(type(history), "_fields", None) == FitResult._fields:
        validation = _as_rows(history.validation_history, "history.validation_history")
        n_steps = np.atleast_1d(np.asarray(history.n_steps))
        diverged = np.atleast_1d(np.asarray(history.diverged))
        history = history.history
    rows = _as_rows(history, "history")
    if labels is not None and len(labels) != len(rows):
        raise ValueError(f"`labels` has {len(labels)} entries for {len(rows)} runs; give one per run.")
    ax = axes(ax)
    drawn = []
    # A legend entry per run past a dozen (two with validation) covers the curves, and
    # past ~25 matplotlib gives up on the layout (a UserWarning); a batch from vmap over
    # seeds or configurations easily has that many.
    many = len(rows) > _LEGEND_MAX
    validation_labelled = False
    for i, row in enumerate(rows):
        taken = _taken(row) if n_steps is None else int(n_steps[i])
        steps = np.arange(1, taken + 1)
        values = row[:taken]
        finite = np.isfinite(values)
        label = labels[i] if labels is not None else ("training" if len(rows) == 1 else f"run {i}")
        (line,) = ax.plot(steps[finite], values[finite], label=None if many else label,
                          marker="." if finite.sum() <= _DENSE else None)
        drawn.append(values[finite])
        broke = bool(diverged[i]) if diverged is not None else taken > 0 and not finite[-1]
        if broke:
            at = np.flatnonzero(finite)
            if at.size:  # a cross at its last finite value
                x, y, transform = steps[at[-1]], values[at[-1]], ax.transData
            else:  # none (diverged at its first step): at the top, above the step it stopped at
                x, y, transform = max(taken, 1), 0.95, ax.get_xaxis_transform()
            ax.plot(x, y, "x", color="crimson", markersize=10, mew=2, transform=transform,
                    label="diverged" if not any(t.get_label() == "diverged" for t in ax.lines) else None)
        if validation is not None:
            val = validation[i, :taken]
            at = np.isfinite(val)
            if at.any():
                if many:  # one entry for the dashed style, on the first such line
                    val_label = None if validation_labelled else "validation"
                    validation_labelled = True
                else:
                    val_label = "validation" if len(rows) == 1 else f"{label} (validation)"
                ax.plot(steps[at], val[at], linestyle="--", color=line.get_color(),
                        marker="o" if at.sum() <= _DENSE else None, markersize=3,
                        label=val_label)
                drawn.append(val[at])
    positive = np.concatenate(drawn) if drawn else np.zeros(0)
    if log_y is None:
        log_y = positive.size > 0 and positive.min() > 0 and positive.max() / positive.min() > 100
    if log_y:
        ax.set_yscale("log")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("objective (loss + penalty)")
    if len(ax.lines) > 1 and ax.get_legend_handles_labels()[0]:
        ax.legend()
    return ax


def _same(a, b) -> bool:
    try:
        return bool(np.all(a == b))
    except ValueError:  # tuples of different lengths and the like
        return False


def _unique(values: np.ndarray) -> list:
    if values.dtype != object:
        return list(np.unique(values))
    seen = []
    for v in values:
        if not any(_same(v, s) for s in seen):
            seen.append(v)
    return seen


def _curve_rows(result, param: str) -> tuple[list, list[int], dict]:
    """One row per value of `param`, the other hyperparameters held at their best.

    In a grid the row matching the best configuration's other values is taken; where
    there is none (random search), the best-ranked row with that value.
    """
    best = result.best_config
    others = {k: v for k, v in best.items() if k != param}
    rank = result.rank
    values = result.configs[param]
    xs, rows = [], []
    for v in _unique(values):
        candidates = [i for i in range(result.n_configs) if _same(values[i], v)]
        matching = [i for i in candidates
                    if all(_same(result.configs[k][i], o) for k, o in others.items())]
        xs.append(v)
        rows.append(matching[0] if matching else min(candidates, key=lambda i: rank[i]))
    return xs, rows, others


def _format(value) -> str:
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_format(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return str(value)


def validation_curve(search_result, param: str, ax=None, *, score_name: str = "CV score"):
    """Mean cross-validation score against one hyperparameter, with ±1 std bands.

    The other hyperparameters are held at their values in the best configuration
    (in a random search, where no row matches, each point is the best row with that
    value). A log-spaced parameter gets a log x-axis; a non-numeric one (layer
    sizes, names) gets one tick per value. Configurations that diverged are marked
    with red crosses, and the best value with a dashed line.

    Args:
      search_result: a `jaxfit.model_selection.SearchResult`.
      param: a hyperparameter name in `search_result.configs`.
      ax: a matplotlib Axes (default: a new figure).
      score_name: what the scores are, for the y-axis label (e.g. "accuracy").

    Returns:
      The matplotlib Axes.

    Example:
      >>> from jaxfit import models, penalties, solvers
      >>> from jaxfit.model_selection import grid, make_fit_fns, search, stratified_kfold
      >>> data = jaxfit.data.load_example("breast_cancer")
      >>> X, y = data.X, data.y
      >>> train_fn, score_fn, _ = make_fit_fns(
      ...     models.logistic(), "binary_cross_entropy", optimizer=solvers.bound_cg(),
      ...     penalty=lambda c: penalties.l2(c["alpha"]), steps=100, tol=1e-5,
      ...     standardize=True)
      >>> folds = stratified_kfold(y, 5)
      >>> result = search(train_fn, score_fn, X, y, grid(alpha=np.logspace(-4, 1, 11)), folds)
      >>> ax = validation_curve(result, "alpha", score_name="accuracy")
      >>> ax.get_xlabel(), ax.get_xscale()
      ('alpha', 'log')
      >>> ax.get_ylabel()
      'accuracy (mean ± 1 std over 5 folds)'
    """
    if param not in search_result.configs:
        raise ValueError(f"`param` must be one of the searched hyperparameters "
                         f"{list(search_result.configs)}; got {param!r}.")
    xs, rows, others = _curve_rows(search_result, param)
    mean, std = search_result.mean[rows], search_result.std[rows]
    best_x = search_result.best_config[param]
    numeric = search_result.configs[param].dtype.kind in "biuf"  # else names, tuples: one tick each
    positions = np.asarray(xs, dtype=float) if numeric else np.arange(len(xs), dtype=float)
    ax = axes(ax)
    ax.plot(positions, mean, marker="o", label="mean over folds")
    ax.fill_between(positions, mean - std, mean + std, alpha=0.25, label="± 1 std")
    best_pos = positions[[i for i, x in enumerate(xs) if _same(x, best_x)][0]]
    ax.axvline(best_pos, color="grey", linestyle="--", linewidth=1,
               label=f"best {param}={_format(best_x)}")
    failed = ~np.isfinite(mean)
    if failed.any():
        floor = np.nanmin(mean - std) if (~failed).any() else 0.0
        ax.plot(positions[failed], np.full(failed.sum(), floor), "x", color="crimson",
                markersize=9, mew=2, label="diverged")
    if numeric and is_log_spaced(positions):
        ax.set_xscale("log")
    if not numeric:
        ax.set_xticks(positions, [_format(x) for x in xs])
    ax.set_xlabel(param)
    ax.set_ylabel(f"{score_name} (mean ± 1 std over {search_result.scores.shape[1]} folds)")
    if others:
        ax.set_title(", ".join(f"{k}={_format(v)}" for k, v in others.items()), fontsize="small")
    ax.legend(fontsize="small")
    return ax


def cv_scores(search_result, ax=None, *, max_configs: int = 20, score_name: str = "CV score"):
    """Each configuration's score on every fold, best first.

    One row per configuration, ranked by mean score: a dot per fold, the mean with a
    ±1 std bar. Configurations whose fits diverged are labelled so.

    Args:
      search_result: a `jaxfit.model_selection.SearchResult`.
      ax: a matplotlib Axes (default: a new figure).
      max_configs: show at most this many of the best-ranked configurations.
      score_name: what the scores are, for the x-axis label.

    Returns:
      The matplotlib Axes.
    """
    max_configs = check_int(max_configs, "max_configs", minimum=1)
    order = np.argsort(search_result.rank, kind="stable")[:max_configs]
    scores = search_result.scores[order]
    mean, std = search_result.mean[order], search_result.std[order]
    status = search_result.config_status()[order]
    ys = np.arange(len(order))
    ax = axes(ax)
    k = scores.shape[1]
    ax.scatter(scores.ravel(), np.repeat(ys, k), s=12, color="grey", alpha=0.6, label="fold")
    ax.errorbar(mean, ys, xerr=std, fmt="D", color="tab:blue", capsize=3, label="mean ± 1 std")
    labels = []
    for row, s in zip(order, status):
        text = ", ".join(f"{n}={_format(v)}" for n, v in search_result.config(int(row)).items())
        labels.append(text + (" (diverged)" if s == "diverged" else ""))
    ax.set_yticks(ys, labels, fontsize="small")
    ax.invert_yaxis()  # best on top
    ax.set_xlabel(f"{score_name} on each of {k} folds")
    ax.set_ylabel("configuration (ranked)")
    ax.legend(fontsize="small")
    return ax

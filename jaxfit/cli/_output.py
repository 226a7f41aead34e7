"""Report an experiment: the ranked table on screen, and a results folder on disk.

Every file is written atomically (`jaxfit._atomic`), so an interrupted run leaves
whole files, never torn ones; the parameters go through `jaxfit.io.save` (no pickle).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os

import numpy as np

from .. import io as jaxfit_io
from .. import models, penalties, plot, solvers
from .._atomic import write_atomically
from ..plot._mpl import figure
from ._run import Outcome

_SHOWN = 10  # rows of the ranked table printed
_NAMES = ("table.csv", "table.json", "best_params.npz", "summary.json", "cv_scores.png",
          "loss_curve.png", "regularization_path.png")  # and validation_curve_<name>.png


def _plain(value):
    """A JSON-ready Python value: NumPy scalars unwrapped, tuples as lists, NaN as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (tuple, list, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def format_value(value) -> str:
    value = _plain(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "(" + ", ".join(map(str, value)) + ")"
    return "nan" if value is None else str(value)


def _rows(outcome: Outcome) -> list[dict]:
    """One dict per configuration, in search order: hyperparameters, scores, status."""
    table = outcome.search.table()
    n = outcome.search.n_configs
    columns = [c for c in table if c != "params"]
    return [{c: _plain(table[c][i]) for c in columns} for i in range(n)]


def print_table(outcome: Outcome) -> None:
    result = outcome.search
    names = list(result.configs)
    sign = "" if outcome.greater_is_better else "-"
    header = ["rank", f"mean {sign}{outcome.metric}", "std", "status", *names]
    order = np.argsort(result.rank, kind="stable")[:_SHOWN]
    status = result.config_status()
    lines = [[str(result.rank[i]), format_value(result.mean[i]), format_value(result.std[i]), str(status[i]),
              *(format_value(result.configs[n][i]) for n in names)] for i in order]
    widths = [max(len(h), *(len(line[j]) for line in lines)) for j, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    for line in lines:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths)))
    if result.n_configs > _SHOWN:
        print(f"... {result.n_configs - _SHOWN} more in table.csv")


def _save_figure(path: str, draw) -> None:
    fig, ax = figure()
    draw(ax)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    write_atomically(path, lambda f: f.write(buffer.getvalue()))


def _path_plot(outcome: Outcome, folder: str) -> str | None:
    """The lasso / elastic-net coefficient path over the searched strengths, if any."""
    cfg = outcome.config
    train = cfg["train"]
    if (cfg["model"]["kind"] != "linear" or train["penalty"] not in ("l1", "elastic_net")
            or outcome.task != "regression" or "strength" not in outcome.search.configs):
        return None
    best = outcome.search.best_config
    strengths = np.unique(outcome.search.configs["strength"])[::-1].astype(np.float32)
    ratio = best.get("l1_ratio", train["l1_ratio"]) if train["penalty"] == "elastic_net" else 1.0
    scaling = outcome.refit.params.scaling
    X = outcome.X_train if scaling is None else scaling.apply(outcome.X_train)
    path = solvers.regularization_path(
        models.linear(), train["loss"] or "squared_error", X, outcome.y_train,
        penalty=lambda s: penalties.elastic_net(s, ratio), strengths=strengths)

    def draw(ax):
        plot.regularization_path(path, strengths, ax, feature_names=outcome.dataset.feature_names)
        ax.axvline(best["strength"], color="grey", linestyle="--", linewidth=1,
                   label=f"best strength={best['strength']:.3g}")
        ax.legend(fontsize="small", ncol=2)

    target = os.path.join(folder, "regularization_path.png")
    _save_figure(target, draw)
    return target


def _plots(outcome: Outcome, folder: str) -> list[str]:
    result, written = outcome.search, []
    score_name = outcome.metric if outcome.greater_is_better else f"-{outcome.metric}"
    for name, values in result.configs.items():
        if len(set(map(format_value, values))) > 1:
            target = os.path.join(folder, f"validation_curve_{name}.png")
            _save_figure(target, lambda ax: plot.validation_curve(result, name, ax, score_name=score_name))
            written.append(target)
    target = os.path.join(folder, "cv_scores.png")
    _save_figure(target, lambda ax: plot.cv_scores(result, ax, score_name=score_name))
    written.append(target)
    target = os.path.join(folder, "loss_curve.png")
    _save_figure(target, lambda ax: plot.loss_curve(outcome.refit, ax).set_title(
        "refit of the best configuration on the training split", fontsize="small"))
    written.append(target)
    path_plot = _path_plot(outcome, folder)
    return written + ([path_plot] if path_plot else [])


def previous_results(folder: str) -> list[str]:
    """The names in `folder` that a run writes: an earlier run's results, sorted."""
    if not os.path.isdir(folder):
        return []
    return sorted(name for name in os.listdir(folder) if name in _NAMES
                  or (name.startswith("validation_curve_") and name.endswith(".png")))


def write(outcome: Outcome, folder: str, *, source: str,
          replacing: list[str] = ()) -> tuple[list[str], str | None]:
    """Write the results folder; returns the files written and a note on skipped plots.

    Files: `table.csv` and `table.json` (one row per configuration, as scikit-learn's
    `cv_results_`: higher is better, error metrics negated), `best_params.npz`
    (`jaxfit.io`: the refitted parameters and feature scaling, the summary in its
    metadata), `summary.json` (`cv_mean` and `test_score` in the metric's own sign, as
    printed: an MSE is positive), and PNG plots. Files of `replacing` (an earlier run's,
    from `previous_results`) that this run does not write are removed once the new
    results are complete, so no stale plot sits beside them.
    """
    os.makedirs(folder, exist_ok=True)
    rows = _rows(outcome)
    written = []

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: format_value(v) if isinstance(v, list) else v for k, v in row.items()} for row in rows)
    for name, payload in (("table.csv", buffer.getvalue()),
                          ("table.json", json.dumps(rows, indent=1, allow_nan=False))):
        write_atomically(os.path.join(folder, name), lambda f: f.write(payload.encode()))
        written.append(os.path.join(folder, name))

    trained = outcome.refit.params
    scaling = trained.scaling
    summary = {
        "experiment": source,
        "metric": outcome.metric,
        "best_config": _plain(outcome.search.best_config),
        "cv_mean": outcome.cv_mean,  # the sign of test_score, not the table's
        "cv_std": float(outcome.search.std[outcome.search.best_index]),
        "test_score": outcome.test_score,
        "n_train": len(outcome.y_train), "n_test": outcome.n_test,
        "refit": {"n_steps": int(outcome.refit.n_steps), "converged": bool(outcome.refit.converged),
                  "diverged": bool(outcome.refit.diverged)},
        "feature_names": list(outcome.dataset.feature_names),
        "classes": _plain(list(outcome.dataset.classes)) if outcome.dataset.classes else None,
        "model": _plain(outcome.config["model"]),
        "seconds": {**outcome.seconds, **outcome.search.timings},
    }
    params_path = os.path.join(folder, "best_params.npz")
    jaxfit_io.save(params_path, {"params": trained.params,
                                 "scaling": None if scaling is None else
                                 {"mean": scaling.mean, "scale": scaling.scale}},
                   metadata=_plain(summary))
    written.append(params_path)

    note = None
    try:
        written += _plots(outcome, folder)
    except ImportError as err:
        note = f"plots skipped: {err}"
    summary["files"] = [os.path.basename(p) for p in written] + ["summary.json"]
    text = json.dumps(_plain(summary), indent=1, allow_nan=False)
    write_atomically(os.path.join(folder, "summary.json"), lambda f: f.write(text.encode()))
    written.append(os.path.join(folder, "summary.json"))
    for name in set(replacing) - {os.path.basename(p) for p in written}:
        os.remove(os.path.join(folder, name))
    return written, note

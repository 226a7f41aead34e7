"""jaxfit.plot: every plot renders to PNG with the Agg backend and labels its axes."""

import sys

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display in tests

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from jaxfit import FitResult, plot  # noqa: E402
from jaxfit.io import load, save  # noqa: E402
from jaxfit.model_selection import SearchResult  # noqa: E402
from jaxfit.solvers import PathResult  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _png(ax, path):
    ax.figure.savefig(path)
    assert path.read_bytes()[:8] == PNG
    assert ax.get_xlabel() and ax.get_ylabel()


def _search_result():
    """A 3 x 4 grid (lr x alpha) over 5 folds, one configuration diverged."""
    lr = np.repeat([0.01, 0.1, 1.0], 4)
    alpha = np.tile([1e-4, 1e-3, 1e-2, 1e-1], 3)
    rng = np.random.default_rng(0)
    scores = 0.9 - 0.05 * (np.log10(alpha) + 3) ** 2 / 4 - 0.02 * np.abs(np.log10(lr) + 1)
    scores = scores[:, None] + 0.01 * rng.normal(size=(12, 5))
    status = np.full((12, 5), "converged")
    scores[11] = np.nan
    status[11] = "diverged"
    return SearchResult(configs={"lr": lr, "alpha": alpha}, scores=scores, status=status,
                        n_steps=np.full((12, 5), 10), timings={"compile": 0.0, "run": 0.0}, chunks={})


def _fit_result(history, validation=None, n_steps=None, diverged=False):
    history = np.asarray(history, float)
    validation = np.full_like(history, np.nan) if validation is None else np.asarray(validation, float)
    taken = np.sum(~np.isnan(history)) if n_steps is None else n_steps
    diverged = np.asarray(diverged)
    return FitResult({"w": np.zeros(2)}, history, np.asarray(taken, np.int32), ~diverged, diverged,
                     validation)


def test_loss_curve_drops_the_nan_tail_and_shows_validation(tmp_path):
    history = np.r_[np.geomspace(1.0, 1e-3, 30), np.full(20, np.nan)]
    validation = np.full(50, np.nan)
    validation[4:30:5] = np.linspace(1.0, 0.2, 6)
    ax = plot.loss_curve(_fit_result(history, validation))
    _png(ax, tmp_path / "loss.png")
    training, val = ax.lines
    assert len(training.get_xdata()) == 30 and training.get_xdata()[-1] == 30
    assert len(val.get_xdata()) == 6 and val.get_linestyle() == "--"
    assert ax.get_yscale() == "log"  # three decades
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["training", "validation"]


def test_loss_curve_marks_a_diverged_run_in_a_batch(tmp_path):
    good = np.linspace(1.0, 0.5, 10)
    bad = np.r_[1.0, 10.0, 1e3, np.inf, np.full(6, np.nan)]
    batch = _fit_result(np.stack([good, bad]), n_steps=np.array([10, 4]), diverged=np.array([False, True]))
    ax = plot.loss_curve(batch, labels=["lr=0.1", "lr=10"])
    _png(ax, tmp_path / "diverged.png")
    cross = [line for line in ax.lines if line.get_label() == "diverged"]
    assert len(cross) == 1 and cross[0].get_xdata()[0] == 3 and cross[0].get_ydata()[0] == 1e3


def test_loss_curve_marks_a_run_that_diverged_at_its_first_step(tmp_path):
    first = _fit_result([np.inf, np.nan, np.nan, np.nan], n_steps=1, diverged=True)
    for history in (first, first.history):  # a FitResult, and its bare history
        ax = plot.loss_curve(history)
        cross = [line for line in ax.lines if line.get_label() == "diverged"]
        assert len(cross) == 1 and list(cross[0].get_xdata()) == [1]
        _png(ax, tmp_path / "first.png")
        plt.close("all")
    batch = _fit_result(np.stack([np.linspace(1.0, 0.5, 4), first.history]), n_steps=np.array([4, 1]),
                        diverged=np.array([False, True]))
    ax = plot.loss_curve(batch)
    assert [line.get_label() for line in ax.lines] == ["run 0", "run 1", "diverged"]
    assert ax.get_ylim()[0] <= 0.5 and ax.get_ylim()[1] >= 1.0  # the cross leaves the scale to the data


def test_loss_curve_of_a_fit_result_read_back_from_a_file(tmp_path):
    history = np.r_[np.linspace(3.0, 1.0, 6), np.full(4, np.nan)]
    validation = np.r_[np.full(5, np.nan), 1.5, np.full(4, np.nan)]
    result = _fit_result(history, validation)
    save(tmp_path / "fit.npz", result)
    loaded = load(tmp_path / "fit.npz")  # a namedtuple "FitResult", not the class
    expected = [(line.get_label(), line.get_xydata().tolist()) for line in plot.loss_curve(result).lines]
    ax = plot.loss_curve(loaded)
    assert [(line.get_label(), line.get_xydata().tolist()) for line in ax.lines] == expected
    assert [label for label, _ in expected] == ["training", "validation"]
    _png(ax, tmp_path / "loaded.png")


def test_loss_curve_accepts_a_plain_array_into_given_axes(tmp_path):
    fig, ax = plt.subplots()
    assert plot.loss_curve(np.r_[3.0, 2.0, 1.5, np.nan], ax, log_y=False) is ax
    assert len(ax.lines[0].get_xdata()) == 3 and ax.get_yscale() == "linear"
    _png(ax, tmp_path / "plain.png")
    with pytest.raises(ValueError, match="runs"):
        plot.loss_curve(np.r_[1.0, 2.0], labels=["a", "b"])
    with pytest.raises(ValueError, match="shape"):
        plot.loss_curve(np.zeros((2, 2, 2)))


def test_validation_curve_holds_the_others_at_their_best(tmp_path):
    result = _search_result()
    best = result.best_config
    ax = plot.validation_curve(result, "alpha", score_name="accuracy")
    _png(ax, tmp_path / "vc.png")
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "alpha"
    assert "accuracy" in ax.get_ylabel() and "5 folds" in ax.get_ylabel()
    mean_line = ax.lines[0]
    rows = np.flatnonzero(result.configs["lr"] == best["lr"])
    np.testing.assert_allclose(mean_line.get_ydata(), result.mean[rows])
    assert ax.get_title() == f"lr={best['lr']:.3g}"
    assert ax.collections  # the ±1 std band


def test_validation_curve_marks_diverged_values_and_linear_axes(tmp_path):
    result = _search_result()
    result = SearchResult(**{**result.__dict__, "scores": np.where(
        result.configs["lr"][:, None] == 1.0, np.nan, result.scores)})
    ax = plot.validation_curve(result, "lr")
    assert [line.get_label() for line in ax.lines].count("diverged") == 1
    assert ax.get_xscale() == "log"  # 0.01, 0.1, 1 are log-spaced
    _png(ax, tmp_path / "vc_lr.png")
    linear = SearchResult(configs={"l1_ratio": np.array([0.0, 0.25, 0.5, 0.75, 1.0])},
                          scores=np.random.default_rng(1).uniform(size=(5, 3)),
                          status=np.full((5, 3), "ok"), n_steps=np.zeros((5, 3)), timings={}, chunks={})
    assert plot.validation_curve(linear, "l1_ratio").get_xscale() == "linear"
    with pytest.raises(ValueError, match="l1_ratio"):
        plot.validation_curve(linear, "alpha")


def test_validation_curve_of_a_static_non_numeric_parameter(tmp_path):
    hidden = np.empty(3, object)
    hidden[:] = [(16,), (32,), (32, 16)]
    result = SearchResult(configs={"hidden": hidden}, scores=np.array([[0.8, 0.82], [0.85, 0.86], [0.84, 0.8]]),
                          status=np.full((3, 2), "converged"), n_steps=np.zeros((3, 2)), timings={}, chunks={})
    ax = plot.validation_curve(result, "hidden")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["(16,)", "(32,)", "(32, 16)"]
    _png(ax, tmp_path / "vc_hidden.png")


def test_validation_curve_of_a_numpy_string_parameter(tmp_path):
    # A hand-built result may hold names as a NumPy unicode array rather than objects.
    scores = np.array([[0.8, 0.82], [0.85, 0.86], [0.84, 0.8]])
    names = np.array(["sgd", "adam", "rmsprop"])
    result = SearchResult(configs={"solver": names}, scores=scores, status=np.full((3, 2), "converged"),
                          n_steps=np.zeros((3, 2)), timings={}, chunks={})
    ax = plot.validation_curve(result, "solver")
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == ["adam", "rmsprop", "sgd"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [scores[list(names).index(t)].mean() for t in ticks])
    _png(ax, tmp_path / "vc_names.png")


def test_cv_scores_ranks_configurations_best_on_top(tmp_path):
    result = _search_result()
    ax = plot.cv_scores(result, max_configs=6, score_name="accuracy")
    _png(ax, tmp_path / "cv.png")
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 6
    best = result.best_config
    assert labels[0] == f"lr={best['lr']:.3g}, alpha={best['alpha']:.3g}"
    assert ax.yaxis_inverted()
    full = plot.cv_scores(result)
    assert full.get_yticklabels()[-1].get_text().endswith("(diverged)")
    with pytest.raises(ValueError, match="max_configs"):
        plot.cv_scores(result, max_configs=0)
    with pytest.raises(TypeError, match="max_configs"):
        plot.cv_scores(result, max_configs=2.5)
    with pytest.raises(TypeError, match="`path_result` must be a PathResult.*SearchResult"):
        plot.regularization_path(result)
    assert len(plot.cv_scores(result, max_configs=np.int64(3)).get_yticklabels()) == 3


def test_regularization_path_plots_each_weight(tmp_path):
    strengths = np.geomspace(10.0, 0.01, 12)
    w = np.maximum(0.0, 1.0 - strengths[:, None] / np.array([0.1, 1.0, 5.0, 20.0]))
    path = PathResult({"w": w, "b": np.zeros(12)}, np.full(12, 5), np.ones(12, bool), np.zeros(12, bool))
    ax = plot.regularization_path(path, strengths, feature_names=["a", "b", "c", "d"])
    _png(ax, tmp_path / "path.png")
    assert ax.get_xscale() == "log" and ax.xaxis_inverted()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "c", "d"]
    assert ax.get_title() == "non-zero weights: 1 → 4 of 4"
    by_index = plot.regularization_path(path)
    assert by_index.get_xlabel().startswith("position on the path")
    with pytest.raises(ValueError, match="one value per point"):
        plot.regularization_path(path, strengths[:3])
    # One fit is no path (its 4 weights were drawn as 4 points of one); fits vmapped
    # over the strengths are.
    one = FitResult({"w": w[0], "b": np.zeros(())}, np.zeros(5), np.int32(5), True, False, np.zeros(5))
    with pytest.raises(ValueError, match=r"stacked over the strengths.*shape \(\)"):
        plot.regularization_path(one)
    stacked = FitResult(path.params, np.zeros((12, 5)), path.n_steps, path.converged, path.diverged,
                        np.zeros((12, 5)))
    assert len(plot.regularization_path(stacked, strengths).lines) == 5


def test_missing_matplotlib_says_how_to_install(monkeypatch):
    for name in [m for m in sys.modules if m.startswith("matplotlib")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r'pip install "jaxfit\[plot\]"'):
        plot.loss_curve(np.ones(3))


def test_loss_curve_of_many_runs_keeps_its_legend_small(tmp_path):
    # A batch from vmap over 32 seeds: a legend entry per run (and per validation curve)
    # would cover the axes, and matplotlib warns that the layout collapsed.
    rng = np.random.default_rng(0)
    history = np.cumsum(rng.uniform(size=(32, 30)), axis=1)[:, ::-1]
    diverged = np.zeros(32, bool)
    diverged[5] = True
    history[5, 10:] = np.nan
    batch = _fit_result(history, validation=history * 1.1, n_steps=np.where(diverged, 10, 30),
                        diverged=diverged)
    ax = plot.loss_curve(batch)
    _png(ax, tmp_path / "many.png")  # warnings are errors: the layout held
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["validation", "diverged"]
    assert len(ax.lines) == 2 * 32 + 1
    plt.close("all")
    # Up to 12 runs each is still named, validation curves too.
    ax = plot.loss_curve(_fit_result(history[:12], validation=history[:12] * 1.1,
                                     n_steps=np.where(diverged, 10, 30)[:12], diverged=diverged[:12]))
    _png(ax, tmp_path / "twelve.png")
    assert len(ax.get_legend().get_texts()) == 2 * 12 + 1

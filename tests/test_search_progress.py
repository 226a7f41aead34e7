"""search: step progress from inside the compiled loops; the checkpoint's `fingerprint`."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import tqdm

import jaxfit.model_selection as ms
from jaxfit import _fit, _progress, fit, models, penalties
from jaxfit.model_selection import _checkpoint

from test_search import (FOLDS_CLS, FOLDS_REG, LOGISTIC, SPACE, X_CLS, X_REG, Y_CLS, Y_REG,
                         _run_script, assert_same_table, logistic_search)


class RecordingBar(tqdm.tqdm):
    """A tqdm bar that remembers every (desc, n, total) it was updated to."""

    shown: list = []

    def update(self, n=1):
        shown = super().update(n)
        RecordingBar.shown.append((self.desc, self.n, self.total))
        return shown


@pytest.fixture
def bars(monkeypatch):
    RecordingBar.shown = []
    monkeypatch.setattr("tqdm.auto.tqdm", RecordingBar)
    return RecordingBar.shown


@pytest.fixture
def reported(monkeypatch):
    """Every (step, total) the loops' callbacks delivered."""
    values = []
    put = _progress.Steps.put

    def record(self, step, total):
        values.append((step, total))
        put(self, step, total)

    monkeypatch.setattr(_progress.Steps, "put", record)
    return values


def assert_bitwise_equal(a, b):
    assert a.scores.tobytes() == b.scores.tobytes()
    np.testing.assert_array_equal(a.n_steps, b.n_steps)
    np.testing.assert_array_equal(a.status, b.status)


def test_progress_reports_every_step_of_each_chunk(bars, reported):
    plain = logistic_search(chunk_size=2)  # compiled without the callback first
    shown = logistic_search(chunk_size=2, progress=True)
    assert (shown.status == "max_steps").all()  # every lane runs all 40 steps
    # 40 steps (< 100): one report per step, per chunk, from the slowest lane.
    assert reported == [(step, 40) for step in range(1, 41)] * 2
    assert ("search", 2, 2) in bars
    assert sum(1 for desc, n, total in bars if desc == "steps" and n == total == 40) >= 2
    assert_bitwise_equal(shown, plain)

    # Nor is the program with the callback reused without progress.
    reported.clear()
    with _progress.listening(_progress.Steps()):
        logistic_search(chunk_size=2)
    assert not reported


def test_progress_throttles_and_counts_stopped_lanes_as_done(reported):
    fns = ms.make_fit_fns(models.linear(), "squared_error",
                          optimizer=lambda c: optax.sgd(c["lr"]), steps=1000, tol=1e-4)
    space = ms.grid(lr=[0.1, 0.3])
    plain = ms.search(fns.train, fns.score, X_REG, Y_REG, space, FOLDS_REG)
    shown = ms.search(fns.train, fns.score, X_REG, Y_REG, space, FOLDS_REG, progress=True)
    assert_bitwise_equal(shown, plain)
    assert (plain.status == "converged").all() and plain.n_steps.max() < 200
    # Every 10 steps (1000 // 100) while the slowest lane runs, then done at once.
    steps = [step for step, _ in reported]
    assert steps[:-1] == list(range(10, 10 * len(steps) - 9, 10))
    assert steps[-2] <= plain.n_steps.max() and reported[-1] == (1000, 1000)


def test_progress_with_mini_batches_and_static_programs(bars, reported):
    fns = ms.make_fit_fns(lambda c: models.mlp(c["hidden"]), "binary_cross_entropy",
                          optimizer=lambda c: optax.sgd(c["lr"]), steps=30, batch_size=7)
    args = (fns.train, fns.score, X_CLS, Y_CLS, ms.grid(lr=[0.01, 0.1]), FOLDS_CLS)
    static = {"hidden": [(2,), (3, 2)]}
    plain = ms.search(*args, static=static)
    shown = ms.search(*args, static=static, progress=True)
    assert_bitwise_equal(shown, plain)
    # 40 training rows in batches of 7: an epoch is 6 steps, reported at its end.
    assert reported == [(step, 30) for step in (6, 12, 18, 24, 30)] * 2
    assert ("search", 2, 2) in bars


def test_train_fn_without_fit_shows_only_the_chunk_bar(bars, reported):
    def train(config, X, y, weight, key):
        return {"w": jnp.full(X.shape[1], config["scale"])}

    def score(params, X, y, weight):
        return -jnp.sum(weight * (X @ params["w"] - y) ** 2) / jnp.sum(weight)

    result = ms.search(train, score, X_REG, Y_REG, ms.grid(scale=[0.0, 1.0]), FOLDS_REG,
                       progress=True)
    assert np.isfinite(result.scores).all()
    assert not reported
    assert {desc for desc, _, _ in bars} == {"search"} and ("search", 1, 1) in bars


def test_fit_outside_a_search_compiles_as_before():
    kwargs = dict(optimizer=optax.sgd(0.1), penalty=penalties.l2(0.01), steps=25)

    def hlo():
        run = jax.jit(lambda X, y: fit(models.linear(), "squared_error", X, y, **kwargs).params)
        return run.lower(X_REG, Y_REG).as_text()

    assert "callback" not in hlo()
    with _progress.tracing():
        assert "callback" in hlo()
    first = fit(models.linear(), "squared_error", X_REG, Y_REG, **kwargs)
    size = _fit._fit_loop._cache_size()
    with _progress.listening(_progress.Steps()) as steps:
        again = fit(models.linear(), "squared_error", X_REG, Y_REG, **kwargs)
    assert _fit._fit_loop._cache_size() == size  # no retrace
    assert steps.latest() is None  # and no callback
    np.testing.assert_array_equal(first.history, again.history)


def test_progress_on_four_devices_equals_without(tmp_path):
    proc = _run_script("""
        import jax, numpy as np
        assert len(jax.devices()) == 4, jax.devices()
        from jaxfit import _progress
        from test_search import logistic_search
        reported = []
        put = _progress.Steps.put
        def record(self, step, total):
            reported.append((step, total))
            put(self, step, total)
        _progress.Steps.put = record
        plain = logistic_search(chunk_size=3)
        shown = logistic_search(chunk_size=3, progress=True)  # 2 chunks of 4 lanes
        assert shown.chunks["n_devices"] == 4 and shown.chunks["computed"] == 2
        assert shown.scores.tobytes() == plain.scores.tobytes()
        assert (shown.n_steps == plain.n_steps).all()
        assert reported == [(step, 40) for step in range(1, 41)] * 2, reported
    """, tmp_path, XLA_FLAGS="--xla_force_host_platform_device_count=4")
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_fingerprint_makes_the_checkpoint_strict(tmp_path):
    folder = tmp_path / "ckpt"
    settings = {"steps": 40, "optimizer": "sgd", "hidden": (3, 2)}
    first = logistic_search(checkpoint=folder, fingerprint=settings)
    # The same description resumes (key order and tuple or list do not matter).
    again = logistic_search(checkpoint=folder,
                            fingerprint={"optimizer": "sgd", "hidden": [3, 2], "steps": 40})
    assert again.chunks["computed"] == 0 and again.chunks["resumed"] == 1
    assert_same_table(again, first)

    with pytest.raises(ValueError) as refused:
        logistic_search(checkpoint=folder, fingerprint={**settings, "steps": 80})
    message = str(refused.value)
    assert str(folder) in message and "fingerprint" in message
    assert '"steps":40' in message and '"steps":80' in message
    assert "new folder" in message and "pass the `fingerprint` it was written with" in message
    with pytest.raises(ValueError, match="this search passes fingerprint=none"):
        logistic_search(checkpoint=folder)


def test_without_fingerprint_a_changed_closure_resumes(tmp_path):
    # The limitation `fingerprint` is for: the checkpoint sees train_fn's name, not the
    # steps it captures.
    logistic_search(checkpoint=tmp_path / "a")
    longer = ms.make_fit_fns(models.logistic(), "binary_cross_entropy",
                             optimizer=lambda c: optax.sgd(c["lr"]),
                             penalty=lambda c: penalties.l2(c["alpha"]), steps=80, tol=1e-6,
                             standardize=True, metric="log_loss")
    args = (longer.train, longer.score, X_CLS, Y_CLS, SPACE, FOLDS_CLS)
    stale = ms.search(*args, checkpoint=tmp_path / "a")
    assert stale.chunks["resumed"] == 1 and (stale.n_steps == 40).all()

    logistic_search(checkpoint=tmp_path / "b", fingerprint={"steps": 40})
    with pytest.raises(ValueError, match="fingerprint"):
        ms.search(*args, checkpoint=tmp_path / "b", fingerprint={"steps": 80})
    assert LOGISTIC.train is not longer.train


def test_fingerprint_descriptions_are_stable():
    describe = _checkpoint.describe_fingerprint
    assert describe(None) is None
    assert describe({"a": (1, 2.5), "b": "x"}) == describe({"b": "x", "a": [1, 2.5]})
    assert describe({"lr": np.float64(0.5), "n": np.int32(3)}) == describe({"lr": 0.5, "n": 3})
    assert describe(np.arange(3)) == describe(np.arange(3)) != describe(np.arange(1, 4))
    assert describe("steps=500") != describe("steps=501")
    assert describe(list(range(1000))).startswith("sha256:")


@pytest.mark.parametrize("value,match", [
    (object(), "`fingerprint` must be a str or a JSON-able value"),
    ({"schedule": lambda step: 0.1}, r"`fingerprint\['schedule'\]` must be .* got function"),
    ({1: "a"}, "str keys"),
    ([{2, 3}], r"`fingerprint\[0\]` must be .* got set"),
    (np.array([None, 1]), "fingerprint"),
])
def test_fingerprint_of_a_wrong_kind_is_refused(value, match):
    with pytest.raises(TypeError, match=match):
        ms.search(LOGISTIC.train, LOGISTIC.score, X_CLS, Y_CLS, SPACE, FOLDS_CLS,
                  fingerprint=value)


def test_step_bar_is_timed_from_the_chunks_start(monkeypatch):
    # A chunk that reports only once it has finished (a fast loop, before the first
    # redraw): its bar is created then, yet its rate is the loop's, not 500 steps in 0 s.
    monkeypatch.setattr("tqdm.auto.tqdm", RecordingBar)

    def chunk():
        import time
        time.sleep(0.3)
        _progress._deliver(500, total=500)
        return [np.zeros(1)]

    bar = _progress.SearchBar(1)
    bar.run(chunk)
    elapsed = bar.steps.format_dict["elapsed"]
    bar.close()
    assert elapsed >= 0.3  # was ~1e-5 s: 5e7 step/s

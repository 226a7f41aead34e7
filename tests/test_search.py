"""search: one compiled program over configurations × folds; chunks, devices, resume."""

import os
import signal
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxfit.model_selection as ms
from jaxfit import models, penalties
from jaxfit.model_selection import _search

from helpers import classification_problem, regression_problem

TESTS = os.path.dirname(os.path.abspath(__file__))

# Built once so repeated searches reuse their compiled programs across tests.
X_CLS, Y_CLS = classification_problem(n=60, d=3)
FOLDS_CLS = ms.stratified_kfold(Y_CLS, 3)
SPACE = ms.grid(lr=[0.3, 1.0], alpha=[1e-3, 1e-1])
LOGISTIC = ms.make_fit_fns(models.logistic(), "binary_cross_entropy",
                           optimizer=lambda c: optax.sgd(c["lr"]),
                           penalty=lambda c: penalties.l2(c["alpha"]), steps=40, tol=1e-6,
                           standardize=True, metric="log_loss")

X_REG, Y_REG = regression_problem(n=40, d=2)
FOLDS_REG = ms.kfold(40, 4)
REGRESSION = ms.make_fit_fns(models.linear(), "squared_error",
                             optimizer=lambda c: optax.sgd(c["lr"]), steps=30)


def logistic_search(**kwargs):
    """The reference search, also run by the subprocesses below."""
    return ms.search(LOGISTIC.train, LOGISTIC.score, X_CLS, Y_CLS, SPACE, FOLDS_CLS, **kwargs)


def assert_same_table(a, b):
    ta, tb = a.table(), b.table()
    assert list(ta) == list(tb)
    assert ta.pop("params") == tb.pop("params")
    for name in ta:
        np.testing.assert_array_equal(ta[name], tb[name], err_msg=name)


def test_search_equals_cross_validate_per_config():
    result = logistic_search()
    assert result.scores.shape == (4, 3) and result.n_steps.shape == (4, 3)
    for i in (0, 3):
        config = result.config(i)
        cv = ms.cross_validate(LOGISTIC.train, LOGISTIC.score, X_CLS, Y_CLS, FOLDS_CLS, config=config)
        np.testing.assert_allclose(result.scores[i], cv.scores, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(result.status[i], cv.status)
        np.testing.assert_array_equal(result.n_steps[i], cv.n_steps)
    np.testing.assert_allclose(result.mean, result.scores.mean(axis=1))
    assert result.rank[result.best_index] == 1
    assert result.best_config == result.config(int(np.argmax(result.mean)))
    assert result.best_config["lr"] in (0.3, 1.0)  # values as given, not float32 noise


def test_chunking_and_memory_budget_do_not_change_results(monkeypatch):
    whole = logistic_search()
    assert whole.chunks == {"computed": 1, "resumed": 0, "chunk_size": 4, "n_devices": 1}
    assert whole.timings["compile"] == 0.0  # compiled by the test above, reused
    for chunk_size in (1, 3):
        chunked = logistic_search(chunk_size=chunk_size)
        assert chunked.chunks["computed"] == -(-4 // chunk_size)
        np.testing.assert_allclose(chunked.scores, whole.scores, rtol=1e-6)
        np.testing.assert_array_equal(chunked.n_steps, whole.n_steps)
    # A budget below one configuration's buffers gives the smallest chunk a call runs:
    # 2 configurations per device (a size-1 axis would compile to other arithmetic).
    monkeypatch.setattr(_search, "MEMORY_BUDGET", 1)
    tight = logistic_search()
    assert tight.chunks["chunk_size"] == 2 and tight.chunks["computed"] == 2
    np.testing.assert_allclose(tight.scores, whole.scores, rtol=1e-6)


def test_diverging_config_is_reported_ranked_last_and_harmless():
    stable = ms.search(REGRESSION.train, REGRESSION.score, X_REG, Y_REG,
                       ms.grid(lr=[0.01, 0.1]), FOLDS_REG)
    mixed = ms.search(REGRESSION.train, REGRESSION.score, X_REG, Y_REG,
                      ms.grid(lr=[0.01, 10.0, 0.1]), FOLDS_REG)
    assert (mixed.status[1] == "diverged").all() and np.isnan(mixed.scores[1]).all()
    assert mixed.rank[1] == 3 and mixed.best_index != 1
    assert mixed.table()["status"][1] == "diverged"
    assert (mixed.n_steps[1] < 30).all()  # the diverged lanes stopped early
    np.testing.assert_allclose(mixed.scores[[0, 2]], stable.scores, rtol=1e-6)
    assert mixed.best_config == stable.best_config == {"lr": 0.1}

    doomed = ms.search(REGRESSION.train, REGRESSION.score, X_REG, Y_REG,
                       ms.grid(lr=[10.0, 20.0]), FOLDS_REG)
    assert doomed.rank.tolist() == [1, 1]
    with pytest.raises(ValueError, match="no configuration has a finite mean score.*smaller learning"):
        doomed.best_config


def test_no_best_config_for_a_metric_undefined_on_every_fold_says_so():
    # 20 rows of each class, unshuffled halves: each test fold holds one class, where ROC
    # AUC is undefined; smaller learning rates (the advice for diverged fits) cannot help.
    rows = np.concatenate([np.flatnonzero(Y_CLS == 0)[:20], np.flatnonzero(Y_CLS == 1)[:20]])
    fns = ms.make_fit_fns(models.logistic(), "binary_cross_entropy", optimizer=lambda c: optax.sgd(c["lr"]),
                          steps=10, metric="roc_auc")
    result = ms.search(fns.train, fns.score, X_CLS[rows], Y_CLS[rows], ms.grid(lr=[0.1]), ms.kfold(40, 2))
    assert (result.status == "invalid_score").all()
    with pytest.raises(ValueError, match="metric was not finite on some test fold"):
        result.best_config


def test_static_values_compile_one_program_each():
    fns = ms.make_fit_fns(lambda c: models.mlp(c["hidden"]), "binary_cross_entropy",
                          optimizer=lambda c: optax.sgd(c["lr"]), steps=15)
    result = ms.search(fns.train, fns.score, X_CLS, Y_CLS, ms.grid(lr=[0.01, 0.1]), FOLDS_CLS,
                       static={"hidden": [(2,), (3, 2)]})
    assert result.configs["hidden"].tolist() == [(2,), (2,), (3, 2), (3, 2)]
    np.testing.assert_allclose(result.configs["lr"], [0.01, 0.1, 0.01, 0.1])
    assert result.table()["params"][2] == {"lr": 0.01, "hidden": (3, 2)}
    assert np.isfinite(result.scores).all()
    refit = result.refit(X_CLS, Y_CLS)
    assert len(refit.params.params["layers"]) == len(result.best_config["hidden"]) + 1


def test_static_arrays_are_told_apart_by_value(tmp_path):
    # Two feature masks NumPy prints alike (it elides arrays past 1000 entries): each
    # gets its own program, and a checkpoint of one refuses the other.
    d = 1200
    X = np.random.default_rng(0).normal(size=(40, d)).astype(np.float32)
    y = 3 * X[:, 600]
    keep, drop = np.zeros(d, bool), np.zeros(d, bool)
    keep[[0, 600]] = drop[[0, 601]] = True
    assert repr(keep) == repr(drop)

    def train_fn(config, X, y, w, key):
        Xs = X[:, config["features"]]
        return jnp.linalg.solve((Xs * w[:, None]).T @ Xs + jnp.eye(2), (Xs * w[:, None]).T @ y)

    def score_fn(coef, X, y, w):  # the masks differ in the last feature only
        return -jnp.sum(w * (X[:, [0, 600]] @ coef - y) ** 2)

    folds = ms.kfold(40, 4)
    result = ms.search(train_fn, score_fn, X, y, {}, folds, static={"features": [keep, drop]},
                       checkpoint=tmp_path)
    for row, mask in enumerate((keep, drop)):
        alone = ms.cross_validate(train_fn, score_fn, X, y, folds, config={"features": mask})
        np.testing.assert_allclose(result.scores[row], alone.scores, rtol=1e-5)
    assert result.mean[0] > 10 * result.mean[1]  # the mask without feature 600 fits worse
    with pytest.raises(ValueError, match="static"):
        ms.search(train_fn, score_fn, X, y, {}, folds, static={"features": [keep, keep]},
                  checkpoint=tmp_path)


def test_vector_hyperparameters_in_the_table():
    result = ms.search(lambda c, X, y, w, k: c["w"], lambda p, X, y, w: -jnp.sum(p ** 2),
                       X_REG, Y_REG, {"w": np.array([[0.0, 1.0], [2.0, 3.0]])}, FOLDS_REG)
    frame = result.to_pandas()
    np.testing.assert_array_equal(frame["param_w"][1], [2.0, 3.0])
    assert frame["rank_test_score"].tolist() == [1, 2]


def test_table_pandas_refit_and_progress(capsys):
    result = logistic_search(progress=True)
    assert "search" in capsys.readouterr().err
    table = result.table()
    assert list(table)[:3] == ["params", "param_lr", "param_alpha"]
    for name in ("mean_test_score", "std_test_score", "rank_test_score", "split0_test_score",
                 "split2_test_score", "status", "mean_n_steps"):
        assert len(table[name]) == 4, name
    frame = result.to_pandas()
    assert frame.shape == (4, 11)
    assert frame["rank_test_score"].min() == 1
    fitted = result.refit(X_CLS, Y_CLS)
    accuracy = (LOGISTIC.predict(fitted.params, X_CLS) == Y_CLS).mean()
    assert accuracy > 0.6
    assert "best_config" in repr(result)


def test_refit_compiles_once_per_result():
    traces = []
    fns = ms.make_fit_fns(models.logistic(), "binary_cross_entropy",
                          optimizer=lambda c: optax.sgd(c["lr"]), steps=lambda c: c["steps"])

    def train(config, X, y, w, key):
        traces.append(config["steps"])
        return fns.train(config, X, y, w, key)

    result = ms.search(train, fns.score, X_CLS, Y_CLS, ms.grid(lr=[0.1, 0.3]),
                       ms.kfold(len(Y_CLS), 3), static={"steps": [5, 20]})
    traces.clear()
    first = result.refit(X_CLS, Y_CLS)
    second = result.refit(X_CLS * 2, Y_CLS)  # new data, same shapes: the same program
    assert len(traces) == 1
    assert not np.allclose(jax.tree.leaves(first.params)[-1], jax.tree.leaves(second.params)[-1])


def _run_script(code: str, tmp_path, **env):
    script = tmp_path / "script.py"
    script.write_text(f"import sys\nsys.path.insert(0, {TESTS!r})\n" + textwrap.dedent(code))
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env={**os.environ, "JAX_PLATFORMS": "cpu", **env}, timeout=120)


def test_four_devices_equal_one_device(tmp_path):
    out = tmp_path / "four.npz"
    proc = _run_script(f"""
        import jax, numpy as np
        assert len(jax.devices()) == 4, jax.devices()
        from test_search import logistic_search
        r = logistic_search(chunk_size=3)  # 2 chunks, each padded from 3 to 4 lanes
        assert r.chunks["n_devices"] == 4 and r.chunks["computed"] == 2
        np.savez({str(out)!r}, scores=r.scores, n_steps=r.n_steps, status=r.status)
    """, tmp_path, XLA_FLAGS="--xla_force_host_platform_device_count=4")
    assert proc.returncode == 0, proc.stderr[-3000:]
    one = logistic_search()
    with np.load(out, allow_pickle=False) as four:
        np.testing.assert_allclose(four["scores"], one.scores, rtol=1e-6)
        np.testing.assert_array_equal(four["n_steps"], one.n_steps)
        np.testing.assert_array_equal(four["status"], one.status)


def test_killed_search_resumes_without_recomputing(tmp_path):
    ckpt = tmp_path / "ckpt"
    # The child really dies by SIGKILL right after its second chunk reaches the disk.
    proc = _run_script(f"""
        import os, signal
        from jaxfit.model_selection import _checkpoint
        save = _checkpoint.Checkpoint.save
        def save_then_die(self, name, arrays):
            save(self, name, arrays)
            if self.saved == 2:
                os.kill(os.getpid(), signal.SIGKILL)
        _checkpoint.Checkpoint.save = save_then_die
        from test_search import logistic_search
        logistic_search(chunk_size=1, checkpoint={str(ckpt)!r})
        raise SystemExit("the search was not killed")
    """, tmp_path)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    finished = sorted(f for f in os.listdir(ckpt) if f.startswith("chunk-"))
    assert finished == ["chunk-0000-000000.npz", "chunk-0000-000001.npz"]
    mtimes = {f: os.stat(ckpt / f).st_mtime_ns for f in finished}

    resumed = logistic_search(checkpoint=ckpt)  # chunk_size adopted from the folder
    assert resumed.chunks == {"computed": 2, "resumed": 2, "chunk_size": 1, "n_devices": 1}
    assert {f: os.stat(ckpt / f).st_mtime_ns for f in finished} == mtimes
    assert_same_table(resumed, logistic_search(chunk_size=1))
    again = logistic_search(checkpoint=ckpt)
    assert again.chunks["computed"] == 0 and again.chunks["resumed"] == 4
    assert not [f for f in os.listdir(ckpt) if f.startswith(".tmp")]
    with np.load(ckpt / finished[0], allow_pickle=False) as chunk:
        assert sorted(chunk.files) == ["n_steps", "scores", "status"]


def test_checkpoint_accepts_any_chunk_size_giving_the_same_chunks(tmp_path):
    # SPACE has 4 configurations: every chunk_size from 4 up is the same single chunk.
    first = logistic_search(chunk_size=10, checkpoint=tmp_path)
    assert first.chunks["chunk_size"] == 4
    for chunk_size in (4, 50, None):
        again = logistic_search(chunk_size=chunk_size, checkpoint=tmp_path)
        assert again.chunks == {"computed": 0, "resumed": 1, "chunk_size": 4, "n_devices": 1}
        assert_same_table(again, first)
    with pytest.raises(ValueError, match="chunk_size"):
        logistic_search(chunk_size=3, checkpoint=tmp_path)


def test_changed_search_refuses_old_checkpoint(tmp_path):
    logistic_search(checkpoint=tmp_path)
    changes = [
        (dict(space=ms.grid(lr=[0.3, 1.0], alpha=[1e-3, 1e-2])), "space"),
        (dict(X=X_CLS + 1.0), "data"),
        (dict(X=X_CLS[:, :2]), "data_shape"),
        (dict(folds=ms.kfold(60, 3)), "folds"),
        (dict(static={"unused": [1]}), "static"),
        (dict(key=jax.random.key(5)), "key"),
        (dict(chunk_size=2), "chunk_size"),
    ]
    for change, match in changes:
        args = dict(X=X_CLS, space=SPACE, folds=FOLDS_CLS)
        args.update(change)
        with pytest.raises(ValueError, match=match):
            ms.search(LOGISTIC.train, LOGISTIC.score, args.pop("X"), Y_CLS, args.pop("space"),
                      args.pop("folds"), checkpoint=tmp_path, **args)


BAD_SEARCH = [
    (dict(space=[0.1, 1.0]), TypeError, "space"),
    (dict(space={"a": np.ones(3), "b": np.ones(2)}), ValueError, "leading axis"),
    (dict(space={"a": np.array(["x", "y"])}), TypeError, "space"),
    (dict(static={"lr": [1]}), ValueError, "static"),
    (dict(static={"hidden": 4}), TypeError, "static"),
    (dict(static=[1]), TypeError, "static"),
    (dict(chunk_size=0), ValueError, "chunk_size"),
    (dict(devices=["cpu"]), TypeError, "devices"),
    (dict(devices=jax.devices()[:1] * 2), ValueError, "devices"),
    (dict(space={"seed": np.array([2**40 + 5, 1])}), ValueError, "int32"),  # not traced as 5
    (dict(progress="yes"), TypeError, "progress"),
    (dict(folds=ms.kfold(61, 3)), ValueError, "folds"),
    (dict(checkpoint=__file__), ValueError, "checkpoint"),
]


@pytest.mark.parametrize("change,error,match", BAD_SEARCH)
def test_search_errors_name_the_argument(change, error, match):
    args = dict(space=SPACE, folds=FOLDS_CLS)
    args.update(change)
    with pytest.raises(error, match=match):
        ms.search(LOGISTIC.train, LOGISTIC.score, X_CLS, Y_CLS, args.pop("space"),
                  args.pop("folds"), **args)


def test_two_searches_starting_on_one_new_folder_do_not_mix(tmp_path, monkeypatch):
    # Search A estimates its default chunk size (seconds, in real searches) before it
    # writes the manifest; search B, on other data, starts on the same folder meanwhile
    # and finishes. A must be refused, not take over B's folder and B's chunks.
    other_y = -10 * Y_REG
    b_run = {}
    estimate = _search._Programs.chunk_size

    def estimate_while_b_runs(self, *args):
        b_run["result"] = ms.search(REGRESSION.train, REGRESSION.score, X_REG, other_y,
                                    ms.grid(lr=[0.01, 0.1]), FOLDS_REG, chunk_size=2,
                                    checkpoint=tmp_path)
        return estimate(self, *args)

    monkeypatch.setattr(_search._Programs, "chunk_size", estimate_while_b_runs)
    with pytest.raises(ValueError, match="different search: data changed"):
        ms.search(REGRESSION.train, REGRESSION.score, X_REG, Y_REG, ms.grid(lr=[0.01, 0.1]),
                  FOLDS_REG, checkpoint=tmp_path)
    monkeypatch.undo()
    b_again = ms.search(REGRESSION.train, REGRESSION.score, X_REG, other_y,
                        ms.grid(lr=[0.01, 0.1]), FOLDS_REG, checkpoint=tmp_path)
    assert b_again.chunks["resumed"] == 1
    assert_same_table(b_again, b_run["result"])


def test_damaged_manifest_is_named(tmp_path):
    (tmp_path / "manifest.json").write_text('{"format": 1, "chunk')
    with pytest.raises(ValueError, match="damaged manifest.json"):
        logistic_search(checkpoint=tmp_path)


def test_static_objects_known_by_memory_address_resume_with_a_fingerprint(tmp_path):
    # An optax transform's repr holds its functions' addresses, new in every process
    # (here: new objects kept alive side by side), so without `fingerprint` no later run
    # could recognise the folder: refused up front, not at the first resume.
    fns = ms.make_fit_fns(models.linear(), "squared_error", optimizer=lambda c: c["opt"],
                          steps=10)
    run = lambda **kw: ms.search(fns.train, fns.score, X_REG, Y_REG, {}, FOLDS_REG,
                                 static={"opt": [optax.sgd(0.01), optax.sgd(0.1)]},
                                 checkpoint=tmp_path, **kw)
    with pytest.raises(ValueError, match=r"static.*\['opt'\].*memory addresses.*fingerprint="):
        run()
    first = run(fingerprint={"opt": ["sgd(0.01)", "sgd(0.1)"]})
    again = run(fingerprint={"opt": ["sgd(0.01)", "sgd(0.1)"]})  # new objects, same settings
    assert again.chunks["resumed"] == 2 and again.chunks["computed"] == 0
    np.testing.assert_array_equal(again.scores, first.scores)
    assert first.scores[0, 0] != first.scores[1, 0]


def _mean_of_f(config, X, y, w, key):
    return config["f"](jnp.sum(w * y) / jnp.sum(w))


def _identity_score(params, X, y, w):
    return params


def test_static_closures_and_lambdas_need_a_fingerprint(tmp_path):
    # Closures share a name (`make_scale.<locals>.scale`) whatever they capture:
    # described by it, a checkpoint of factor 1 would resume a search of factor 10.
    def make_scale(s):
        def scale(x):
            return s * x
        return scale

    def local(x):
        return x

    for functions in ([make_scale(1.0), make_scale(10.0)], [lambda x: x, lambda x: 2 * x], [local]):
        with pytest.raises(ValueError, match=r"static.*\['f'\].*fingerprint="):
            ms.search(_mean_of_f, _identity_score, X_REG, Y_REG, {}, FOLDS_REG,
                      static={"f": functions}, checkpoint=tmp_path)
    # Functions defined at a module's top level are known by their names.
    result = ms.search(_mean_of_f, _identity_score, X_REG, Y_REG, {}, FOLDS_REG,
                       static={"f": [jnp.abs, jnp.negative]}, checkpoint=tmp_path)
    assert result.chunks["computed"] == 2


def test_x64_search_refuses_a_float32_checkpoint(tmp_path):
    # Same float32 data, but under x64 the hyperparameters are traced in float64 and the
    # fits differ: a resumed result would not be what this search computes.
    logistic_search(checkpoint=tmp_path)
    with jax.enable_x64(True):
        with pytest.raises(ValueError, match="hyperparameter_dtype changed"):
            logistic_search(checkpoint=tmp_path)


def test_default_chunk_size_over_budget_names_no_more_configs_than_there_are(tmp_path, monkeypatch):
    # One configuration over the memory budget: the default chunk is that configuration
    # (the call still runs 2 lanes), so a checkpoint accepts chunk_size=1, the same chunk.
    monkeypatch.setattr(_search, "MEMORY_BUDGET", 1)
    one = lambda **kwargs: ms.search(LOGISTIC.train, LOGISTIC.score, X_CLS, Y_CLS,
                                     ms.grid(lr=[0.3], alpha=[1e-3]), FOLDS_CLS, **kwargs)
    first = one(checkpoint=tmp_path)
    assert first.chunks == {"computed": 1, "resumed": 0, "chunk_size": 1, "n_devices": 1}
    again = one(checkpoint=tmp_path, chunk_size=1)
    assert again.chunks == {"computed": 0, "resumed": 1, "chunk_size": 1, "n_devices": 1}
    np.testing.assert_array_equal(again.scores, first.scores)
    np.testing.assert_allclose(first.scores, logistic_search().scores[:1], rtol=1e-6)

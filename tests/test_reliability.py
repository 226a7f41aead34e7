"""Reliability: determinism, numerical robustness, warnings, faults, recompilation, memory.

What each section establishes, with the figures measured, is in tests/README.md.
"""

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import warnings

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import optax
import pytest

import jaxfit
import jaxfit.model_selection as ms
from jaxfit import data, losses, metrics, models, penalties, solvers

from helpers import classification_problem, regression_problem

TESTS = os.path.dirname(os.path.abspath(__file__))

# The shared problems. Module-level objects so that every test (and the child processes,
# which import this module) reuses the same functions and hence the compiled programs.
X_CLS, Y_CLS = classification_problem(n=60, d=3)
FOLDS_CLS = ms.stratified_kfold(Y_CLS, 3)
SPACE = ms.random_search_space(jax.random.key(0), 6, lr=ms.loguniform(0.01, 3.0),
                               alpha=ms.loguniform(1e-4, 1e-1))
# Standardized inside each fold and scored by log loss: the most rounding-sensitive path.
SCALED = ms.make_fit_fns(models.logistic(), "binary_cross_entropy",
                         optimizer=lambda c: optax.sgd(c["lr"]),
                         penalty=lambda c: penalties.l2(c["alpha"]), steps=40, tol=1e-6,
                         standardize=True, metric="log_loss")
PLAIN = ms.make_fit_fns(models.logistic(), "binary_cross_entropy",
                        optimizer=lambda c: optax.sgd(c["lr"]),
                        penalty=lambda c: penalties.l2(c["alpha"]), steps=40, metric="log_loss")
MLP = models.mlp((8,), dropout=0.2)
ADAM = optax.adam(0.05)


def scaled_search(**kwargs):
    return ms.search(SCALED.train, SCALED.score, X_CLS, Y_CLS, SPACE, FOLDS_CLS, **kwargs)


def plain_search(**kwargs):
    return ms.search(PLAIN.train, PLAIN.score, X_CLS, Y_CLS, SPACE, FOLDS_CLS, **kwargs)


def mlp_fit(key):
    """Random init, dropout and mini-batch order: everything a key decides."""
    return jaxfit.fit(MLP, "binary_cross_entropy", X_CLS, Y_CLS, optimizer=ADAM, steps=30,
                      batch_size=16, key=key)


def assert_bitwise(a, b):
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        x, y = np.asarray(x), np.asarray(y)
        assert x.dtype == y.dtype and x.shape == y.shape
        assert x.tobytes() == y.tobytes()


def assert_same_search(a, b):
    np.testing.assert_array_equal(a.status, b.status)
    np.testing.assert_array_equal(a.n_steps, b.n_steps)
    assert a.scores.tobytes() == b.scores.tobytes()


def run_child(code: str, tmp_path, **env):
    script = tmp_path / "child.py"
    script.write_text(f"import sys\nsys.path.insert(0, {TESTS!r})\n" + textwrap.dedent(code))
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env={**os.environ, "JAX_PLATFORMS": "cpu", **env}, timeout=300)


@contextlib.contextmanager
def compile_log():
    """`{"traces": [...], "compiles": [...]}`: function names jax traced / XLA compiled."""
    log = {"traces": [], "compiles": []}
    kinds = {"/jax/core/compile/jaxpr_trace_duration": "traces",
             "/jax/core/compile/backend_compile_duration": "compiles"}

    def listener(event, duration, **kwargs):
        if event in kinds:
            log[kinds[event]].append(kwargs.get("fun_name", "?"))

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield log
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


# ----------------------------------------------------------------------- determinism

def test_same_key_gives_the_same_bits():
    assert_bitwise(mlp_fit(jax.random.key(3)), mlp_fit(jax.random.key(3)))
    cv = lambda: ms.cross_validate(SCALED.train, SCALED.score, X_CLS, Y_CLS, FOLDS_CLS,
                                   config={"lr": 0.5, "alpha": 1e-3}, key=jax.random.key(1))
    first, second = cv(), cv()
    assert_bitwise((first.scores, first.n_steps, first.params), (second.scores, second.n_steps, second.params))
    assert_same_search(scaled_search(), scaled_search())


def test_chunk_sizes_give_the_same_bits():
    whole = scaled_search()
    assert whole.chunks["chunk_size"] == 6
    # 6 chunks of one (each padded to 2 lanes: a lane axis of size 1 compiles to other
    # kernels, tests/README.md); 3 chunks; 2 chunks, the last padded; 2 uneven chunks.
    for chunk_size in (1, 2, 4, 5):
        assert_same_search(scaled_search(chunk_size=chunk_size), whole)
    assert_same_search(plain_search(chunk_size=1), plain_search())
    # A space of one configuration is padded the same way.
    first = ms.search(SCALED.train, SCALED.score, X_CLS, Y_CLS, {n: v[:1] for n, v in SPACE.items()},
                      FOLDS_CLS)
    assert first.scores.tobytes() == whole.scores[:1].tobytes()


_FOUR_DEVICES = """
    import jax, numpy as np
    assert len(jax.devices()) == 4, jax.devices()
    from test_reliability import FOLDS_CLS, SCALED, X_CLS, Y_CLS, mlp_fit, plain_search, scaled_search
    import jaxfit.model_selection as ms
    one = jax.devices()[:1]
    fit = mlp_fit(jax.random.key(3))
    cv = ms.cross_validate(SCALED.train, SCALED.score, X_CLS, Y_CLS, FOLDS_CLS,
                           config={{"lr": 0.5, "alpha": 1e-3}}, key=jax.random.key(1))
    four = scaled_search(chunk_size=6)  # 2 lanes per device (6 padded to 8)
    out = {{"fit_w": fit.params["layers"][0]["w"], "fit_history": fit.history,
           "cv_scores": cv.scores,
           "one_device": scaled_search(devices=one).scores,
           "plain_four": plain_search(chunk_size=6).scores,
           "scaled_four": four.scores, "scaled_four_steps": four.n_steps,
           "scaled_four_status": four.status,
           # 1 configuration per device, padded to 2 lanes each
           "scaled_four_chunk_4": scaled_search(chunk_size=4).scores}}
    np.savez({path!r}, **{{k: np.asarray(v) for k, v in out.items()}})
"""


def test_another_process_and_four_devices(tmp_path):
    """Another process gives the same bits, and so do 4 devices, with and without
    in-fold standardization (whose divisions XLA used to rewrite in one program only,
    tests/README.md)."""
    path = tmp_path / "four.npz"
    proc = run_child(_FOUR_DEVICES.format(path=str(path)), tmp_path,
                     XLA_FLAGS="--xla_force_host_platform_device_count=4")
    assert proc.returncode == 0, proc.stderr[-3000:]
    here_fit = mlp_fit(jax.random.key(3))
    here_cv = ms.cross_validate(SCALED.train, SCALED.score, X_CLS, Y_CLS, FOLDS_CLS,
                                config={"lr": 0.5, "alpha": 1e-3}, key=jax.random.key(1))
    here = scaled_search()
    with np.load(path, allow_pickle=False) as there:
        # Another process, one device: bit for bit.
        assert_bitwise(there["fit_w"], here_fit.params["layers"][0]["w"])
        assert_bitwise(there["fit_history"], here_fit.history)
        assert_bitwise(there["cv_scores"], here_cv.scores)
        assert_bitwise(there["one_device"], here.scores)
        # Sharded over 4 devices: bit for bit, without and with in-fold standardization.
        assert_bitwise(there["plain_four"], plain_search().scores)
        assert_bitwise(there["scaled_four"], here.scores)
        assert_bitwise(there["scaled_four_chunk_4"], here.scores)
        np.testing.assert_array_equal(there["scaled_four_steps"], here.n_steps)
        np.testing.assert_array_equal(there["scaled_four_status"], here.status)


def test_different_keys_give_different_draws():
    k0, k1 = jax.random.key(0), jax.random.key(1)
    y = np.repeat([0, 1, 2], 10)

    def differ(make):
        assert_bitwise(make(k0), make(k0))
        a, b = (np.asarray(leaf) for leaf in (jax.tree_util.tree_leaves(make(k0))[0],
                                              jax.tree_util.tree_leaves(make(k1))[0]))
        assert not np.array_equal(a, b)

    differ(lambda k: ms.kfold(30, 5, shuffle=True, key=k).test)
    differ(lambda k: ms.stratified_kfold(y, 5, shuffle=True, key=k).test)
    differ(lambda k: ms.shuffle_split(30, 3, test_size=0.2, key=k).test)
    differ(lambda k: data.train_test_split(np.arange(30.0)[:, None], y, key=k)[1])
    differ(lambda k: data.train_test_split(np.arange(30.0)[:, None], y, key=k, stratify=True)[1])
    differ(lambda k: ms.random_search_space(k, 5, lr=ms.loguniform(1e-3, 1.0))["lr"])
    differ(lambda k: MLP.init(k, 3)["layers"][0]["w"])
    differ(lambda k: mlp_fit(k).history)


# -------------------------------------------------------------- numerical robustness

LOGITS = {
    "binary_cross_entropy": (np.array([1e4, -1e4, 1e4, -1e4]), np.array([1, 1, 0, 0])),
    "hinge": (np.array([1e4, -1e4, 1e4, -1e4]), np.array([1, 1, 0, 0])),
    "softmax_cross_entropy": (np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]]), np.array([0, 2])),
    "squared_error": (np.array([1e4, -1e4]), np.array([0.0, 1.0])),
    "huber": (np.array([1e4, -1e4]), np.array([0.0, 1.0])),
    "absolute_error": (np.array([1e4, -1e4]), np.array([0.0, 1.0])),
}
# Half precision for the classification losses; (1e4)² is past float16's 65504, so the
# regression losses are checked in float32 (fit always computes in float32 or float64).
LOSS_CASES = [(name, dtype) for name in LOGITS for dtype in (np.float32, np.float16, ml_dtypes.bfloat16)
              if dtype is np.float32 or name in ("binary_cross_entropy", "hinge", "softmax_cross_entropy")]


@pytest.mark.parametrize("name, dtype", LOSS_CASES)
def test_losses_and_gradients_are_finite_at_logits_of_1e4(name, dtype):
    outputs, y = LOGITS[name]
    loss = losses.LOSSES[name]
    outputs = jnp.asarray(outputs.astype(np.float32)).astype(dtype)
    values = loss(outputs, jnp.asarray(y))
    grads = jax.grad(lambda o: loss(o, jnp.asarray(y)).astype(jnp.float32).sum())(outputs)
    assert np.isfinite(np.asarray(values, np.float32)).all(), values
    assert np.isfinite(np.asarray(grads, np.float32)).all(), grads
    if name == "binary_cross_entropy" and dtype is np.float32:
        # Confident and right costs nothing; confident and wrong costs |logit|.
        np.testing.assert_allclose(values, [0.0, 1e4, 1e4, 0.0], atol=1e-3)
        np.testing.assert_allclose(grads, [0.0, -1.0, 1.0, 0.0], atol=1e-6)


def test_fit_on_logits_of_1e4_keeps_finite_params():
    X = np.r_[X_CLS, X_CLS[:1] * 1e4].astype(np.float32)  # one sample far out: logits ~1e4
    y = np.r_[Y_CLS, 1 - Y_CLS[:1]].astype(np.int32)
    result = jaxfit.fit(models.logistic(), "binary_cross_entropy", X, y, optimizer=optax.sgd(1e-4),
                        steps=50)
    assert not bool(result.diverged)
    assert all(np.isfinite(np.asarray(leaf)).all() for leaf in jax.tree_util.tree_leaves(result.params))
    assert np.isfinite(np.asarray(result.history)).all()


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16])
def test_half_precision_inputs_are_computed_in_float32(dtype):
    X, y = regression_problem(n=40, d=3)
    low_X, low_y = X.astype(dtype), y.astype(dtype)
    same_X, same_y = low_X.astype(np.float32), low_y.astype(np.float32)  # the same values
    fit = lambda X, y: jaxfit.fit(models.linear(), "squared_error", X, y, optimizer=optax.sgd(0.1),
                                  steps=30)
    low = fit(low_X, low_y)
    assert low.params["w"].dtype == jnp.float32 and low.history.dtype == jnp.float32
    assert_bitwise(low, fit(same_X, same_y))
    assert metrics.mse(low_y, low_y * 2).dtype == jnp.float32
    assert float(metrics.r2(low_y, same_y)) == 1.0
    scaling = data.standardize(low_X)
    assert scaling.mean.dtype == jnp.float32
    assert_bitwise(scaling, data.standardize(same_X))
    folds = ms.kfold(40, 4)
    cv_low = ms.cross_validate(ROUGH.train, ROUGH.score, low_X, low_y, folds)
    cv_same = ms.cross_validate(ROUGH.train, ROUGH.score, same_X, same_y, folds)
    assert cv_low.scores.dtype == jnp.float32
    assert_bitwise(cv_low.scores, cv_same.scores)


ROUGH = ms.make_fit_fns(models.linear(), "squared_error", optimizer=optax.sgd(0.1), steps=30)


def test_float64_end_to_end_against_references():
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.metrics import log_loss, r2_score, roc_auc_score
    from sklearn.model_selection import KFold, cross_val_score

    with jax.enable_x64(True):
        X, y = regression_problem(n=80, d=4)
        X, y = X.astype(np.float64), y.astype(np.float64)
        result = jaxfit.fit(models.linear(), "squared_error", X, y, optimizer=solvers.lbfgs(),
                            steps=200, tol=1e-12)
        assert result.params["w"].dtype == jnp.float64 and bool(result.converged)
        reference = np.linalg.lstsq(np.c_[X, np.ones(len(X))], y, rcond=None)[0]
        np.testing.assert_allclose(np.r_[result.params["w"], result.params["b"]], reference,
                                   rtol=1e-10, atol=1e-12)

        alpha = 0.5
        ridge = ms.make_fit_fns(models.linear(), "squared_error", optimizer=solvers.closed_form(),
                                penalty=lambda c: penalties.l2(2 * c["alpha"] / 60), steps=1,
                                metric="r2")
        folds = ms.kfold(80, 4)
        cv = ms.cross_validate(ridge.train, ridge.score, X, y, folds, config={"alpha": alpha})
        assert cv.scores.dtype == jnp.float64
        sklearn_scores = cross_val_score(Ridge(alpha), X, y, cv=KFold(4), scoring="r2")
        np.testing.assert_allclose(cv.scores, sklearn_scores, rtol=1e-9)
        searched = ms.search(ridge.train, ridge.score, X, y, ms.grid(alpha=[alpha, 5.0]), folds)
        assert searched.scores.dtype == np.float64
        np.testing.assert_allclose(searched.scores[0], sklearn_scores, rtol=1e-9)

        Xc, yc = classification_problem(n=120, d=3)
        Xc = Xc.astype(np.float64)
        fitted = jaxfit.fit(models.logistic(), "binary_cross_entropy", Xc, yc,
                            optimizer=solvers.newton(), penalty=penalties.l2(1.0 / 120),
                            steps=50, tol=1e-12)
        sk = LogisticRegression(C=1.0, tol=1e-12, max_iter=10_000).fit(Xc, yc)
        np.testing.assert_allclose(fitted.params["w"], sk.coef_[0], rtol=1e-7)
        logits = np.asarray(models.logistic().apply(fitted.params, Xc))
        prob = 1 / (1 + np.exp(-logits))
        np.testing.assert_allclose(float(metrics.log_loss(yc, prob)), log_loss(yc, prob), rtol=1e-12)
        np.testing.assert_allclose(float(metrics.roc_auc(yc, logits)), roc_auc_score(yc, logits),
                                   rtol=1e-12)
        np.testing.assert_allclose(float(metrics.r2(y, X @ reference[:4] + reference[4])),
                                   r2_score(y, X @ reference[:4] + reference[4]), rtol=1e-12)


def _ill_conditioned():
    X, y = regression_problem(n=60, d=3)
    # A column repeated up to rounding and a column 1e4 times larger: cond(X) ~ 1e11.
    X = np.c_[X, X[:, :1] * (1 + 1e-7), 1e4 * X[:, 1:2]].astype(np.float32)
    return X, y


@pytest.mark.parametrize("solver, expected", [
    (optax.sgd(1e-3), "diverged"), (optax.lbfgs(), "max_steps"), (solvers.lbfgs(), "max_steps"),
    (solvers.closed_form(), "max_steps"), (solvers.newton(), "max_steps"),
])
def test_ill_conditioned_least_squares_ends_with_a_status_and_a_warning(solver, expected):
    X, y = _ill_conditioned()
    message = "diverged at step" if expected == "diverged" else "did not converge in 100 steps"
    with pytest.warns(RuntimeWarning, match=message):
        result = jaxfit.fit(models.linear(), "squared_error", X, y, optimizer=solver, steps=100,
                            tol=1e-6)
    assert bool(result.diverged) == (expected == "diverged") and not bool(result.converged)
    assert all(np.isfinite(np.asarray(leaf)).all() for leaf in jax.tree_util.tree_leaves(result.params))


def test_ill_conditioned_search_reports_statuses_not_nan():
    X, y = _ill_conditioned()
    fns = ms.make_fit_fns(models.linear(), "squared_error", optimizer=lambda c: optax.sgd(c["lr"]),
                          steps=50, tol=1e-6)
    result = ms.search(fns.train, fns.score, X, y, ms.grid(lr=[1e-9, 1e-3]), ms.kfold(60, 3))
    assert (result.status[0] == "max_steps").all() and np.isfinite(result.scores[0]).all()
    assert (result.status[1] == "diverged").all() and np.isnan(result.scores[1]).all()
    assert result.best_config == {"lr": 1e-9}


@pytest.mark.parametrize("model, loss, solver", [
    (models.logistic(), "binary_cross_entropy", optax.lbfgs()),
    (models.logistic(), "binary_cross_entropy", optax.adam(0.1)),
    (models.logistic(), "binary_cross_entropy", solvers.newton()),
    (models.softmax(2), "softmax_cross_entropy", optax.lbfgs()),
])
def test_separable_classes_warn_about_growing_weights(model, loss, solver):
    X = X_CLS
    y = (X[:, 0] > 0).astype(np.int32)  # a hyperplane separates the classes exactly
    with pytest.warns(RuntimeWarning, match="perfectly separable.*grow without bound"):
        result = jaxfit.fit(model, loss, X, y, optimizer=solver, steps=200, tol=1e-6)
    assert not bool(result.diverged)
    assert all(np.isfinite(np.asarray(leaf)).all() for leaf in jax.tree_util.tree_leaves(result.params))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # a penalty gives a finite optimum: no such warning
        jaxfit.fit(model, loss, X, y, optimizer=solver, penalty=penalties.l2(1e-2), steps=200,
                   tol=1e-4)
    assert not [w for w in caught if "separable" in str(w.message)]


def test_fit_warns_only_about_concrete_results_it_cannot_vouch_for():
    X, y = regression_problem(n=32, d=3)
    run = lambda lr, **kw: jaxfit.fit(models.linear(), "squared_error", X, y,
                                      optimizer=optax.sgd(lr), steps=10, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run(0.01)  # ran out of steps, but no `tol` was asked for
        run(0.1, tol=10.0)  # converged
        jax.jit(lambda X: jaxfit.fit(models.linear(), "squared_error", X, y, optimizer=optax.sgd(50.0),
                                     steps=10, tol=1e-6).diverged)(X)  # traced: flags only
        jax.vmap(lambda lr: run(lr, tol=1e-6).diverged)(jnp.array([0.01, 50.0]))
        weights = (np.arange(32) < 24).astype(np.float32)
        flipped = np.where(weights > 0, y, -5 * y)  # validation loss rises: stops at step 2
        stopped = jaxfit.fit(models.linear(), "squared_error", X, flipped, optimizer=optax.sgd(0.01),
                             steps=10, tol=1e-9, sample_weight=weights,
                             validation_weight=1 - weights, patience=1)
        assert int(stopped.n_steps) < 10
    with pytest.warns(RuntimeWarning, match=r"did not converge in 10 steps: the tolerance tol=1e-09"):
        run(0.01, tol=1e-9)
    with pytest.warns(RuntimeWarning, match=r"diverged at step \d+: the objective became non-finite"):
        result = run(50.0)
    assert bool(result.diverged)


# ---------------------------------------------------------------------------- faults

_KILLED = """
    import os, signal
    import numpy as np
    from jaxfit.model_selection import _checkpoint

    where = {where!r}
    calls = {{"n": 0}}
    replace, savez = os.replace, np.savez

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def torn_savez(file, **arrays):  # half of the chunk reaches the disk, then the kill
        import io
        buffer = io.BytesIO()
        savez(buffer, **arrays)
        file.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        file.flush()
        os.fsync(file.fileno())
        die()

    def replace_or_die(src, dst):  # the chunk is written and flushed: kill before the rename
        calls["n"] += 1
        if where == "before-rename" and calls["n"] == 3:  # chunks 0, 1, 2 (the manifest is linked)
            die()
        replace(src, dst)

    if where == "mid-chunk":
        save = _checkpoint.Checkpoint.save
        def save_or_tear(self, name, arrays):
            if self.saved == 2:
                _checkpoint.np.savez = torn_savez
            save(self, name, arrays)
        _checkpoint.Checkpoint.save = save_or_tear
    elif where == "mid-manifest":
        write = _checkpoint.write_atomically
        def torn_manifest(path, fn, **kwargs):
            if path.endswith("manifest.json"):
                with open(path + ".partial", "wb") as f:  # as if the temporary file were torn
                    f.write(b'{{"format": 1, "chunk')
                die()
            write(path, fn, **kwargs)
        _checkpoint.write_atomically = torn_manifest
    _checkpoint.os.replace = replace_or_die
    from test_reliability import scaled_search
    scaled_search(chunk_size=1, checkpoint={folder!r})
    raise SystemExit("the search was not killed")
"""


def test_sigkill_inside_a_checkpoint_write_loses_nothing(tmp_path):
    where = ["mid-chunk", "before-rename", "mid-manifest"]
    folders = {w: tmp_path / w for w in where}
    children = []
    for w in where:  # side by side: their start-up times overlap
        script = tmp_path / f"{w}.py"
        script.write_text(f"import sys\nsys.path.insert(0, {TESTS!r})\n" + textwrap.dedent(
            _KILLED.format(where=w, folder=str(folders[w]))))
        children.append(subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True,
                                         env={**os.environ, "JAX_PLATFORMS": "cpu"}))
    for w, child in zip(where, children):
        _, stderr = child.communicate(timeout=300)
        assert child.returncode == -signal.SIGKILL, (w, stderr[-3000:])

    reference = scaled_search(chunk_size=1)
    for w in ("mid-chunk", "before-rename"):
        folder = folders[w]
        chunks = sorted(f for f in os.listdir(folder) if f.startswith("chunk-"))
        assert chunks == ["chunk-0000-000000.npz", "chunk-0000-000001.npz"], (w, os.listdir(folder))
        for name in chunks:  # the finished chunks are whole
            with np.load(folder / name, allow_pickle=False) as chunk:
                assert chunk["scores"].shape == (1, 3)
        assert any(f.endswith(".tmp") for f in os.listdir(folder))  # the torn write, ignored
        resumed = scaled_search(checkpoint=folder)
        assert resumed.chunks == {"computed": 4, "resumed": 2, "chunk_size": 1, "n_devices": 1}
        assert_same_search(resumed, reference)
    folder = folders["mid-manifest"]
    assert not (folder / "manifest.json").exists()  # no half manifest under the real name
    fresh = scaled_search(chunk_size=1, checkpoint=folder)
    assert fresh.chunks["computed"] == 6
    assert_same_search(fresh, reference)


def test_damaged_chunk_file_is_recomputed(tmp_path):
    first = plain_search(chunk_size=2, checkpoint=tmp_path)
    chunk = tmp_path / "chunk-0000-000001.npz"
    chunk.write_bytes(chunk.read_bytes()[:50])  # damaged behind jaxfit's back
    (tmp_path / "chunk-0000-000002.npz").write_bytes(b"not a chunk")
    again = plain_search(checkpoint=tmp_path)
    assert again.chunks == {"computed": 2, "resumed": 1, "chunk_size": 2, "n_devices": 1}
    assert_same_search(again, first)


@pytest.mark.parametrize("hard_links", [True, False])
def test_exclusive_write_creates_once_and_leaves_no_temporary(tmp_path, monkeypatch, hard_links):
    from jaxfit import _atomic
    if not hard_links:  # a filesystem without them: checked, then renamed
        def no_link(src, dst):
            raise PermissionError(1, "Operation not permitted")
        monkeypatch.setattr(_atomic.os, "link", no_link)
    path = tmp_path / "manifest.json"
    _atomic.write_atomically(path, lambda f: f.write(b"first"), exclusive=True)
    with pytest.raises(FileExistsError):
        _atomic.write_atomically(path, lambda f: f.write(b"second"), exclusive=True)
    assert path.read_bytes() == b"first" and os.listdir(tmp_path) == ["manifest.json"]


# ------------------------------------------------------------------- recompilation

def test_repeated_calls_with_new_values_do_not_recompile():
    X, y = regression_problem(n=48, d=3)
    model, optimizer = models.linear(), optax.sgd(0.05)
    folds = ms.kfold(48, 3)
    fns = ms.make_fit_fns(model, "squared_error", optimizer=lambda c: optax.sgd(c["lr"]),
                          penalty=lambda c: penalties.l2(c["alpha"]), steps=20)

    # jit around vmap, built once: an optax transform built from traced values is new on
    # every trace, so an un-jitted vmap over fit traces and compiles the loop each call.
    batched = jax.jit(jax.vmap(lambda lr, X: jaxfit.fit(model, "squared_error", X, y,
                                                        optimizer=optax.sgd(lr), steps=20).params,
                               in_axes=(0, None)))

    def calls(scale):
        jaxfit.fit(model, "squared_error", X * scale, y + scale, optimizer=optimizer,
                   penalty=penalties.l2(scale), steps=20, tol=1e3)
        batched(jnp.array([0.01, 0.02]) * scale, X * scale)
        ms.cross_validate(fns.train, fns.score, X * scale, y, folds, config={"lr": 0.1, "alpha": 0.01})
        ms.search(fns.train, fns.score, X * scale, y,
                  ms.grid(lr=[0.01 * scale, 0.1], alpha=[1e-3, scale]), folds)
        ms.kfold(48, 3, shuffle=True, key=jax.random.key(int(scale)))
        metrics.r2(y, y * scale)

    calls(1.0)  # compiles everything once
    for scale in (2.0, 3.0):
        with compile_log() as log:
            calls(scale)
        assert log["compiles"] == [], log
        # Only fit's boundary check traces again: jax.eval_shape of the model and the loss
        # (no compile, well under a millisecond). The loop and the vmapped programs do not.
        assert set(log["traces"]) <= {"<lambda>", "squared_error"}, log
    # A config that cannot be hashed (an array value) still works: compiled for the call.
    unhashable = ms.cross_validate(fns.train, fns.score, X, y, folds,
                                   config={"lr": jnp.asarray(0.1), "alpha": 0.01})
    assert np.isfinite(unhashable.scores).all()


def test_estimators_refit_with_new_values_do_not_recompile():
    estimators = pytest.importorskip("jaxfit.estimators")
    X, y = regression_problem(n=45, d=3)
    labels = (y > np.median(y)).astype(int)
    cases = [(estimators.Ridge, "alpha", y), (estimators.LogisticRegression, "C", labels)]
    for cls, name, target in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=Warning)  # convergence is not the point
            cls(**{name: 1.0}).fit(X, target)
            with compile_log() as log:
                for value in (0.5, 2.0):
                    cls(**{name: value}).fit(X * value, target)
        assert log["compiles"] == [], (cls.__name__, log)


def test_fit_with_rebuilt_models_and_new_data_does_not_recompile():
    X, y = classification_problem(n=44, d=3)
    fit = lambda model, X: jaxfit.fit(model, "binary_cross_entropy", X, y, optimizer=ADAM, steps=5)
    fit(models.logistic(), X)
    fit(models.mlp((4,)), X)
    with compile_log() as log:  # equal arguments give an equal Model: the same program
        fit(models.logistic(), X * 2)
        fit(models.mlp((4,)), X * 3)
    assert log["compiles"] == [], log


# --------------------------------------------------------------------------- memory

PEAK_RSS_LIMIT = 2 * 2**30  # bytes; measured 1.3 GiB (tests/README.md)

_BIG_SEARCH = """
    import json, resource, time
    import numpy as np, optax
    import jaxfit.model_selection as ms
    from jaxfit import models, penalties
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    n, d = 10_000, 50
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X @ rng.normal(size=d) + rng.normal(size=n)).astype(np.float32)
    fns = ms.make_fit_fns(models.linear(), "squared_error", optimizer=lambda c: optax.sgd(c["lr"]),
                          penalty=lambda c: penalties.l2(c["alpha"]), steps=5)
    space = ms.grid(lr=np.geomspace(1e-4, 1e-1, 100), alpha=np.geomspace(1e-4, 1.0, 100))
    result = ms.search(fns.train, fns.score, X, y, space, ms.kfold(n, 3))
    assert result.n_configs == 10_000 and np.isfinite(result.scores).all()
    print(json.dumps({"chunks": result.chunks, "seconds": time.perf_counter() - t0}))
"""

# Runs the search as its own child, so RUSAGE_CHILDREN holds that one process's peak and
# not the largest of every child the test session has started.
_LAUNCHER = """
import json, resource, subprocess, sys
proc = subprocess.run([sys.executable, sys.argv[1]], capture_output=True, text=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # KiB on Linux
print(json.dumps({"returncode": proc.returncode, "stdout": proc.stdout,
                  "stderr": proc.stderr[-3000:], "peak": peak}))
"""


@pytest.mark.slow
def test_search_of_10000_configs_on_10000_by_50_stays_under_2_gib(tmp_path):
    import json

    script = tmp_path / "big_search.py"
    script.write_text(textwrap.dedent(_BIG_SEARCH))
    proc = subprocess.run([sys.executable, "-c", _LAUNCHER, str(script)], capture_output=True,
                          text=True, env={**os.environ, "JAX_PLATFORMS": "cpu"}, timeout=1200)
    report = json.loads(proc.stdout)
    assert report["returncode"] == 0, report["stderr"]
    chunks = json.loads(report["stdout"])["chunks"]
    assert chunks["computed"] > 1  # the budget, not the machine, set the chunk size
    assert report["peak"] < PEAK_RSS_LIMIT, f"peak RSS {report['peak'] / 2**30:.2f} GiB, {chunks}"

"""Programs kept across processes (`jaxfit._programs`): a stored program gives what
tracing gives, in this process and in a new one; anything without a stable
description, a damaged file or a failed write takes the ordinary path."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import load_diabetes

import jaxfit
from jaxfit import _programs, cluster, decomposition, models, penalties, solvers
from jaxfit.model_selection import kfold

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def store(tmp_path, monkeypatch):
    """Programs stored under tmp_path, none loaded yet: as at the start of a process
    (JAX's own persistent cache stays off)."""
    folder = tmp_path / "jaxfit-programs"
    monkeypatch.setattr(_programs, "_folder", lambda: str(folder))
    monkeypatch.setattr(_programs, "_loaded", {})
    monkeypatch.setattr(_programs, "counts", {"stored": 0, "loaded": 0})
    return folder


def files(folder):
    return sorted(os.listdir(folder)) if folder.exists() else []


def _diabetes():
    X, y = load_diabetes(return_X_y=True)
    X, y = ((X - X.mean(0)) / X.std(0)).astype(np.float32), y.astype(np.float32)
    return X, y, np.asarray(kfold(len(y), 4).train, np.float32)


def lasso_paths():
    X, y, masks = _diabetes()
    strengths = solvers.strength_grid(X, y, num=8)
    paths = solvers.regularization_path(models.linear(), "squared_error", X, y, penalty=penalties.l1,
                                        strengths=strengths, sample_weight=masks, tol=1e-6)
    return strengths, paths


def one_path():
    X, y, _ = _diabetes()
    return solvers.regularization_path(models.linear(), "squared_error", X, y, penalty=penalties.l2,
                                       strengths=np.geomspace(10.0, 0.01, 5), gram=False, steps=300)


def kmeans():
    X, _, _ = _diabetes()
    return cluster.kmeans(X, 4, key=jax.random.key(0), n_init=3)


def pca():
    X, _, _ = _diabetes()
    return decomposition.pca(X, 3, solver="randomized", key=jax.random.key(1))


def logistic_fit():
    X, y, _ = _diabetes()
    return jaxfit.fit(models.logistic(), "binary_cross_entropy", X, (y > np.median(y)).astype(np.int32),
                      optimizer=solvers.bound_cg(), penalty=penalties.l2(0.01), steps=50, tol=1e-6)


def ridge_loo():
    X, y, _ = _diabetes()
    return solvers.ridge_loo(X, y, np.geomspace(0.01, 100.0, 6))


CALLS = {"lasso_paths": lasso_paths, "one_path": one_path, "kmeans": kmeans, "pca": pca,
         "logistic_fit": logistic_fit, "ridge_loo": ridge_loo}


def assert_same(a, b):
    jax.tree_util.tree_map(lambda u, v: np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-6), a, b)


@pytest.mark.parametrize("name", CALLS)
def test_stored_program_gives_what_tracing_gives(store, monkeypatch, name):
    call = CALLS[name]
    with monkeypatch.context() as off:
        off.setattr(_programs, "_folder", lambda: None)
        traced = call()
    assert files(store) == []
    first = call()  # traced, exported and written
    stored = files(store)
    assert stored and _programs.counts == {"stored": len(stored), "loaded": 0}
    assert_same(first, traced)
    _programs._loaded.clear()  # a new process: every program read back, none traced
    again = call()
    assert _programs.counts == {"stored": len(stored), "loaded": len(stored)}
    assert files(store) == stored
    assert_same(again, traced)


def test_a_new_process_reads_the_programs_a_first_one_stored(tmp_path):
    script = textwrap.dedent(f"""
        import json, sys
        import jax
        sys.path.insert(0, {os.path.join(ROOT, "tests")!r})
        jax.config.update("jax_compilation_cache_dir", {str(tmp_path)!r})
        from test_programs import lasso_paths
        from jaxfit import _programs
        strengths, paths = lasso_paths()
        print(json.dumps({{"counts": _programs.counts, "w": paths.params["w"].tolist(),
                          "strengths": strengths.tolist()}}))
    """)
    runs = [json.loads(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                      check=True, cwd=ROOT).stdout.splitlines()[-1]) for _ in range(2)]
    assert runs[0]["counts"] == {"stored": 2, "loaded": 0}  # the strength grid and the paths
    assert runs[1]["counts"] == {"stored": 0, "loaded": 2}
    np.testing.assert_array_equal(runs[1]["w"], runs[0]["w"])
    np.testing.assert_array_equal(runs[1]["strengths"], runs[0]["strengths"])


def test_each_shape_static_value_and_configuration_has_its_own_program(store, x64):
    del x64  # float64 here: another configuration than the other tests'
    X, y, _ = _diabetes()
    solvers.strength_grid(X, y, num=8)
    solvers.strength_grid(X, y, num=8)
    assert len(files(store)) == 1
    solvers.strength_grid(X[:100], y[:100], num=8)
    solvers.strength_grid(X, y, num=9)
    with jax.default_matmul_precision("highest"):
        solvers.strength_grid(X, y, num=8)
    assert len(files(store)) == 4 and _programs.counts["stored"] == 4


def test_programs_without_a_stable_description_are_not_stored(store):
    X, y, _ = _diabetes()
    base = models.linear()
    closure = models.Model(lambda key, d: base.init(key, d), base.apply)
    for model, solver in [(closure, None), (base, solvers.proximal_gradient())]:
        out = solvers.regularization_path(model, "squared_error", X, y, penalty=penalties.l1,
                                          strengths=np.asarray([10.0, 1.0]), solver=solver, steps=50)
        assert out.params["w"].shape == (2, X.shape[1])
    assert files(store) == [] and _programs.counts["stored"] == 0


def test_a_damaged_program_is_traced_and_written_again(store):
    expected = kmeans()
    [name] = files(store)
    (store / name).write_bytes(b"not a program")
    _programs._loaded.clear()
    assert_same(kmeans(), expected)
    assert _programs.counts == {"stored": 2, "loaded": 0}
    assert (store / name).stat().st_size > 100


def test_a_failed_write_only_costs_the_next_process_its_tracing(store, monkeypatch):
    def refuse(path, write, **kw):
        raise PermissionError(f"read-only: {path}")

    monkeypatch.setattr(_programs, "write_atomically", refuse)
    assert_same(pca(), pca())
    assert files(store) == [] and _programs.counts["stored"] == 0


def test_a_program_export_refuses_is_tried_once_then_traced_as_usual(store, monkeypatch):
    tries = []

    def refuse(fun, **kw):
        tries.append(fun)
        raise ValueError("cannot export a host callback")

    monkeypatch.setattr(jax.export, "export", refuse)
    first, second = pca(), pca()
    assert_same(first, second)
    assert len(tries) == 1 and files(store) == []


def test_programs_are_kept_only_while_jax_persistent_cache_is_on(tmp_path):
    previous = jax.config.jax_compilation_cache_dir
    try:
        jax.config.update("jax_compilation_cache_dir", None)
        assert _programs._folder() is None
        jax.config.update("jax_compilation_cache_dir", str(tmp_path))
        assert _programs._folder() == os.path.join(str(tmp_path), "jaxfit-programs")
        jax.config.update("jax_compilation_cache_dir", "gs://bucket/cache")
        assert _programs._folder() is None  # local folders only
    finally:
        jax.config.update("jax_compilation_cache_dir", previous)


def test_arrays_placed_off_the_default_device_take_the_ordinary_path():
    script = textwrap.dedent("""
        import jax, numpy as np
        from jax.sharding import NamedSharding, PartitionSpec
        from jaxfit import _programs
        devices = jax.devices()
        x = np.ones((8, 2), np.float32)
        _programs._describe_leaf(jax.device_put(x, devices[0]), devices[0])  # kept
        mesh = jax.make_mesh((4,), ("d",))
        for placed in (jax.device_put(x, devices[1]), jax.device_put(x, NamedSharding(mesh, PartitionSpec("d")))):
            try:
                _programs._describe_leaf(placed, devices[0])
            except _programs.Unstable:
                continue
            raise AssertionError(f"kept a program for {placed.sharding}")
        print("ok")
    """)
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def _local():
    return lambda x: x


class _UserClass:
    pass


@pytest.mark.parametrize("value, stable", [
    (3, True), (0.1, True), ("full", True), (None, True), ((1, "a", None), True), ({"b": 1, "a": 2}, True),
    (np.dtype("float32"), True), ({1: "a", "b": 2}, True), (penalties.l1, True), (models.linear(), True), (models.Model, True),
    (jnp.sum, False), (lambda x: x, False), (_local(), False), (_UserClass(), False), (_UserClass, False),
    (np.ones(2), False), (models.mlp([4]), False),
])
def test_which_static_values_have_a_stable_description(value, stable):
    if stable:
        assert _programs.describe(value) == _programs.describe(value)
    else:
        with pytest.raises(_programs.Unstable):
            _programs.describe(value)


def test_descriptions_tell_values_apart():
    values = [1, True, 1.0, "1", (1,), [1], {"a": 1}, models.linear(), models.linear(2), penalties.l1,
              penalties.l2]
    assert len({_programs.describe(v) for v in values}) == len(values)

"""jaxfit's compiler options, host-built keys and host-side conversions: the cold-start
shortcuts give the same results as the plain JAX calls they replace."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from helpers import compiled_by
import jaxfit
from jaxfit import _compile, data, models, penalties, solvers
from jaxfit._validation import as_array, check_key, host_key


@pytest.mark.parametrize("seed", [0, 1, 42, 2**31 - 1])
def test_host_key_equals_jax_random_key(seed):
    ours, theirs = host_key(seed), jax.random.key(seed)
    assert jax.random.key_impl(ours) == jax.random.key_impl(theirs)
    np.testing.assert_array_equal(jax.random.key_data(ours), jax.random.key_data(theirs))
    np.testing.assert_array_equal(jax.random.normal(ours, (3,)), jax.random.normal(theirs, (3,)))


def test_default_key_is_key_zero():
    np.testing.assert_array_equal(jax.random.key_data(check_key(None)),
                                  jax.random.key_data(jax.random.key(0)))


def test_seeds_outside_the_host_range_fall_back_to_jax():
    for seed in (-1, 2**31, 2**40):
        np.testing.assert_array_equal(jax.random.key_data(host_key(seed)),
                                      jax.random.key_data(jax.random.key(seed)))


@pytest.fixture
def unknown_option(monkeypatch):
    """Options that this XLA does not know, as after an upgrade that drops one."""
    monkeypatch.setattr(_compile, "_CPU_OPTIONS", {"xla_jaxfit_no_such_option": True})
    monkeypatch.setattr(_compile, "_refused", set())
    if jax.default_backend() != "cpu":
        pytest.skip("jaxfit's options apply on CPU only")


def test_jit_falls_back_to_defaults_when_xla_refuses_the_options(unknown_option):
    f = _compile.jit(lambda x: jnp.sin(x) * 2)
    np.testing.assert_allclose(f(np.arange(3.0, dtype=np.float32)), np.sin(np.arange(3.0)) * 2,
                               rtol=1e-6)
    assert _compile._refused == {"cpu"} and _compile.options("cpu") is None
    np.testing.assert_allclose(f(np.ones(2, np.float32)), np.sin(1.0) * 2, rtol=1e-6)


def test_aot_compile_falls_back_to_defaults_when_xla_refuses_the_options(unknown_option):
    lowered = jax.jit(lambda x: x + 1).lower(np.float32(1))
    assert float(_compile.compile(lowered, "cpu")(np.float32(1))) == 2.0
    assert _compile._refused == {"cpu"}


def test_other_runtime_errors_are_not_swallowed():
    def fail(x):
        shape = jax.ShapeDtypeStruct((), np.float32)
        return jax.pure_callback(lambda v: np.asarray(1 / 0), shape, x)
    with pytest.raises(Exception, match="division by zero"):
        _compile.jit(fail)(np.float32(1))


def test_numpy_input_is_converted_without_compiling():
    """`as_array` casts NumPy input on the host and copies it with `device_put`
    (`jnp.asarray` compiles a program for that), with `jnp.asarray`'s result."""
    rng = np.random.default_rng(0)
    cases = [(rng.standard_normal((7, 3)), "float", jnp.float32),
             (rng.integers(0, 5, 11), "int", jnp.int32), (np.arange(13.0), "int", jnp.int32),
             (rng.integers(0, 5, 17), "any", None), (np.ones(19, np.float16), "float", jnp.float32)]
    for x, kind, dtype in cases:
        ours, programs = compiled_by(as_array, x, "x", dtype=kind)
        assert programs == []
        expected = jnp.asarray(x, dtype)
        assert isinstance(ours, jax.Array) and ours.dtype == expected.dtype
        np.testing.assert_array_equal(ours, expected)


def _mlp_params():
    return models.mlp((4,)).init(jax.random.key(1), 3)


# Eager calls on concrete arrays: one compiled program each (an operation at a time,
# each would compile on its own), and the same values as the functions traced inline.
@pytest.mark.parametrize("name, fn, make_args", [
    ("standardize", data.standardize, lambda X: (X,)),
    ("standardize weighted", data.standardize, lambda X: (X, np.arange(len(X)) % 3)),
    ("Scaling.apply", lambda X: data.standardize(X[:5] * 2).apply(X), lambda X: (X,)),
    ("Scaling.inverse", lambda X: data.standardize(X[:5] * 2).inverse(X), lambda X: (X,)),
    ("linear apply", lambda X: models.linear().apply({"w": np.ones(3, np.float32), "b": np.float32(1)}, X),
     lambda X: (X,)),
    ("mlp apply", lambda X: models.mlp((4,)).apply(_mlp_params(), X), lambda X: (X,)),
    ("fit with tol", lambda X: jaxfit.fit(models.logistic(), "binary_cross_entropy", X, X[:, 0] > 0.3,
                                          optimizer=solvers.lbfgs(), penalty=penalties.l2(1e-2),
                                          steps=50, tol=1e-5).params, lambda X: (X,)),
])
def test_eager_calls_compile_one_program(name, fn, make_args):
    n = 23 + len(name)  # a shape no other test compiled
    X = np.random.default_rng(n).standard_normal((n, 3)).astype(np.float32)
    args = make_args(X)
    if name.startswith(("Scaling", "mlp")):
        fn(*make_args(X[:7]))  # the fitted scaling and the parameters are set-up, not the call
    ours, programs = compiled_by(fn, *args)
    assert len(programs) <= 1, programs
    traced = jax.jit(fn)(*args)
    for a, b in zip(jax.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(traced)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_estimator_fit_compiles_its_training_program_only():
    from jaxfit.estimators import LogisticRegression

    X = np.random.default_rng(5).standard_normal((41, 3))
    y = (X[:, 0] > 0).astype(int)
    model, programs = compiled_by(LogisticRegression(C=0.5).fit, X, y)
    assert len(programs) == 1, programs
    model.predict(X)  # compiles the model's apply
    proba, programs = compiled_by(model.predict_proba, X)
    assert programs == []
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-model.decision_function(X))), rtol=1e-12)


def test_search_compiles_fit_loops_for_run_time(monkeypatch):
    """A search whose train_fn runs `fit`'s loop of cheap steps compiles with the fusion
    emitters (1.3-3.5x faster steps); one of `bound_cg`'s few wide products with the
    classic ones (faster to compile)."""
    import optax
    from jaxfit import model_selection as ms

    seen = []
    real = _compile.compile
    monkeypatch.setattr(_compile, "compile", lambda lowered, platform, runtime_first=False:
                        seen.append(runtime_first) or real(lowered, platform, runtime_first))
    rng = np.random.default_rng(3)
    X = rng.standard_normal((37, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int32)
    folds, space = ms.kfold(37, 3), ms.grid(alpha=[0.01, 0.1])
    for optimizer, expected in [(lambda c: optax.sgd(0.1), True), (solvers.bound_cg(), False)]:
        fns = ms.make_fit_fns(models.logistic(), "binary_cross_entropy", optimizer=optimizer,
                              penalty=lambda c: penalties.l2(c["alpha"]), steps=20)
        seen.clear()
        ms.search(fns.train, fns.score, X, y, space, folds, chunk_size=2)
        assert seen and set(seen) == {expected}
    assert _compile.options("cpu", True)["xla_cpu_use_fusion_emitters"] is True
    assert _compile.options("cpu")["xla_cpu_use_fusion_emitters"] is False


def test_jit_chooses_the_options_per_call(monkeypatch):
    seen = []
    real = _compile.options
    monkeypatch.setattr(_compile, "options", lambda platform, runtime_first=False:
                        seen.append(runtime_first) or real(platform, runtime_first))
    f = _compile.jit(lambda x, long=False: x * 2, static_argnames="long",
                     runtime_first=lambda x, long=False: long)
    assert [float(f(np.float32(1))), float(f(np.float32(1), long=True)), float(f(np.float32(2)))] == [2, 2, 4]
    assert seen == [False, True]  # one program per choice, each compiled once


def test_eager_fit_compiles_for_run_time_only_past_the_work_threshold(monkeypatch):
    from jaxfit import _fit

    chosen = []
    loop = _fit._fit_loop
    monkeypatch.setattr(_fit, "_fit_loop", lambda *a, **kw: chosen.append(kw["long_running"]) or loop(*a, **kw))
    X = np.random.default_rng(0).standard_normal((50, 3)).astype(np.float32)
    run = lambda: jaxfit.fit(models.linear(), "squared_error", X, X[:, 0], optimizer=solvers.lbfgs(), steps=100)
    run()  # 100 steps x 50 rows x 4 parameters: short
    monkeypatch.setattr(_fit, "_LONG_RUNNING", 100 * 50 * 4 - 1)
    run()
    assert chosen == [False, True]

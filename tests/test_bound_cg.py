"""`solvers.bound_cg`: the data-aware conjugate-gradient solver for linear models."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize
import scipy.special
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler

import jaxfit
from jaxfit import data, losses, models, penalties, solvers


@pytest.fixture(scope="module")
def cancer():
    ds = data.load_example("breast_cancer")
    X = StandardScaler().fit_transform(np.asarray(ds.X, np.float64))
    return X.astype(np.float32), np.asarray(ds.y)


def _fit(X, y, strength, loss="binary_cross_entropy", model=None, **kwargs):
    model = models.logistic() if model is None else model
    return jaxfit.fit(model, loss, X, y, optimizer=solvers.bound_cg(),
                      penalty=penalties.l2(strength), steps=500, **kwargs)


@pytest.mark.parametrize("C", [0.01, 1.0])
def test_logistic_matches_sklearn_on_real_data(cancer, C):
    X, y = cancer
    result = _fit(X, y, 1.0 / (C * len(y)), tol=1e-6)
    reference = LogisticRegression(C=C, tol=1e-10, max_iter=10_000).fit(X.astype(np.float64), y)
    assert bool(result.converged) and not bool(result.diverged)
    scale = np.abs(reference.coef_).max()
    np.testing.assert_allclose(result.params["w"], reference.coef_[0], atol=5e-4 * scale)
    np.testing.assert_allclose(result.params["b"], reference.intercept_[0], atol=5e-4 * scale)


def test_objective_never_rises(cancer):
    X, y = cancer
    result = _fit(X, y, 1e-4, tol=1e-7)
    history = np.asarray(result.history)[: int(result.n_steps)]
    rounding = 16 * np.finfo(np.float32).eps * np.abs(history)
    assert np.all(np.diff(history) <= rounding[1:])


def test_ridge_converges_in_a_couple_of_iterations():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 6))
    y = X @ np.arange(6.0) + 2.0 + rng.standard_normal(300)
    alpha = 3.0
    # scikit-learn's Ridge(alpha) is squared error + l2(2·alpha/n) in jaxfit's scaling.
    result = _fit(X, y, 2 * alpha / len(y), loss="squared_error", model=models.linear(), tol=1e-5)
    reference = Ridge(alpha=alpha).fit(X, y)
    assert int(result.n_steps) <= 3
    np.testing.assert_allclose(result.params["w"], reference.coef_, atol=1e-4)
    np.testing.assert_allclose(result.params["b"], reference.intercept_, atol=1e-4)


def test_an_optimal_start_is_not_divergence():
    # The gradient is exactly 0 at the start: the step length must not be 0/0.
    X = np.array([[1.0], [-1.0], [1.0], [-1.0]], np.float32)
    result = jaxfit.fit(models.logistic(), "binary_cross_entropy", X, np.array([1.0, 1.0, 0.0, 0.0]),
                        optimizer=solvers.bound_cg(), penalty=penalties.l2(0.1), steps=5)
    assert not result.diverged and int(result.n_steps) == 5
    np.testing.assert_allclose(result.history, np.log(2.0), rtol=1e-6)


def test_huber_matches_scipy():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 0.0]) + rng.standard_t(2, 200)
    strength = 0.05

    def objective(beta):
        r = X @ beta[:4] + beta[4] - y
        huber = np.where(np.abs(r) <= 1, 0.5 * r * r, np.abs(r) - 0.5)
        return huber.mean() + 0.5 * strength * beta[:4] @ beta[:4]

    reference = scipy.optimize.minimize(objective, np.zeros(5), method="BFGS", options={"gtol": 1e-10}).x
    result = _fit(X, y, strength, loss="huber", model=models.linear(), tol=1e-6)
    assert bool(result.converged)
    np.testing.assert_allclose(result.params["w"], reference[:4], atol=1e-4)
    np.testing.assert_allclose(result.params["b"], reference[4], atol=1e-4)


def test_zero_weights_equal_the_subset(cancer):
    X, y = cancer
    mask = np.arange(len(y)) % 3 != 0
    masked = _fit(X, y, 1e-2, sample_weight=mask.astype(np.float32), tol=1e-6)
    subset = _fit(X[mask], y[mask], 1e-2, tol=1e-6)
    np.testing.assert_allclose(masked.params["w"], subset.params["w"], atol=1e-5)
    np.testing.assert_allclose(masked.params["b"], subset.params["b"], atol=1e-5)


def test_vmap_over_strengths_equals_single_fits(cancer):
    X, y = cancer
    strengths = jnp.array([1e-3, 1e-2, 1e-1], jnp.float32)
    batched = jax.vmap(lambda s: _fit(X, y, s, tol=1e-6))(strengths)
    for i, s in enumerate(np.asarray(strengths)):
        single = _fit(X, y, float(s), tol=1e-6)
        assert int(batched.n_steps[i]) == int(single.n_steps)
        np.testing.assert_allclose(batched.params["w"][i], single.params["w"], rtol=1e-4, atol=1e-6)


def test_agrees_with_an_optax_fit_of_the_same_objective(cancer):
    X, y = cancer
    ours = _fit(X, y, 1e-2, tol=1e-6)
    theirs = jaxfit.fit(models.logistic(), "binary_cross_entropy", X, y, optimizer=solvers.lbfgs(),
                        penalty=penalties.l2(1e-2), steps=500, tol=1e-6)
    np.testing.assert_allclose(ours.params["w"], theirs.params["w"], atol=1e-4)


@pytest.mark.parametrize("case, expected", [
    (dict(model=models.mlp((4,))), "models.linear"),
    (dict(loss="hinge"), "the loss must be one of"),
    (dict(penalty=penalties.l1(0.1)), "penalties.l2"),
    (dict(batch_size=16), "batch_size"),
    (dict(validation_weight=np.ones(569, np.float32)), "validation_weight"),
])
def test_unsupported_problems_are_refused_before_tracing(cancer, case, expected):
    X, y = cancer
    args = dict(model=models.logistic(), loss="binary_cross_entropy", penalty=penalties.l2(0.1))
    args.update(case)
    model, loss, penalty = args.pop("model"), args.pop("loss"), args.pop("penalty")
    with pytest.raises(ValueError, match=r"bound_cg\(\)") as info:
        jaxfit.fit(model, loss, X, y, optimizer=solvers.bound_cg(), penalty=penalty, steps=10, **args)
    assert expected in str(info.value)


def test_no_penalty_and_none_penalty_agree(cancer):
    X, y = cancer
    a = jaxfit.fit(models.logistic(), "binary_cross_entropy", X, y, optimizer=solvers.bound_cg(), steps=20)
    b = jaxfit.fit(models.logistic(), "binary_cross_entropy", X, y, optimizer=solvers.bound_cg(),
                   penalty=penalties.none(), steps=20)
    np.testing.assert_array_equal(a.params["w"], b.params["w"])
    assert int(a.n_steps) == 20  # no tol: every step is taken


def test_reports_its_steps_when_a_search_shows_progress(cancer):
    from jaxfit import _progress

    X, y = cancer
    reported = _progress.Steps()
    with _progress.tracing(), _progress.listening(reported):
        result = jax.jit(lambda s: _fit(X, y, s, tol=1e-6))(1e-2)
        jax.effects_barrier()
    assert bool(result.converged)
    assert reported.latest() == (500, 500)  # a finished loop reports all its steps done


@pytest.mark.parametrize("label", [0.0, 1.0])
def test_hand_derived_cross_entropy_parts_match_float64(label):
    """The solver's one-exponential loss, residual and curvature of the logistic loss
    agree with float64 closed forms, and stay finite far into the tails."""
    from jaxfit.solvers._glm import _bce_parts

    z = np.concatenate([np.linspace(-30, 30, 601), [-1e4, 1e4]])
    value, residual, curvature = _bce_parts(jnp.asarray(z, jnp.float32), jnp.float32(label))
    sigma = scipy.special.expit(z)
    np.testing.assert_allclose(value, np.logaddexp(0, z) - label * z, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(residual, sigma - label, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(curvature, sigma * scipy.special.expit(-z), rtol=1e-5, atol=1e-30)
    # The same values as the loss the rest of jaxfit uses.
    np.testing.assert_allclose(value, losses.binary_cross_entropy(jnp.asarray(z, jnp.float32),
                                                                  jnp.float32(label)),
                               rtol=1e-6, atol=1e-6)

"""jaxfit.solvers: references (scikit-learn, explicit loops, known minima) and one contract table."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import ElasticNet, Lasso, LogisticRegression, Ridge, enet_path

import jaxfit
from jaxfit import losses, models, penalties, solvers
from helpers import regression_problem

PUBLIC = ["Objective", "Solver", "as_solver", "from_optax", "proximal_gradient", "proximal", "lbfgs", "newton",
          "closed_form", "ridge_loo", "nelder_mead", "nelder_mead_solver", "NelderMeadResult",
          "regularization_path", "PathResult", "strength_grid"]


def test_public_names():
    assert all(hasattr(solvers, name) for name in PUBLIC)


def _standardized(X):
    return (X - X.mean(0)) / X.std(0)


def _diabetes():
    X, y = load_diabetes(return_X_y=True)
    return _standardized(X), y


def _wide(n=50, d=100):
    """Sparse truth, more features than samples."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, d))
    coef = np.zeros(d)
    coef[:5] = [3.0, -2.0, 1.5, 1.0, -1.0]
    return X, X @ coef + 1.0 + 0.5 * rng.normal(size=n)


LASSO_PROBLEMS = {"diabetes": (_diabetes, 1.0), "wide": (_wide, 0.05)}


def _assert_same_lasso(w, reference):
    np.testing.assert_allclose(w, reference, atol=1e-4)
    np.testing.assert_array_equal(np.asarray(w) != 0, reference != 0)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize("problem", LASSO_PROBLEMS)
def test_lasso_and_elastic_net_match_sklearn(x64, problem, l1_ratio):
    make, alpha = LASSO_PROBLEMS[problem]
    X, y = make()
    alpha = alpha / l1_ratio  # the same L1 part: a sparse solution either way
    reference = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, tol=1e-14, max_iter=1_000_000).fit(X, y)
    assert 0 < (reference.coef_ != 0).sum() < X.shape[1]  # the support test means something
    # sklearn halves the squared error: Lasso(alpha) is squared_error + l1(2·alpha).
    penalty = penalties.elastic_net(2 * alpha, l1_ratio)
    result = jaxfit.fit(models.linear(), "squared_error", X, y, optimizer=solvers.proximal_gradient(),
                        penalty=penalty, steps=100_000, tol=1e-10)
    assert bool(result.converged)
    _assert_same_lasso(result.params["w"], reference.coef_)
    path = solvers.regularization_path(models.linear(), "squared_error", X, y,
                                       penalty=lambda s: penalties.elastic_net(s, l1_ratio),
                                       strengths=jnp.array([8 * alpha, 2 * alpha]), steps=100_000, tol=1e-14)
    assert bool(path.converged.all())
    _assert_same_lasso(path.params["w"][-1], reference.coef_)
    np.testing.assert_allclose(path.params["b"][-1], reference.intercept_, atol=1e-6)


def test_path_matches_sklearn_enet_path_and_grid(x64):
    X, y = _diabetes()
    strengths = solvers.strength_grid(X, y, num=8, l1_ratio=0.5)
    alphas, coefs, _ = enet_path(X, y - y.mean(), l1_ratio=0.5, alphas=8, tol=1e-12, max_iter=100_000)
    np.testing.assert_allclose(strengths, 2 * alphas, rtol=1e-10)
    path = solvers.regularization_path(models.linear(), "squared_error", X, y,
                                       penalty=lambda s: penalties.elastic_net(s, 0.5), strengths=strengths,
                                       tol=1e-12, steps=100_000)
    np.testing.assert_allclose(path.params["w"], coefs.T, atol=1e-5)
    assert np.abs(path.params["w"][0]).max() < 1e-12  # the largest strength zeroes every weight


def test_duality_gap_stops_like_sklearn(x64):
    X, y = _diabetes()
    loose = solvers.regularization_path(models.linear(), "squared_error", X, y, penalty=penalties.l1,
                                        strengths=jnp.array([2.0]), tol=1e-2)
    tight = solvers.regularization_path(models.linear(), "squared_error", X, y, penalty=penalties.l1,
                                        strengths=jnp.array([2.0]), tol=1e-12, steps=100_000)
    assert bool(loose.converged[0]) and bool(tight.converged[0])
    assert 0 < int(loose.n_steps[0]) < int(tight.n_steps[0])


def test_path_vmaps_over_fold_masks(x64):
    X, y = _wide()
    masks = np.ones((3, len(y)))
    for k in range(3):
        masks[k, k::3] = 0
    strengths = solvers.strength_grid(X, y, num=5, eps=0.05)

    def run(mask, gram):
        return solvers.regularization_path(models.linear(), "squared_error", X, y, penalty=penalties.l1,
                                           strengths=strengths, sample_weight=mask, tol=1e-14,
                                           steps=50_000, gram=gram)

    batched = jax.vmap(lambda m: run(m, True))(jnp.asarray(masks))
    for k in range(3):
        single = run(masks[k], False)  # the data form agrees with the Gram form
        np.testing.assert_allclose(batched.params["w"][k], single.params["w"], atol=1e-5)
        np.testing.assert_allclose(batched.params["b"][k], single.params["b"], atol=1e-5)
    assert bool(batched.converged.all()) and not bool(batched.diverged.any())


@pytest.mark.parametrize("problem", ["diabetes", "wide"])
def test_path_over_a_batch_of_weights_equals_one_path_per_row(x64, monkeypatch, problem):
    X, y = {"diabetes": _diabetes, "wide": _wide}[problem]()
    n = len(y)
    folds = np.ones((6, n))
    for k in range(5):
        folds[k, k::5] = 0  # five folds' training masks, and all rows (the refit)
    weighted = folds * np.random.default_rng(1).uniform(0.5, 2.0, n)  # masks times sample weights
    strengths = solvers.strength_grid(X, y, num=5, eps=0.05)
    penalty = lambda s: penalties.elastic_net(s, 0.7)

    def run(weight, **kw):
        return solvers.regularization_path(models.linear(), "squared_error", X, y, penalty=penalty,
                                           strengths=strengths, sample_weight=weight, tol=1e-13,
                                           steps=100_000, **kw)

    from jaxfit.solvers import _path
    downdated = []
    original = _path._downdated_paths
    monkeypatch.setattr(_path, "_downdated_paths", lambda *a: downdated.append(1) or original(*a))
    for weights in (folds, weighted):
        batch = run(weights)
        assert batch.params["w"].shape == (6, 5, X.shape[1])
        assert bool(batch.converged.all())
        for k in range(6):
            single = run(weights[k], gram=False)  # the data form, one path at a time
            np.testing.assert_allclose(batch.params["w"][k], single.params["w"], atol=1e-6)
            np.testing.assert_allclose(batch.params["b"][k], single.params["b"], atol=1e-6)
        traced = jax.jit(run)(jnp.asarray(weights))  # no concrete rows to remove: one Gram per row
        np.testing.assert_allclose(traced.params["w"], batch.params["w"], atol=1e-8)
    assert len(downdated) == 2


def test_penalties_are_batched_alike_for_jaxfit_and_user_functions():
    from jaxfit.solvers._path import _batched_penalties, _vmapped

    strengths = np.geomspace(1.0, 0.01, 4).astype(np.float32)
    ours = _batched_penalties(penalties.elastic_net, strengths)  # one compiled program
    before = _vmapped._cache_size()
    for _ in range(2):  # a new lambda each time: eager, compiling nothing new
        theirs = _batched_penalties(lambda s: penalties.elastic_net(s), strengths)
    assert _vmapped._cache_size() == before
    assert jax.tree_util.tree_structure(ours) == jax.tree_util.tree_structure(theirs)
    jax.tree_util.tree_map(np.testing.assert_array_equal, ours, theirs)
    assert ours.value.keywords["l1_ratio"].shape == (4,)


@pytest.mark.parametrize("weight, match", [
    (np.ones((3, 7)), "n = 8 columns"),
    (-np.ones((3, 8)), "non-negative"),
    (np.r_[np.ones((1, 8)), np.zeros((1, 8))], "sample_weight\\[1\\]. is zero everywhere"),
])
def test_path_weight_batch_errors(weight, match):
    with pytest.raises(ValueError, match=match):
        solvers.regularization_path(models.linear(), "squared_error", np.ones((8, 2)), np.arange(8.0),
                                    penalty=penalties.l1, strengths=[1.0], sample_weight=weight)


@pytest.mark.parametrize("penalty", [penalties.l1, lambda s: penalties.elastic_net(s, 0.5), penalties.l2])
def test_gram_path_default_equals_proximal_gradient_step_for_step(x64, penalty):
    # The default solver in the Gram form is FISTA specialised to one product by the
    # Gram matrix per step: the same iterates as `proximal_gradient()` given explicitly.
    X, y = _wide()
    strengths = solvers.strength_grid(X, y, num=6, eps=0.05)
    run = lambda solver, steps: solvers.regularization_path(
        models.linear(), "squared_error", X, y, penalty=penalty, strengths=strengths, solver=solver,
        steps=steps, tol=1e-10)
    for steps in (7, 5000):  # part-way, and converged
        ours, generic = run(None, steps), run(solvers.proximal_gradient(), steps)
        np.testing.assert_array_equal(ours.n_steps, generic.n_steps)
        np.testing.assert_array_equal(ours.converged, generic.converged)
        np.testing.assert_allclose(ours.params["w"], generic.params["w"], rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(ours.params["b"], generic.params["b"], rtol=1e-9, atol=1e-10)
    assert bool(ours.converged.all()) and int(ours.n_steps.max()) > 7


def test_weighted_gram_under_every_batching(x64):
    from jaxfit.solvers._gram import weighted_gram

    rng = np.random.default_rng(0)
    X, W = rng.normal(size=(3, 30, 4)), rng.uniform(size=(2, 3, 30))
    expected = np.einsum("bni,ckn,bnj->ckbij", X, W, X)  # configs c, folds k, data b
    folds = jax.vmap(weighted_gram, in_axes=(None, 0))           # lax.map over the weights
    np.testing.assert_allclose(folds(X[0], W[0]), expected[0, :, 0], rtol=1e-12)
    np.testing.assert_allclose(jax.jit(jax.vmap(folds, in_axes=(None, 0)))(X[0], W), expected[:, :, 0], rtol=1e-12)
    both = jax.vmap(jax.vmap(weighted_gram, in_axes=(0, None)), in_axes=(None, 0))  # data and weights batched
    np.testing.assert_allclose(both(X, W[0]), expected[0], rtol=1e-12)
    np.testing.assert_allclose(jax.vmap(weighted_gram)(X, W[0]), np.stack([expected[0, b, b] for b in range(3)]),
                               rtol=1e-12)
    dX = rng.normal(size=(30, 4))  # forward mode, as the while loops that use it
    _, tangent = jax.jvp(lambda X: folds(X, W[0]), (X[0],), (dX,))
    np.testing.assert_allclose(tangent, np.einsum("kn,ni,nj->kij", W[0], dX, X[0])
                               + np.einsum("kn,ni,nj->kij", W[0], X[0], dX), rtol=1e-12)


def test_path_flags_divergence_and_keeps_finite_params():
    X, y = regression_problem(n=40, d=3)
    path = solvers.regularization_path(models.linear(), "squared_error", X, y, penalty=penalties.l2,
                                       strengths=jnp.array([1.0, 0.1]), solver=optax.sgd(10.0), steps=500)
    assert bool(path.diverged.all()) and not bool(path.converged.any())
    assert np.isfinite(path.params["w"]).all() and (np.asarray(path.n_steps) < 500).all()


@pytest.mark.parametrize("solver", ["lbfgs", "newton"])
def test_l2_logistic_matches_sklearn(x64, solver):
    X, y = load_breast_cancer(return_X_y=True)
    X, C = _standardized(X), 0.5
    reference = LogisticRegression(C=C, tol=1e-12, max_iter=10_000).fit(X, y)
    result = jaxfit.fit(models.logistic(), "binary_cross_entropy", X, y, optimizer=getattr(solvers, solver)(),
                        penalty=penalties.l2(1.0 / (C * len(y))), steps=500, tol=1e-9)
    assert bool(result.converged)
    got = np.r_[result.params["w"], result.params["b"]]
    want = np.r_[reference.coef_[0], reference.intercept_]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


def test_newton_softmax_matches_sklearn_multinomial(x64):
    # wine: 3 classes, so the multinomial Hessian's off-diagonal class blocks matter.
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True)
    X, C = _standardized(X), 0.5
    reference = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(X, y)
    result = jaxfit.fit(models.softmax(3), "softmax_cross_entropy", X, y, optimizer=solvers.newton(),
                        penalty=penalties.l2(1.0 / (C * len(y))), steps=50, tol=1e-10)
    assert bool(result.converged) and int(result.n_steps) < 15
    np.testing.assert_allclose(np.asarray(result.params["w"]).T, reference.coef_, atol=1e-6)
    # Softmax biases are defined up to a shared shift: compare them centred.
    b, b_ref = np.asarray(result.params["b"]), reference.intercept_
    np.testing.assert_allclose(b - b.mean(), b_ref - b_ref.mean(), atol=1e-6)


def test_ridge_closed_form_matches_sklearn_in_one_step(x64):
    X, y = _diabetes()
    alpha = 3.0
    reference = Ridge(alpha=alpha).fit(X, y)
    result = jaxfit.fit(models.linear(), "squared_error", X, y, optimizer=solvers.closed_form(),
                        penalty=penalties.l2(2 * alpha / len(y)), steps=10, tol=1e-8)
    assert bool(result.converged) and int(result.n_steps) == 1
    np.testing.assert_allclose(result.params["w"], reference.coef_, atol=1e-6)
    np.testing.assert_allclose(result.params["b"], reference.intercept_, atol=1e-6)


@pytest.mark.parametrize("scale", [1e-3, 1e3])
def test_closed_form_is_exact_in_float32_for_small_and_large_feature_scales(scale):
    # The Hessian's intercept entry is 2 while a feature of scale 1e-3 curves by 2e-6:
    # a Cholesky ridge relative to the largest entry swamped the features (w 2.5× small).
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 2)) * scale
    y = X @ (np.array([1.0, -2.0]) / scale) + 0.1 * rng.normal(size=100) + 3.0
    reference = np.linalg.lstsq(np.column_stack([X, np.ones(100)]), y, rcond=None)[0]
    result = jaxfit.fit(models.linear(), "squared_error", X.astype(np.float32), y.astype(np.float32),
                        optimizer=solvers.closed_form(), steps=1)
    np.testing.assert_allclose(np.asarray(result.params["w"]) * scale, reference[:2] * scale, rtol=1e-3)
    np.testing.assert_allclose(result.params["b"], reference[2], rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("weighted", [False, True])
def test_ridge_loo_equals_explicit_leave_one_out(x64, weighted):
    X, y = _diabetes()
    X, y = X[:60], y[:60]
    weight = np.random.default_rng(0).uniform(0.5, 2.0, len(y)) if weighted else np.ones(len(y))
    weight[:3] = 0 if weighted else 1  # zero weight: left out of every fit, scored as held out
    alphas = np.array([0.0, 0.5, 10.0])
    errors = solvers.ridge_loo(X, y, alphas, sample_weight=weight if weighted else None)
    for j, alpha in enumerate(alphas):
        for i in range(len(y)):
            keep = np.arange(len(y)) != i
            fit = Ridge(alpha=alpha).fit(X[keep], y[keep], sample_weight=weight[keep])
            assert abs(errors[j, i] - (y[i] - fit.predict(X[i:i + 1])[0])) < 1e-8


def test_ridge_loo_keeps_a_small_scale_feature_in_float32():
    # Singular values 1e4 apart are well resolved in float32; a rank cut-off at
    # sqrt(eps) · s[0] dropped the small feature (leave-one-out RMS 2.0, not 0.1).
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 2)) * np.array([1.0, 1e-4])
    y = X @ np.array([1.0, 2e4]) + 0.1 * rng.normal(size=50)
    alpha = 1e-10
    expected = [y[i] - Ridge(alpha=alpha, solver="svd").fit(np.delete(X, i, 0), np.delete(y, i))
                .predict(X[i:i + 1])[0] for i in range(50)]
    errors = solvers.ridge_loo(X.astype(np.float32), y.astype(np.float32), np.array([alpha]))
    np.testing.assert_allclose(errors[0], expected, atol=1e-3)


def test_nelder_mead_minimizes_rosenbrock_and_non_smooth(x64):
    rosenbrock = solvers.nelder_mead(lambda x: (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2,
                                     jnp.array([-1.2, 1.0]), tol=1e-10)
    assert bool(rosenbrock.converged)
    np.testing.assert_allclose(rosenbrock.x, [1.0, 1.0], atol=1e-6)
    centres = jnp.array([[1.0, -2.0, 3.0], [-0.5, 0.25, 2.0]])

    def absolute(c, restarts):
        return solvers.nelder_mead(lambda x: jnp.abs(x["a"] - c).sum(), {"a": jnp.zeros(3)}, tol=1e-8,
                                   max_iter=3000, restarts=restarts)

    found = jax.jit(jax.vmap(lambda c: absolute(c, 5)))(centres)  # vmappable: one search per centre
    np.testing.assert_allclose(found.x["a"], centres, atol=1e-6)
    # Without restarts the simplex collapses on a kink: the reason restarts exist.
    assert float(absolute(centres[0], 0).value) > 1e-3


def test_nelder_mead_starts_from_integer_points_in_float():
    # An integer start failed deep in tracing (cond branches of int32 and float32).
    found = solvers.nelder_mead(lambda p: (p["a"] - 0.3) ** 2 + jnp.sum((p["b"] + 2.7) ** 2),
                                {"a": 1, "b": np.array([1, 2])}, tol=1e-8)
    assert found.x["b"].dtype == jnp.zeros(()).dtype
    np.testing.assert_allclose(found.x["a"], 0.3, atol=1e-4)
    np.testing.assert_allclose(found.x["b"], [-2.7, -2.7], atol=1e-4)


def test_proximal_optax_gives_exact_zeros():
    X, y = regression_problem(n=100, d=6)
    X[:, 3:] = np.random.default_rng(1).normal(size=(100, 3))  # unrelated features
    result = jaxfit.fit(models.linear(), "squared_error", X, y, penalty=penalties.l1(0.3), steps=3000, tol=1e-4,
                        optimizer=solvers.proximal(optax.sgd(0.05), learning_rate=0.05))
    # scikit-learn halves the squared error: l1(0.3) here is Lasso(alpha=0.15).
    reference = Lasso(alpha=0.15, tol=1e-12, max_iter=100_000).fit(X.astype(np.float64), y.astype(np.float64))
    assert 0 < (reference.coef_ == 0).sum() < 6
    assert bool(result.converged)
    np.testing.assert_array_equal(np.asarray(result.params["w"]) == 0, reference.coef_ == 0)
    np.testing.assert_allclose(result.params["w"], reference.coef_, atol=5e-4)


OPTAX_WRAPPERS = {
    # Gradient accumulation: not a GradientTransformation, but optax's own loop takes it.
    "multi_steps": lambda: optax.MultiSteps(optax.adam(0.1), every_k_schedule=3),
    # Declared to take extra arguments, it takes only its own (grad_fn), not `value`.
    "sam": lambda: optax.contrib.sam(optax.sgd(0.1), optax.sgd(0.05), sync_period=2),
}


@pytest.mark.parametrize("name", OPTAX_WRAPPERS)
def test_optax_wrappers_match_a_hand_written_loop(name):
    X, y = regression_problem(n=30, d=3)
    optimizer = OPTAX_WRAPPERS[name]()
    result = jaxfit.fit(models.linear(), "squared_error", X, y, optimizer=optimizer, steps=12)
    params = models.linear().init(jax.random.key(0), 3)
    state = optimizer.init(params)
    for _ in range(12):
        grad = jax.grad(lambda p: jnp.mean((X @ p["w"] + p["b"] - y) ** 2))(params)
        updates, state = optimizer.update(grad, state, params)
        params = optax.apply_updates(params, updates)
    assert int(result.n_steps) == 12
    np.testing.assert_allclose(result.params["w"], params["w"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.params["b"], params["b"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("solver", [
    solvers.proximal_gradient(),
    solvers.proximal(optax.sgd(1e-9), learning_rate=1e-9),
], ids=["proximal_gradient", "proximal_sgd"])
def test_a_step_lost_to_rounding_is_not_convergence(solver):
    # Features from 1 to 1e4 in float32: FISTA's step 1/L is ~4e-9, the updates of the
    # larger weights fall under half an ulp, and the step changed nothing: the gradient
    # mapping read 0 (converged) at 30x the minimal objective. So did proximal SGD with a
    # step too small to move the parameters at all.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 5)) * np.array([1, 10, 100, 1e3, 1e4])
    y = X @ np.array([1, 0.1, 0.01, 1e-3, 1e-4]) + 0.1 * rng.standard_normal(200)
    with pytest.warns(RuntimeWarning, match="did not converge"):
        result = jaxfit.fit(models.linear(), "squared_error", X.astype(np.float32), y.astype(np.float32),
                            optimizer=solver, penalty=penalties.l1(0.01), steps=20_000, tol=1e-3)
    assert not bool(result.converged)
    reference = Lasso(alpha=0.005, tol=1e-12, max_iter=100_000).fit(X, y)  # halved squared error

    def objective(w, b):
        return np.mean((X @ w + b - y) ** 2) + 0.01 * np.abs(w).sum()

    assert objective(np.asarray(result.params["w"], np.float64), float(result.params["b"])) > \
        2 * objective(reference.coef_, reference.intercept_)


@pytest.mark.parametrize("acceleration", [True, False], ids=["fista", "ista"])
def test_proximal_gradient_reaches_tol_on_a_near_exact_fit_in_float32(acceleration):
    # The lasso's smooth part is ~1e-4 of its objective here: a backtracking slack
    # relative to it was below the rounding of f, the step was halved at every step
    # and the fit stalled above tol=1e-5 for 2000 steps.
    for seed in range(6):  # half of these stalled
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((30, 3))
        y = X @ np.array([1.0, -2.0, 0.5]) + 0.3 + 1e-3 * rng.standard_normal(30)
        result = jaxfit.fit(models.linear(), "squared_error", X.astype(np.float32), y.astype(np.float32),
                            optimizer=solvers.proximal_gradient(acceleration=acceleration),
                            penalty=penalties.l1(0.01), steps=2000, tol=1e-5)
        assert bool(result.converged) and int(result.n_steps) < 200
        reference = Lasso(alpha=0.005, tol=1e-14, max_iter=100_000).fit(X, y)  # halved squared error
        np.testing.assert_allclose(result.params["w"], reference.coef_, atol=2e-5)
        np.testing.assert_allclose(result.params["b"], reference.intercept_, atol=2e-5)


@pytest.mark.parametrize("acceleration", [True, False], ids=["fista", "ista"])
def test_proximal_gradient_takes_params_of_mixed_precision(x64, acceleration):
    # float32 weights and a float64 intercept (float leaves keep their dtype): FISTA's
    # extrapolation promoted the weights to float64 (a while_loop carry TypeError), and
    # ISTA's rounding slack, in float64 units, stalled it short of tol.
    X, y = regression_problem(n=40, d=3)
    solver = solvers.proximal_gradient(acceleration=acceleration)
    run = lambda b: jaxfit.fit(models.linear(), "squared_error", X, y, optimizer=solver, penalty=penalties.l1(0.01),
                               steps=2000, tol=1e-5, params={"w": np.zeros(3, np.float32), "b": b})
    mixed, single = run(np.float64(0.0)), run(np.float32(0.0))
    assert mixed.params["w"].dtype == np.float32 and mixed.params["b"].dtype == np.float64
    assert bool(mixed.converged) and bool(single.converged)
    reference = Lasso(alpha=0.005, tol=1e-14, max_iter=100_000).fit(X.astype(np.float64), y.astype(np.float64))
    for result in (mixed, single):
        np.testing.assert_allclose(result.params["w"], reference.coef_, atol=2e-5)
        np.testing.assert_allclose(result.params["b"], reference.intercept_, atol=2e-5)


# ---------------------------------------------------------------------------------------------
# The contract: every solver, one ridge problem, the same checks.

CONTRACT = {
    "proximal_gradient": (lambda: solvers.proximal_gradient(), 2000, 1e-4),
    "proximal_sgd": (lambda: solvers.proximal(optax.sgd(0.1), learning_rate=0.1), 3000, 1e-4),
    "lbfgs": (lambda: solvers.lbfgs(), 200, 1e-4),
    "newton": (lambda: solvers.newton(), 20, 1e-4),
    "closed_form": (lambda: solvers.closed_form(), 2, 1e-4),
    "nelder_mead": (lambda: solvers.nelder_mead_solver(initial_step=0.5), 3000, 1e-5),
}


@pytest.mark.parametrize("name", CONTRACT)
def test_solver_contract(name):
    make, steps, tol = CONTRACT[name]
    solver = make()
    X, y = regression_problem(n=40, d=3)
    traces = []

    def counted_loss(outputs, y):
        traces.append(1)
        return losses.squared_error(outputs, y)

    def run(strength, X=X, y=y):
        return jaxfit.fit(models.linear(), counted_loss, X, y, optimizer=solver, penalty=penalties.l2(strength),
                          steps=steps, tol=tol)

    strengths = jnp.array([0.01, 0.1, 1.0])
    batched = jax.jit(jax.vmap(run))
    result = batched(strengths)
    n_traces = len(traces)
    assert n_traces <= 12  # the objective is traced a bounded number of times, not per step
    batched(strengths * 1.1)
    assert len(traces) == n_traces  # new strengths, same program
    assert result.params["w"].dtype == jnp.float32
    assert bool(result.converged.all()) and not bool(result.diverged.any())
    # The loop runs in float64 (one compilation fewer): each lane matches its own fit.
    with jax.enable_x64(True):
        X64, y64 = X.astype(np.float64), y.astype(np.float64)
        exact = []
        for i, s in enumerate(np.asarray(strengths, np.float64)):
            single = run(s, X64, y64)
            assert single.params["w"].dtype == jnp.float64 and bool(single.converged)
            exact.append(np.linalg.solve(np.cov(X64.T, bias=True) + s / 2 * np.eye(3),
                                         (X64 - X64.mean(0)).T @ (y64 - y64.mean()) / len(y64)))
            np.testing.assert_allclose(result.params["w"][i], single.params["w"], atol=20 * tol)
    np.testing.assert_allclose(result.params["w"], np.array(exact), atol=50 * tol)


def test_bounded_objective_traces_across_steps():
    X, y = regression_problem(n=40, d=3)
    counts = []
    for steps in (5, 50):
        traces = []

        def counted_loss(outputs, y):
            traces.append(1)
            return losses.squared_error(outputs, y)

        jaxfit.fit(models.linear(), counted_loss, X, y, optimizer=solvers.lbfgs(), steps=steps)
        counts.append(len(traces))
    assert counts[0] == counts[1]


@pytest.mark.parametrize("call, error, match", [
    (lambda: solvers.lbfgs(linesearch="wolfe"), ValueError, "linesearch"),
    (lambda: solvers.proximal(optax.sgd(0.1), learning_rate=-1.0), ValueError, "learning_rate"),
    (lambda: solvers.proximal("sgd", learning_rate=0.1), TypeError, "optimizer"),
    (lambda: solvers.proximal_gradient(step_size=0.0), ValueError, "step_size"),
    (lambda: solvers.nelder_mead(lambda x: x.sum(), jnp.zeros(2), tol=-1.0), ValueError, "tol"),
    (lambda: solvers.ridge_loo(np.ones((5, 2)), np.ones(5), [-1.0]), ValueError, "alphas"),
    (lambda: solvers.regularization_path(models.linear(), "squared_error", np.ones((5, 2)), np.ones(5),
                                         penalty=penalties.l1, strengths=[0.1, 1.0]), ValueError, "non-increasing"),
    (lambda: solvers.regularization_path(models.linear(), "squared_error", np.ones((5, 2)), np.ones(5),
                                         penalty=penalties.l1(0.1), strengths=[1.0]), TypeError, "strength -> Penalty"),
])
def test_bad_arguments_raise_with_the_argument_named(call, error, match):
    with pytest.raises(error, match=match):
        call()

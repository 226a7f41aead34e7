"""Losses and penalties against closed forms, finite differences and scikit-learn."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import check_grad, minimize_scalar

from jaxfit import losses, penalties

N = 7


def _data(kind, rng):
    if kind == "binary":
        return rng.normal(size=N) * 3, rng.integers(0, 2, N)
    if kind == "multiclass":
        return rng.normal(size=(N, 4)) * 3, rng.integers(0, 4, N)
    return rng.normal(size=N), rng.normal(size=N)


def _reference(name, out, y):
    s, r = 2 * y - 1, (out - y if out.ndim == 1 else None)
    return {
        "squared_error": lambda: r ** 2,
        "absolute_error": lambda: np.abs(r),
        "huber": lambda: np.where(np.abs(r) <= 1, 0.5 * r ** 2, np.abs(r) - 0.5),
        "binary_cross_entropy": lambda: np.logaddexp(0, out) - y * out,
        "softmax_cross_entropy": lambda: np.log(np.exp(out).sum(1)) - out[np.arange(N), y],
        "hinge": lambda: np.maximum(0, 1 - s * out),
    }[name]()


KINDS = {"squared_error": "regression", "absolute_error": "regression", "huber": "regression",
         "binary_cross_entropy": "binary", "softmax_cross_entropy": "multiclass", "hinge": "binary"}


@pytest.mark.parametrize("name", sorted(KINDS))
def test_loss_values_match_closed_form(x64, rng, name):
    out, y = _data(KINDS[name], rng)
    got = losses.LOSSES[name](jnp.asarray(out), jnp.asarray(y))
    assert got.shape == (N,)
    np.testing.assert_allclose(got, _reference(name, out, y), rtol=1e-10, atol=1e-12)


def test_sklearn_log_loss_agrees(x64, rng):
    from sklearn.metrics import log_loss
    logits, y = _data("binary", rng)
    ours = losses.binary_cross_entropy(jnp.asarray(logits), jnp.asarray(y)).mean()
    assert float(ours) == pytest.approx(log_loss(y, 1 / (1 + np.exp(-logits))), rel=1e-10)


def test_binary_cross_entropy_is_stable_for_huge_logits():
    logits = jnp.array([1e4, -1e4, 1e4, -1e4], jnp.float32)
    y = jnp.array([1, 0, 0, 1])
    values = losses.binary_cross_entropy(logits, y)
    np.testing.assert_allclose(values, [0, 0, 1e4, 1e4], rtol=1e-6)
    grads = jax.grad(lambda z: losses.binary_cross_entropy(z, y).sum())(logits)
    assert np.isfinite(grads).all()


def test_multioutput_regression_sums_outputs(rng):
    out, y = rng.normal(size=(N, 3)), rng.normal(size=(N, 3))
    np.testing.assert_allclose(losses.squared_error(out, y), ((out - y) ** 2).sum(1), rtol=1e-6)


PENALTIES = {
    "l1": (lambda s: penalties.l1(s), lambda w, s: s * np.abs(w).sum()),
    "l2": (lambda s: penalties.l2(s), lambda w, s: s / 2 * (w ** 2).sum()),
    "elastic_net": (lambda s: penalties.elastic_net(s, 0.3),
                    lambda w, s: s * (0.3 * np.abs(w).sum() + 0.35 * (w ** 2).sum())),
}


@pytest.mark.parametrize("name", sorted(PENALTIES))
def test_penalty_values_and_biases_unpenalised(x64, rng, name):
    make, reference = PENALTIES[name]
    params = {"w": rng.normal(size=(4, 2)), "b": rng.normal(size=2),
              "layers": [{"w": rng.normal(size=3), "b": rng.normal(size=3)}]}
    weights = np.r_[params["w"].ravel(), params["layers"][0]["w"]]
    assert float(make(0.7).value(params)) == pytest.approx(reference(weights, 0.7), rel=1e-12)
    grad = jax.grad(make(0.7).value)(params)
    np.testing.assert_array_equal(grad["b"], 0.0)
    np.testing.assert_array_equal(grad["layers"][0]["b"], 0.0)


@pytest.mark.parametrize("name", sorted(PENALTIES))
def test_prox_is_the_argmin(x64, rng, name):
    make, reference = PENALTIES[name]
    x, step, s = rng.normal(size=6), 0.4, 0.9
    prox = np.asarray(make(s).prox({"w": jnp.asarray(x), "b": jnp.ones(())}, step)["w"])
    for xi, pi in zip(x, prox):  # the penalties are separable: check coordinate-wise
        numeric = minimize_scalar(lambda z: reference(np.array([z]), s) + (z - xi) ** 2 / (2 * step),
                                  bounds=(-5, 5), method="bounded", options={"xatol": 1e-10}).x
        assert pi == pytest.approx(numeric, abs=1e-7)
    if name == "l1":
        assert (prox == 0).any() and (np.abs(x) <= step * s).sum() == (prox == 0).sum()


@pytest.mark.parametrize("loss_name", sorted(KINDS))
@pytest.mark.parametrize("penalty_name", sorted(PENALTIES))
def test_loss_plus_penalty_gradients_match_finite_differences(x64, rng, loss_name, penalty_name):
    X = rng.normal(size=(N, 3))
    out_dim = 4 if KINDS[loss_name] == "multiclass" else None
    _, y = _data(KINDS[loss_name], rng)
    shape = (3,) if out_dim is None else (3, out_dim)
    penalty = PENALTIES[penalty_name][0](0.3)
    loss = losses.LOSSES[loss_name]

    def objective(flat):
        w = jnp.asarray(flat).reshape(shape)
        return float(loss(X @ w + 0.1, y).mean() + penalty.value({"w": w}))

    grad = jax.grad(lambda w: loss(X @ w + 0.1, y).mean() + penalty.value({"w": w}))
    # Away from kinks (|w| > 0, margins off 1) the finite difference is exact to O(h²).
    w0 = (rng.uniform(0.2, 1.0, size=shape) * rng.choice([-1, 1], size=shape)).ravel()
    error = check_grad(objective, lambda f: np.asarray(grad(jnp.asarray(f).reshape(shape))).ravel(), w0,
                       epsilon=1e-7)
    assert error < 1e-5


def test_penalty_strength_is_a_pytree_leaf():
    penalty = penalties.l2(0.5)
    # value and prox each carry the strength as a leaf; no penalty has none
    assert [float(x) for x in jax.tree_util.tree_leaves(penalty)] == [0.5, 0.5]
    assert jax.tree_util.tree_leaves(penalties.none()) == []
    elastic = penalties.elastic_net(0.5, 0.25)  # (l1_ratio, strength) in each
    assert [float(x) for x in jax.tree_util.tree_leaves(elastic)] == [0.25, 0.5, 0.25, 0.5]
    values = jax.vmap(lambda s: penalties.l2(s).value({"w": jnp.ones(2)}))(jnp.array([0.0, 1.0, 2.0]))
    np.testing.assert_allclose(values, [0.0, 1.0, 2.0])


@pytest.mark.parametrize("make, match", [
    (lambda: penalties.l2(-1.0), "`strength` must be >= 0"),
    (lambda: penalties.elastic_net(1.0, 1.5), "`l1_ratio` must be <= 1"),
    (lambda: penalties.l1("big"), "`strength` must be a real scalar"),
])
def test_bad_penalty_arguments(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


@pytest.mark.parametrize("name", ["binary_cross_entropy", "hinge"])
def test_binary_losses_refuse_a_column_of_labels(rng, name):
    logits, y = _data("binary", rng)
    loss = losses.LOSSES[name]
    # [n] logits against [n, 1] labels would broadcast to [n, n]: every logit scored
    # against every label, a plausible number and no error.
    with pytest.raises(ValueError, match=r"targets of shape \(7, 1\) differ"):
        loss(jnp.asarray(logits), jnp.asarray(y)[:, None])
    # One label for every logit still broadcasts.
    np.testing.assert_allclose(loss(jnp.asarray(logits), jnp.asarray(1)),
                               _reference(name, logits, np.ones(N, int)), rtol=1e-6, atol=1e-6)


def test_softmax_cross_entropy_names_one_hot_labels(rng):
    logits, y = _data("multiclass", rng)
    with pytest.raises(ValueError, match=r"for one-hot rows pass y.argmax\(axis=1\)"):
        losses.softmax_cross_entropy(jnp.asarray(logits), jnp.eye(4)[y])
    with pytest.raises(ValueError, match=r"logits of shape \(7,\).*one output per class"):
        losses.softmax_cross_entropy(jnp.asarray(logits[:, 0]), jnp.asarray(y))

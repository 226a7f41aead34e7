"""Models: shapes, initialisation, dropout."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxfit import models

KEY = jax.random.key(0)
X = jnp.ones((5, 3))


@pytest.mark.parametrize("model, shape", [
    (models.linear(), (5,)), (models.linear(2), (5, 2)), (models.logistic(), (5,)),
    (models.softmax(4), (5, 4)), (models.mlp((8, 4)), (5,)), (models.mlp((8,), n_outputs=3), (5, 3)),
])
def test_output_shapes(model, shape):
    params = model.init(KEY, 3)
    assert model.apply(params, X).shape == shape
    assert jax.jit(model.apply)(params, X).shape == shape


def test_mlp_init_is_glorot_and_seeded():
    model = models.mlp((64,))
    params = model.init(KEY, 10)
    bound = np.sqrt(6 / (10 + 64))
    w = np.asarray(params["layers"][0]["w"])
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    np.testing.assert_array_equal(params["layers"][0]["b"], 0.0)
    same = model.init(jax.random.key(0), 10)["layers"][0]["w"]
    other = model.init(jax.random.key(1), 10)["layers"][0]["w"]
    assert np.array_equal(w, same) and not np.array_equal(w, other)


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic"])
def test_mlp_init_bound_is_sklearns(activation):
    from sklearn.neural_network import MLPClassifier

    # scikit-learn draws U(-bound, bound) with its own bound per activation.
    sklearn_mlp = MLPClassifier(activation=activation)
    sklearn_mlp._random_state = np.random.RandomState(0)  # what its fit sets up before _init_coef
    reference = sklearn_mlp._init_coef(10, 64, np.float64)[0]
    bound = np.abs(reference).max()
    w = np.abs(np.asarray(models.mlp((64,), activation=activation).init(KEY, 10)["layers"][0]["w"]))
    assert 0.97 * bound <= w.max() <= bound / 0.97


def test_mlp_takes_numpy_layer_widths():
    assert models.mlp(np.array([8, 4])) is models.mlp((8, 4))
    assert models.mlp((np.int64(8),)) is models.mlp((8,))


def test_dropout_only_in_training_and_draws_from_key():
    model = models.mlp((256,), dropout=0.5)
    params = model.init(KEY, 3)
    X = jax.random.normal(KEY, (4, 3))
    np.testing.assert_array_equal(model.apply(params, X), model.apply(params, X, key=KEY, train=False))
    a = model.apply(params, X, key=jax.random.key(1), train=True)
    b = model.apply(params, X, key=jax.random.key(2), train=True)
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(a, model.apply(params, X, key=jax.random.key(1), train=True))
    # Inverted dropout keeps the expected activation: the mean over many keys is the eval output.
    keys = jax.random.split(KEY, 2000)
    mean = jax.vmap(lambda k: model.apply(params, X, key=k, train=True))(keys).mean(0)
    np.testing.assert_allclose(mean, model.apply(params, X), atol=0.05)


@pytest.mark.parametrize("make, error, match", [
    (lambda: models.mlp(64), TypeError, "`hidden` must be a sequence"),
    (lambda: models.mlp((8.0,)), TypeError, "`hidden` must be a sequence"),
    (lambda: models.mlp((True,)), TypeError, "`hidden` must be a sequence"),
    (lambda: models.mlp((0,)), ValueError, "`hidden` must be >= 1"),
    (lambda: models.mlp(activation="swish"), ValueError, "`activation` must be one of"),
    (lambda: models.mlp(dropout=1.0), ValueError, "`dropout` must be in"),
    (lambda: models.softmax(1), ValueError, "`n_classes` must be >= 2"),
    (lambda: models.linear().init(KEY, 0), ValueError, "`n_features` must be >= 1"),
    (lambda: models.mlp((4,), dropout=0.5).apply(models.mlp((4,)).init(KEY, 3), X, train=True),
     ValueError, "`key` is required"),
])
def test_bad_model_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_equal_arguments_give_the_same_model():
    # fit compiles once per model object: rebuilding a model must not recompile.
    assert models.linear() is models.linear() and models.softmax(3) is models.softmax(3)
    assert models.mlp([8, 4], dropout=0.1) is models.mlp((8, 4), dropout=0.1)
    assert models.mlp((8,)) is not models.mlp((16,))


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
@pytest.mark.parametrize("n_outputs", [None, 3])
def test_mlp_forward_pass_is_sklearns(x64, activation, n_outputs):
    """The forward pass against scikit-learn's (`_forward_pass_fast`), given our weights:
    an activation swapped, a bias dropped or a layer skipped changes every output."""
    from sklearn.neural_network import MLPRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4))
    model = models.mlp((6, 5), activation=activation, n_outputs=n_outputs)
    params = model.init(KEY, 4)
    # Nonzero biases, so that a dropped bias shows.
    params = jax.tree_util.tree_map(lambda a: a + 0.3 * rng.normal(size=a.shape), params)
    reference = MLPRegressor(hidden_layer_sizes=(6, 5), activation=activation, max_iter=1)
    Y = rng.normal(size=(30,) if n_outputs is None else (30, n_outputs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one epoch: ConvergenceWarning
        reference.fit(X, Y)  # sets its layer count, output activation and shapes
    reference.coefs_ = [np.asarray(layer["w"]) for layer in params["layers"]]
    reference.intercepts_ = [np.asarray(layer["b"]) for layer in params["layers"]]
    np.testing.assert_allclose(model.apply(params, X), reference.predict(X), rtol=1e-12, atol=1e-12)


def test_glm_apply_is_the_affine_map(x64, rng):
    X = rng.normal(size=(9, 4))
    for model, shape in ((models.linear(), ()), (models.logistic(), ()), (models.softmax(3), (3,)),
                         (models.linear(2), (2,))):
        w, b = rng.normal(size=(4, *shape)), rng.normal(size=shape)
        np.testing.assert_allclose(model.apply({"w": w, "b": b}, X), X @ w + b, rtol=1e-12, atol=1e-12)

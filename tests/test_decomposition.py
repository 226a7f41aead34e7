"""PCA against scikit-learn: components with the same signs, variances, transforms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import load_wine
from sklearn.decomposition import PCA as SkPCA

import jaxfit.decomposition
from jaxfit.decomposition import PCA, pca


def wine():
    return load_wine().data  # unscaled: variances span six orders of magnitude


def low_rank(n=400, d=60, seed=0):
    """Data with a clear spectrum: 5 strong directions (10, 8, 6, 4, 2) plus noise."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(d, 5)))[0].T
    scores = rng.normal(size=(n, 5)) * np.array([10.0, 8.0, 6.0, 4.0, 2.0])
    return scores @ basis + 0.1 * rng.normal(size=(n, d)) + 3.0


def test_public_names():
    assert callable(jaxfit.decomposition.pca) and jaxfit.decomposition.PCA is PCA


@pytest.mark.parametrize("solver", ["full", "covariance_eigh"])
def test_matches_sklearn_with_signs(x64, solver):
    X = wine()
    ours = pca(X, 6, solver=solver)
    ref = SkPCA(6, svd_solver=solver).fit(X)
    np.testing.assert_allclose(ours.mean, ref.mean_, rtol=1e-12)
    # Same signs as scikit-learn's svd_flip, not merely the same axes.
    np.testing.assert_allclose(ours.components, ref.components_, atol=1e-5)
    np.testing.assert_allclose(ours.explained_variance, ref.explained_variance_, rtol=1e-8)
    np.testing.assert_allclose(ours.explained_variance_ratio, ref.explained_variance_ratio_,
                               rtol=1e-8)
    np.testing.assert_allclose(ours.singular_values, ref.singular_values_, rtol=1e-8)
    np.testing.assert_allclose(ours.transform(X), ref.transform(X), rtol=1e-6, atol=1e-6)


def test_auto_solver_matches_sklearn_default(x64):
    X = low_rank()
    ours, ref = pca(X, 3), SkPCA(3).fit(X)
    np.testing.assert_allclose(ours.components, ref.components_, atol=1e-5)
    np.testing.assert_allclose(ours.explained_variance_ratio, ref.explained_variance_ratio_,
                               rtol=1e-6)


def test_round_trip_and_whitening(x64):
    X = wine()
    full = pca(X, X.shape[1], solver="full")
    np.testing.assert_allclose(full.inverse_transform(full.transform(X)), X, rtol=1e-10, atol=1e-8)
    white = pca(X, 4, whiten=True, solver="full")
    Z = white.transform(X)
    np.testing.assert_allclose(np.var(np.asarray(Z), axis=0, ddof=1), 1.0, rtol=1e-10)
    np.testing.assert_allclose(Z, SkPCA(4, whiten=True, svd_solver="full").fit_transform(X),
                               rtol=1e-6, atol=1e-8)
    V = np.asarray(full.components[:4])
    rank4 = (X - X.mean(0)) @ V.T @ V + X.mean(0)
    np.testing.assert_allclose(white.inverse_transform(Z), rank4, rtol=1e-8, atol=1e-8)


def test_randomized_close_to_full():
    # float32 on a clear spectrum: the top components agree to |cos| > 0.999.
    X = low_rank()
    full = pca(X, 3, solver="full")
    rand = pca(X, 3, solver="randomized", key=jax.random.key(1))
    cos = np.abs(np.sum(np.asarray(full.components) * np.asarray(rand.components), axis=1))
    assert np.all(cos > 0.999)
    np.testing.assert_allclose(rand.explained_variance_ratio, full.explained_variance_ratio,
                               rtol=1e-3)
    np.testing.assert_allclose(rand.components, full.components, atol=0.05)  # same signs


def test_randomized_ratio_uses_total_variance_like_sklearn(x64):
    X = low_rank()
    ours = pca(X, 3, solver="randomized", key=jax.random.key(0))
    ref = SkPCA(3, svd_solver="randomized", random_state=0).fit(X)
    np.testing.assert_allclose(ours.explained_variance_ratio, ref.explained_variance_ratio_,
                               rtol=1e-6)
    np.testing.assert_allclose(ours.components, ref.components_, atol=1e-5)


def test_jit_and_vmap():
    X = jnp.asarray(low_rank(n=100, d=8))
    fitted = jax.jit(lambda X: pca(X, 2, solver="full"))(X)
    assert isinstance(fitted, PCA) and fitted.components.shape == (2, 8)
    boot = jax.vmap(lambda i: pca(X[i], 2, solver="full").explained_variance_ratio)(
        jnp.stack([jnp.arange(100), jnp.arange(100)[::-1]]))
    np.testing.assert_allclose(boot[0], boot[1], rtol=1e-4)


def test_weighted_mean_is_accurate_in_float32():
    # 10^6 float32 rows near 1000: computed as the product w @ X, whose rows XLA's CPU
    # backend added one after another, the weighted mean came out 9 off and the
    # variances 160 times too large.
    X = (np.random.default_rng(0).normal(size=(1_000_000, 2)) + 1000).astype(np.float32)
    w = np.ones(len(X), np.float32)
    w[::2] = 2.0
    ours = pca(X, 2, solver="full", sample_weight=w)
    X64, w64 = X.astype(np.float64), w.astype(np.float64)
    mean = w64 @ X64 / w64.sum()
    Xc = (X64 - mean) * np.sqrt(w64)[:, None]
    variances = np.linalg.eigvalsh(Xc.T @ Xc / (w64.sum() - 1))[::-1]
    np.testing.assert_allclose(ours.mean, mean, rtol=1e-6)
    np.testing.assert_allclose(ours.explained_variance, variances, rtol=1e-4)


def test_covariance_of_many_rows_and_few_features_is_accurate_in_float32():
    # 4·10^6 rows of 2 features: XLA's CPU product added the rows of Xᵀ X one after
    # another, and the explained variances came out 0.4% off (1.6% at 10^7 rows).
    X = (np.random.default_rng(0).normal(size=(4_000_000, 2)) * [3.0, 1.0] + 5).astype(np.float32)
    ours = pca(X, 2, solver="covariance_eigh")
    variances = np.linalg.eigvalsh(np.cov(X.astype(np.float64).T))[::-1]
    np.testing.assert_allclose(ours.explained_variance, variances, rtol=1e-5)


X_GOOD = np.random.default_rng(0).normal(size=(10, 4))
X_NAN = X_GOOD.copy()
X_NAN[3, 3] = np.nan
FITTED = pca(X_GOOD, 2)


@pytest.mark.parametrize("fn, args, kwargs, error, match", [
    (pca, (X_GOOD, 5), {}, ValueError, "n_components"),
    (pca, (X_GOOD, 0), {}, ValueError, "n_components"),
    (pca, (X_GOOD, 2.0), {}, TypeError, "n_components"),
    (pca, (X_NAN, 2), {}, ValueError, "X"),
    (pca, (X_GOOD[:1], 1), {}, ValueError, "X"),
    (pca, (X_GOOD, 2), {"solver": "arpack"}, ValueError, "solver"),
    (pca, (X_GOOD, 2), {"whiten": "yes"}, TypeError, "whiten"),
    (pca, (X_GOOD, 2), {"solver": "randomized", "key": 3}, TypeError, "key"),
    (pca, (X_GOOD, 2), {"n_iter": -1}, ValueError, "n_iter"),
    (pca, (X_GOOD, 2), {"sample_weight": np.full(10, 0.1)}, ValueError, "sample_weight"),
    (FITTED.transform, (X_GOOD[:, :3],), {}, ValueError, "X"),
    (FITTED.inverse_transform, (X_GOOD,), {}, ValueError, "Z"),
])
def test_bad_input(fn, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        fn(*args, **kwargs)

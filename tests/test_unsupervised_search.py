"""k-means and PCA inside cross-validated searches: the unsupervised steps are fitted
per fold on the training mask, like any other train_fn."""

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.datasets import make_blobs
from sklearn.decomposition import PCA as SkPCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from jaxfit import data, fit, metrics, models, penalties, solvers
from jaxfit.cluster import assign, kmeans
from jaxfit.decomposition import pca
from jaxfit.model_selection import grid, kfold, search


def test_weighted_pca_equals_pca_of_the_subset(x64, rng):
    X = rng.normal(size=(60, 5)) @ rng.normal(size=(5, 5))
    mask = (rng.uniform(size=60) < 0.7).astype(np.float64)
    for solver in ("full", "covariance_eigh"):
        weighted = pca(X, 3, solver=solver, sample_weight=mask)
        subset = pca(X[mask > 0], 3, solver=solver)
        for got, want in zip(weighted[:5], subset[:5]):
            np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)


def _kmeans_train(config, X, y, sample_weight, key):
    seed_key = jax.random.fold_in(key, jnp.asarray(config["seed"], jnp.int32))
    return kmeans(X, config["n_clusters"], key=seed_key, n_init=2, sample_weight=sample_weight).centers


def _silhouette(centers, X, y, sample_weight):
    k = centers.shape[0]
    return metrics.silhouette_score(X, assign(centers, X), n_clusters=k, sample_weight=sample_weight)


def test_search_chooses_the_number_of_clusters_over_seeds():
    X, _ = make_blobs(n_samples=240, centers=4, cluster_std=0.8, random_state=0)
    X = X.astype(np.float32)
    folds = kfold(len(X), 3, shuffle=True, key=jax.random.key(0))
    result = search(_kmeans_train, _silhouette, X, None, grid(seed=[0, 1, 2]), folds,
                    static={"n_clusters": [2, 3, 4, 5, 6]}, key=jax.random.key(1))
    assert result.scores.shape == (15, 3) and np.isfinite(result.scores).all()
    assert result.best_config["n_clusters"] == 4
    # One lane of the vmapped program equals the same fit run on its own.
    i = 7
    config = result.config(i)
    for f in range(3):
        centers = _kmeans_train(config, X, None, folds.train[f].astype(np.float32),
                                jax.random.fold_in(jax.random.key(1), f))
        alone = _silhouette(centers, X, None, folds.test[f].astype(np.float32))
        np.testing.assert_allclose(result.scores[i, f], alone, rtol=1e-5)


def _pca_logistic_train(config, X, y, sample_weight, key):
    scaling = data.standardize(X, sample_weight)
    Z = scaling.apply(X)
    components = pca(Z, config["n_components"], sample_weight=sample_weight, solver="covariance_eigh")
    n_train = jnp.sum(sample_weight)
    result = fit(models.logistic(), "binary_cross_entropy", components.transform(Z), y,
                 optimizer=solvers.lbfgs(), penalty=penalties.l2(1.0 / n_train), steps=200,
                 tol=1e-5, sample_weight=sample_weight)
    return scaling, components, result.params


def _pca_logistic_score(fitted, X, y, sample_weight):
    scaling, components, params = fitted
    logits = models.logistic().apply(params, components.transform(scaling.apply(X)))
    return metrics.accuracy(y, logits > 0, sample_weight=sample_weight)


def test_pca_and_logistic_regression_as_one_train_fn_with_components_searched():
    ds = data.load_example("breast_cancer")
    folds = kfold(len(ds.y), 4, shuffle=True, key=jax.random.key(0))
    sizes = [1, 2, 5, 10]
    result = search(_pca_logistic_train, _pca_logistic_score, ds.X, ds.y, {}, folds,
                    static={"n_components": sizes})
    splits = [(np.flatnonzero(tr), np.flatnonzero(te)) for tr, te in zip(folds.train, folds.test)]
    for i, k in enumerate(sizes):
        pipeline = make_pipeline(StandardScaler(), SkPCA(k), LogisticRegression(C=1.0))
        reference = cross_val_score(pipeline, ds.X.astype(np.float64), ds.y, cv=splits).mean()
        assert abs(result.mean[i] - reference) <= 0.01, (k, result.mean[i], reference)
    assert result.best_config["n_components"] >= 5 and result.mean[0] < result.mean[-1]

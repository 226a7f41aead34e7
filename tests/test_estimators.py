"""jaxfit.estimators: scikit-learn's solutions on the bundled data, scikit-learn's tools,
one compile per shape. scikit-learn's own estimator checks are in
test_estimators_sklearn_checks.py."""

import subprocess
import sys
import warnings

import jax.numpy as jnp
import numpy as np
import optax
import pytest

pytest.importorskip("sklearn")
import pandas as pd  # noqa: E402
import scipy.stats  # noqa: E402
from sklearn import cluster as sk_cluster  # noqa: E402
from sklearn import decomposition as sk_decomposition  # noqa: E402
from sklearn import linear_model as sk_linear  # noqa: E402
from sklearn import neural_network as sk_nn  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, ParameterGrid, cross_val_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from jaxfit import data, estimators  # noqa: E402
from jaxfit.estimators import (PCA, ElasticNet, KMeans, Lasso, LinearRegression,  # noqa: E402
                               LogisticRegression, MLPClassifier, MLPRegressor, Ridge, SearchCV)
from jaxfit.estimators._supervised import _cached_program  # noqa: E402

PUBLIC = ["LinearRegression", "Ridge", "Lasso", "ElasticNet", "LogisticRegression", "MLPClassifier",
          "MLPRegressor", "KMeans", "PCA", "SearchCV"]


def _standardized(name, labels="strings"):
    """A bundled data set standardized with jaxfit; class labels as their names."""
    ds = data.load_example(name)
    X = np.asarray(data.standardize(ds.X).apply(ds.X), np.float64)
    if ds.classes is None:
        return X, np.asarray(ds.y, np.float64)
    return X, (np.asarray(ds.classes)[ds.y] if labels == "strings" else ds.y)


def test_public_names():
    for name in PUBLIC:
        assert isinstance(getattr(estimators, name), type)


def test_imports_and_fits_without_sklearn():
    code = ("import sys; sys.modules['sklearn'] = None\n"
            "import numpy as np\n"
            "from jaxfit.estimators import Ridge, NotFittedError\n"
            "X = np.arange(20.0).reshape(10, 2); y = X @ [1.0, -2.0]\n"
            "model = Ridge(alpha=0.5)\n"
            "try: model.predict(X)\n"
            "except NotFittedError: pass\n"
            "print(repr(model.fit(X, y)), model.score(X, y) > 0.99)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["Ridge(alpha=0.5)", "True"]


# ------------------------------------------------------------- same solutions as scikit-learn


@pytest.mark.parametrize("ours, theirs", [
    (LinearRegression(), sk_linear.LinearRegression()),
    (Ridge(alpha=10.0), sk_linear.Ridge(alpha=10.0)),
    (Lasso(alpha=0.5, max_iter=20_000, tol=1e-10), sk_linear.Lasso(alpha=0.5, max_iter=100_000, tol=1e-12)),
    (ElasticNet(alpha=0.5, l1_ratio=0.3, max_iter=20_000, tol=1e-10),
     sk_linear.ElasticNet(alpha=0.5, l1_ratio=0.3, max_iter=100_000, tol=1e-12)),
], ids=lambda e: type(e).__name__)
def test_regressors_match_sklearn(x64, ours, theirs):
    X, y = _standardized("diabetes")
    weight = np.random.default_rng(0).integers(0, 4, size=len(y)).astype(np.float64)
    for sample_weight in (None, weight):
        ours.fit(X, y, sample_weight=sample_weight)
        theirs.fit(X, y, sample_weight=sample_weight)
        np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-4, atol=1e-4 * np.abs(theirs.coef_).max())
        np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-6)
        np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-5)
        np.testing.assert_array_equal(ours.coef_ == 0, theirs.coef_ == 0)  # Lasso's exact zeros
    assert ours.score(X, y) == pytest.approx(theirs.score(X, y), abs=1e-8)


def test_least_squares_in_float32_with_large_feature_means():
    # Uncentred normal equations lose (mean / std)²·eps: 0.9 off at mean 1000 in float32.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)) + 1000.0
    y = X @ [1.0, -2.0, 0.5] + rng.normal(size=200)
    weight = rng.uniform(0.5, 2.0, 200)
    for ours, theirs in [(LinearRegression(), sk_linear.LinearRegression()),
                         (Ridge(alpha=1.0), sk_linear.Ridge(alpha=1.0))]:
        fitted = ours.fit(X.astype(np.float32), y.astype(np.float32), sample_weight=weight)
        reference = theirs.fit(X, y, sample_weight=weight)
        np.testing.assert_allclose(fitted.coef_, reference.coef_, atol=1e-3)
        np.testing.assert_allclose(fitted.intercept_, reference.intercept_, rtol=1e-3)


@pytest.mark.parametrize("name", ["breast_cancer", "wine"])
@pytest.mark.parametrize("solver", ["lbfgs", "newton-cholesky"])
def test_logistic_regression_matches_sklearn(x64, name, solver):
    X, y = _standardized(name)
    # Newton is scikit-learn's exact reference: its lbfgs stops on a relative change of
    # the loss and is off by ~1e-4 at any tol.
    theirs = sk_linear.LogisticRegression(C=0.5, solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(X, y)
    ours = LogisticRegression(C=0.5, solver=solver, tol=1e-10, max_iter=1000).fit(X, y)
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    assert ours.coef_.shape == theirs.coef_.shape and ours.intercept_.shape == theirs.intercept_.shape
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-4, atol=1e-6)
    # Multinomial intercepts are defined up to a shared shift: compare them centred.
    centre = (lambda b: b - b.mean()) if len(ours.classes_) > 2 else (lambda b: b)
    np.testing.assert_allclose(centre(ours.intercept_), centre(theirs.intercept_), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-6)
    scores = [model.decision_function(X) for model in (ours, theirs)]
    if scores[0].ndim == 2:
        scores = [s - s.mean(axis=1, keepdims=True) for s in scores]
    np.testing.assert_allclose(*scores, atol=1e-5)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    assert ours.score(X, y) == theirs.score(X, y)


def test_l1_logistic_regression_matches_sklearn(x64):
    X, y = _standardized("breast_cancer")
    # liblinear penalises the intercept; scaling its synthetic feature up makes that
    # penalty vanish, which gives the exact L1 solution (saga stops far from it). Its
    # coordinate order is random: seeded, as about 1 seed in 20 stalls at this tol.
    theirs = sk_linear.LogisticRegression(l1_ratio=1.0, solver="liblinear", C=0.5, tol=1e-10,
                                          max_iter=10_000, intercept_scaling=1e6,
                                          random_state=0).fit(X, y)
    ours = LogisticRegression(penalty="l1", solver="saga", C=0.5, tol=1e-10, max_iter=20_000).fit(X, y)

    def objective(model):  # mean log-loss + l1(1/(C·n)), the problem both solve
        z = X @ model.coef_[0] + model.intercept_[0]
        positive = (y == model.classes_[1]).astype(float)
        return np.mean(np.logaddexp(0, z) - positive * z) + np.abs(model.coef_).sum() / (0.5 * len(y))

    # The objective is flat along correlated features: coefficients agree to ~1e-4
    # while the objective values agree to 1e-9 (ours is no worse than liblinear's).
    assert objective(ours) <= objective(theirs) + 1e-9
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=2e-4)
    np.testing.assert_array_equal(ours.coef_ == 0, theirs.coef_ == 0)
    # The same L1 fit, asked for as scikit-learn >= 1.8 does (l1_ratio alone) and as before.
    for kwargs in (dict(l1_ratio=1.0), dict(penalty="elasticnet", l1_ratio=1.0)):
        as_l1 = LogisticRegression(solver="saga", C=0.5, tol=1e-10, max_iter=20_000, **kwargs).fit(X, y)
        np.testing.assert_allclose(as_l1.coef_, ours.coef_, atol=1e-9)


@pytest.mark.parametrize("kwargs, penalty", [
    (dict(), "l2"), (dict(l1_ratio=0.0), "l2"), (dict(l1_ratio=1.0), "l1"),
    (dict(l1_ratio=0.4), "elasticnet"), (dict(C=np.inf, l1_ratio=1.0), None),
    (dict(penalty="l1", l1_ratio=0.0), "l1"), (dict(penalty="l2", l1_ratio=None), "l2"),
])
def test_logistic_penalty_auto_follows_l1_ratio_as_sklearn(kwargs, penalty):
    """scikit-learn 1.8 deprecated `penalty`: `l1_ratio` (and C=inf) choose it."""
    ours = LogisticRegression(solver="saga", **kwargs)
    assert ours._hyperparameters()["penalty"] == penalty


@pytest.mark.parametrize("kwargs, match", [
    (dict(penalty="l2", l1_ratio=0.5), r"`l1_ratio`=0.5 disagrees with penalty='l2'.*'auto'"),
    (dict(penalty="elasticnet", l1_ratio=None), r"'elasticnet' needs `l1_ratio`"),
    (dict(l1_ratio=0.5, solver="lbfgs"), r"Solver lbfgs supports only 'l2'.*solver='saga'"),
])
def test_logistic_penalty_mismatch_is_refused(kwargs, match):
    X, y = _standardized("breast_cancer")
    with pytest.raises(ValueError, match=match):
        LogisticRegression(**kwargs).fit(X, y)


@pytest.mark.parametrize("name", ["iris", "breast_cancer", "diabetes"])
def test_mlp_scores_like_sklearn(name):
    X, y = _standardized(name)
    if name == "diabetes":
        y = y / 100.0  # scikit-learn's MLP needs targets of order one too
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    ours_cls, theirs_cls = ((MLPRegressor, sk_nn.MLPRegressor) if name == "diabetes"
                            else (MLPClassifier, sk_nn.MLPClassifier))
    kwargs = dict(hidden_layer_sizes=(32,), max_iter=300, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=Warning)  # either may stop at max_iter
        ours = ours_cls(**kwargs).fit(X_train, y_train)
        theirs = theirs_cls(**kwargs).fit(X_train, y_train)
    ours_score, theirs_score = ours.score(X_test, y_test), theirs.score(X_test, y_test)
    assert ours_score >= theirs_score - 0.05, (ours_score, theirs_score)
    assert ours.n_iter_ <= 300 and len(ours.loss_curve_) == ours.n_iter_
    assert [w.shape for w in ours.coefs_] == [w.shape for w in theirs.coefs_]


@pytest.mark.filterwarnings("ignore::jaxfit.estimators.ConvergenceWarning")  # short runs on purpose
def test_mlp_jaxfit_extras():
    X, y = _standardized("iris")
    model = MLPClassifier((16,), dropout=0.2, optimizer=optax.adamw(1e-2), max_iter=40, batch_size=32,
                          early_stopping=True, n_iter_no_change=3, random_state=0).fit(X, y)
    assert model.n_iter_ <= 40 and model.score(X, y) > 0.8
    model = MLPClassifier((16,), learning_rate_schedule="cosine", learning_rate_init=0.05, max_iter=100,
                          random_state=0).fit(X, y)
    assert model.score(X, y) > 0.9


def test_kmeans_matches_sklearn(x64):
    X, _ = _standardized("iris")
    init = X[[0, 50, 100]]
    ours = KMeans(3, init=init, n_init=1, tol=0.0).fit(X)
    theirs = sk_cluster.KMeans(3, init=init, n_init=1, tol=0.0).fit(X)
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, atol=1e-10)
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-10)
    np.testing.assert_allclose(ours.transform(X), theirs.transform(X), atol=1e-8)
    np.testing.assert_array_equal(ours.predict(X), ours.labels_)
    assert ours.score(X) == pytest.approx(-ours.inertia_, rel=1e-10)
    best = KMeans(3, n_init=10, random_state=0).fit(X)
    assert best.inertia_ == pytest.approx(sk_cluster.KMeans(3, n_init=10, random_state=0).fit(X).inertia_, rel=1e-6)


def test_kmeans_predicts_its_own_labels_far_from_the_origin():
    # float32: distances in GEMM form round as eps·||x||², 0.01·1e8 here, unless centred.
    X, _ = _standardized("iris")
    X = (X + 1e4).astype(np.float32)
    far = KMeans(3, n_init=3, random_state=0).fit(X)
    np.testing.assert_array_equal(far.predict(X), far.labels_)
    assert far.score(X) == pytest.approx(-far.inertia_, rel=1e-3)
    distances = np.linalg.norm(X[:, None].astype(np.float64) - far.cluster_centers_[None], axis=2)
    np.testing.assert_allclose(far.transform(X), distances, atol=1e-2)


def test_kmeans_output_names_are_the_fitted_clusters_as_sklearn():
    # set_params after fit changes n_clusters, not the fitted centers nor their names.
    X, _ = _standardized("iris")
    ours, theirs = (model.set_output(transform="pandas").fit(X).set_params(n_clusters=5)
                    for model in (KMeans(3, n_init=1, random_state=0),
                                  sk_cluster.KMeans(3, n_init=1, random_state=0)))
    assert list(ours.get_feature_names_out()) == list(theirs.get_feature_names_out())
    assert list(ours.transform(X).columns) == list(theirs.transform(X).columns) == ["kmeans0", "kmeans1", "kmeans2"]


@pytest.mark.parametrize("n_components", [3, 0.9, None])
def test_pca_matches_sklearn(x64, n_components):
    X, _ = _standardized("wine")
    ours, theirs = PCA(n_components).fit(X), sk_decomposition.PCA(n_components).fit(X)
    assert ours.n_components_ == theirs.n_components_
    for name in ("components_", "explained_variance_", "explained_variance_ratio_", "singular_values_", "mean_"):
        np.testing.assert_allclose(getattr(ours, name), getattr(theirs, name), atol=1e-8, err_msg=name)
    assert ours.noise_variance_ == pytest.approx(theirs.noise_variance_, abs=1e-10)
    np.testing.assert_allclose(ours.transform(X), theirs.transform(X), atol=1e-8)
    np.testing.assert_allclose(ours.inverse_transform(ours.transform(X)),
                               theirs.inverse_transform(theirs.transform(X)), atol=1e-8)
    np.testing.assert_array_equal(ours.get_feature_names_out(), theirs.get_feature_names_out())


@pytest.mark.parametrize("ours, theirs", [
    (PCA(2), sk_decomposition.PCA(2)),
    (KMeans(3, init=np.eye(3, 4), n_init=1), sk_cluster.KMeans(3, init=np.eye(3, 4), n_init=1)),
])
def test_set_output_pandas_in_a_pipeline_as_sklearn(x64, ours, theirs):
    X, _ = _standardized("wine")
    X = pd.DataFrame(X[:, :4], columns=list("abcd"), index=np.arange(len(X)) + 1000)
    frames = [make_pipeline(StandardScaler(), model).set_output(transform="pandas").fit_transform(X)
              for model in (ours, theirs)]
    assert all(isinstance(f, pd.DataFrame) for f in frames)
    assert list(frames[0].columns) == list(frames[1].columns)
    pd.testing.assert_index_equal(frames[0].index, X.index)
    np.testing.assert_allclose(np.abs(frames[0].to_numpy()), np.abs(frames[1].to_numpy()), atol=1e-8)
    # The choice survives cloning (sklearn's clone and jaxfit's), and "default" undoes it.
    assert isinstance(clone(ours).fit(X).transform(X), pd.DataFrame)
    assert isinstance(estimators._base.clone(ours).fit(X).transform(X), pd.DataFrame)
    assert isinstance(ours.set_output(transform="default").transform(X), np.ndarray)
    with pytest.raises(ValueError, match="`transform` must be 'default', 'pandas' or None"):
        ours.set_output(transform="polars")


# ------------------------------------------------------------- SearchCV


def test_search_picks_gridsearchcv_best(x64):
    X, y = _standardized("diabetes")
    grid = {"alpha": list(np.logspace(-2, 3, 11))}
    ours = SearchCV(Ridge(), grid, cv=5, scoring="neg_mean_squared_error").fit(X, y)
    theirs = GridSearchCV(sk_linear.Ridge(), grid, cv=5, scoring="neg_mean_squared_error").fit(X, y)
    assert ours.best_params_ == theirs.best_params_
    assert ours.best_index_ == theirs.best_index_
    assert ours.best_score_ == pytest.approx(theirs.best_score_, rel=1e-8)
    for column in ["mean_test_score", "std_test_score"] + [f"split{i}_test_score" for i in range(5)]:
        np.testing.assert_allclose(ours.cv_results_[column], theirs.cv_results_[column], rtol=1e-8, err_msg=column)
    np.testing.assert_array_equal(ours.cv_results_["rank_test_score"], theirs.cv_results_["rank_test_score"])
    assert ours.cv_results_["params"] == theirs.cv_results_["params"]
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-6)
    assert ours.score(X, y) == pytest.approx(theirs.score(X, y), rel=1e-6)  # -MSE, not R²


@pytest.mark.parametrize("scoring", ["f1_macro", "precision_weighted", "roc_auc", "neg_log_loss"])
def test_search_scorers_on_a_binary_target(scoring):
    X, y = _standardized("breast_cancer")
    grid = {"C": [0.01, 1.0]}
    ours = SearchCV(LogisticRegression(), grid, cv=3, scoring=scoring).fit(X, y)
    theirs = GridSearchCV(sk_linear.LogisticRegression(), grid, cv=3, scoring=scoring).fit(X, y)
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"],
                               theirs.cv_results_["mean_test_score"], rtol=2e-3)
    assert ours.score(X, y) == pytest.approx(theirs.score(X, y), rel=2e-3)


def test_search_refuses_binary_scorers_on_a_multiclass_target():
    X, y = _standardized("iris")
    with pytest.raises(ValueError, match="f1_macro"):
        SearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=3, scoring="f1").fit(X, y)


def test_search_classifier_with_string_labels(x64):
    X, y = _standardized("breast_cancer")
    grid = {"C": [1e-3, 1e-2, 0.1, 1.0, 10.0]}
    ours = SearchCV(LogisticRegression(tol=1e-8, max_iter=500), grid, cv=4).fit(X, y)
    theirs = GridSearchCV(sk_linear.LogisticRegression(solver="newton-cholesky", tol=1e-10), grid, cv=4).fit(X, y)
    assert ours.best_params_ == theirs.best_params_ == {"C": 1.0}
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"], theirs.cv_results_["mean_test_score"], atol=1e-9)
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    assert set(ours.predict(X)) == set(y)
    assert ours.predict_proba(X).shape == (len(y), 2)


def test_search_order_static_groups_and_random_search():
    X, y = _standardized("breast_cancer", labels="codes")
    grid = [{"penalty": ["l1", "l2"], "C": [0.1, 1.0], "solver": ["saga"]}, {"penalty": [None]}]
    search = SearchCV(LogisticRegression(max_iter=30, tol=1e-3), grid, cv=3, refit=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=Warning)
        search.fit(X, y)
    assert search.cv_results_["params"] == list(ParameterGrid(grid))
    assert not hasattr(search, "best_estimator_") and len(search.search_result_) == 3
    with pytest.raises(ValueError, match="best_estimator_"):  # kept without its train_fn
        search.search_result_[0].refit(X, y)
    random = SearchCV(Ridge(), param_distributions={"alpha": scipy.stats.loguniform(1e-3, 1e2)},
                      n_iter=6, cv=3, random_state=0).fit(X, y.astype(float))
    alphas = [p["alpha"] for p in random.cv_results_["params"]]
    assert len(alphas) == 6 and all(1e-3 <= a <= 1e2 for a in alphas)
    assert random.best_params_ == random.cv_results_["params"][random.best_index_]


# ------------------------------------------------------------- scikit-learn's tools and inputs


def test_pipeline_cross_val_score_clone():
    ds = data.load_example("breast_cancer")
    ours = cross_val_score(make_pipeline(StandardScaler(), LogisticRegression()), ds.X, ds.y, cv=3)
    theirs = cross_val_score(make_pipeline(StandardScaler(), sk_linear.LogisticRegression()), ds.X, ds.y, cv=3)
    np.testing.assert_allclose(ours, theirs, atol=0.011)  # at most one borderline sample per fold
    model = Ridge(alpha=3.0, tol=1e-3)
    copy = clone(model)
    assert copy is not model and copy.get_params() == model.get_params()
    search = GridSearchCV(make_pipeline(StandardScaler(), Ridge()), {"ridge__alpha": [0.1, 10.0]}, cv=3)
    X, y = _standardized("diabetes")
    assert search.fit(X, y).best_params_["ridge__alpha"] in (0.1, 10.0)


def test_inputs_pandas_jax_lists():
    X, y = _standardized("iris")
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    from_pandas = LogisticRegression().fit(frame, pd.Series(y))
    from_jax = LogisticRegression().fit(jnp.asarray(X, jnp.float32), list(y))
    np.testing.assert_allclose(from_pandas.coef_, from_jax.coef_, rtol=1e-5)
    np.testing.assert_array_equal(from_pandas.feature_names_in_, ["a", "b", "c", "d"])
    assert not hasattr(from_jax, "feature_names_in_")
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        from_pandas.predict(X)
    with pytest.raises(ValueError, match="feature names should match"):
        from_pandas.predict(frame[["b", "a", "c", "d"]])


def test_new_hyperparameter_values_reuse_the_compiled_fit():
    X, y = _standardized("breast_cancer", labels="codes")
    X, y = X[:97], y[:97]  # a shape no other test fits, so the first fit compiles here
    for cls, name, values in [(Ridge, "alpha", [0.1, 1.0, 10.0]), (LogisticRegression, "C", [0.1, 1.0, 10.0]),
                              (MLPClassifier, "learning_rate_init", [1e-3, 1e-2])]:
        kwargs = {"hidden_layer_sizes": (4,), "max_iter": 2} if cls is MLPClassifier else {}
        before = _cached_program.cache_info().misses
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=Warning)
            models = [cls(**{name: value}, **kwargs).fit(X, y.astype(float) if cls is Ridge else y)
                      for value in values]
        assert _cached_program.cache_info().misses == before + 1, cls.__name__
        outputs = [m.predict(X) if cls is Ridge else m.decision_function(X) for m in (models[0], models[-1])]
        assert not np.allclose(*outputs)


def test_params_repr_and_errors():
    model = LogisticRegression(C=2.0)
    assert repr(model) == "LogisticRegression(C=2.0)"
    assert model.get_params()["C"] == 2.0 and model.set_params(C=3.0).C == 3.0
    search = SearchCV(Ridge(), {"alpha": [1.0]})
    assert search.get_params()["estimator__alpha"] == 1.0
    assert search.set_params(estimator__alpha=5.0).estimator.alpha == 5.0
    with pytest.raises(ValueError, match="Invalid parameter 'alpah'"):
        Ridge().set_params(alpah=1.0)
    X, y = _standardized("iris")
    with pytest.raises(NotFittedError, match="This Ridge instance is not fitted yet. Call 'fit'"):
        Ridge().predict(X)
    with pytest.raises(ValueError, match="supports only 'l2' or None"):
        LogisticRegression(penalty="l1").fit(X, y)
    with pytest.raises(ValueError, match="'alpha' parameter of Ridge"):
        Ridge(alpha=-1.0).fit(X, np.ones(len(X)))
    with pytest.raises(ValueError, match="Unknown label type"):
        LogisticRegression().fit(X, np.linspace(0, 1, len(X)))
    with pytest.raises(ValueError, match="X has 3 features, but LogisticRegression is expecting 4"):
        LogisticRegression(max_iter=500).fit(X, y).predict(X[:, :3])
    with pytest.raises(TypeError, match="supervised estimators"):
        SearchCV(KMeans(), {"n_clusters": [2, 3]}).fit(X, y)


@pytest.mark.parametrize("n_components, error, match", [
    ("mle", TypeError, r"must be an int, a float in \(0, 1\) or None; got 'mle'"),
    (1.0, ValueError, r"float n_components must be in \(0, 1\); got 1.0"),
    (0.0, ValueError, r"float n_components must be in \(0, 1\); got 0.0")])
def test_pca_n_components_errors_name_every_accepted_kind(n_components, error, match):
    # scikit-learn refuses 1.0 and 0.0 too, naming every kind it takes (its "mle" is not
    # one of ours); our message once offered floats alone, in "(0.0, 1.0]".
    X, _ = _standardized("wine")
    with pytest.raises((ValueError, TypeError), match="'n_components' parameter of PCA must be"):
        sk_decomposition.PCA(1.0 if n_components == "mle" else n_components).fit(X)
    with pytest.raises(error, match=match):
        PCA(n_components).fit(X)

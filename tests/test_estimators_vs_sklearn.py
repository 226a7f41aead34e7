"""Estimator behaviours where jaxfit once departed from scikit-learn: random search
over lists, rare classes with integer `cv`, weighted search
scores, MLPRegressor's column targets / multi-output penalty / reported loss, the MLPs'
loss per epoch with a short last batch, pd.NA in
X, and KMeans restarts from explicit centers. Each is checked against scikit-learn."""

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
import pandas as pd  # noqa: E402
import scipy.stats  # noqa: E402
from sklearn import cluster as sk_cluster  # noqa: E402
from sklearn import linear_model as sk_linear  # noqa: E402
from sklearn import neural_network as sk_nn  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold, ParameterSampler, RandomizedSearchCV  # noqa: E402
from sklearn.neural_network._base import squared_loss  # noqa: E402

import jax  # noqa: E402
import jaxfit  # noqa: E402
from jaxfit.estimators import KMeans, LogisticRegression, MLPClassifier, MLPRegressor, Ridge, SearchCV  # noqa: E402
from jaxfit.estimators._mlp import _hold_out  # noqa: E402
from jaxfit.estimators._search import _sampled_candidates  # noqa: E402


def _regression(n=60, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 3)
    return X, X @ [1.0, -2.0, 0.5] + 0.3 + rng.randn(n), rng


# ------------------------------------------------------------- random search over lists


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_search_over_lists_draws_distinct_candidates_as_sklearn(seed):
    X, y, _ = _regression()
    dist = {"alpha": [0.1, 1.0, 10.0, 100.0], "tol": [1e-4, 1e-6]}
    ours = SearchCV(Ridge(), param_distributions=dist, n_iter=5, cv=3, random_state=seed).fit(X, y)
    theirs = RandomizedSearchCV(sk_linear.Ridge(), dist, n_iter=5, cv=3, random_state=seed).fit(X, y)
    assert ours.cv_results_["params"] == theirs.cv_results_["params"]
    assert len({tuple(sorted(p.items())) for p in ours.cv_results_["params"]}) == 5


def test_random_search_over_a_small_grid_runs_it_all_with_sklearns_warning():
    X, y, _ = _regression()
    dist = {"alpha": [0.1, 1.0, 10.0]}
    with pytest.warns(UserWarning, match="total space of parameters 3 is smaller than n_iter=5"):
        ours = SearchCV(Ridge(), param_distributions=dist, n_iter=5, cv=3, random_state=0).fit(X, y)
    with pytest.warns(UserWarning, match="total space of parameters 3 is smaller than n_iter=5"):
        theirs = RandomizedSearchCV(sk_linear.Ridge(), dist, n_iter=5, cv=3, random_state=0).fit(X, y)
    assert ours.cv_results_["params"] == theirs.cv_results_["params"]


@pytest.mark.parametrize("dist, n_iter", [
    ({"a": list(range(300)), "b": [0, 1]}, 3),        # scikit-learn: tracking selection
    ({"a": list(range(30)), "b": [0, 1, 2]}, 40),     # permutation
    ({"a": list(range(100)), "b": [0, 1]}, 199),      # reservoir sampling
    ([{"a": [1, 2]}, {"b": [3, 4, 5]}, {}], 4),       # a list of grids
    ({"a": scipy.stats.uniform(0, 1), "b": [0, 1]}, 6),  # a distribution: with replacement
])
def test_sampled_candidates_equal_parameter_sampler(dist, n_iter):
    for seed in range(3):
        assert _sampled_candidates(dist, n_iter, seed) == list(ParameterSampler(dist, n_iter, random_state=seed))


# ------------------------------------------------------------- rare classes with integer cv


def test_search_with_a_class_rarer_than_cv_warns_and_fits_as_sklearn(x64):
    X, _, _ = _regression()
    y = np.array(["cat"] * 30 + ["dog"] * 27 + ["eel"] * 3)
    grid = {"C": [0.1, 1.0]}
    message = "least populated class in y has only 3 members, which is less than n_splits=5"
    with pytest.warns(UserWarning, match=message):
        ours = SearchCV(LogisticRegression(tol=1e-10, max_iter=500), grid, cv=5).fit(X, y)
    with pytest.warns(UserWarning, match=message):
        theirs = GridSearchCV(sk_linear.LogisticRegression(solver="newton-cholesky", tol=1e-10), grid, cv=5).fit(X, y)
    for column in ["mean_test_score"] + [f"split{i}_test_score" for i in range(5)]:
        np.testing.assert_allclose(ours.cv_results_[column], theirs.cv_results_[column], atol=1e-9, err_msg=column)
    assert ours.best_params_ == theirs.best_params_


def test_search_refuses_cv_above_every_class_count_naming_the_label():
    X, _, _ = _regression()
    y = np.array(["cat", "dog"] * 2)
    with pytest.raises(ValueError, match="n_splits=3 cannot be greater"):
        GridSearchCV(sk_linear.LogisticRegression(), {"C": [1.0]}, cv=3).fit(X[:4], y)
    with pytest.raises(ValueError, match=r"`n_splits`=3 .* every class .*'cat', has 2\)"):
        SearchCV(LogisticRegression(), {"C": [1.0]}, cv=3).fit(X[:4], y)


# ------------------------------------------------------------- weighted search scores


@pytest.mark.parametrize("scoring", [None, "neg_mean_absolute_error"])
def test_search_scores_are_weighted_as_gridsearchcv(x64, scoring):
    X, y, rng = _regression()
    w = 2.0 * rng.rand(60)
    grid = {"alpha": [0.1, 1.0, 10.0]}
    ours = SearchCV(Ridge(), grid, cv=KFold(3), scoring=scoring).fit(X, y, sample_weight=w)
    theirs = GridSearchCV(sk_linear.Ridge(), grid, cv=KFold(3), scoring=scoring).fit(X, y, sample_weight=w)
    for column in ["mean_test_score", "std_test_score"] + [f"split{i}_test_score" for i in range(3)]:
        np.testing.assert_allclose(ours.cv_results_[column], theirs.cv_results_[column], rtol=1e-8, err_msg=column)
    assert ours.best_params_ == theirs.best_params_


@pytest.mark.parametrize("scoring", [None, "neg_log_loss", "roc_auc", "f1_macro"])
def test_classifier_search_scores_are_weighted_as_gridsearchcv(x64, scoring):
    X, y, rng = _regression(seed=1)
    labels = np.where(y + rng.randn(60) > 0, "yes", "no")
    w = 2.0 * rng.rand(60)
    grid = {"C": [0.01, 1.0]}
    ours = SearchCV(LogisticRegression(tol=1e-10, max_iter=500), grid, cv=3, scoring=scoring)
    theirs = GridSearchCV(sk_linear.LogisticRegression(solver="newton-cholesky", tol=1e-10), grid, cv=3,
                          scoring=scoring)
    ours.fit(X, labels, sample_weight=w)
    theirs.fit(X, labels, sample_weight=w)
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"], theirs.cv_results_["mean_test_score"],
                               rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("estimator, labels, scoring", [
    (LogisticRegression(), "binary", "r2"), (LogisticRegression(), "multiclass", "neg_mean_absolute_error"),
    (Ridge(), None, "accuracy"), (Ridge(), None, "neg_log_loss")])
def test_search_refuses_a_scorer_for_the_other_kind_of_target(estimator, labels, scoring):
    # scikit-learn scores a classifier's predicted labels with a regression scorer (our
    # logits would give another number), and a regressor with a classification scorer
    # NaN; a clear refusal beats a number without meaning.
    X, y, _ = _regression()
    if labels is not None:
        y = np.digitize(y, [0.0] if labels == "binary" else [-1.0, 1.0])
    theirs = GridSearchCV(sk_linear.Ridge() if labels is None else sk_linear.LogisticRegression(),
                          {}, cv=3, scoring=scoring, error_score=np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's warning on its NaN scores
        reference = theirs.fit(X, y).cv_results_["mean_test_score"][0]
    assert np.isnan(reference) == (labels is None)
    with pytest.raises(ValueError, match=f"`scoring` '{scoring}' is a .* scorer, but "
                                         f"{type(estimator).__name__} is a"):
        SearchCV(estimator, {}, cv=3, scoring=scoring).fit(X, y)


@pytest.mark.parametrize("outputs, rows, shape, match", [
    (1, 60, (59,), "inconsistent numbers of samples"), (2, 60, (59, 2), "inconsistent numbers of samples"),
    (2, 30, (60,), "inconsistent numbers of samples"),  # once reshaped to (30, 2): a wrong score
    (2, 60, (60,), r"`y` must have shape \(60, 2\)"), (1, 60, (60, 2), r"`y` must have shape \(60,\)")])
def test_regressor_score_refuses_targets_of_the_wrong_shape_as_sklearn(outputs, rows, shape, match):
    X, y, rng = _regression()
    Y = y if outputs == 1 else np.c_[y, -y]
    bad = rng.randn(*shape)
    theirs = sk_linear.Ridge().fit(X[:rows], Y[:rows])
    with pytest.raises(ValueError):
        theirs.score(X[:rows], bad)
    ours = Ridge().fit(X[:rows], Y[:rows])
    with pytest.raises(ValueError, match=match):
        ours.score(X[:rows], bad)
    # A column for one output is scored as scikit-learn's r2_score scores it.
    if outputs == 1:
        assert ours.score(X, Y[:, None]) == pytest.approx(theirs.score(X, Y[:, None]), rel=1e-5)


def test_search_cv_none_is_five_folds_as_sklearn(x64):
    X, y, _ = _regression()
    grid = {"alpha": [0.1, 10.0]}
    ours = SearchCV(Ridge(), grid, cv=None).fit(X, y)
    theirs = GridSearchCV(sk_linear.Ridge(), grid, cv=None).fit(X, y)
    assert ours.n_splits_ == theirs.n_splits_ == 5
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"], theirs.cv_results_["mean_test_score"], rtol=1e-8)


@pytest.mark.parametrize("cv", [3.0, "5", True])
def test_search_refuses_a_cv_of_the_wrong_kind_naming_it(cv):
    X, y, _ = _regression()
    with pytest.raises((TypeError, ValueError)):
        GridSearchCV(sk_linear.Ridge(), {"alpha": [1.0]}, cv=cv).fit(X, y)
    with pytest.raises(TypeError, match=f"`cv` must be None .* got {cv!r}"):
        SearchCV(Ridge(), {"alpha": [1.0]}, cv=cv).fit(X, y)


@pytest.mark.parametrize("cv", [1, 0, 10_000])
def test_search_refuses_too_few_or_too_many_splits_as_sklearn(cv):
    # cv=1 was told it was "greater than the number of samples".
    X, y, _ = _regression()
    with pytest.raises(ValueError) as theirs:
        GridSearchCV(sk_linear.Ridge(), {"alpha": [1.0]}, cv=cv).fit(X, y)
    with pytest.raises(ValueError) as ours:
        SearchCV(Ridge(), {"alpha": [1.0]}, cv=cv).fit(X, y)
    assert str(ours.value).split(",")[0] == str(theirs.value).split(",")[0].replace("GridSearchCV", "SearchCV")


def test_search_refuses_several_metrics_or_a_callable_scoring_naming_it():
    # scikit-learn's searches take these; ours take one scorer name, and say so (a list
    # once failed inside with "unhashable type: 'list'").
    X, y, _ = _regression()
    theirs = GridSearchCV(sk_linear.Ridge(), {"alpha": [1.0]}, cv=3, scoring=["r2"], refit="r2").fit(X, y)
    assert "mean_test_r2" in theirs.cv_results_
    for scoring in (["r2"], {"r2": "r2"}, lambda estimator, X, y: 0.0):
        with pytest.raises(TypeError, match="'scoring' parameter of SearchCV must be None or a scorer name"):
            SearchCV(Ridge(), {"alpha": [1.0]}, cv=3, scoring=scoring).fit(X, y)


# ------------------------------------------------------------- MLPRegressor


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # 5 epochs on purpose
def test_mlp_regressor_ravels_a_column_target_as_sklearn():
    X, y, _ = _regression(40)
    kwargs = dict(hidden_layer_sizes=(4,), max_iter=5, random_state=0)
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        theirs = sk_nn.MLPRegressor(**kwargs).fit(X, y[:, None])
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        ours = MLPRegressor(**kwargs).fit(X, y[:, None])
    assert ours.predict(X).shape == theirs.predict(X).shape == (40,)
    assert ours.n_outputs_ == theirs.n_outputs_ == 1
    np.testing.assert_array_equal(ours.predict(X), MLPRegressor(**kwargs).fit(X, y).predict(X))


def _linear_mlp_targets(m):
    X, y, _ = _regression(40)
    return X, (y if m == 1 else np.c_[y, X[:, 0] - y, 2.0 * X[:, 1]][:, :m])


@pytest.mark.parametrize("m", [1, 2, 3])
def test_mlp_regressor_penalty_is_ridges_for_every_number_of_outputs(x64, m):
    # scikit-learn's gradient sums the squared error over outputs: a linear network with
    # `alpha` is Ridge(alpha), whatever m.
    X, Y = _linear_mlp_targets(m)
    alpha = 5.0
    ours = MLPRegressor((), activation="identity", optimizer="lbfgs", alpha=alpha, max_iter=2000, tol=1e-10).fit(X, Y)
    ridge = sk_linear.Ridge(alpha).fit(X, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # tol=0: runs all epochs on purpose
        theirs = sk_nn.MLPRegressor(hidden_layer_sizes=(), activation="identity", solver="adam", batch_size=40,
                                    learning_rate_init=0.01, alpha=alpha, max_iter=5000, tol=0,
                                    n_iter_no_change=10**6, random_state=0).fit(X, Y)
    np.testing.assert_allclose(ours.coefs_[0], ridge.coef_.T.reshape(3, -1), atol=1e-8)
    np.testing.assert_allclose(ours.intercepts_[0], np.reshape(ridge.intercept_, -1), atol=1e-8)
    np.testing.assert_allclose(ours.coefs_[0], theirs.coefs_[0], atol=1e-8)
    # scikit-learn's reported loss: half the squared error averaged over outputs, plus
    # alpha/(2n)·||W||² (`_backprop`); at the common optimum both report the same.
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-8)
    reported = squared_loss(Y, ours.predict(X)) + 0.5 * alpha * sum((w ** 2).sum() for w in ours.coefs_) / 40
    assert ours.loss_ == pytest.approx(reported, rel=1e-8)


@pytest.mark.parametrize("alpha", [0.0, 3.0])
def test_mlp_regressor_reports_sklearns_loss(x64, alpha):
    X, y = _linear_mlp_targets(1)
    kwargs = dict(hidden_layer_sizes=(), activation="identity", alpha=alpha, max_iter=500, tol=1e-10)
    ours = MLPRegressor(optimizer="lbfgs", **kwargs).fit(X, y)
    theirs = sk_nn.MLPRegressor(solver="lbfgs", **kwargs).fit(X, y)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-8)
    assert ours.loss_curve_[-1] == ours.loss_


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # one epoch on purpose
@pytest.mark.parametrize("m, batch_size", [(1, 40), (2, 40), (1, 10), (3, 10)])
def test_mlp_regressor_loss_curve_is_sklearns_loss(x64, m, batch_size):
    # One epoch with a negligible learning rate: every mini-batch sees the fitted weights,
    # so the epoch's loss is scikit-learn's `_backprop` loss there, accumulated as its
    # `_fit_stochastic` does: squared_loss + n_batches·alpha/(2n)·||W||².
    X, Y = _linear_mlp_targets(m)
    alpha, n_batches = 3.0, 40 // batch_size
    ours = MLPRegressor((5,), activation="tanh", alpha=alpha, batch_size=batch_size, learning_rate_init=1e-9,
                        max_iter=1, random_state=0).fit(X, Y)
    penalty = 0.5 * alpha * sum((w ** 2).sum() for w in ours.coefs_) / 40
    assert len(ours.loss_curve_) == 1
    assert ours.loss_ == pytest.approx(squared_loss(Y, ours.predict(X)) + n_batches * penalty, rel=1e-6)


def _from_weights_of(theirs, ours, X, y):
    """scikit-learn's estimator refitted, warm, from `ours`'s weights."""
    theirs.coefs_ = [np.array(w) for w in ours.coefs_]
    theirs.intercepts_ = [np.array(b) for b in ours.intercepts_]
    return theirs.set_params(warm_start=True).fit(X, y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # one epoch on purpose
@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_mlp_loss_curve_weighs_a_short_last_batch_by_its_rows_as_sklearn(x64, kind):
    # 31 rows in batches of 10: the last batch has one row, and scikit-learn's epoch loss
    # weighs it 1/31 (`batch_loss · rows / n`); a plain mean of the 4 batches gave it 1/4
    # (22% off for the regressor, 5% for the classifier). A negligible learning rate keeps
    # the weights, so scikit-learn, refitted from ours, reports the loss at the same point.
    X, y, _ = _regression(31)
    ours_cls, theirs_cls = ((MLPRegressor, sk_nn.MLPRegressor) if kind == "regressor"
                            else (MLPClassifier, sk_nn.MLPClassifier))
    y = y if kind == "regressor" else (y > 0).astype(int)
    kwargs = dict(hidden_layer_sizes=(5,), activation="tanh", alpha=0.0, batch_size=10, learning_rate_init=1e-9,
                  max_iter=2, random_state=0)
    ours = ours_cls(**kwargs).fit(X, y)
    theirs = _from_weights_of(theirs_cls(**kwargs).fit(X, y), ours, X, y)
    assert ours.loss_curve_ == pytest.approx(theirs.loss_curve_[-2:], rel=1e-7)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-7)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # one epoch on purpose
def test_mlp_loss_curve_with_early_stopping_weighs_the_training_rows_batches_as_sklearn(x64):
    # 35 rows, 4 held out: the 31 training rows make batches of 10, 10, 10 and 1, and
    # the epoch's loss is scikit-learn's `squared_loss` over them (its `_fit_stochastic`
    # divides by the training rows), at the weights a negligible learning rate keeps.
    X, y, _ = _regression(35)
    ours = MLPRegressor((5,), activation="tanh", alpha=0.0, batch_size=10, learning_rate_init=1e-9, max_iter=1,
                        early_stopping=True, random_state=0).fit(X, y)
    held = np.asarray(_hold_out(jax.random.split(ours._key())[0], np.ones(35), 0.1))
    assert held.sum() == 4 and len(ours.loss_curve_) == 1
    assert ours.loss_ == pytest.approx(squared_loss(y[~held], ours.predict(X[~held])), rel=1e-7)


# ------------------------------------------------------------- inputs and KMeans


@pytest.mark.parametrize("dtype", ["Int64", "Float64"])
def test_pandas_na_in_X_is_reported_as_nan_like_sklearn(dtype):
    X = pd.DataFrame({"a": pd.array([1, None, 3, 4], dtype=dtype), "b": [1.0, 2.0, 3.0, 4.0]})
    y = np.array([1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match="Input X contains NaN"):
        sk_linear.Ridge().fit(X, y)
    with pytest.raises(ValueError, match="Input `X` contains NaN"):
        Ridge().fit(X, y)
    model = Ridge().fit(X.fillna(0), y)
    with pytest.raises(ValueError, match="Input `X` contains NaN"):
        model.predict(X)


def test_kmeans_runs_explicit_centers_once_as_sklearn(x64, monkeypatch):
    X, _, _ = _regression(30)
    init = X[:3]
    runs = []
    kmeans = jaxfit.cluster.kmeans
    monkeypatch.setattr(jaxfit.cluster, "kmeans", lambda *a, **k: runs.append(k["n_init"]) or kmeans(*a, **k))
    ours, theirs = KMeans(3, init=init).fit(X), sk_cluster.KMeans(3, init=init).fit(X)  # n_init="auto": no warning
    assert runs == [1]
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-10)
    message = "Explicit initial center position passed: performing only one init in KMeans instead of n_init=4"
    with pytest.warns(RuntimeWarning, match=message):
        ours = KMeans(3, init=init, n_init=4).fit(X)
    with pytest.warns(RuntimeWarning, match=message):
        theirs = sk_cluster.KMeans(3, init=init, n_init=4).fit(X)
    assert runs == [1, 1]
    np.testing.assert_allclose(ours.cluster_centers_, theirs.cluster_centers_, atol=1e-10)


@pytest.mark.parametrize("double", [False, True])
@pytest.mark.parametrize("shape, weighted, m", [((15, 30), False, None), ((15, 30), True, None),
                                                ((40, 6), True, 2)])
def test_linear_regression_is_sklearns_minimum_norm_solution(double, shape, weighted, m):
    # More features than samples, or a duplicated column: many least-squares solutions,
    # scikit-learn's is the one of minimum norm (SciPy's lstsq).
    rng = np.random.default_rng(0)
    X = rng.normal(size=shape)
    if shape[0] > shape[1]:
        X[:, -1] = X[:, 0]  # collinear columns
    y = rng.normal(size=shape[0] if m is None else (shape[0], m))
    w = rng.integers(1, 3, shape[0]).astype(float) if weighted else None
    X_new = rng.normal(size=(5, shape[1]))
    with jax.enable_x64(double):
        ours = jaxfit.LinearRegression().fit(X, y, sample_weight=w)
        theirs = sk_linear.LinearRegression().fit(X, y, sample_weight=w)
        tol = 1e-10 if double else 2e-5
        np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=tol)
        np.testing.assert_allclose(ours.intercept_, theirs.intercept_, atol=tol)
        np.testing.assert_allclose(ours.predict(X_new), theirs.predict(X_new), atol=20 * tol)


# ------------------------------------------------------------- linear models, uncentred features


@pytest.mark.parametrize("mean, sd", [(50.0, 10.0), (1000.0, 1.0)])
@pytest.mark.parametrize("name, kwargs", [("Lasso", {"alpha": 0.5}), ("ElasticNet", {"alpha": 0.5}),
                                          ("Ridge", {"alpha": 1.0})])
def test_iterative_linear_fits_on_uncentred_features_are_sklearns(name, kwargs, mean, sd):
    # Features like ages (mean 50) or years (mean 1000, sd 1): uncentred, FISTA stalled
    # far from the minimum (Lasso coef [-0.06, 0.03, 0.13] against [0.09, 0.19, 0.30]).
    rng = np.random.default_rng(0)
    X = rng.normal(mean, sd, size=(200, 3))
    y = (X - mean) @ [1.0, 2.0, 3.0] / sd + rng.normal(size=200)
    solver = {"solver": "lbfgs"} if name == "Ridge" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ours = getattr(jaxfit.estimators, name)(**kwargs, **solver).fit(X, y)
    theirs = getattr(sk_linear, name)(**kwargs).fit(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-4)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), atol=1e-3 * np.abs(y).max())


@pytest.mark.parametrize("name", ["Lasso", "ElasticNet", "Ridge", "LinearRegression"])
def test_column_target_shapes_are_sklearns(name):
    X, y, _ = _regression()
    ours = getattr(jaxfit.estimators, name)().fit(X, y[:, None])
    theirs = getattr(sk_linear, name)().fit(X, y[:, None])
    assert ours.coef_.shape == theirs.coef_.shape
    assert np.shape(ours.intercept_) == np.shape(theirs.intercept_)
    assert ours.predict(X).shape == theirs.predict(X).shape
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), atol=1e-3)

"""Splitters, search spaces, make_fit_fns and cross_validate."""

import re
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sklearn import model_selection as skms

import jaxfit.model_selection as ms
from jaxfit import data, fit, metrics, models, penalties
from jaxfit.model_selection import Folds

from helpers import classification_problem, regression_problem


def test_public_names():
    names = ["kfold", "stratified_kfold", "group_kfold", "leave_one_out", "shuffle_split", "Folds",
             "cross_validate", "CVResult", "make_fit_fns", "FitFns", "Trained", "grid",
             "random_search_space", "uniform", "loguniform", "randint", "choice", "Distribution",
             "search", "SearchResult"]
    assert all(hasattr(ms, n) for n in names)


# ---------------------------------------------------------------- splitters, one contract

_Y = np.array([0] * 13 + [1] * 7 + [2] * 10)          # 30 samples, unbalanced classes
_GROUPS = np.repeat(np.arange(9), [1, 2, 3, 4, 5, 6, 4, 3, 2])


class SplitCase(NamedTuple):
    name: str
    make: Callable[[], Folds]
    partition: bool      # every sample in exactly one test fold
    stratified: bool = False
    grouped: bool = False
    test_size: int | None = None


SPLITTERS = [
    SplitCase("kfold", lambda: ms.kfold(30, 4), True),
    SplitCase("kfold_uneven", lambda: ms.kfold(7, 3), True),
    SplitCase("kfold_shuffle", lambda: ms.kfold(30, 5, shuffle=True, key=jax.random.key(1)), True),
    SplitCase("stratified", lambda: ms.stratified_kfold(_Y, 5), True, stratified=True),
    SplitCase("stratified_shuffle",
              lambda: ms.stratified_kfold(_Y, 3, shuffle=True, key=jax.random.key(2)), True,
              stratified=True),
    SplitCase("stratified_strings", lambda: ms.stratified_kfold(np.array(["b", "a"] * 6), 3), True,
              stratified=True),
    SplitCase("group", lambda: ms.group_kfold(_GROUPS, 4), True, grouped=True),
    SplitCase("leave_one_out", lambda: ms.leave_one_out(6), True),
    SplitCase("shuffle_split",
              lambda: ms.shuffle_split(30, 6, test_size=0.25, key=jax.random.key(3)), False,
              test_size=8),
    SplitCase("shuffle_split_count",
              lambda: ms.shuffle_split(30, 3, test_size=5, key=jax.random.key(4)), False,
              test_size=5),
]


@pytest.mark.parametrize("case", SPLITTERS, ids=[c.name for c in SPLITTERS])
def test_splitter_contract(case):
    folds = case.make()
    train, test = np.asarray(folds.train), np.asarray(folds.test)
    assert train.dtype == bool and test.dtype == bool and train.shape == test.shape
    k, n = train.shape
    assert folds.n_splits == k
    assert not (train & test).any(), "a sample is in train and test of one fold"
    assert (train | test).all(), "a sample is in neither train nor test"
    assert test.any(axis=1).all() and train.any(axis=1).all()
    if case.partition:
        np.testing.assert_array_equal(test.sum(axis=0), np.ones(n))
        assert test.sum(axis=1).max() - test.sum(axis=1).min() <= (1 if not case.grouped else n)
    if case.stratified:
        labels = np.array(["b", "a"] * 6) if n == 12 else _Y
        for c in np.unique(labels):
            per_fold = test[:, labels == c].sum(axis=1)
            assert per_fold.max() - per_fold.min() <= 1, f"class {c} spread {per_fold}"
    if case.grouped:
        for g in np.unique(_GROUPS):
            members = _GROUPS == g
            assert not (train[:, members].any(axis=1) & test[:, members].any(axis=1)).any()
    if case.test_size is not None:
        np.testing.assert_array_equal(test.sum(axis=1), case.test_size)


def _sk_test_masks(splitter, n, *args):
    masks = np.zeros((splitter.get_n_splits(*args) if args else splitter.get_n_splits(np.zeros(n)), n), bool)
    for i, (_, te) in enumerate(splitter.split(np.zeros((n, 1)), *args)):
        masks[i, te] = True
    return masks


@pytest.mark.parametrize("n,k", [(10, 5), (11, 3), (7, 7), (100, 2)])
def test_kfold_equals_sklearn(n, k):
    np.testing.assert_array_equal(np.asarray(ms.kfold(n, k).test), _sk_test_masks(skms.KFold(k), n))


def test_leave_one_out_equals_sklearn():
    np.testing.assert_array_equal(np.asarray(ms.leave_one_out(9).test),
                                  _sk_test_masks(skms.LeaveOneOut(), 9))


def test_stratified_and_group_kfold_equal_sklearn():
    y = np.array([2, 0, 1, 1, 0, 2, 2, 0, 1, 0, 1, 2, 0, 0, 1, 2, 1, 0])
    np.testing.assert_array_equal(np.asarray(ms.stratified_kfold(y, 3).test),
                                  _sk_test_masks(skms.StratifiedKFold(3), y.size, y))
    np.testing.assert_array_equal(np.asarray(ms.group_kfold(_GROUPS, 4).test),
                                  _sk_test_masks(skms.GroupKFold(4), _GROUPS.size, None, _GROUPS))


def test_text_labels_from_pandas_split_as_sklearn():
    # pandas gives text columns as object arrays of str.
    labels = np.array(["b", "a", "b", "a", "a", "b", "c", "c", "a", "b", "c", "c"], dtype=object)
    patients = np.array([f"p{i // 2}" for i in range(12)], dtype=object)
    np.testing.assert_array_equal(np.asarray(ms.stratified_kfold(labels, 2).test),
                                  _sk_test_masks(skms.StratifiedKFold(2), 12, labels))
    np.testing.assert_array_equal(np.asarray(ms.group_kfold(patients, 3).test),
                                  _sk_test_masks(skms.GroupKFold(3), 12, None, patients))
    with pytest.raises(TypeError, match="groups.*int.*str"):
        ms.group_kfold(np.array(["a", 1, "b", 2], dtype=object), 2)


def test_stratified_kfold_rare_classes_raise_or_warn_as_sklearn():
    y = np.array(["cat"] * 7 + ["dog"] * 6 + ["eel"] * 2)
    with pytest.raises(ValueError, match=r"class \('eel'\) with only 2 member\(s\).*rare_classes=\"warn\""):
        ms.stratified_kfold(y, 3)
    message = "least populated class in y has only 2 members, which is less than n_splits=3"
    with pytest.warns(UserWarning, match=message):
        expected = _sk_test_masks(skms.StratifiedKFold(3), y.size, y)
    with pytest.warns(UserWarning, match=message + r".*'eel'"):
        folds = ms.stratified_kfold(y, 3, rare_classes="warn")
    np.testing.assert_array_equal(np.asarray(folds.test), expected)
    with pytest.raises(ValueError, match="n_splits=4 cannot be greater"):
        _sk_test_masks(skms.StratifiedKFold(4), 6, np.array([1, 2, 3] * 2))
    with pytest.raises(ValueError, match=r"`n_splits`=4 .* every class .*\(the largest, 1, has 2\)"):
        ms.stratified_kfold(np.array([1, 2, 3] * 2), 4, rare_classes="warn")
    with pytest.raises(ValueError, match="rare_classes"):
        ms.stratified_kfold(y, 3, rare_classes="ignore")


def test_shuffle_is_reproducible_and_keyed():
    a = ms.kfold(20, 4, shuffle=True, key=jax.random.key(0))
    b = ms.kfold(20, 4, shuffle=True, key=jax.random.key(0))
    c = ms.kfold(20, 4, shuffle=True, key=jax.random.key(1))
    np.testing.assert_array_equal(a.test, b.test)
    assert not np.array_equal(a.test, c.test)


def test_folds_from_indices_matches_sklearn_split():
    y = _Y
    folds = Folds.from_indices(skms.StratifiedKFold(5).split(np.zeros(30), y), 30)
    np.testing.assert_array_equal(folds.test, ms.stratified_kfold(y, 5).test)
    np.testing.assert_array_equal(folds.train, ~np.asarray(folds.test))


BAD_SPLITS = [
    (lambda: ms.kfold(10, 1), ValueError, "n_splits"),
    (lambda: ms.kfold(3, 5), ValueError, "n_splits"),
    (lambda: ms.kfold(10, 2.5), TypeError, "n_splits"),
    (lambda: ms.kfold(10, 2, shuffle=True), ValueError, "key"),
    (lambda: ms.kfold(10, 2, key=jax.random.key(0)), ValueError, "shuffle"),
    (lambda: ms.stratified_kfold(np.array([0, 0, 0, 1, 1, 1, 2]), 2), ValueError, "class"),
    (lambda: ms.stratified_kfold(np.zeros((4, 2)), 2), ValueError, "y"),
    # A continuous target: every value its own class; "lower n_splits to at most 1" cannot help.
    (lambda: ms.stratified_kfold(np.linspace(0, 1, 20), 5), ValueError, r"`y`.*use kfold"),
    (lambda: ms.stratified_kfold(np.arange(20), 5, rare_classes="warn"), ValueError, r"`y`.*use kfold"),
    (lambda: ms.group_kfold(np.array([0, 0, 1, 1]), 3), ValueError, "groups"),
    (lambda: ms.leave_one_out(1), ValueError, "n_samples"),
    (lambda: ms.shuffle_split(10, 2, test_size=1.5, key=jax.random.key(0)), ValueError, "test_size"),
    (lambda: ms.shuffle_split(10, 2, test_size=10, key=jax.random.key(0)), ValueError, "test_size"),
    (lambda: ms.shuffle_split(10, 2, test_size=0.2, key=None), ValueError, "key"),
    (lambda: Folds.from_indices([([0, 1], [7])], 5), ValueError, "splits"),
    (lambda: ms.kfold(10, 2, shuffle=True, key=jax.random.split(jax.random.key(0))),
     ValueError, "single key"),
]


@pytest.mark.parametrize("make,error,match", BAD_SPLITS)
def test_splitter_errors_name_the_argument(make, error, match):
    with pytest.raises(error, match=match):
        make()


# ---------------------------------------------------------------- spaces

def test_grid_is_row_major_in_argument_order():
    space = ms.grid(a=[1.0, 2.0], b=[10, 20, 30])
    np.testing.assert_array_equal(space["a"], [1, 1, 1, 2, 2, 2])
    np.testing.assert_array_equal(space["b"], [10, 20, 30, 10, 20, 30])
    assert space["b"].dtype == np.int32


def test_random_search_space_draws_within_distributions():
    space = ms.random_search_space(jax.random.key(0), 200, lr=ms.loguniform(1e-4, 1e-1),
                                   momentum=ms.uniform(0.5, 0.9), depth=ms.randint(1, 4),
                                   width=[8, 16])
    assert {k: v.shape for k, v in space.items()} == {k: (200,) for k in space}
    assert 1e-4 <= space["lr"].min() and space["lr"].max() < 1e-1
    assert np.log10(space["lr"]).std() > 0.5  # spread over decades, not linear
    assert 0.5 <= space["momentum"].min() and space["momentum"].max() < 0.9
    assert set(space["depth"].tolist()) == {1, 2, 3}
    assert set(space["width"].tolist()) == {8, 16}
    again = ms.random_search_space(jax.random.key(0), 200, lr=ms.loguniform(1e-4, 1e-1),
                                   momentum=ms.uniform(0.5, 0.9), depth=ms.randint(1, 4),
                                   width=[8, 16])
    np.testing.assert_array_equal(space["lr"], again["lr"])


def test_float_draws_stay_inside_their_bounds():
    # float32's log(0.1) is below the true one, so its lowest draws fell below `low`
    # (1 of these 10**6 draws was 0.09999999680); uniform's bounds round the same way.
    for dist, low, high in ((ms.loguniform(0.1, 0.3), 0.1, 0.3), (ms.uniform(0.7, 0.9), 0.7, 0.9)):
        draws = ms.random_search_space(jax.random.key(2), 10**6, a=dist)["a"]
        assert low <= draws.min() and draws.max() < high, (dist, draws.min(), draws.max())


BAD_SPACES = [
    (lambda: ms.grid(), ValueError, "grid"),
    (lambda: ms.grid(C=[]), ValueError, "C"),
    (lambda: ms.grid(C=0.1), TypeError, "C"),
    (lambda: ms.grid(hidden=["relu", "tanh"]), TypeError, "static"),
    (lambda: ms.grid(C=[1.0, np.nan]), ValueError, "C"),
    (lambda: ms.loguniform(0.0, 1.0), ValueError, "low"),
    (lambda: ms.uniform(2.0, 1.0), ValueError, "low"),
    (lambda: ms.randint(0.5, 3), TypeError, "low"),
    (lambda: ms.random_search_space(jax.random.key(0), 0, a=ms.uniform(0, 1)), ValueError, "n"),
    (lambda: ms.random_search_space(jax.random.key(0), 5, a=(0, 1, "x")), TypeError, "`a`"),
    (lambda: ms.random_search_space(jax.random.key(0), 5, a="uniform"), TypeError, "a"),
    (lambda: ms.random_search_space(jax.random.key(0), 5, act=["relu", "tanh"]), TypeError, "`act`"),
    (lambda: ms.choice(["relu", "tanh"]), TypeError, "`values` of choice"),
    (lambda: ms.choice(0.5), TypeError, re.escape("`values` of choice() must be a list or 1-D "
                                                  "array of values to try; got 0.5. Wrap a single "
                                                  "value in a list: choice([0.5]).")),
    (lambda: ms.grid(seed=[1, 2**32 + 7]), ValueError, "seed.*int32"),  # not wrapped to 7
    (lambda: ms.randint(0, 2**31), ValueError, "high"),
]


@pytest.mark.parametrize("make,error,match", BAD_SPACES)
def test_space_errors_name_the_argument(make, error, match):
    with pytest.raises(error, match=match):
        make()


# ---------------------------------------------------------------- cross_validate

def test_cross_validate_equals_python_loop_over_folds(x64):
    X, y = regression_problem(n=80, d=3)
    X, y = X.astype(np.float64), y.astype(np.float64)
    folds = ms.kfold(80, 3, shuffle=True, key=jax.random.key(0))
    train_fn, score_fn, _ = ms.make_fit_fns(
        models.linear(), "squared_error", optimizer=lambda c: optax.sgd(c["lr"]),
        penalty=lambda c: penalties.l2(c["alpha"]), steps=60, standardize=True, metric="mse")
    config = {"lr": 0.1, "alpha": 0.01}
    cv = ms.cross_validate(train_fn, score_fn, X, y, folds, config=config)
    for i in range(3):
        tr, te = np.asarray(folds.train[i]), np.asarray(folds.test[i])
        scaling = data.standardize(X[tr])
        ref = fit(models.linear(), "squared_error", scaling.apply(X[tr]), y[tr],
                  optimizer=optax.sgd(0.1), penalty=penalties.l2(0.01), steps=60)
        pred = models.linear().apply(ref.params, scaling.apply(X[te]))
        np.testing.assert_allclose(cv.scores[i], -metrics.mse(y[te], pred), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(cv.params.params["w"][i], ref.params["w"], rtol=1e-5, atol=1e-5)
        # No leakage: the scaling of fold i comes from its training rows only.
        np.testing.assert_allclose(cv.params.scaling.mean[i], X[tr].mean(axis=0), rtol=1e-10)
    assert cv.status.tolist() == ["max_steps"] * 3
    assert np.asarray(cv.n_steps).tolist() == [60] * 3


def test_cross_validate_with_plain_params_and_divergence():
    X, y = regression_problem(n=40, d=2)
    folds = ms.kfold(40, 4)

    def train_fn(config, X, y, w, key):
        A = (X * w[:, None]).T @ X
        return jnp.linalg.solve(A + config["alpha"] * jnp.eye(2), (X * w[:, None]).T @ y)

    def score_fn(coef, X, y, w):
        return -jnp.sum(w * (X @ coef - y) ** 2) / jnp.sum(w)

    cv = ms.cross_validate(train_fn, score_fn, X, y, folds, config={"alpha": 1.0})
    assert cv.status.tolist() == ["ok"] * 4 and np.isfinite(cv.scores).all()
    assert np.asarray(cv.n_steps).tolist() == [-1] * 4
    bad = ms.cross_validate(train_fn, lambda c, X, y, w: jnp.nan * score_fn(c, X, y, w), X, y,
                            folds, config={"alpha": 1.0})
    assert bad.status.tolist() == ["invalid_score"] * 4

    diverging, score, _ = ms.make_fit_fns(models.linear(), "squared_error",
                                          optimizer=optax.sgd(1e4), steps=50, metric="mse")
    cv = ms.cross_validate(diverging, score, X, y, folds)
    assert cv.status.tolist() == ["diverged"] * 4 and np.isnan(cv.scores).all()


def test_make_fit_fns_classification_metrics_and_predict():
    X, y = classification_problem(n=90, d=3, n_classes=3)
    folds = ms.stratified_kfold(y, 3)
    for metric in ("log_loss", "f1_macro"):
        train_fn, score_fn, predict = ms.make_fit_fns(
            models.softmax(3), "softmax_cross_entropy", optimizer=optax.adam(0.1), steps=40,
            metric=metric)
        cv = ms.cross_validate(train_fn, score_fn, X, y, folds)
        assert np.isfinite(cv.scores).all()
        assert (cv.scores <= 0).all() if metric == "log_loss" else (cv.scores > 0.3).all()
    params = train_fn({}, X, y, jnp.ones(90), jax.random.key(0)).params
    assert set(np.unique(predict(params, X)).tolist()) <= {0, 1, 2}


def test_make_fit_fns_takes_bound_cg_as_fit_does():
    """The solver the README recommends for searches, given as a constant or per config:
    each fold's fit equals `fit` with it on that fold's rows."""
    from jaxfit import solvers
    X, y = classification_problem(n=120, d=4)
    folds = ms.stratified_kfold(y, 3)
    space = ms.grid(alpha=[1e-3, 1e-1])
    for optimizer in (solvers.bound_cg(), lambda c: solvers.bound_cg()):
        train_fn, score_fn, _ = ms.make_fit_fns(
            models.logistic(), "binary_cross_entropy", optimizer=optimizer,
            penalty=lambda c: penalties.l2(c["alpha"]), steps=100, tol=1e-6, metric="log_loss")
        result = ms.search(train_fn, score_fn, X, y, space, folds)
        assert result.status.tolist() == [["converged"] * 3] * 2
    for i, alpha in enumerate(space["alpha"]):
        for k in range(3):
            w = folds.train[k].astype(np.float32)
            ref = fit(models.logistic(), "binary_cross_entropy", X, y, optimizer=solvers.bound_cg(),
                      penalty=penalties.l2(float(alpha)), sample_weight=w, steps=100, tol=1e-6).params
            probability = jax.nn.sigmoid(X @ ref["w"] + ref["b"])
            expected = metrics.log_loss(y, probability, sample_weight=folds.test[k].astype(np.float32))
            np.testing.assert_allclose(result.scores[i, k], -expected, rtol=1e-5)


BAD_CV = [
    (dict(train_fn=None), TypeError, "train_fn"),
    (dict(score_fn=3), TypeError, "score_fn"),
    (dict(X=np.zeros(10)), ValueError, "X"),
    (dict(y=np.zeros(9)), ValueError, "y"),
    (dict(folds=(np.ones((2, 10), bool),) * 2), TypeError, "folds"),
    (dict(folds=ms.kfold(12, 2)), ValueError, "folds"),
    (dict(folds=Folds(jnp.ones((2, 10)), jnp.ones((2, 10)))), TypeError, "folds.train"),
    (dict(config=[1]), TypeError, "config"),
    (dict(key=3), TypeError, "key"),
]


@pytest.mark.parametrize("change,error,match", BAD_CV)
def test_cross_validate_errors_name_the_argument(change, error, match):
    args = dict(train_fn=lambda c, X, y, w, k: X[0], score_fn=lambda p, X, y, w: p.sum(),
                X=np.zeros((10, 2)), y=np.zeros(10), folds=ms.kfold(10, 2))
    args.update(change)
    kwargs = {k: args.pop(k) for k in ("config", "key") if k in args}
    with pytest.raises(error, match=match):
        ms.cross_validate(args["train_fn"], args["score_fn"], args["X"], args["y"], args["folds"],
                          **kwargs)


@pytest.mark.parametrize("model, loss, y, match", [
    (models.softmax(3), "softmax_cross_entropy", np.repeat([3, 7, 9], 10), r"labels 0\.\.2 .*3 to 9"),
    (lambda c: models.softmax(3), "softmax_cross_entropy", np.repeat([-1, 0, 1], 10), r"labels 0, 1, 2"),
    (models.logistic(), "binary_cross_entropy", np.repeat([1, 2], 15), r"labels 0 and 1.*1 to 2"),
    (models.logistic(), "hinge", np.repeat([-1, 1], 15), r"labels 0 and 1 for the hinge"),
])
def test_labels_a_loss_cannot_read_are_refused_before_tracing(model, loss, y, match):
    # Traced inside the folds' vmap, such labels gave NaN ("diverged") or plausible
    # garbage scores; `fit` alone refused them.
    X = np.random.default_rng(0).normal(size=(30, 2))
    fns = ms.make_fit_fns(model, loss, optimizer=optax.sgd(0.1), steps=5)
    folds = ms.kfold(30, 3)
    result = ms.search(fns.train, fns.score, X, np.zeros(30, int), {}, folds)
    calls = [lambda: ms.cross_validate(fns.train, fns.score, X, y, folds),
             lambda: ms.search(fns.train, fns.score, X, y, {}, folds),
             lambda: result.refit(X, y)]
    for call in calls:
        with pytest.raises(ValueError, match=match):
            call()


def test_make_fit_fns_averaged_metric_on_a_binary_task():
    X, y = classification_problem(n=60, d=3)
    folds = ms.stratified_kfold(y, 3)
    fns = ms.make_fit_fns(models.logistic(), "binary_cross_entropy", optimizer=optax.adam(0.1),
                          steps=30, metric="f1_macro")
    result = ms.cross_validate(fns.train, fns.score, X, y, folds)
    for k in range(3):
        trained = jax.tree_util.tree_map(lambda leaf: leaf[k], result.params)
        predicted = fns.predict(trained, X)
        test = np.asarray(folds.test[k])
        np.testing.assert_allclose(result.scores[k], metrics.f1(y[test], predicted[test],
                                                                 average="macro"), rtol=1e-6)



@pytest.mark.parametrize("fn", [metrics.mse, metrics.mae, metrics.rmse, metrics.log_loss])
def test_jaxfit_error_metrics_passed_as_functions_are_minimised(fn):
    # metric=metrics.mse scores as metric="mse" does (negated), so the search prefers the
    # trained model (lr=0.1) to the untrained one (lr=0): maximising mse picked lr=0.
    classify = fn is metrics.log_loss
    X, y = regression_problem(n=40, d=2)
    y = (y > np.median(y)).astype(np.int32) if classify else y  # a linear rule
    model, loss = ((models.logistic(), "binary_cross_entropy") if classify else
                   (models.linear(), "squared_error"))
    results = [ms.search(*ms.make_fit_fns(model, loss, optimizer=lambda c: optax.sgd(c["lr"]),
                                          steps=50, metric=m)[:2],
                         X, y, ms.grid(lr=[0.0, 0.1]), ms.kfold(40, 4))
               for m in (fn, fn.__name__)]
    np.testing.assert_allclose(results[0].scores, results[1].scores, rtol=1e-6)
    assert (results[0].scores <= 0).all()
    assert results[0].best_config == {"lr": 0.1}

BAD_FIT_FNS = [
    (dict(model="linear"), TypeError, "model"),
    (dict(loss="nope"), ValueError, "loss"),
    (dict(optimizer=0.1), TypeError, "optimizer"),
    (dict(penalty=0.1), TypeError, "penalty"),
    (dict(steps=0), ValueError, "steps"),
    (dict(standardize="yes"), TypeError, "standardize"),
    (dict(tol=-1.0), ValueError, "tol"),
    (dict(metric=3), TypeError, "metric"),
    (dict(metric="nope"), ValueError, "`metric`"),
    # Class 1 against the rest: wrong for three classes, and labels are traced in a search.
    (dict(model=models.softmax(3), loss="softmax_cross_entropy", metric="f1"), ValueError, "f1_macro"),
    (dict(model=models.softmax(3), loss="softmax_cross_entropy", metric="roc_auc"), ValueError, "binary"),
]


@pytest.mark.parametrize("change,error,match", BAD_FIT_FNS)
def test_make_fit_fns_errors_name_the_argument(change, error, match):
    args = dict(model=models.linear(), loss="squared_error", optimizer=optax.sgd(0.1), steps=10)
    args.update(change)
    with pytest.raises(error, match=match):
        ms.make_fit_fns(args.pop("model"), args.pop("loss"), **args)

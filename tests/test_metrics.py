"""jaxfit.metrics against scikit-learn, under masks, vmap and jit, and at the boundary."""

import functools
from functools import partial

import warnings
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sklearn.metrics as skm

import jaxfit.metrics as M

N, C = 50, 4


def _data(kind, rng):
    """(y_true, y_pred) for one kind of problem, in NumPy."""
    if kind in ("binary_labels", "multi_labels"):
        c = 2 if kind == "binary_labels" else C
        y = rng.integers(0, c, N)
        # A noisy copy of the truth, so every count of the confusion matrix is nonzero.
        return y, np.where(rng.random(N) < 0.6, y, rng.integers(0, c, N))
    if kind == "binary_prob":
        return rng.integers(0, 2, N), rng.uniform(0.01, 0.99, N)
    if kind == "multi_prob":
        return rng.integers(0, C, N), rng.dirichlet(np.ones(C), N)
    if kind == "binary_ties":
        y = rng.integers(0, 2, N)
        return y, np.round(0.3 * y + rng.random(N), 1)  # few distinct scores: many ties
    if kind == "reg1":
        y = rng.normal(size=N)
        return y, y + 0.5 * rng.normal(size=N)
    y = rng.normal(size=(N, 3)) * np.array([1.0, 5.0, 0.1])
    return y, y + rng.normal(size=(N, 3))


def _sk_prf(fn, average):
    return partial(fn, average=average, zero_division=0)


SKLEARN_CASES = [
    ("accuracy-binary", M.accuracy, skm.accuracy_score, "binary_labels", {}),
    ("accuracy-multi", M.accuracy, skm.accuracy_score, "multi_labels", {}),
    ("log_loss-binary", M.log_loss, partial(skm.log_loss, labels=[0, 1]), "binary_prob", {}),
    ("log_loss-multi", M.log_loss, partial(skm.log_loss, labels=range(C)), "multi_prob", {}),
    ("roc_auc-ties", M.roc_auc, skm.roc_auc_score, "binary_ties", {}),
    ("confusion_matrix", M.confusion_matrix, partial(skm.confusion_matrix, labels=range(C)),
     "multi_labels", {}),
    ("mse-1d", M.mse, skm.mean_squared_error, "reg1", {}),
    ("mse-2d", M.mse, skm.mean_squared_error, "reg2", {}),
    ("rmse-1d", M.rmse, skm.root_mean_squared_error, "reg1", {}),
    ("rmse-2d", M.rmse, skm.root_mean_squared_error, "reg2", {}),
    ("mae-1d", M.mae, skm.mean_absolute_error, "reg1", {}),
    ("mae-2d", M.mae, skm.mean_absolute_error, "reg2", {}),
    ("r2-1d", M.r2, skm.r2_score, "reg1", {}),
    ("r2-2d", M.r2, skm.r2_score, "reg2", {}),
]
for _ours, _theirs in ((M.precision, skm.precision_score), (M.recall, skm.recall_score),
                       (M.f1, skm.f1_score)):
    for _average in ("binary", "micro", "macro", "weighted"):
        for _kind in ("binary_labels",) + (() if _average == "binary" else ("multi_labels",)):
            SKLEARN_CASES.append((f"{_ours.__name__}-{_average}-{_kind}", _ours,
                                  _sk_prf(_theirs, _average), _kind, {"average": _average}))


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("name, ours, theirs, kind, kwargs", SKLEARN_CASES,
                         ids=[case[0] for case in SKLEARN_CASES])
def test_matches_sklearn(x64, rng, name, ours, theirs, kind, kwargs, weighted):
    y, p = _data(kind, rng)
    w = rng.uniform(0.1, 3.0, N) if weighted else None
    np.testing.assert_allclose(ours(y, p, sample_weight=w, **kwargs),
                               theirs(y, p, sample_weight=w), rtol=1e-5, atol=1e-12)


def test_pos_label_and_absent_class_match_sklearn(x64, rng):
    y, p = _data("binary_labels", rng)
    y, p = y + 1, p + 1  # labels {1, 2}; class 0 is absent from the data
    for ours, theirs in ((M.precision, skm.precision_score), (M.f1, skm.f1_score)):
        np.testing.assert_allclose(ours(y, p, pos_label=2), theirs(y, p, pos_label=2), rtol=1e-5)
        np.testing.assert_allclose(ours(y, p, average="macro"),
                                   theirs(y, p, average="macro"), rtol=1e-5)


def test_zero_division_gives_zero():
    y = np.array([0, 0, 1, 1])
    never_positive = np.zeros(4, int)
    assert float(M.precision(y, never_positive)) == 0.0
    assert float(M.f1(np.zeros(4, int), never_positive)) == 0.0


def test_confusion_matrix_weighted_counts_do_not_stall_in_float32():
    # One heavy sample (2^24), then 2^16 of weight 1 in each cell of the diagonal. Added
    # one after another in float32 (XLA's CPU product did), 1 + 2^24 rounds to 2^24 and
    # every light sample was lost: the same stall that counted 2^25 samples as 2^24.
    n = 2**16
    y = np.r_[0, np.zeros(n, int), np.ones(n, int)]
    w = np.r_[2.0**24, np.ones(2 * n)].astype(np.float32)
    expected = skm.confusion_matrix(y, y, sample_weight=w.astype(np.float64))
    np.testing.assert_allclose(M.confusion_matrix(y, y, sample_weight=w), expected, rtol=1e-4)


def test_roc_auc_hand_computed_with_ties():
    # Pairs (pos, neg): 0.5>0.2 wins, 0.5=0.5 ties, 0.9 beats both: (1 + 0.5 + 2) / 4.
    auc = M.roc_auc(np.array([1, 1, 0, 0]), np.array([0.5, 0.9, 0.2, 0.5]))
    np.testing.assert_allclose(auc, 3.5 / 4)


@pytest.mark.parametrize("offset, spacing, dtype", [(1.0, 1e-9, np.float64), (1.7e12, 1.0, np.float64),
                                                    (2**40, 1, np.int64)])
def test_roc_auc_keeps_the_order_of_64_bit_scores(offset, spacing, dtype):
    # Rounded to float32 these scores tie (probabilities near 1, timestamps), and the
    # AUC of a perfect ranking read 0.5.
    y = np.array([0, 1, 0, 1, 1, 0])
    scores = (offset + np.array([1, 5, 2, 4, 6, 3]) * spacing).astype(dtype)
    w = np.array([1.0, 2.0, 0.0, 1.0, 3.0, 1.0])
    for weight in (None, w):
        np.testing.assert_allclose(M.roc_auc(y, scores, sample_weight=weight),
                                   skm.roc_auc_score(y, scores, sample_weight=weight), rtol=1e-6)


def test_r2_constant_target_is_finite_like_sklearn():
    y = np.full(5, 2.0)
    assert float(M.r2(y, y)) == skm.r2_score(y, y) == 1.0
    assert float(M.r2(y, y + 1)) == skm.r2_score(y, y + 1) == 0.0


# Scorers as a search calls them: n_classes given, so they also work with traced labels.
SCORERS = [
    ("accuracy", M.accuracy, "multi_labels", {}),
    ("log_loss-binary", M.log_loss, "binary_prob", {}),
    ("log_loss-multi", M.log_loss, "multi_prob", {}),
    ("roc_auc", M.roc_auc, "binary_ties", {}),
    ("precision-binary", M.precision, "binary_labels", {}),
    ("recall-macro", M.recall, "multi_labels", {"average": "macro", "n_classes": C}),
    ("f1-micro", M.f1, "multi_labels", {"average": "micro", "n_classes": C}),
    ("f1-macro", M.f1, "multi_labels", {"average": "macro", "n_classes": C}),
    ("f1-weighted", M.f1, "multi_labels", {"average": "weighted", "n_classes": C}),
    ("confusion_matrix", M.confusion_matrix, "multi_labels", {"n_classes": C}),
    ("mse", M.mse, "reg2", {}),
    ("rmse", M.rmse, "reg2", {}),
    ("mae", M.mae, "reg1", {}),
    ("r2", M.r2, "reg2", {}),
]
scorer_table = pytest.mark.parametrize("name, fn, kind, kwargs", SCORERS,
                                       ids=[case[0] for case in SCORERS])


@scorer_table
def test_mask_equals_subset(x64, rng, name, fn, kind, kwargs):
    y, p = _data(kind, rng)
    mask = rng.random(N) < 0.5
    np.testing.assert_allclose(fn(y, p, sample_weight=mask.astype(float), **kwargs),
                               fn(y[mask], p[mask], **kwargs), rtol=1e-10)


def test_macro_mask_dropping_a_class_equals_subset(x64, rng):
    y, p = _data("multi_labels", rng)
    keep = (y != C - 1) & (p != C - 1)
    for fn in (M.precision, M.recall, M.f1):
        masked = fn(y, p, sample_weight=keep.astype(float), average="macro")
        expected = {M.precision: skm.precision_score, M.recall: skm.recall_score,
                    M.f1: skm.f1_score}[fn](y[keep], p[keep], average="macro", zero_division=0)
        np.testing.assert_allclose(masked, expected, rtol=1e-10)


@scorer_table
def test_vmap_over_masks_equals_loop(rng, name, fn, kind, kwargs):
    y, p = _data(kind, rng)
    masks = (rng.random((3, N)) < 0.6).astype(np.float32)
    batched = jax.vmap(lambda m: fn(y, p, sample_weight=m, **kwargs))(jnp.asarray(masks))
    looped = np.stack([fn(y, p, sample_weight=m, **kwargs) for m in masks])
    np.testing.assert_allclose(batched, looped, rtol=1e-5, atol=1e-6)


@scorer_table
def test_jit_with_traced_inputs_equals_eager(rng, name, fn, kind, kwargs):
    y, p = _data(kind, rng)
    w = rng.uniform(0.1, 2.0, N).astype(np.float32)
    jitted = jax.jit(partial(fn, **kwargs))(jnp.asarray(y), jnp.asarray(p), sample_weight=w)
    np.testing.assert_allclose(jitted, fn(y, p, sample_weight=w, **kwargs), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fn", [partial(M.f1, average="macro"), M.confusion_matrix])
def test_traced_labels_need_n_classes(rng, fn):
    y, p = _data("multi_labels", rng)
    with pytest.raises(ValueError, match="`n_classes` is required"):
        jax.jit(fn)(y, p)


def test_registry():
    assert set(M.METRICS) >= {"accuracy", "log_loss", "roc_auc", "precision", "recall", "f1",
                              "f1_macro", "mse", "rmse", "mae", "r2"}
    fn, greater_is_better = M.get_metric("mse")
    assert fn is M.mse and greater_is_better is False
    assert M.get_metric("r2").greater_is_better and not M.get_metric("log_loss").greater_is_better
    y, p = _data("multi_labels", np.random.default_rng(1))
    np.testing.assert_allclose(M.get_metric("f1_weighted").fn(y, p),
                               skm.f1_score(y, p, average="weighted"), rtol=1e-5)


Y, P = np.array([0, 1, 1, 0, 1]), np.array([0, 1, 0, 0, 1])
YF = np.array([0.5, 1.0, 2.0, 3.0, 4.0])
NAN = np.array([0.5, np.nan, 2.0, 3.0, 4.0])
PROB = np.array([0.1, 0.8, 0.3, 0.2, 0.9])

BAD_INPUTS = [
    ("lengths-labels", lambda: M.accuracy(Y, P[:4]), ValueError, "`y_pred` has 4 rows"),
    ("lengths-regression", lambda: M.mse(YF, YF[:4]), ValueError, "`y_pred` has 4 rows"),
    ("lengths-weights", lambda: M.f1(Y, P, sample_weight=np.ones(3)), ValueError,
     "`sample_weight` has 3 rows"),
    ("shape-regression", lambda: M.r2(YF, np.stack([YF, YF], 1)), ValueError,
     "`y_pred` must have the shape"),
    ("nan-y_pred", lambda: M.mse(YF, NAN), ValueError, "`y_pred` contains 1 NaN"),
    ("nan-y_true", lambda: M.r2(NAN, YF), ValueError, "`y_true` contains 1 NaN"),
    ("nan-y_score", lambda: M.roc_auc(Y, NAN), ValueError, "`y_score` contains 1 NaN"),
    ("nan-weights", lambda: M.accuracy(Y, P, sample_weight=NAN), ValueError,
     "`sample_weight` contains"),
    ("nan-labels", lambda: M.accuracy(Y, NAN), ValueError, "`y_pred` contains .* NaN"),
    ("negative-weights", lambda: M.mae(YF, YF, sample_weight=-YF), ValueError,
     "`sample_weight` must be non-negative"),
    ("zero-weights", lambda: M.mse(YF, YF, sample_weight=0 * YF), ValueError,
     "`sample_weight` is zero everywhere"),
    ("unknown-average", lambda: M.precision(Y, P, average="samples"), ValueError,
     "`average` must be one of"),
    ("binary-average-multiclass", lambda: M.recall(Y, P + Y), ValueError,
     "`average` is 'binary'"),
    ("pos_label-absent", lambda: M.f1(Y, P, pos_label=2), ValueError, "`pos_label` must be"),
    ("prob-above-1", lambda: M.log_loss(Y, PROB + 0.5), ValueError, "`y_prob` must hold prob"),
    ("prob-below-0", lambda: M.log_loss(Y, PROB - 0.5), ValueError, "`y_prob` must hold prob"),
    ("prob-rows", lambda: M.log_loss(Y, np.full((5, 2), 0.4)), ValueError,
     "`y_prob` rows must sum to 1"),
    ("prob-labels", lambda: M.log_loss(Y + 1, PROB), ValueError, "`y_true` must hold labels 0"),
    ("prob-classes", lambda: M.log_loss(Y + 2, np.full((5, 2), 0.5)), ValueError,
     "`y_true` must hold labels 0..1"),
    ("2d-y_true", lambda: M.accuracy(Y[:, None], P), ValueError, "`y_true` must be a 1-D"),
    ("2d-y_pred", lambda: M.f1(Y, P[:, None]), ValueError, "`y_pred` must be a 1-D"),
    ("2d-y_score", lambda: M.roc_auc(Y, np.stack([PROB, PROB], 1)), ValueError,
     "`y_score` must be a 1-D"),
    ("roc-one-class", lambda: M.roc_auc(np.ones(5, int), PROB), ValueError,
     "`y_true` holds only the class 1"),
    ("roc-one-weighted-class", lambda: M.roc_auc(Y, PROB, sample_weight=Y.astype(float)),
     ValueError, "`y_true` holds only the class 1"),
    ("roc-labels", lambda: M.roc_auc(Y + 1, PROB), ValueError, "`y_true` must hold binary"),
    ("labels-above-n_classes", lambda: M.confusion_matrix(Y, P, n_classes=1), ValueError,
     "`y_true` holds the label 1"),
    ("negative-labels", lambda: M.f1(Y - 1, P, average="macro"), ValueError,
     "`y_true` must hold class labels 0"),
    ("n_classes-type", lambda: M.f1(Y, P, average="macro", n_classes=2.0), TypeError,
     "`n_classes` must be an integer"),
    ("string-labels", lambda: M.accuracy(np.array(["a", "b"]), np.array(["a", "a"])), TypeError,
     "`y_true` must hold numbers"),
    ("unknown-metric", lambda: M.get_metric("auc"), ValueError, "`name` must be one of"),
]


@pytest.mark.parametrize("call, error, match", [case[1:] for case in BAD_INPUTS],
                         ids=[case[0] for case in BAD_INPUTS])
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_r2_of_one_sample_is_nan_like_sklearn():
    y = np.array([0.3, 1.7, 2.2], np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's UndefinedMetricWarning
        assert np.isnan(skm.r2_score(y[1:2], y[1:2] + 1))
    assert np.isnan(float(M.r2(y[1:2], y[1:2] + 1)))
    # One sample with weight (a one-row test fold): was 1 - 0.01/residue ≈ -1e19.
    assert np.isnan(float(M.r2(y, y + 0.1, sample_weight=np.array([0, 0.3, 0], np.float32))))


def test_r2_constant_target_found_exactly_despite_rounding():
    # The float32 weighted mean of 1000 copies of 0.1 is not exactly 0.1, so SS_tot was
    # a rounding residue; scikit-learn in float64 sees the constant target.
    c = np.full(1000, 0.1, np.float32)
    w = np.random.default_rng(0).random(1000).astype(np.float32)
    for pred in (c, c + 0.01):
        expected = skm.r2_score(c.astype(np.float64), pred.astype(np.float64), sample_weight=w)
        assert float(M.r2(c, pred, sample_weight=w)) == expected


@functools.lru_cache(maxsize=None)
def _real_predictions(name):
    """(y, a scikit-learn model's predictions) on a bundled data set: real class
    imbalance, near-certain probabilities, ties among scores, targets in the hundreds."""
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.preprocessing import StandardScaler

    from jaxfit.data import load_example

    ds = load_example(name)
    X = StandardScaler().fit_transform(np.asarray(ds.X, np.float64))
    y = np.asarray(ds.y)
    if ds.classes is None:
        return y, Ridge(alpha=1.0).fit(X[:, :3], y).predict(X[:, :3])  # a poor fit: R² ≈ 0.35
    model = LogisticRegression(C=0.05, max_iter=1000).fit(X[:, :4], y)  # C small: 12-15% errors
    return y, model.predict_proba(X[:, :4])


REAL_CASES = [
    ("breast_cancer", M.accuracy, skm.accuracy_score, "labels", {}),
    ("breast_cancer", M.log_loss, skm.log_loss, "proba", {}),
    ("breast_cancer", M.roc_auc, skm.roc_auc_score, "score", {}),
    ("breast_cancer", M.roc_auc, skm.roc_auc_score, "rounded score", {}),  # many ties
    ("breast_cancer", M.precision, skm.precision_score, "labels", {}),
    ("breast_cancer", M.recall, skm.recall_score, "labels", {}),
    ("breast_cancer", M.f1, skm.f1_score, "labels", {}),
    ("wine", M.accuracy, skm.accuracy_score, "labels", {}),
    ("wine", M.log_loss, skm.log_loss, "proba", {}),
    ("wine", M.confusion_matrix, skm.confusion_matrix, "labels", {}),
    ("wine", M.f1, skm.f1_score, "labels", {"average": "macro"}),
    ("wine", M.precision, skm.precision_score, "labels", {"average": "weighted"}),
    ("wine", M.recall, skm.recall_score, "labels", {"average": "micro"}),
    ("diabetes", M.mse, skm.mean_squared_error, "values", {}),
    ("diabetes", M.rmse, skm.root_mean_squared_error, "values", {}),
    ("diabetes", M.mae, skm.mean_absolute_error, "values", {}),
    ("diabetes", M.r2, skm.r2_score, "values", {}),
]


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("name, ours, theirs, form, kwargs", REAL_CASES,
                         ids=[f"{c[0]}-{c[1].__name__}-{c[3]}-{c[4].get('average', '')}" for c in REAL_CASES])
def test_matches_sklearn_on_bundled_data(x64, name, ours, theirs, form, kwargs, weighted):
    y, out = _real_predictions(name)
    pred = {"labels": lambda: out.argmax(1), "proba": lambda: out[:, 1] if out.shape[1] == 2 else out,
            "score": lambda: out[:, 1], "rounded score": lambda: np.round(out[:, 1], 1),
            "values": lambda: out}[form]()
    w = np.random.default_rng(0).uniform(0.0, 3.0, len(y)) if weighted else None
    np.testing.assert_allclose(ours(y, pred, sample_weight=w, **kwargs),
                               theirs(y, pred, sample_weight=w, **kwargs), rtol=1e-10, atol=1e-12)

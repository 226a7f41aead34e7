"""Property-based tests (hypothesis) of the public entry points on hostile input.

Every entry point either returns a sound result or raises one of the documented
exceptions (ValueError / TypeError, FileNotFoundError for files) whose message names
the argument (or the file's column or the config key) at fault: no other exception, no
hang, no crash inside XLA, no silent NaN. A fit on finite input returns finite
parameters or says `diverged=True`.

The examples are derandomized (the same ones every run) and few, and shapes are drawn
from small sets, so the compiled programs are reused across examples: the whole module
compiles a handful of programs and runs in well under a minute.
"""

import os
import re
import warnings

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import optax
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import jaxfit
import jaxfit.model_selection as ms
from jaxfit import data, estimators, io, metrics, models
from jaxfit.cli import _config

# JAXFIT_PROPERTY_EXAMPLES=500 explores further: that many random (not derandomized)
# examples per test. The default run draws the same few examples every time.
THOROUGH = int(os.environ.get("JAXFIT_PROPERTY_EXAMPLES", "0"))


def examples(n: int) -> settings:
    return settings(max_examples=THOROUGH or n, deadline=None, derandomize=not THOROUGH,
                    database=None, suppress_health_check=list(HealthCheck))


SETTINGS, FEW = examples(30), examples(15)

# One model, optimizer and loss object for the whole module: `fit` compiles once per
# (model, solver, shapes), so reusing them keeps the compile count at one per shape.
LINEAR, LOGISTIC, SOFTMAX3 = models.linear(), models.logistic(), models.softmax(3)
SGD = optax.sgd(0.1)
STEPS = 20


def names_argument(err: Exception, *names: str) -> bool:
    """The message names one of `names` in backticks, as every boundary check does."""
    return any(f"`{name}`" in str(err) for name in names)


def run_catching(call):
    """`(error, result, warnings)`: the documented errors are returned, not raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return None, call(), caught
        except (ValueError, TypeError) as err:
            return err, None, caught


def leaves_finite(tree) -> bool:
    return all(np.isfinite(np.asarray(leaf, np.float64)).all()
               for leaf in jax.tree_util.tree_leaves(tree))


# --------------------------------------------------------------------- hostile arrays

FLOATS = [np.float16, ml_dtypes.bfloat16, np.float32, np.float64]
INTS = [np.int8, np.int32, np.uint8, np.bool_]
FLOAT_SPECIALS = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf, "huge": 1e30, "tiny": 1e-30,
                  "beyond_float32": 1e300}


@st.composite
def hostile_arrays(draw, shape, special=True):
    """An array of `shape` in a random dtype, with one special value in it if `special`."""
    dtype = draw(st.sampled_from(FLOATS + INTS))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    values = rng.normal(size=shape) * draw(st.sampled_from([1.0, 1e-3, 1e3]))
    size = int(np.prod(shape))
    if not special:
        pass
    elif dtype in FLOATS:
        special = draw(st.sampled_from([None, *FLOAT_SPECIALS]))
        if special and size:
            values.flat[draw(st.integers(0, size - 1))] = FLOAT_SPECIALS[special]
    elif dtype is not np.bool_:
        info = np.iinfo(dtype)
        special = draw(st.sampled_from([None, info.min, info.max]))
        if special is not None and size:
            values.flat[draw(st.integers(0, size - 1))] = special
    with np.errstate(all="ignore"):  # 1e30 -> float16 is inf: that is the point
        return values.astype(dtype)


def finite_in_float32(a) -> bool:
    with np.errstate(all="ignore"):
        return bool(np.isfinite(np.asarray(a).astype(np.float32)).all())


WEIGHTS = st.sampled_from(["none", "ones", "mask", "zeros", "negative", "nan", "huge"])


def make_weights(kind, n):
    w = {"none": None, "ones": np.ones(n), "zeros": np.zeros(n), "negative": -np.ones(n),
         "huge": np.full(n, 1e30), "nan": np.full(n, np.nan),
         "mask": (np.arange(n) % 2 == 0).astype(float)}[kind]
    return w if w is None else w.astype(np.float32)


@examples(60)
@given(st.data())
def test_fit_on_hostile_arrays_returns_finite_params_or_names_the_argument(data_):
    # One fault at a time (or none), so that valid inputs are drawn as often as bad ones.
    fault = data_.draw(st.sampled_from(["none", "X", "y", "sample_weight", "empty", "length"]))
    n = 0 if fault == "empty" else data_.draw(st.sampled_from([1, 8]), label="n")
    X = data_.draw(hostile_arrays((n, 3), special=fault == "X"), label="X")
    n_y = n + 1 if fault == "length" else n
    y = data_.draw(hostile_arrays((n_y,), special=fault == "y"), label="y")
    with np.errstate(all="ignore"):
        y = y.astype(np.float32)  # one y dtype, one compiled program per shape
    weight_kind = data_.draw(WEIGHTS if fault == "sample_weight" else
                             st.sampled_from(["none", "ones", "mask"]), label="sample_weight")
    weight = make_weights(weight_kind, n)

    err, result, caught = run_catching(lambda: jaxfit.fit(
        LINEAR, "squared_error", X, y, optimizer=SGD, steps=STEPS, tol=1e-3,
        sample_weight=weight))

    valid = (n > 0 and n_y == n and finite_in_float32(X) and finite_in_float32(y)
             and weight_kind in ("none", "ones", "mask", "huge"))
    event("refused" if err is not None else "diverged" if bool(result.diverged) else "finished")
    if err is not None:
        assert not valid, f"valid input refused: {err}"
        assert names_argument(err, "X", "y", "sample_weight"), err
        return
    assert valid
    assert leaves_finite(result.params)  # a diverged fit keeps its last finite params
    n_steps, diverged = int(result.n_steps), bool(result.diverged)
    if not diverged:
        assert np.isfinite(np.asarray(result.history)[:n_steps]).all()
    assert result.params["w"].dtype == jnp.float32  # float16/bfloat16/ints computed in float32
    messages = [str(w.message) for w in caught]
    assert all(w.category is RuntimeWarning for w in caught), messages
    assert diverged == any("diverged at step" in m for m in messages), messages
    unfinished = not diverged and not bool(result.converged) and n_steps == STEPS
    assert unfinished == any(f"did not converge in {STEPS} steps" in m for m in messages), messages


LABEL_LOSSES = {"binary_cross_entropy": LOGISTIC, "hinge": LOGISTIC,
                "softmax_cross_entropy": SOFTMAX3}
X8 = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)


@SETTINGS
@given(loss=st.sampled_from(sorted(LABEL_LOSSES)),
       y=st.lists(st.integers(-1, 3), min_size=8, max_size=8),
       fractional=st.booleans())
def test_fit_refuses_labels_its_loss_cannot_read(loss, y, fractional):
    y = np.asarray(y, np.float32 if fractional else np.int32)
    if fractional:
        y[0] += 0.5
    err, result, caught = run_catching(lambda: jaxfit.fit(
        LABEL_LOSSES[loss], loss, X8, y, optimizer=SGD, steps=STEPS))
    if loss == "softmax_cross_entropy":
        readable = not fractional and y.min() >= 0 and y.max() <= 2
    elif loss == "binary_cross_entropy":  # probabilities in [0, 1] are fine
        readable = y.min() >= 0 and y.max() <= 1
    else:
        readable = set(y.tolist()) <= {0, 1}
    if err is not None:
        assert not readable, err
        assert names_argument(err, "y") and isinstance(err, ValueError), err
    else:
        assert readable, f"{loss} accepted labels {y}"
        assert leaves_finite(result.params) and not bool(result.diverged)
        assert not caught, [str(w.message) for w in caught]


# ------------------------------------------------------------------------- splitters

SIZES = st.sampled_from([2, 3, 5, 8, 13])
KEYS = st.integers(0, 3).map(jax.random.key)


def assert_partition(folds, n):
    test = np.asarray(folds.test)
    assert test.shape[1] == n and test.dtype == bool
    np.testing.assert_array_equal(test.sum(axis=0), 1)  # each sample tested exactly once
    np.testing.assert_array_equal(np.asarray(folds.train), ~test)


@SETTINGS
@given(n=SIZES, k=st.integers(0, 15), shuffle=st.booleans(), key=KEYS)
def test_kfold_partitions_or_names_n_splits(n, k, shuffle, key):
    err, folds, _ = run_catching(
        lambda: ms.kfold(n, k, shuffle=shuffle, key=key if shuffle else None))
    if not 2 <= k <= n:
        assert isinstance(err, ValueError) and names_argument(err, "n_splits"), err
        return
    assert_partition(folds, n)
    sizes = np.asarray(folds.test).sum(axis=1)
    assert sizes.max() - sizes.min() <= 1


@SETTINGS
@given(y=st.lists(st.sampled_from([0, 1, 2, 7]), min_size=2, max_size=13),
       k=st.integers(2, 5), shuffle=st.booleans(), key=KEYS, as_text=st.booleans())
def test_stratified_kfold_keeps_class_shares_or_names_the_argument(y, k, shuffle, key, as_text):
    y = np.asarray(y)
    if as_text:
        y = np.char.add("class-", y.astype(str))
    err, folds, _ = run_catching(
        lambda: ms.stratified_kfold(y, k, shuffle=shuffle, key=key if shuffle else None))
    counts = np.unique(y, return_counts=True)[1]
    if k > y.size or counts.min() < k:
        assert isinstance(err, ValueError) and names_argument(err, "n_splits", "y"), err
        return
    assert_partition(folds, y.size)
    test = np.asarray(folds.test)
    for label, count in zip(*np.unique(y, return_counts=True)):
        per_fold = test[:, y == label].sum(axis=1)
        assert set(per_fold.tolist()) <= {count // k, -(-count // k)}


@SETTINGS
@given(groups=st.lists(st.integers(0, 6), min_size=1, max_size=13), k=st.integers(2, 5))
def test_group_kfold_never_splits_a_group_or_names_n_splits(groups, k):
    groups = np.asarray(groups)
    err, folds, _ = run_catching(lambda: ms.group_kfold(groups, k))
    if np.unique(groups).size < k:
        assert isinstance(err, ValueError) and names_argument(err, "n_splits"), err
        return
    assert_partition(folds, groups.size)
    test = np.asarray(folds.test)
    for g in np.unique(groups):
        assert (test[:, groups == g].all(axis=1) | ~test[:, groups == g].any(axis=1)).all()


@SETTINGS
@given(n=SIZES, splits=st.integers(1, 4), key=KEYS,
       test_size=st.one_of(st.integers(-1, 14), st.sampled_from([0.0, 0.1, 0.5, 0.99, 1.0, 1.5])))
def test_shuffle_split_sizes_or_names_test_size(n, splits, key, test_size):
    err, folds, _ = run_catching(lambda: ms.shuffle_split(n, splits, test_size=test_size, key=key))
    n_test = test_size if isinstance(test_size, int) else int(np.ceil(test_size * n))
    if not (0 < test_size and 1 <= n_test <= n - 1 and (isinstance(test_size, int) or test_size < 1)):
        assert isinstance(err, ValueError) and names_argument(err, "test_size"), err
        return
    test = np.asarray(folds.test)
    assert test.shape == (splits, n)
    np.testing.assert_array_equal(test.sum(axis=1), n_test)
    np.testing.assert_array_equal(np.asarray(folds.train), ~test)


@SETTINGS
@given(pairs=st.lists(st.tuples(st.lists(st.integers(-2, 9), max_size=6),
                                st.lists(st.integers(-2, 9), max_size=6)), max_size=3))
def test_folds_from_indices_names_splits(pairs):
    err, folds, _ = run_catching(lambda: ms.Folds.from_indices(
        [(np.asarray(a, int), np.asarray(b, int)) for a, b in pairs], 8))
    in_range = all(0 <= i < 8 for a, b in pairs for i in a + b)
    if not pairs or not in_range:
        assert isinstance(err, ValueError) and names_argument(err, "splits"), err
        return
    for fold, (a, b) in enumerate(pairs):
        assert set(np.flatnonzero(np.asarray(folds.train[fold]))) == set(a)
        assert set(np.flatnonzero(np.asarray(folds.test[fold]))) == set(b)


# --------------------------------------------------------------- cross_validate, search

X12 = np.random.default_rng(1).normal(size=(12, 2)).astype(np.float32)
Y12 = (X12 @ np.array([1.0, -2.0]) + 0.5).astype(np.float32)
DESIGN = np.c_[X12, np.ones(12)]


def ridge_train(config, X, y, weight, key):
    """Weighted ridge in closed form: cheap, and exact enough to check masks against."""
    Xb = jnp.concatenate([X, jnp.ones((X.shape[0], 1), X.dtype)], axis=1)
    gram = Xb.T @ (weight[:, None] * Xb) + 0.1 * jnp.eye(3, dtype=X.dtype)
    return jnp.linalg.solve(gram, Xb.T @ (weight * y))


def ridge_score(params, X, y, weight):
    Xb = jnp.concatenate([X, jnp.ones((X.shape[0], 1), X.dtype)], axis=1)
    return -metrics.mse(y, Xb @ params, sample_weight=weight)


@SETTINGS
@given(masks=st.lists(st.lists(st.booleans(), min_size=12, max_size=12), min_size=3, max_size=3))
def test_cross_validate_any_masks_score_as_subsets_or_name_folds(masks):
    test = np.asarray(masks)
    folds = ms.Folds(jnp.asarray(~test), jnp.asarray(test))
    err, cv, _ = run_catching(lambda: ms.cross_validate(ridge_train, ridge_score, X12, Y12, folds))
    if (~test).all(axis=1).any() or test.all(axis=1).any():
        assert isinstance(err, ValueError) and names_argument(err, "folds"), err
        return
    assert list(cv.status) == ["ok"] * 3
    for i in range(3):  # a 0/1 mask scores exactly as the subset on its own would
        tr, te = ~test[i], test[i]
        A = DESIGN[tr].T @ DESIGN[tr] + 0.1 * np.eye(3)
        coef = np.linalg.solve(A, DESIGN[tr].T @ Y12[tr])
        expected = -np.mean((DESIGN[te] @ coef - Y12[te]) ** 2)
        np.testing.assert_allclose(cv.scores[i], expected, rtol=2e-3, atol=1e-4)


@FEW
@given(bad=st.sampled_from(["int masks", "wrong n", "shape mismatch", "nan X", "X 1-D",
                            "y rows", "not Folds", "config list"]))
def test_cross_validate_hostile_arguments_name_themselves(bad):
    test = np.eye(3, 12, dtype=bool) | np.eye(3, 12, k=3, dtype=bool)
    args = dict(X=X12, y=Y12, folds=ms.Folds(jnp.asarray(~test), jnp.asarray(test)), config=None)
    name = {"int masks": "folds.train", "wrong n": "folds.train", "shape mismatch": "folds.train",
            "nan X": "X", "X 1-D": "X", "y rows": "y", "not Folds": "folds", "config list": "config"}[bad]
    if bad == "int masks":
        args["folds"] = ms.Folds(jnp.asarray(~test).astype(int), jnp.asarray(test))
    elif bad == "wrong n":
        args["folds"] = ms.Folds(jnp.asarray(~test[:, :11]), jnp.asarray(test[:, :11]))
    elif bad == "shape mismatch":
        args["folds"] = ms.Folds(jnp.asarray(~test[:2]), jnp.asarray(test))
    elif bad == "nan X":
        args["X"] = np.where(np.eye(12, 2) > 0, np.nan, X12)
    elif bad == "X 1-D":
        args["X"] = X12[:, 0]
    elif bad == "y rows":
        args["y"] = Y12[:5]
    elif bad == "not Folds":
        args["folds"] = (test, ~test)
    else:
        args["config"] = [0.1]
    err, _, _ = run_catching(lambda: ms.cross_validate(ridge_train, ridge_score, args["X"], args["y"],
                                                       args["folds"], config=args["config"]))
    assert err is not None and names_argument(err, name), (bad, err)


REGRESSION = ms.make_fit_fns(LINEAR, "squared_error", optimizer=lambda c: optax.sgd(c["lr"]),
                             steps=STEPS)
FOLDS12 = ms.kfold(12, 3)
LEARNING_RATES = [0.0, 1e-3, 0.1, 1.0, 10.0, 1e4, -1.0]


@SETTINGS
@given(lrs=st.lists(st.sampled_from(LEARNING_RATES), min_size=2, max_size=4))
def test_search_flags_every_failed_fit_and_never_picks_one(lrs):
    result = ms.search(REGRESSION.train, REGRESSION.score, X12, Y12, {"lr": np.asarray(lrs)},
                       FOLDS12, chunk_size=2)  # always 2 lanes: one compiled program
    assert result.scores.shape == (len(lrs), 3)
    failed = np.isin(result.status, ["diverged", "invalid_score"])
    np.testing.assert_array_equal(~np.isfinite(result.scores), failed)  # no silent NaN
    finite = np.isfinite(result.mean)
    assert (result.rank[~finite] == finite.sum() + 1).all()
    if finite.any():
        assert result.best_score == np.nanmax(result.mean)
        assert result.best_config["lr"] in lrs
    else:
        with pytest.raises(ValueError, match="no configuration has a finite mean score"):
            result.best_config


SPACE_VALUES = st.one_of(
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), max_size=3),
    st.lists(st.sampled_from(["a", None, (1, 2)]), min_size=1, max_size=2),
    st.sampled_from([0.1, "lr", np.ones((2, 2)), np.array(3.0)]))


@FEW
@given(first=SPACE_VALUES, second=SPACE_VALUES)
def test_search_spaces_are_checked_before_compiling(first, second):
    err, spaces, _ = run_catching(lambda: ms.grid(lr=first, momentum=second))
    if err is not None:
        assert names_argument(err, "lr", "momentum"), err
    else:
        assert all(np.isfinite(v).all() for v in spaces.values())
    raw = {"lr": first, "momentum": second}
    err, _, _ = run_catching(lambda: ms._space.check_space(raw))
    if err is not None:
        assert "`space" in str(err), err


# --------------------------------------------------------------------------- metrics

LABELS = st.lists(st.integers(0, 2), min_size=5, max_size=5)
WEIGHT_LISTS = st.lists(st.sampled_from([0.0, 0.5, 1.0, 3.0]), min_size=5, max_size=5).filter(any)


@SETTINGS
@given(y_true=LABELS, y_pred=LABELS, w=WEIGHT_LISTS, scale=st.sampled_from([1e-3, 1.0, 1e3]))
def test_classification_metrics_are_bounded_weight_scale_free_and_drop_zero_weights(
        y_true, y_pred, w, scale):
    y_true, y_pred, w = np.asarray(y_true), np.asarray(y_pred), np.asarray(w, np.float32)
    keep = w > 0
    for name, fn in [("accuracy", metrics.accuracy),
                     ("f1", lambda a, b, **kw: metrics.f1(a, b, average="macro", n_classes=3, **kw)),
                     ("precision", lambda a, b, **kw: metrics.precision(a, b, average="weighted",
                                                                       n_classes=3, **kw)),
                     ("recall", lambda a, b, **kw: metrics.recall(a, b, average="micro",
                                                                 n_classes=3, **kw))]:
        value = float(fn(y_true, y_pred, sample_weight=w))
        assert 0.0 <= value <= 1.0, name
        assert float(fn(y_true, y_pred, sample_weight=w * scale)) == pytest.approx(value, abs=1e-6)
        subset = float(fn(y_true[keep], y_pred[keep], sample_weight=w[keep]))
        assert subset == pytest.approx(value, abs=1e-6), name
    cm = np.asarray(metrics.confusion_matrix(y_true, y_pred, n_classes=3, sample_weight=w))
    assert cm.sum() == pytest.approx(w.sum(), rel=1e-6)
    binary = (y_true > 0).astype(int)
    if len(set(binary[keep].tolist())) == 2:
        auc = float(metrics.roc_auc(binary, y_pred.astype(np.float32), sample_weight=w))
        assert 0.0 <= auc <= 1.0
    probs = jax.nn.softmax(jnp.asarray(y_pred, jnp.float32)[:, None] * jnp.array([1e4, 0.0, -1e4]))
    assert np.isfinite(float(metrics.log_loss(y_true, probs, sample_weight=w)))  # p = 0 or 1


@SETTINGS
@given(seed=st.integers(0, 100), exponent=st.sampled_from([-30, -20, -5, 0, 5, 20, 30]),
       w=WEIGHT_LISTS, multi=st.booleans())
def test_regression_metrics_survive_huge_and_tiny_targets(seed, exponent, w, multi):
    rng = np.random.default_rng(seed)
    shape = (5, 2) if multi else (5,)
    a = rng.normal(size=shape).astype(np.float32)
    b = (a + 0.3 * rng.normal(size=shape)).astype(np.float32)
    s = np.float32(10.0 ** exponent)
    w = np.asarray(w, np.float32)
    reference = float(metrics.r2(a, b, sample_weight=w))
    scaled = float(metrics.r2(a * s, b * s, sample_weight=w))
    assert np.isfinite(scaled)
    assert scaled == pytest.approx(reference, rel=1e-4, abs=1e-4)  # R² has no units
    for fn in (metrics.mse, metrics.rmse, metrics.mae):
        value = float(fn(a * s, b * s, sample_weight=w))
        assert not np.isnan(value) and value >= 0.0  # 1e60 rounds to inf, never to NaN


@FEW
@given(where=st.sampled_from(["y_true", "y_pred", "sample_weight"]),
       bad=st.sampled_from(["nan", "inf", "empty", "short", "2-D", "text", "negative"]),
       metric=st.sampled_from(["accuracy", "mse", "r2", "f1", "roc_auc"]))
def test_metrics_name_the_bad_argument(where, bad, metric):
    regression = metric in ("mse", "r2")
    args = {"y_true": np.array([0, 1, 1, 0, 1]), "y_pred": np.array([0, 1, 0, 0, 1]),
            "sample_weight": np.ones(5)}
    if regression:
        args = {k: v.astype(np.float32) for k, v in args.items()}
    if metric == "roc_auc":
        args["y_pred"] = np.array([0.1, 0.9, 0.4, 0.3, 0.8])
    value = args[where].astype(np.float64)
    if bad in ("nan", "inf"):
        value[1] = np.nan if bad == "nan" else np.inf
    elif bad == "empty":
        value = value[:0]
    elif bad == "short":
        value = value[:3]
    elif bad == "2-D":
        value = np.stack([value, value], axis=1)
    elif bad == "text":
        value = value.astype(str)
    else:
        value = -value - 1
    args[where] = value
    fn = metrics.get_metric(metric).fn
    err, result, _ = run_catching(lambda: fn(args["y_true"], args["y_pred"],
                                             sample_weight=args["sample_weight"]))
    if err is None:  # e.g. negative regression targets: a sound, finite result
        assert np.isfinite(np.asarray(result)).all(), (where, bad, metric)
        return
    name = "y_score" if (metric == "roc_auc" and where == "y_pred") else where
    assert names_argument(err, name, "y_true", "y_pred"), err


# ------------------------------------------------------------------------- load_csv

CELLS = st.sampled_from(["1", "0", "-2.5", "1e3", "", "nan", "inf", "-inf", "1e400", "abc",
                         "\"x,y\"", " 3 ", "true", "2"])


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("properties")


@SETTINGS
@given(header=st.lists(st.sampled_from(["a", "b", "y", "a"]), min_size=1, max_size=3),
       rows=st.lists(st.lists(CELLS, min_size=0, max_size=4), max_size=4),
       target=st.sampled_from(["y", "a", "zz"]),
       task=st.sampled_from(["auto", "classification", "regression"]),
       missing=st.sampled_from(["error", "drop"]),
       categorical=st.sampled_from(["error", "one_hot"]))
def test_load_csv_returns_clean_data_or_names_the_argument_or_column(
        scratch, header, rows, target, task, missing, categorical):
    path = scratch / "hostile.csv"
    path.write_text("\n".join([",".join(header)] + [",".join(r) for r in rows]) + "\n")
    err, ds, _ = run_catching(lambda: data.load_csv(path, target, task=task, missing=missing,
                                                    categorical=categorical))
    if err is not None:
        assert isinstance(err, ValueError), err
        assert (names_argument(err, "path", "target", "features", "missing", "task")
                or re.search(r"[Cc]olumn '", str(err))), err
        return
    assert ds.X.dtype == np.float32 and ds.X.ndim == 2 and ds.X.shape[0] >= 1
    assert np.isfinite(ds.X).all() and len(ds.feature_names) == ds.X.shape[1]
    assert ds.y.shape == (ds.X.shape[0],)
    if ds.classes is None:
        assert ds.y.dtype == np.float32 and np.isfinite(ds.y).all()
    else:
        assert ds.y.dtype == np.int32 and 0 <= ds.y.min() and ds.y.max() < len(ds.classes)


@FEW
@given(content=st.binary(max_size=64))
def test_load_csv_on_arbitrary_bytes_raises_only_documented_errors(scratch, content):
    path = scratch / "bytes.csv"
    path.write_bytes(content)
    err, ds, _ = run_catching(lambda: data.load_csv(path, "y"))
    if err is not None:
        assert isinstance(err, ValueError), err
        assert names_argument(err, "path", "target") or "olumn '" in str(err), err
    with pytest.raises(FileNotFoundError, match="`path`"):
        data.load_csv(scratch / "missing.csv", "y")


# ------------------------------------------------------------------------------ io

DTYPES = [np.float16, ml_dtypes.bfloat16, np.float32, np.float64, np.int8, np.uint64, np.bool_,
          np.complex64]
def _leaf(dtype, shape, seed):
    with np.errstate(all="ignore"):  # negative values to uint64 wrap: fine for a round trip
        return np.asarray(np.random.default_rng(seed).normal(size=shape)).astype(dtype)


LEAVES = st.builds(_leaf, st.sampled_from(DTYPES), st.sampled_from([(), (0,), (3,), (2, 0), (2, 3)]),
                   st.integers(0, 9))
TREES = st.recursive(
    st.one_of(LEAVES, st.none(), st.booleans(), st.integers(-2**70, 2**70), st.text(max_size=5),
              st.floats(allow_nan=False)),
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.text(min_size=1, max_size=4), children, max_size=3),
                               st.tuples(children, children)),
    max_leaves=8)


def same_tree(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and \
            a.tobytes() == b.tobytes()
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(same_tree(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same_tree, a, b))
    return type(a) is type(b) and a == b


@SETTINGS
@given(tree=TREES, cut=st.integers(0, 10**6), flips=st.lists(st.integers(0, 10**6), max_size=4))
def test_io_round_trips_bitwise_and_refuses_damaged_files(scratch, tree, cut, flips):
    path = scratch / "tree.npz"
    io.save(path, tree)
    assert same_tree(tree, io.load(path))
    raw = path.read_bytes()
    damaged = scratch / "damaged.npz"
    damaged.write_bytes(raw[: cut % len(raw)])  # a strict prefix: a torn write
    with pytest.raises(ValueError, match=re.escape(repr(str(damaged)))):
        io.load(damaged)
    mutated = bytearray(raw)
    for flip in flips:
        mutated[flip % len(raw)] ^= 0xFF
    damaged.write_bytes(bytes(mutated))
    err, loaded, _ = run_catching(lambda: io.load(damaged))
    if err is None:  # a flipped byte the format does not read (a zip timestamp): same tree
        assert same_tree(tree, loaded)
    else:
        assert isinstance(err, ValueError) and str(damaged) in str(err), err


@FEW
@given(content=st.binary(max_size=64))
def test_io_load_on_arbitrary_bytes_names_the_path(scratch, content):
    path = scratch / "bytes.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="Cannot load"):
        io.load(path)


# ------------------------------------------------------------- the CLI config loader

SCALARS = st.one_of(st.integers(-3, 10), st.sampled_from([2**31 - 1, 2**31, 2**64, 10**400]),
                    st.booleans(),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6),
                    st.sampled_from(["linear", "mlp", "adam", "lbfgs", "l2", "squared_error",
                                     "binary_cross_entropy", "example:iris", "all", "kfold",
                                     "random", "grid", "relu"]))
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3),
                   st.dictionaries(st.sampled_from(["logspace", "uniform", "choice", "x"]),
                                   st.lists(SCALARS, max_size=3), max_size=1))
KEYS_BY_SECTION = {name: sorted(fields) + ["bogus"] for name, fields in _config.SCHEMA.items()}


@st.composite
def config_documents(draw):
    document = {}
    for section in draw(st.lists(st.sampled_from(list(_config.SCHEMA) + ["extra"]), max_size=6,
                                 unique=True)):
        keys = KEYS_BY_SECTION.get(section, ["x"])
        table = draw(st.dictionaries(st.sampled_from(keys), VALUES, max_size=4))
        if section == "":
            document.update(table)
        else:
            document[section] = table
    if draw(st.booleans()):  # often valid enough to reach the deeper checks
        document.setdefault("data", {})["path"] = "example:iris"
        document.setdefault("model", {})["kind"] = draw(st.sampled_from(["linear", "mlp"]))
    return document


@examples(150)
@given(document=config_documents())
def test_config_loader_accepts_or_names_the_key(document):
    try:
        cfg = _config.parse(document, "/tmp")
    except _config.ConfigError as err:  # a ValueError
        message = str(err)
        assert re.match(r"(\[[a-z._]+\]|top level|unknown section|[a-z_]+ )", message), message
        return
    assert set(cfg) == set(_config.SCHEMA)
    assert cfg["model"]["kind"] in _config.MODELS


@FEW
@given(content=st.binary(max_size=48))
def test_config_file_of_arbitrary_bytes_is_a_config_error(scratch, content):
    path = scratch / "experiment.toml"
    path.write_bytes(content)
    try:
        _config.read(str(path))
    except _config.ConfigError as err:
        assert str(path) in str(err)
    with pytest.raises(FileNotFoundError, match="missing.toml"):
        _config.read(str(scratch / "missing.toml"))


# ------------------------------------------------------------------------ estimators

@FEW
@given(X=hostile_arrays((8, 3)), regression=st.booleans())
def test_estimators_fit_hostile_features_or_refuse_them(X, regression):
    y = np.arange(8.0) if regression else np.arange(8) % 2
    estimator = estimators.Ridge(alpha=1.0) if regression else estimators.LogisticRegression()
    err, fitted, caught = run_catching(lambda: estimator.fit(X, y))
    if err is not None:  # scikit-learn's wording, which names X too
        assert not finite_in_float32(X) and "X" in str(err), err
        return
    assert finite_in_float32(X)
    assert np.isfinite(fitted.coef_).all() and np.isfinite(fitted.predict(X.astype(np.float64))).all()
    assert all(issubclass(w.category, (RuntimeWarning, UserWarning)) for w in caught)


def test_estimators_refuse_values_beyond_the_compute_dtype():
    # Finite in float64, inf once cast to float32: refused before anything is traced
    # (it used to reach the device as inf, the fit diverging and predict returning NaN).
    X, y = X8.astype(np.float64), np.arange(8.0)
    fitted = estimators.Ridge().fit(X, y)
    X_big, y_big = X.copy(), y.copy()
    X_big[2, 1], y_big[5] = -1e300, 1e300
    for call, name in ((lambda: estimators.Ridge().fit(X_big, y), "X"),
                       (lambda: estimators.Ridge().fit(X, y_big), "y"),
                       (lambda: estimators.LogisticRegression().fit(X_big, y % 2), "X"),
                       (lambda: fitted.predict(X_big), "X"),
                       (lambda: fitted.score(X, y_big), "y")):
        with pytest.raises(ValueError, match=rf"`{name}` has 1 value\(s\) too large for float32.* "
                                             rf"got -?1e\+300 at index \[\d(, \d)?\]. Rescale .*"
                                             rf"jax_enable_x64"):
            call()
    # The bound is the compute dtype's: its largest value passes the check.
    from jaxfit.estimators._inputs import as_float_matrix
    X_edge = X.copy()
    X_edge[0, 0] = -np.finfo(np.float32).max
    assert as_float_matrix(X_edge).tobytes() == X_edge.tobytes()

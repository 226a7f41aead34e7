"""jaxfit.data against scikit-learn and NumPy references, plus its input checks."""

import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from sklearn import datasets
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.preprocessing import StandardScaler

from jaxfit.data import (EXAMPLES, Dataset, Scaling, load_csv, load_example, one_hot, standardize,
                         train_test_split)

SKLEARN_LOADERS = {
    "breast_cancer": datasets.load_breast_cancer,
    "iris": datasets.load_iris,
    "wine": datasets.load_wine,
    "diabetes": lambda: datasets.load_diabetes(scaled=False),
}


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


# --- bundled examples ---------------------------------------------------------------

@pytest.mark.parametrize("name", EXAMPLES)
def test_load_example_matches_sklearn(name):
    ref = SKLEARN_LOADERS[name]()
    data = load_example(name)
    assert isinstance(data, Dataset)
    assert data.X.dtype == np.float32 and data.X.shape == ref.data.shape
    np.testing.assert_allclose(data.X, ref.data, rtol=1e-6)
    assert data.feature_names == tuple(ref.feature_names)
    if name == "diabetes":
        assert data.classes is None and data.y.dtype == np.float32
        np.testing.assert_allclose(data.y, ref.target, rtol=1e-6)
    else:
        assert data.y.dtype == np.int32
        assert data.classes == tuple(sorted(ref.target_names))
        # Same label for every sample, whatever the integer encoding.
        np.testing.assert_array_equal(np.asarray(data.classes)[data.y], ref.target_names[ref.target])


def test_load_example_equals_load_csv_on_the_shipped_file():
    from importlib import resources
    with resources.as_file(resources.files("jaxfit.data") / "examples" / "iris.csv") as path:
        via_csv = load_csv(path, "species")
    data = load_example("iris")
    np.testing.assert_array_equal(via_csv.X, data.X)
    np.testing.assert_array_equal(via_csv.y, data.y)
    assert via_csv[2:] == data[2:]


# --- load_csv -----------------------------------------------------------------------

def test_load_csv_string_target_round_trip(tmp_path):
    X = np.array([[1.5, -2.0], [0.25, 3.0], [7.0, 0.125], [2.0, 2.0]])
    labels = ["dog", "cat", "dog", "bird"]
    rows = "\n".join(f"{float(a)!r},{lab},{float(b)!r}" for (a, b), lab in zip(X, labels))
    data = load_csv(write(tmp_path, "a,animal,b\n" + rows + "\n"), "animal")
    np.testing.assert_array_equal(data.X, X.astype(np.float32))
    assert data.feature_names == ("a", "b")
    assert data.classes == ("bird", "cat", "dog")
    np.testing.assert_array_equal(data.y, [2, 1, 2, 0])
    assert data.y.dtype == np.int32


def test_load_csv_task_inference_and_feature_selection(tmp_path):
    path = write(tmp_path, "x,z,k,r,flag\n1,9,3,0.5,true\n2,8,1,1.5,false\n3,7,3,2.5,true\n")
    by_int = load_csv(path, "k", features=["z", "x"])
    assert by_int.classes == (1, 3) and by_int.feature_names == ("z", "x")
    np.testing.assert_array_equal(by_int.X, [[9, 1], [8, 2], [7, 3]])
    by_float = load_csv(path, "r")
    assert by_float.classes is None and by_float.y.dtype == np.float32
    assert by_float.feature_names == ("x", "z", "k", "flag")
    np.testing.assert_array_equal(by_float.X[:, 3], [1, 0, 1])  # booleans as 0/1
    assert load_csv(path, "flag").classes == (False, True)
    assert load_csv(path, "k", task="regression").classes is None
    assert load_csv(path, "r", task="classification").classes == (0.5, 1.5, 2.5)


def test_load_csv_one_hot(tmp_path):
    path = write(tmp_path, "size,color,y\n1,red,0\n2,blue,1\n3,red,1\n")
    data = load_csv(path, "y", categorical="one_hot")
    assert data.feature_names == ("size", "color=blue", "color=red")
    np.testing.assert_array_equal(data.X, [[1, 0, 1], [2, 1, 0], [3, 0, 1]])


def test_load_csv_missing_drop(tmp_path):
    path = write(tmp_path, "a,b,y\n1,2,0\n,3,1\n4,5,1\n6,7,\n8,,0\n")
    data = load_csv(path, "y", missing="drop")
    np.testing.assert_array_equal(data.X, [[1, 2], [4, 5]])
    np.testing.assert_array_equal(data.y, [0, 1])
    assert data.classes == (0, 1)  # an integer column with gaps stays integer
    # Columns that are not selected do not cost rows.
    assert load_csv(path, "a", features=["b"], missing="drop", task="regression").X.shape == (3, 1)


def test_load_csv_expands_the_home_folder_as_pandas(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    write(tmp_path, "a,y\n1.5,0\n2.5,1\n")
    reference = pd.read_csv("~/data.csv")
    for path in ("~/data.csv", pathlib.Path("~/data.csv")):
        data = load_csv(path, "y")
        np.testing.assert_array_equal(data.X[:, 0], reference["a"].to_numpy(np.float32))
        np.testing.assert_array_equal(data.y, reference["y"])


def test_load_csv_rows_with_a_trailing_comma_keep_their_columns(tmp_path):
    # pandas' default would take the first column as an index: values one column left.
    data = load_csv(write(tmp_path, "a,b,y\n1,2,0,\n3,4,1,\n"), "y")
    np.testing.assert_array_equal(data.X, [[1, 2], [3, 4]])
    np.testing.assert_array_equal(data.y, [0, 1])
    assert data.feature_names == ("a", "b")



def test_load_csv_text_columns_keep_na_like_words_as_values(tmp_path):
    # pandas reads "NA" and "None" as missing; as labels they are classes (North America),
    # and missing="drop" dropped both classes' rows without a word. An empty cell, and
    # "NA" in a numeric column, are still missing.
    text = "x,region\n1,EU\n2,NA\n3,EU\n4,None\n5,US\n6,\n"
    data = load_csv(write(tmp_path, text), "region", missing="drop")
    assert data.classes == ("EU", "NA", "None", "US")
    np.testing.assert_array_equal(data.X.ravel(), [1, 2, 3, 4, 5])
    for mode in ("r", "rb"):  # an open file, text or binary, is parsed twice too
        with open(write(tmp_path, text, "open.csv"), mode) as f:
            assert load_csv(f, "region", missing="drop").classes == data.classes
    (tmp_path / "latin.csv").write_bytes(b"x,y\n1,\xff\n")
    with open(tmp_path / "latin.csv", encoding="utf-8") as f:  # decoding fails on reading
        with pytest.raises(ValueError, match="is not UTF-8 text"):
            load_csv(f, "y")
    with pytest.raises(ValueError, match=r"Column 'region' has 1 missing value.*data row 6"):
        load_csv(write(tmp_path, text), "region")
    with pytest.raises(ValueError, match=r"Column 'x' has 1 missing value.*data row 2"):
        load_csv(write(tmp_path, "x,y\n1,0\nNA,1\n3,0\n", "num.csv"), "y")

# --- train_test_split ---------------------------------------------------------------

def test_split_sizes_cover_and_are_disjoint():
    X = np.arange(40, dtype=np.float32).reshape(20, 2)
    y = np.arange(20)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, key=jax.random.key(0))
    assert (len(y_tr), len(y_te)) == (15, 5)
    assert isinstance(X_tr, np.ndarray) and isinstance(y_te, np.ndarray)
    np.testing.assert_array_equal(np.sort(np.concatenate([y_tr, y_te])), y)  # complete, disjoint
    np.testing.assert_array_equal(X_tr[:, 0], 2 * y_tr)  # rows stay paired with their labels
    assert len(train_test_split(X, y, test_size=0.33, key=jax.random.key(0))[3]) == 7  # ceil
    assert len(train_test_split(X, y, test_size=3, key=jax.random.key(0))[3]) == 3


def test_split_is_deterministic_per_key_and_keeps_array_kind():
    X, y = jnp.arange(50.0).reshape(25, 2), jnp.arange(25)
    first = train_test_split(X, y, key=jax.random.key(1))
    again = train_test_split(X, y, key=jax.random.key(1))
    other = train_test_split(X, y, key=jax.random.key(2))
    assert all(isinstance(a, jax.Array) for a in first)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[3], other[3])


@pytest.mark.parametrize("test_size", [0.2, 0.5, 13])
def test_stratified_split_matches_sklearn_proportions(test_size):
    y = np.repeat(np.array(["a", "b", "c"]), [30, 12, 7])
    X = np.zeros((len(y), 1))
    _, _, y_tr, y_te = train_test_split(X, y, test_size=test_size, key=jax.random.key(3),
                                        stratify=True)
    ref = StratifiedShuffleSplit(n_splits=1, test_size=test_size, random_state=0)
    train_ref, test_ref = next(ref.split(X, y))
    for c in "abc":
        assert abs(np.sum(y_te == c) - np.sum(y[test_ref] == c)) <= 1
        assert abs(np.sum(y_tr == c) - np.sum(y[train_ref] == c)) <= 1
    assert len(y_te) == len(test_ref)


# --- standardize and one_hot --------------------------------------------------------

def test_standardize_matches_sklearn(rng):
    X = rng.normal(3.0, 2.0, size=(50, 4)).astype(np.float32)
    X[:, 2] = 5.0  # constant column: scale 1, as StandardScaler
    ref = StandardScaler().fit(X)
    scaling = standardize(X)
    assert isinstance(scaling, Scaling)
    np.testing.assert_allclose(scaling.mean, ref.mean_, rtol=1e-5)
    np.testing.assert_allclose(scaling.scale, ref.scale_, rtol=1e-5)
    np.testing.assert_allclose(scaling.apply(X), ref.transform(X), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scaling.inverse(scaling.apply(X)), X, rtol=1e-5)
    np.testing.assert_allclose(jax.jit(Scaling.apply)(scaling, X[0]), scaling.apply(X)[0], rtol=1e-6)


def test_standardize_small_spread_around_a_large_mean_matches_sklearn(rng):
    # Kelvins, prices, timestamps: a std far below n * eps32 * |mean| is still a spread,
    # not rounding error (StandardScaler's bound uses float64's eps). Constant columns,
    # and one constant over the weighted rows only, still get scale 1.
    n = 20_000
    X = np.stack([293.0 + 0.2 * rng.standard_normal(n), 1e5 + 50.0 * rng.standard_normal(n),
                  np.full(n, 0.1), np.where(np.arange(n) < 10, 9.0, 0.3)], axis=1)
    X = X.astype(np.float32)
    ref = StandardScaler().fit(X)
    scaling = standardize(X)
    # float32 sums over n rows: relative error up to n * eps32 = 2.4e-3 (seen: 2.5e-4 in
    # column 3's variance); the corrected mean is far closer (seen: 6e-7).
    np.testing.assert_allclose(scaling.scale, ref.scale_, rtol=1e-3)
    np.testing.assert_allclose(scaling.mean, ref.mean_, rtol=2e-6)
    np.testing.assert_allclose(scaling.apply(X)[:, 2], 0.0, atol=1e-6)  # centred exactly enough
    w = (np.arange(n) >= 10).astype(np.float32)
    ref_w = StandardScaler().fit(X[w > 0])
    np.testing.assert_allclose(standardize(X, w).scale, ref_w.scale_, rtol=1e-3)
    assert standardize(X, w).scale[3] == 1.0


@pytest.mark.parametrize("unit", [1e-20, 1e20])
def test_standardize_huge_and_tiny_float32_columns_match_sklearn(rng, unit):
    # Their squares overflow float32 to inf (or underflow to 0), which once read as a
    # constant column and left them unscaled (scale 1); a constant column keeps scale 1.
    X = np.column_stack([rng.normal(3.0, 2.0, size=50) * unit, np.full(50, 7 * unit)])
    X = X.astype(np.float32)
    ref = StandardScaler().fit(X.astype(np.float64))
    scaling = standardize(X)
    np.testing.assert_allclose(scaling.mean, ref.mean_, rtol=1e-5)
    np.testing.assert_allclose(scaling.scale, ref.scale_, rtol=1e-5)
    np.testing.assert_allclose(scaling.apply(X), ref.transform(X.astype(np.float64)), rtol=1e-4, atol=1e-5)


def test_standardize_weighted_matches_numpy(x64, rng):
    X = rng.normal(size=(30, 3))
    w = rng.uniform(0.1, 2.0, size=30)
    mean = np.average(X, axis=0, weights=w)
    std = np.sqrt(np.average((X - mean) ** 2, axis=0, weights=w))
    scaling = standardize(X, sample_weight=w)
    np.testing.assert_allclose(scaling.mean, mean, rtol=1e-12)
    np.testing.assert_allclose(scaling.scale, std, rtol=1e-12)


def test_standardize_mask_equals_subset_under_jit_and_vmap(rng):
    X = rng.normal(1.0, 3.0, size=(40, 3)).astype(np.float32)
    masks = (rng.uniform(size=(4, 40)) < 0.7).astype(np.float32)
    expected = [standardize(X[m > 0]) for m in masks]
    jitted = jax.jit(standardize)
    batched = jax.vmap(standardize, in_axes=(None, 0))(X, masks)
    for i, m in enumerate(masks):
        for got in (standardize(X, m), jitted(X, m), Scaling(batched.mean[i], batched.scale[i])):
            np.testing.assert_allclose(got.mean, expected[i].mean, rtol=1e-5)
            np.testing.assert_allclose(got.scale, expected[i].scale, rtol=1e-5)


def test_one_hot():
    got = one_hot(np.array([2, 0, 1]), 3)
    np.testing.assert_array_equal(got, np.eye(3)[[2, 0, 1]])
    np.testing.assert_array_equal(jax.jit(one_hot, static_argnums=1)(jnp.array([1]), 2), [[0, 1]])


# --- bad inputs ---------------------------------------------------------------------

def _csv(text, **kwargs):
    def call(tmp_path):
        return load_csv(write(tmp_path, text), **kwargs)
    return call


X10, Y10 = np.ones((10, 2)), np.arange(10) % 2
KEY = jax.random.key(0)

BAD_INPUTS = {
    "missing target column": (_csv("a,b\n1,2\n", target="y"), ValueError, "`target`.*'y'.*\\['a', 'b'\\]"),
    "non-numeric feature": (_csv("a,b,y\n1,u,0\n2,v,1\n", target="y"), ValueError, "'b'.*categorical"),
    "non-numeric cell": (_csv("x,y\n1,a\n2,b\nfoo,a\n", target="y"), ValueError,
                         "column 'x' is not numeric.*'foo' in data row 3.*categorical"),
    "non-numeric target cell": (_csv("a,y\n1,2.5\n2,oops\n", target="y", task="regression"),
                                ValueError, "column 'y'.*'oops' in data row 2"),
    "past float32": (_csv("x,y\n1,a\n1e40,b\n", target="y"), ValueError,
                     "column 'x' holds 1e\\+40 \\(data row 2.*overflows float32.*rescale"),
    "past float32 after a dropped row": (
        _csv("x,y\n1,a\n,b\n-1e39,a\n", target="y", missing="drop"), ValueError,
        "column 'x' holds -1e\\+39 \\(data row 3.*overflows float32"),
    "target past float32": (_csv("a,y\n1,1.5\n2,1e39\n", target="y"), ValueError,
                            "Target column 'y' holds 1e\\+39.*overflows float32.*rescale"),
    "infinite feature": (_csv("x,y\n1,a\n-inf,b\n", target="y"), ValueError,
                         "column 'x' holds infinite values \\(the first in data row 2"),
    "missing values": (_csv("a,y\n1,0\n,1\n,1\n", target="y"), ValueError, "'a' has 2 missing.*`missing`"),
    "more fields than the header": (_csv("x,y\n5,1,0\n6,2,1\n", target="y"), ValueError,
                                    "`path`.*more fields than its header"),
    "empty file": (_csv("", target="y"), ValueError, "`path`.*empty"),
    "header only": (_csv("a,y\n", target="y"), ValueError, "`path`.*no data rows"),
    "unknown features": (_csv("a,y\n1,0\n", target="y", features=["a", "zz"]), ValueError, "`features`.*'zz'"),
    "one class": (_csv("a,y\n1,k\n2,k\n", target="y"), ValueError, "`target`.*single class"),
    "no such file": (lambda p: load_csv(p / "nope.csv", "y"), FileNotFoundError, "`path`.*nope.csv"),
    "unknown example": (lambda p: load_example("mnist"), ValueError, "`name`.*'iris'"),
    "example name kind": (lambda p: load_example(["iris"]), TypeError, "`name` must be a str"),
    "test_size too big": (lambda p: train_test_split(X10, Y10, test_size=1.0, key=KEY), ValueError, "`test_size`"),
    "test_size int": (lambda p: train_test_split(X10, Y10, test_size=10, key=KEY), ValueError, "`test_size`"),
    "test_size kind": (lambda p: train_test_split(X10, Y10, test_size="1", key=KEY), TypeError, "`test_size`"),
    "X/y lengths": (lambda p: train_test_split(X10, Y10[:9], key=KEY), ValueError, "`y` has 9 rows"),
    "no key": (lambda p: train_test_split(X10, Y10), ValueError, "`key` is required"),
    "int key": (lambda p: train_test_split(X10, Y10, key=0), TypeError, "`key`"),
    "rare class": (lambda p: train_test_split(X10, np.r_[Y10[:9], 7], key=KEY, stratify=True),
                   ValueError, "`stratify`.*\\[7\\]"),
    "NaN label with stratify": (
        lambda p: train_test_split(X10, np.r_[Y10[:7], np.nan, 0.0, np.nan], key=KEY, stratify=True),
        ValueError, "`stratify`.*`y` has 2 NaN \\(the first at index 7\\)"),
    "NaN in X": (lambda p: standardize(np.array([[1.0], [np.nan]])), ValueError, "`X` contains 1 NaN"),
    "1-D X": (lambda p: standardize(np.ones(5)), ValueError, "`X` must be a 2-D"),
    "negative weight": (lambda p: standardize(X10, -np.ones(10)), ValueError, "`sample_weight`"),
    "scaling columns": (lambda p: standardize(X10).apply(np.ones((3, 5))), ValueError, "`X` has 5 columns"),
    "label out of range": (lambda p: one_hot(np.array([0, 3]), 3), ValueError, "`y`.*\\[0, 2\\]"),
}


@pytest.mark.parametrize("case", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_inputs(case, tmp_path):
    call, error, match = case
    with pytest.raises(error, match=match):
        call(tmp_path)


def test_pandas_is_needed_only_for_load_csv(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if not installed
    with pytest.raises(ImportError, match='pip install "jaxfit\\[csv\\]"'):
        load_csv(write(tmp_path, "a,y\n1,0\n"), "y")
    assert load_example("wine").X.shape == (178, 13)


def test_nullable_pandas_columns_are_numbers_everywhere():
    # `convert_dtypes()` and `read_csv(dtype_backend="numpy_nullable")` give Int64 /
    # Float64 columns; pandas turns a frame mixing them into objects.
    import pandas as pd

    from jaxfit import cluster, decomposition

    plain = pd.DataFrame({"a": [1, 2, 3, 4, 5, 6], "b": [0.5, 1.5, 2.0, 4.0, 3.0, 1.0]})
    nullable = plain.convert_dtypes()
    assert set(map(str, nullable.dtypes)) == {"Int64", "Float64"}
    np.testing.assert_array_equal(standardize(nullable).apply(nullable), standardize(plain).apply(plain))
    y = pd.Series([0, 1, 0, 1, 0, 1]).convert_dtypes()
    parts = train_test_split(nullable, y, test_size=2, key=jax.random.key(0))
    expected = train_test_split(plain.to_numpy(float), y.to_numpy(int), test_size=2, key=jax.random.key(0))
    for got, want in zip(parts, expected):
        assert got.dtype.kind in "fi"
        np.testing.assert_array_equal(got, want)
    assert decomposition.pca(nullable, 1).components.shape == (1, 2)
    assert cluster.kmeans(nullable, 2, key=jax.random.key(0)).labels.shape == (6,)
    with_na = pd.DataFrame({"a": [1, None, 3]}).convert_dtypes()
    with pytest.raises(ValueError, match=r"`X` contains 1 NaN"):
        standardize(with_na)
    import optax

    import jaxfit
    from jaxfit import models
    with pytest.raises(ValueError, match=r"`y` contains 1 NaN"):  # a missing label, not "non-integral"
        jaxfit.fit(models.logistic(), "binary_cross_entropy", plain[["a"]],
                   pd.Series([0, None, 1, 0, 1, 0]).convert_dtypes(), optimizer=optax.sgd(0.1), steps=2)

"""`Dataset` and `load_csv`: a CSV file to float features and encoded labels.

Everything a CSV can get wrong (a missing column, text in a feature, an empty cell) is
caught here, once, with the column named, so the numeric code downstream only ever
sees finite float32 features and int32 class indices.
"""

from __future__ import annotations

import io
import os
import warnings
from typing import Any, NamedTuple, Sequence

import numpy as np

from .._validation import check_choice

_FLOAT32_MAX = float(np.finfo(np.float32).max)


class Dataset(NamedTuple):
    """Features and targets ready for jaxfit, with the names needed to read them back.

    Attributes:
      X: float32 features, shape `[n, d]`.
      y: int32 class indices in `[0, len(classes))` for classification, float32
        targets for regression; shape `[n]`.
      feature_names: one name per column of `X`.
      classes: the original class labels, `classes[i]` being the label encoded as
        `i`; None for regression.
    """

    X: np.ndarray  # float32 [n, d]
    y: np.ndarray  # int32 [n] (classification) or float32 [n] (regression)
    feature_names: tuple[str, ...]
    classes: tuple[Any, ...] | None


def _import_pandas():
    try:
        import pandas as pd
    except ImportError:
        raise ImportError(
            'Reading CSV files needs pandas, which is not installed. Install it with '
            'pip install "jaxfit[csv]".') from None
    return pd


def _read(pd, path):
    if not hasattr(path, "read"):
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"`path` must be a file path or an open file; got {type(path).__name__}.")
        path = os.path.expanduser(path)  # "~/data.csv", as pandas.read_csv reads it
        if os.path.isdir(path):
            raise ValueError(f"`path` {os.fspath(path)!r} is a folder; pass the CSV file in it.")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"`path`: no such file {os.fspath(path)!r}. Check the path "
                                    f"and the working directory ({os.getcwd()!r}).")
    shown = getattr(path, "name", "<file>") if hasattr(path, "read") else os.fspath(path)
    try:
        if hasattr(path, "read"):  # parsed twice below (text columns): an open file is read once
            content = path.read()
            path = io.BytesIO(content) if isinstance(content, bytes) else io.StringIO(content)
        # Nullable dtypes keep an integer column integer when it has empty cells, so
        # "is the target integer (classification)?" does not depend on missing values.
        # index_col=False: with index_col=None, data rows one field longer than the header
        # make pandas take the first column as the index, shifting every value one column
        # left under the wrong names; False reads a trailing delimiter as the end of the
        # row, and a real extra value warns, which is made an error here.
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            df = pd.read_csv(path, dtype_backend="numpy_nullable", index_col=False)
    except pd.errors.ParserWarning:
        raise ValueError(f"`path` {shown!r} has data rows with more fields than its header row "
                         f"names; give every column a name in the header, or remove the extra "
                         f"values.") from None
    except pd.errors.EmptyDataError:
        raise ValueError(f"`path` {shown!r} is empty: expected a header row and data rows.") from None
    except pd.errors.ParserError as err:
        raise ValueError(f"`path` {shown!r} is not a well-formed CSV file: {err}") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"`path` {shown!r} is not UTF-8 text ({err}); save the CSV as "
                         f"UTF-8.") from None
    if len(df) == 0:
        raise ValueError(f"`path` {shown!r} has a header but no data rows; it needs at least one.")
    # pandas reads "NA", "None", "null", "nan", ... as missing in every column. In a text
    # column they are values (a region "NA", a class "None"), and `missing='drop'` would
    # silently drop a whole class: there only an empty cell is missing.
    text = [c for c in df.columns if df[c].isna().any() and not pd.api.types.is_numeric_dtype(df[c])]
    if text:
        if hasattr(path, "seek"):  # the in-memory copy of an open file
            path.seek(0)
        raw = pd.read_csv(path, usecols=text, dtype=str, keep_default_na=False, na_values=[""],
                          index_col=False)
        for c in text:
            df[c] = raw[c].astype(df[c].dtype)
    return df


def _select(df, target, features) -> list[str]:
    columns = [str(c) for c in df.columns]
    if not isinstance(target, str):
        raise TypeError(f"`target` must be a column name (str); got {type(target).__name__} {target!r}.")
    if target not in columns:
        raise ValueError(f"`target` column {target!r} is not in the file; its columns are {columns}.")
    if features is None:
        features = [c for c in columns if c != target]
        if not features:
            raise ValueError(f"`target` {target!r} is the only column of the file; it needs at "
                             f"least one feature column besides the target.")
        return features
    if isinstance(features, str) or not hasattr(features, "__iter__"):
        raise TypeError(f"`features` must be a list of column names or None; got "
                        f"{type(features).__name__} {features!r}. For one column pass [{features!r}].")
    features = list(features)
    if not all(isinstance(f, str) for f in features):
        raise TypeError(f"`features` must hold column names (str); got {features!r}.")
    unknown = [f for f in features if f not in columns]
    if unknown:
        raise ValueError(f"`features` names columns that are not in the file: {unknown}; its "
                         f"columns are {columns}.")
    if target in features:
        raise ValueError(f"`features` includes the target column {target!r}; leave it out.")
    duplicated = sorted({f for f in features if features.count(f) > 1})
    if duplicated:
        raise ValueError(f"`features` lists {duplicated} more than once; name each column once.")
    if not features:
        raise ValueError("`features` is empty; select at least one column, or pass None for all.")
    return features


def _handle_missing(df, used, missing):
    counts = df[used].isna().sum()
    if not counts.any():
        return df
    if missing == "drop":
        df = df.dropna(subset=used)
        if len(df) == 0:
            raise ValueError("`missing`='drop' removed every row: each row has an empty value in "
                             "one of the selected columns. Select fewer columns with `features`.")
        return df
    column = next(c for c in used if counts[c] > 0)
    first = int(np.flatnonzero(df[column].isna().to_numpy())[0])
    raise ValueError(
        f"Column {column!r} has {int(counts[column])} missing value(s) (the first in data row "
        f"{first + 1} after the header). Pass missing='drop' to drop incomplete rows, or fill them "
        f"in first; `missing` decides.")


def _non_numeric(pd, series) -> str:
    """The first cell of `series` that does not parse as a number, and its data row."""
    bad = pd.to_numeric(series, errors="coerce").isna().to_numpy()
    i = int(np.argmax(bad)) if bad.any() else 0
    return f"e.g. {series.iloc[i]!r} in data row {series.index[i]} after the header"


def _float32(series, kind: str) -> np.ndarray:
    """A numeric column as float32, refusing infinities and values past float32's range
    (which would become infinities)."""
    values = series.to_numpy(dtype=np.float64)
    bad = ~(np.abs(values) <= _FLOAT32_MAX)
    if bad.any():
        i = int(np.argmax(bad))
        value, where = float(values[i]), f"{kind} column {series.name!r}"
        row = f"data row {series.index[i]} after the header"
        if not np.isfinite(value):
            raise ValueError(f"{where} holds infinite values (the first in {row}); replace them "
                             f"before loading.")
        raise ValueError(f"{where} holds {value!r} ({row}), which overflows float32 (largest "
                         f"{_FLOAT32_MAX:.4g}); rescale the column (e.g. change its units) "
                         f"before loading.")
    return values.astype(np.float32)


def _features(pd, df, features, categorical):
    blocks, names = [], []
    for col in features:
        series = df[col]
        if pd.api.types.is_numeric_dtype(series.dtype):
            blocks.append(_float32(series, "Feature").reshape(-1, 1))
            names.append(col)
        elif categorical == "one_hot":
            dummies = pd.get_dummies(series.astype(str), prefix=col, prefix_sep="=", dtype=np.float32)
            blocks.append(dummies.to_numpy(dtype=np.float32))
            names.extend(str(c) for c in dummies.columns)
        else:
            raise ValueError(
                f"Feature column {col!r} is not numeric (dtype {series.dtype}, "
                f"{_non_numeric(pd, series)}). Pass categorical='one_hot' to one-hot encode it, "
                f"or leave it out of `features`.")
    return np.concatenate(blocks, axis=1), tuple(names)


def _target(pd, series, name, task):
    numeric = pd.api.types.is_numeric_dtype(series.dtype)
    is_float = numeric and pd.api.types.is_float_dtype(series.dtype)
    if task == "auto":
        task = "regression" if is_float else "classification"
    if task == "regression":
        if not numeric:
            raise ValueError(f"`task`='regression' needs a numeric target, but column {name!r} "
                             f"holds {series.dtype} values ({_non_numeric(pd, series)}). Use "
                             f"task='classification' or choose another `target`.")
        return _float32(series, "Target"), None
    codes, uniques = pd.factorize(series, sort=True)
    if len(uniques) < 2:
        raise ValueError(f"`target` column {name!r} has a single class {uniques[0]!r}; "
                         f"classification needs at least two. Check the column, or use "
                         f"task='regression' for a numeric target.")
    return codes.astype(np.int32), tuple(uniques.tolist())


def load_csv(path, target: str, *, features: Sequence[str] | None = None, task: str = "auto",
             missing: str = "error", categorical: str = "error") -> Dataset:
    """Read a CSV file (header row first) into a `Dataset`. Needs pandas.

    Args:
      path: path of the CSV file, or an open text file.
      target: name of the column to predict.
      features: columns to use as features, in this order; None takes every column
        but the target.
      task: "classification" label-encodes the target (classes sorted, kept in
        `Dataset.classes`); "regression" keeps it as float. "auto" picks
        classification for text, boolean and integer columns, regression for float.
      missing: "error" raises on an empty cell in a selected column; "drop" drops
        those rows.
      categorical: "error" raises on a non-numeric feature column; "one_hot" turns it
        into one 0/1 column per value, named like "color=red".

    Returns:
      A `Dataset` with float32 `X` and int32 (classification) or float32 `y`.

    Example:
      >>> with open("flowers.csv", "w") as f:
      ...     _ = f.write("petal_length,petal_width,species\\n"
      ...                 "1.4,0.2,setosa\\n"
      ...                 "4.7,1.4,versicolor\\n"
      ...                 "6.0,2.5,virginica\\n"
      ...                 "1.3,0.2,setosa\\n")
      >>> data = load_csv("flowers.csv", target="species")
      >>> data.X.shape, data.classes
      ((4, 2), ('setosa', 'versicolor', 'virginica'))
      >>> data.y
      array([0, 1, 2, 0], dtype=int32)
    """
    check_choice(task, "task", ("auto", "classification", "regression"))
    check_choice(missing, "missing", ("error", "drop"))
    check_choice(categorical, "categorical", ("error", "one_hot"))
    pd = _import_pandas()
    df = _read(pd, path)
    df.columns = [str(c) for c in df.columns]
    df.index = np.arange(1, len(df) + 1)  # data row numbers for messages, kept by dropna
    features = _select(df, target, features)
    df = _handle_missing(df, [target, *features], missing)
    X, names = _features(pd, df, features, categorical)
    y, classes = _target(pd, df[target], target, task)
    return Dataset(X, y, names, classes)

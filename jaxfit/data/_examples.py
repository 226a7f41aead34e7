"""Small public data sets shipped with jaxfit, for examples, tests and demos.

The CSV files in `examples/` are complete and numeric apart from the target, so they
are read with the standard library: `load_example` works without pandas, on a bare
`pip install jaxfit`. Sources and licences are in `examples/README.md`.
"""

from __future__ import annotations

import csv
import io
from importlib import resources

import numpy as np

from ._csv import Dataset

# name -> (target column, task)
_EXAMPLES = {
    "breast_cancer": ("diagnosis", "classification"),
    "diabetes": ("progression", "regression"),
    "iris": ("species", "classification"),
    "wine": ("cultivar", "classification"),
}
EXAMPLES = tuple(_EXAMPLES)


def load_example(name: str) -> Dataset:
    """Load a bundled data set as a `Dataset`.

    | name | task | samples × features | target |
    | --- | --- | --- | --- |
    | "breast_cancer" | binary classification | 569 × 30 | diagnosis: benign / malignant |
    | "diabetes" | regression | 442 × 10 | disease progression after one year |
    | "iris" | 3-class classification | 150 × 4 | species: setosa / versicolor / virginica |
    | "wine" | 3-class classification | 178 × 13 | cultivar: class_0 / class_1 / class_2 |

    Class labels are encoded in sorted order, as `load_csv` does, so for
    "breast_cancer" `y == 1` means malignant. The diabetes features are in their
    original units (not scikit-learn's scaled version).

    Args:
      name: one of `EXAMPLES`.

    Example:
      >>> data = load_example("iris")
      >>> data.X.shape, data.classes
      ((150, 4), ('setosa', 'versicolor', 'virginica'))
    """
    if not isinstance(name, str):
        raise TypeError(f"`name` must be a str, one of {list(EXAMPLES)}; got {type(name).__name__} {name!r}.")
    if name not in _EXAMPLES:
        raise ValueError(f"`name` must be one of {list(EXAMPLES)}; got {name!r}.")
    target, task = _EXAMPLES[name]
    text = resources.files(__package__).joinpath("examples", f"{name}.csv").read_text("utf-8")
    header, *rows = csv.reader(io.StringIO(text))
    t = header.index(target)
    feature_names = tuple(h for i, h in enumerate(header) if i != t)
    X = np.array([[float(v) for i, v in enumerate(row) if i != t] for row in rows], np.float32)
    labels = [row[t] for row in rows]
    if task == "regression":
        return Dataset(X, np.array(labels, np.float64).astype(np.float32), feature_names, None)
    classes, y = np.unique(labels, return_inverse=True)
    return Dataset(X, y.astype(np.int32), feature_names, tuple(classes.tolist()))

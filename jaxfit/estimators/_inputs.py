"""Input validation in plain NumPy, with scikit-learn's error types and messages.

scikit-learn's estimator checks match on these messages ("Complex data not supported",
"Reshape your data", "Unknown label type", ...), and a user who knows scikit-learn
recognises them. Everything is checked here, before any array reaches the core.
"""

from __future__ import annotations

import numbers
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from .._validation import float_dtype, from_pandas
from ._errors import DataConversionWarning, sklearn_class


def _is_sparse(x) -> bool:
    return type(x).__module__.startswith("scipy.sparse")


def _to_numpy(x, name: str) -> np.ndarray:
    """`x` (NumPy, pandas, JAX, lists) as a NumPy array, refusing sparse and complex."""
    if x is None:
        raise ValueError(f"`{name}` is None; expected array-like (array or non-string sequence), got None.")
    if _is_sparse(x):
        raise TypeError(f"Sparse input is not supported: `{name}` is a {type(x).__name__}. "
                        f"Pass a dense array, e.g. {name}.toarray().")
    arr = np.asarray(from_pandas(x))
    if arr.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: `{name}` has dtype {arr.dtype}.")
    return arr


def feature_names(X) -> np.ndarray | None:
    """Column names of a DataFrame when they are all strings (scikit-learn's rule)."""
    columns = getattr(X, "columns", None)
    if columns is None or isinstance(X, (np.ndarray, jax.Array)) or len(columns) == 0:
        return None
    names = np.asarray(list(columns), dtype=object)
    types = {type(v).__name__ for v in names}
    if len(types) > 1 and "str" in types:
        raise TypeError(f"Feature names are only supported if all input features have string "
                        f"names; got column name types {sorted(types)}. Convert them with "
                        f"X.columns = X.columns.astype(str).")
    return names if types == {"str"} else None


def as_float_matrix(X, name: str = "X"):
    """Check a feature matrix: 2-D, non-empty, real, finite.

    Returns float64 NumPy, except that a JAX array stays a JAX array (in the working
    float dtype) on its device: data already on an accelerator is not copied through
    host memory.
    """
    on_device = isinstance(X, jax.Array)
    arr = X if on_device else _to_numpy(X, name)
    if np.dtype(arr.dtype).kind == "c":
        raise ValueError(f"Complex data not supported: `{name}` has dtype {arr.dtype}.")
    if arr.ndim != 2:
        raise ValueError(f"Expected a 2D array for `{name}`, got a {arr.ndim}D array of shape "
                         f"{arr.shape} instead. Reshape your data either using "
                         f"array.reshape(-1, 1) if your data has a single feature or "
                         f"array.reshape(1, -1) if it contains a single sample.")
    # Object and string arrays fail here, with NumPy's own message.
    arr = arr.astype(float_dtype()) if on_device else np.asarray(arr, dtype=np.float64)
    if arr.shape[0] == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape={arr.shape}) while a minimum of 1 is required.")
    if arr.shape[1] == 0:
        raise ValueError(f"Found array with 0 feature(s) (shape={arr.shape}) while a minimum of 1 is required.")
    if not bool((jnp if on_device else np).isfinite(arr).all()):
        raise ValueError(f"Input `{name}` contains NaN or infinity; remove or impute those values first.")
    if not on_device:  # a JAX array is in the compute dtype already
        check_range(arr, name)
    return arr


def check_range(arr: np.ndarray, name: str) -> None:
    """Refuse finite float64 values that the cast to the compute dtype makes infinite.

    Checking finiteness in float64 alone lets 1e300 through, to reach the device as inf
    (float32 ends at 3.4e38) and silently turn the fit into NaN.
    """
    dtype = np.dtype(float_dtype())
    limit = np.finfo(dtype).max
    too_large = np.abs(arr) > limit
    if too_large.any():
        where = np.argwhere(too_large)[0].tolist()
        raise ValueError(
            f"Input `{name}` has {int(too_large.sum())} value(s) too large for {dtype}, the "
            f"dtype jaxfit computes in (magnitude at most {limit:.4g}); got {arr[tuple(where)]:.4g} "
            f"at index {where}. Rescale `{name}` (e.g. divide it by a constant, or use "
            f"StandardScaler), or compute in float64: jax.config.update('jax_enable_x64', True).")


def as_sample_weight(sample_weight, n: int) -> np.ndarray:
    """Non-negative finite weights of shape `(n,)`; all ones when None."""
    if sample_weight is None:
        return np.ones(n)
    w = np.asarray(_to_numpy(sample_weight, "sample_weight"), dtype=np.float64)
    if w.ndim == 0:
        w = np.full(n, float(w))
    if w.shape != (n,):
        raise ValueError(f"`sample_weight` must have shape ({n},), one weight per sample; got {w.shape}.")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("`sample_weight` must be finite and non-negative.")
    if not (w > 0).any():
        raise ValueError("`sample_weight` is zero everywhere; at least one sample needs weight.")
    return w


def check_length(X: np.ndarray, y: np.ndarray) -> None:
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"Found input variables with inconsistent numbers of samples: "
                         f"X has {X.shape[0]}, y has {y.shape[0]}.")


def device_array(x: np.ndarray) -> jax.Array:
    """Float data on the device in JAX's working precision (float32 unless x64),
    cast on the host: `jnp.asarray` would compile a program for the cast."""
    return jax.device_put(np.asarray(x, dtype=float_dtype()))


def requires_y(estimator, y) -> None:
    if y is None:
        raise ValueError(f"{type(estimator).__name__} requires y to be passed, but the target y is None.")


def as_targets(y, *, multi_output: bool) -> np.ndarray:
    """Regression targets: finite floats `(n,)`, or `(n, m)` when `multi_output`.

    A column vector is raveled with a `DataConversionWarning` for single-output models,
    as scikit-learn does.
    """
    arr = np.asarray(_to_numpy(y, "y"), dtype=np.float64)
    arr = column_to_1d(arr, multi_output)
    if not np.isfinite(arr).all():
        raise ValueError("Input `y` contains NaN or infinity; remove those samples first.")
    check_range(arr, "y")
    return arr


def column_to_1d(y: np.ndarray, multi_output: bool) -> np.ndarray:
    if y.ndim == 2 and y.shape[1] == 1 and not multi_output:
        warnings.warn(sklearn_class("DataConversionWarning", DataConversionWarning)(
            "A column-vector y was passed when a 1d array was expected. Please change the "
            "shape of y to (n_samples,), for example using ravel()."), stacklevel=3)
        return y[:, 0]
    if y.ndim not in ((1, 2) if multi_output else (1,)):
        raise ValueError(f"`y` must be a 1D array{' or a 2D array' if multi_output else ''}; "
                         f"got shape {y.shape}.")
    return y


def encode_labels(y) -> tuple[np.ndarray, np.ndarray]:
    """`(classes_, codes)`: sorted class labels and each sample's index into them.

    Raises scikit-learn's "Unknown label type" for continuous targets and a clear
    error for a single class.
    """
    arr = column_to_1d(_to_numpy(y, "y"), multi_output=False)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ValueError("Input `y` contains NaN or infinity; every sample needs a class label.")
        if not np.all(arr == np.round(arr)):
            raise ValueError("Unknown label type: continuous. A classifier needs class labels; "
                             "use a regressor for continuous targets.")
    if arr.dtype == object and not all(isinstance(v, (str, numbers.Integral)) for v in arr):
        raise ValueError("Unknown label type: labels must be all strings or all integers.")
    classes, codes = np.unique(arr, return_inverse=True)
    if classes.size < 2:
        raise ValueError(f"This solver needs samples of at least 2 classes in the data, but the "
                         f"data contains only one class: {classes[0]!r}.")
    return classes, codes.astype(np.int32)

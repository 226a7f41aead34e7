"""Search spaces: a dict of arrays whose leading axis G indexes the configurations.

Hyperparameters are data (ARCHITECTURE.md, idea 4): a space holds numbers only, so
`search` can `vmap` over them and compile once for all their values. Values that change
shapes or code (layer sizes, batch size, solver choice) go in `search(static=...)`.
"""

from __future__ import annotations

import itertools
import numbers
from typing import Any, NamedTuple, Sequence

import jax
import numpy as np

from .._validation import check_int, check_key, float_dtype

Space = dict  # name -> array with leading axis G


def _int32(arr: np.ndarray, where: str) -> np.ndarray:
    """Integer hyperparameters as int32, as JAX traces them: refused, not wrapped around,
    when out of range."""
    info = np.iinfo(np.int32)
    if arr.size and (arr.min() < info.min or arr.max() > info.max):
        raise ValueError(f"{where} holds integers outside the int32 range [{info.min}, "
                         f"{info.max}] of traced values; got {arr.min()} to {arr.max()}. Use "
                         f"smaller values (seeds below 2**31), or pass them through "
                         f"search(static=...).")
    return arr.astype(np.int32)


def _as_axis(name: str | None, values: Any) -> np.ndarray:
    """One hyperparameter's values as a 1-D numeric NumPy array; `name` None: the
    `values` of choice(), which belong to no hyperparameter yet."""
    where = f"`{name}`" if name else "`values` of choice()"
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        wrapped = f"{name}=[{values!r}]" if name else f"choice([{values!r}])"
        raise TypeError(f"{where} must be a list or 1-D array of values to try; got "
                        f"{values!r}. Wrap a single value in a list: {wrapped}.")
    try:
        arr = np.asarray(values)
    except ValueError:
        arr = np.asarray(values, dtype=object)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{where} must hold numbers (they are traced and vmapped); got "
                        f"{list(values)[:3]!r}. Pass values that change shapes or code, such "
                        f"as layer sizes or names, through search(static={{'{name or 'name'}': [...]}}).")
    if arr.ndim != 1:
        raise ValueError(f"{where} must be a 1-D list of values; got shape {arr.shape}.")
    if arr.size == 0:
        raise ValueError(f"{where} is empty; give at least one value to try.")
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ValueError(f"{where} contains NaN or infinite values; every value must be finite.")
        arr = arr.astype(np.float64)  # exact as given; cast to the working dtype on device
    elif arr.dtype.kind in "iu":
        arr = _int32(arr, where)
    return arr


def grid(**axes) -> Space:
    """The cartesian product of hyperparameter values, as a search space.

    Configurations are in row-major order over the keyword arguments as given: the last
    axis varies fastest (`itertools.product` order). Unlike scikit-learn's
    `ParameterGrid`, names are not sorted.

    Args:
      **axes: name -> list (or 1-D array) of numeric values to try.

    Returns:
      `{name: array [G]}` with G the product of the axis lengths.

    Example:
      >>> space = grid(C=[0.1, 1.0], l1_ratio=[0.0, 0.5, 1.0])
      >>> space["C"].shape
      (6,)
    """
    if not axes:
        raise ValueError("`grid` needs at least one hyperparameter, e.g. grid(C=[0.1, 1, 10]).")
    arrays = {name: _as_axis(name, values) for name, values in axes.items()}
    index = np.array(list(itertools.product(*(range(a.size) for a in arrays.values()))))
    return {name: arr[index[:, i]] for i, (name, arr) in enumerate(arrays.items())}


class Distribution(NamedTuple):
    """A distribution to draw one hyperparameter from; build it with `uniform`,
    `loguniform`, `randint` or `choice`."""

    kind: str           # "uniform" | "loguniform" | "randint" | "choice"
    low: float
    high: float
    values: tuple = ()  # the options of a "choice"

    def sample(self, key, n: int) -> np.ndarray:
        """`n` independent draws as a NumPy array."""
        dtype = float_dtype()
        # Drawn in the working dtype, whose rounding of the bounds (and of their logs)
        # can put a draw past them: clipped back into [low, high).
        inside = lambda x: np.clip(x, self.low, np.nextafter(self.high, -np.inf))
        if self.kind == "uniform":
            return inside(np.asarray(jax.random.uniform(key, (n,), dtype, self.low, self.high),
                                     np.float64))
        if self.kind == "loguniform":
            logs = jax.random.uniform(key, (n,), dtype, np.log(self.low), np.log(self.high))
            return inside(np.exp(np.asarray(logs, np.float64)))
        if self.kind == "randint":
            return np.asarray(jax.random.randint(key, (n,), int(self.low), int(self.high)))
        options = _as_axis(None, self.values)
        return options[np.asarray(jax.random.randint(key, (n,), 0, options.size))]


def _bounds(low, high, name: str, *, positive: bool = False) -> tuple[float, float]:
    for arg, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
            raise TypeError(f"`{arg}` of {name}() must be a finite real number; got {value!r}.")
    if positive and low <= 0:
        raise ValueError(f"`low` of {name}() must be > 0 (it is sampled on a log scale); got "
                         f"{low}. Use uniform() for ranges that include 0.")
    if not low < high:
        raise ValueError(f"{name}() needs `low` < `high`; got low={low}, high={high}.")
    return low, high


def uniform(low: float, high: float) -> Distribution:
    """Uniform on `[low, high)`, e.g. `momentum=uniform(0.8, 0.99)`."""
    return Distribution("uniform", *_bounds(low, high, "uniform"))


def loguniform(low: float, high: float) -> Distribution:
    """Log-uniform on `[low, high)`, for scales such as learning rates and strengths."""
    return Distribution("loguniform", *_bounds(low, high, "loguniform", positive=True))


def randint(low: int, high: int) -> Distribution:
    """Integers uniform on `[low, high)` (high excluded, as NumPy and SciPy)."""
    info = np.iinfo(np.int32)  # the dtype of the draws
    for arg, value in (("low", low), ("high", high)):
        check_int(value, f"{arg}` of `randint", minimum=info.min, maximum=info.max)
    return Distribution("randint", *_bounds(low, high, "randint"))


def choice(values: Sequence) -> Distribution:
    """One of `values` (numbers), each with equal probability."""
    _as_axis(None, values)
    return Distribution("choice", 0.0, 0.0, tuple(np.asarray(values).tolist()))


def random_search_space(key, n: int, **distributions) -> Space:
    """`n` configurations drawn independently, for random search.

    Args:
      key: `jax.random.key`; each hyperparameter draws from its own sub-key, in the
        order the keywords are given.
      n: number of configurations G.
      **distributions: name -> a `uniform`, `loguniform`, `randint` or `choice`
        distribution; a plain list of numbers is shorthand for `choice(list)`.

    Returns:
      `{name: array [n]}`.

    Example:
      >>> space = random_search_space(jax.random.key(0), 50,
      ...                             learning_rate=loguniform(1e-4, 1e-1),
      ...                             momentum=[0.0, 0.9])
    """
    key = check_key(key, default=None)
    n = check_int(n, "n", minimum=1)
    if not distributions:
        raise ValueError("`random_search_space` needs at least one hyperparameter, e.g. "
                         "lr=loguniform(1e-4, 1e-1).")
    space = {}
    for sub_key, (name, dist) in zip(jax.random.split(key, len(distributions)), distributions.items()):
        if isinstance(dist, (list, tuple)) and not isinstance(dist, Distribution):
            _as_axis(name, dist)  # errors name the hyperparameter
            dist = choice(dist)
        if not isinstance(dist, Distribution):
            raise TypeError(f"`{name}` must be a distribution (uniform, loguniform, randint, "
                            f"choice) or a list of values; got {dist!r}.")
        space[name] = dist.sample(sub_key, n)
    return space


def check_space(space: Any) -> tuple[Space, int]:
    """Validate a search space; returns it as NumPy arrays and its number of configs G.

    An empty dict is one configuration with no traced hyperparameters (a search over
    `static` values only).
    """
    if not isinstance(space, dict):
        raise TypeError(f"`space` must be a dict of arrays with a leading axis G, such as "
                        f"grid(C=[0.1, 1]); got {type(space).__name__}.")
    if not space:
        return {}, 1
    out = {}
    for name, values in space.items():
        if not isinstance(name, str):
            raise TypeError(f"`space` keys must be hyperparameter names (str); got {name!r}.")
        try:
            arr = np.asarray(values)
        except ValueError:  # ragged: a list mixing numbers and sequences
            arr = np.asarray(values, dtype=object)
        if arr.dtype.kind not in "biuf" or arr.ndim == 0:
            raise TypeError(f"`space['{name}']` must be a numeric array with a leading axis G; "
                            f"got {values!r:.80}. Use grid() or random_search_space(), and put "
                            f"non-numeric values in `static`.")
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise ValueError(f"`space['{name}']` contains NaN or infinite values.")
        out[name] = _int32(arr, f"`space['{name}']`") if arr.dtype.kind in "iu" else arr
    sizes = {name: arr.shape[0] for name, arr in out.items()}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"`space` arrays must share their leading axis G (one entry per "
                         f"configuration); got lengths {sizes}.")
    g = next(iter(sizes.values()))
    if g == 0:
        raise ValueError("`space` has no configurations (G = 0).")
    return out, g

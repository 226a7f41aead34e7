"""Checks run in plain Python at the public boundary, before anything is traced.

Shape and type checks always run. Value checks (NaN/inf, label sets, sign) run only
when the array is concrete: inside `vmap`/`jit` a traced value cannot be inspected, and
nothing may raise from inside a trace for a value the user could not see.
"""

from __future__ import annotations

import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def is_traced(x: Any) -> bool:
    """True if `x` is a JAX tracer (we are inside jit/vmap/grad)."""
    return isinstance(x, jax.core.Tracer)


def float_dtype():
    """The working float dtype: float64 under `jax_enable_x64`, else float32."""
    return jnp.float64 if jax.config.jax_enable_x64 else jnp.float32


def _describe(x: Any) -> str:
    shape = getattr(x, "shape", None)
    if shape is not None:
        return f"an array of shape {tuple(shape)} and dtype {getattr(x, 'dtype', '?')}"
    return f"{type(x).__name__} {x!r}"[:120]


def dtype_kind(x: Any) -> str:
    """NumPy's kind letter of `x`'s dtype ("f", "i", ...), with "f" for bfloat16 and
    the other ml_dtypes floats, which NumPy calls "V" (void)."""
    try:
        dtype = x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype
    except ValueError:  # ragged: `as_array` names the argument when it converts it
        return "O"
    return "f" if jnp.issubdtype(dtype, jnp.floating) else np.dtype(dtype).kind


def from_pandas(x: Any) -> Any:
    """A pandas Series or DataFrame as a NumPy array (positional rows, whatever the
    index says); anything else as it is. Nullable columns (Int64, Float64, boolean)
    hold pd.NA, which NumPy cannot cast: it becomes NaN, which the finiteness checks
    name. A frame mixing numeric kinds of nullable columns, which pandas would turn
    into objects, becomes floats."""
    if not (hasattr(x, "to_numpy") and type(x).__module__.startswith("pandas")):
        return x
    arr = x.to_numpy(na_value=np.nan)
    dtypes = list(x.dtypes) if hasattr(x, "columns") else [x.dtype]
    if arr.dtype == object and dtypes and all(getattr(d, "kind", "O") in "biuf" for d in dtypes):
        arr = x.to_numpy(dtype=np.float64, na_value=np.nan)
    return arr


def as_array(x: Any, name: str, *, ndim: int | tuple[int, ...] | None = None,
             dtype: str = "float", allow_empty: bool = False) -> jax.Array:
    """Convert `x` to a JAX array and check its rank, kind and finiteness.

    Args:
      x: array-like (NumPy, JAX, pandas, list).
      name: the argument's name, used in error messages.
      ndim: accepted rank or ranks.
      dtype: "float" (integers and low-precision floats are promoted to the working
        float dtype), "int" (integer labels; integral floats are accepted) or "any".
      allow_empty: accept arrays with a zero-length axis.
    """
    x = from_pandas(x)
    if not is_traced(x):
        try:
            x_np = np.asarray(x)
        except Exception as err:  # ragged lists and the like
            raise TypeError(f"`{name}` must be array-like; got {_describe(x)} ({err}).") from None
        if x_np.dtype == object or dtype_kind(x_np) in "USV":
            raise TypeError(
                f"`{name}` must hold numbers; got dtype {x_np.dtype}. Encode text or "
                f"categories as numbers first (e.g. jaxfit.data.load_csv label-encodes a "
                f"string target).")
        x = x if isinstance(x, jax.Array) else x_np
    kind = dtype_kind(x)
    if kind not in "biuf":
        raise TypeError(f"`{name}` must be a real numeric array; got dtype {x.dtype}.")
    if ndim is not None:
        ndims = (ndim,) if isinstance(ndim, int) else ndim
        if x.ndim not in ndims:
            want = " or ".join(f"{d}-D" for d in ndims)
            hint = " Reshape a single feature with X.reshape(-1, 1)." if 2 in ndims and x.ndim == 1 else ""
            raise ValueError(f"`{name}` must be a {want} array; got {_describe(x)}.{hint}")
    if not allow_empty and x.size == 0:
        if x.ndim == 2 and x.shape[0]:
            raise ValueError(f"`{name}` has no columns (shape {tuple(x.shape)}); it needs at "
                             f"least one feature.")
        raise ValueError(f"`{name}` is empty (shape {tuple(x.shape)}); it needs at least one sample.")
    if dtype == "float":
        target = float_dtype() if (kind != "f" or np.dtype(x.dtype).itemsize < 4) else x.dtype
        if jnp.dtype(target) == jnp.float64 and not jax.config.jax_enable_x64:
            target = jnp.float32
        x = _cast(x, target)
        check_finite(x, name)
    elif dtype == "int":
        if kind == "f":
            check_finite(x, name)  # a missing label (NaN) is named as such, not as non-integral
            if not is_traced(x) and not np.all(np.equal(np.mod(np.asarray(x), 1), 0)):
                raise ValueError(f"`{name}` must hold integer class labels; got non-integral values.")
        if not is_traced(x) and x.size:
            low, high = np.min(np.asarray(x)), np.max(np.asarray(x))
            if low < np.iinfo(np.int32).min or high > np.iinfo(np.int32).max:
                raise ValueError(f"`{name}` holds integers from {low} to {high}, outside the "
                                 f"int32 range that JAX computes with; relabel them (e.g. "
                                 f"np.unique(y, return_inverse=True)[1]) or, for a regression "
                                 f"target, pass floats (y.astype(float)).")
        x = _cast(x, jnp.int32)
    else:
        x = _cast(x, None)
    return jax.device_put(x) if isinstance(x, np.ndarray) else x


def _cast(x, dtype):
    """`x` as `dtype` (None: JAX's default for it); NumPy input stays on the host, so
    that it is checked there and then copied with `device_put`: `jnp.asarray` would
    compile a program to copy it (30-70 ms at a process's first call)."""
    if isinstance(x, np.ndarray):
        return x.astype(jax.dtypes.canonicalize_dtype(x.dtype if dtype is None else dtype), copy=False)
    return jnp.asarray(x, dtype=dtype)


def optional_weights(sample_weight: Any, X: jax.Array) -> jax.Array | None:
    """Checked `sample_weight` `[n]` in X's dtype, or None for unit weights, which the
    compiled program then makes (`weights_or_ones`)."""
    if sample_weight is None:
        return None
    return check_weights(sample_weight, X.shape[0]).astype(X.dtype)


def weights_or_ones(w: jax.Array | None, n: int, dtype) -> jax.Array:
    """In a compiled program: `w` as `dtype`, or unit weights `[n]` when None.

    Public functions pass None for "no weights" into their compiled program and the
    ones are made there: built eagerly, they would be a program of their own, compiled
    at the first call in a process.
    """
    return jnp.ones((n,), dtype) if w is None else w.astype(dtype)


def constant_columns(values: jax.Array, w: jax.Array) -> jax.Array:
    """In a compiled program: whether each column of `values` `[n]` or `[n, m]` holds a
    single value over the rows of positive weight `w` `[n]`. Found exactly: a weighted
    mean of equal values may round away from them, leaving a spread of rounding residue.
    """
    used = (w > 0).reshape(w.shape + (1,) * (values.ndim - 1))
    return (jnp.max(jnp.where(used, values, -jnp.inf), axis=0)
            == jnp.min(jnp.where(used, values, jnp.inf), axis=0))


def check_finite(x: jax.Array, name: str) -> None:
    """Raise if a concrete float array holds NaN or inf."""
    if is_traced(x) or not jnp.issubdtype(x.dtype, jnp.floating):
        return
    bad = ~np.isfinite(np.asarray(x))
    if bad.any():
        where = np.argwhere(bad)[0].tolist()
        raise ValueError(
            f"`{name}` contains {int(bad.sum())} NaN or infinite value(s) (first at index "
            f"{where}). Remove or impute them before fitting.")


def check_length(n: int, x: jax.Array, name: str, ref: str = "X") -> None:
    """Raise if `x` does not have `n` rows."""
    if x.shape[0] != n:
        raise ValueError(
            f"`{name}` has {x.shape[0]} rows but `{ref}` has {n}; they must have one entry "
            f"per sample.")


def check_weights(w: Any, n: int, name: str = "sample_weight") -> jax.Array:
    """A 1-D, non-negative weight vector of length `n`, not all zero when concrete."""
    w = as_array(w, name, ndim=1)
    check_length(n, w, name)
    if not is_traced(w):
        w_np = np.asarray(w)
        if (w_np < 0).any():
            raise ValueError(f"`{name}` must be non-negative; got a minimum of {w_np.min()}.")
        if not (w_np > 0).any():
            raise ValueError(f"`{name}` is zero everywhere; at least one sample needs weight.")
    return w


INT32_MAX = 2**31 - 1  # step counters and sizes travel through jit as int32


def check_int(value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None,
              allow_none: bool = False) -> int | None:
    """A Python integer in `[minimum, maximum]`."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an integer; got {_describe(value)}.")
    if minimum is not None and value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}; got {value}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"`{name}` must be <= {maximum}; got {value}.")
    return int(value)


def check_scalar(value: Any, name: str, *, minimum: float | None = None, maximum: float | None = None,
                 strict_min: bool = False, allow_none: bool = False):
    """A real scalar (Python number or 0-d array, possibly traced) within bounds."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not (isinstance(value, numbers.Real) or (
            hasattr(value, "shape") and tuple(value.shape) == ())):
        raise TypeError(f"`{name}` must be a real scalar; got {_describe(value)}.")
    if is_traced(value):
        return value
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"`{name}` must be finite; got {v}.")
    if minimum is not None and (v <= minimum if strict_min else v < minimum):
        raise ValueError(f"`{name}` must be {'>' if strict_min else '>='} {minimum}; got {v}.")
    if maximum is not None and v > maximum:
        raise ValueError(f"`{name}` must be <= {maximum}; got {v}.")
    return value


def check_choice(value: Any, name: str, choices) -> Any:
    """`value` must be one of `choices`."""
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {sorted(choices)}; got {value!r}.")
    return value


def host_key(seed: int) -> jax.Array:
    """`jax.random.key(seed)`, built on the host when the default PRNG is threefry: the
    same key without compiling the seeding function (~60 ms in a fresh process)."""
    seed = int(seed)
    if jax.config.jax_default_prng_impl != "threefry2x32" or not 0 <= seed < 2**31:
        return jax.random.key(seed)
    return jax.random.wrap_key_data(np.array([0, seed], np.uint32))  # threefry's seed words


def check_key(key: Any, name: str = "key", *, default: int | None = 0) -> jax.Array:
    """A typed PRNG key. Raw uint32[2] keys are wrapped; None gives `jax.random.key(default)`."""
    if key is None:
        if default is None:
            raise ValueError(f"`{name}` is required: pass jax.random.key(seed).")
        return host_key(default)
    if isinstance(key, numbers.Integral) and not isinstance(key, bool):
        raise TypeError(f"`{name}` must be a JAX PRNG key; got the integer {key}. "
                        f"Pass jax.random.key({key}).")
    if hasattr(key, "dtype") and key.dtype == jnp.uint32 and tuple(key.shape)[-1:] == (2,):
        key = jax.random.wrap_key_data(key)
    if hasattr(key, "dtype") and jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise ValueError(f"`{name}` must be a single key; got a batch of keys of shape "
                             f"{tuple(key.shape)}. Pass one (e.g. keys[0]), or jax.vmap over "
                             f"the keys.")
        return key
    raise TypeError(f"`{name}` must be a JAX PRNG key such as jax.random.key(0); got {_describe(key)}.")

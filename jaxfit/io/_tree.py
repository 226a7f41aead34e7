"""A pytree as a JSON description plus a list of NumPy arrays, and back.

The description never names code to import: a NamedTuple is recorded by its name and
field names and rebuilt from them (or matched against classes the caller passes), so a
file cannot make `load` import, call or unpickle anything.

Tree nodes in the description::

    {"type": "dict", "items": [[key, node], ...]}     # str keys, insertion order kept
    {"type": "list" | "tuple", "items": [node, ...]}
    {"type": "namedtuple", "name": ..., "module": ..., "qualname": ...,
     "fields": [...], "items": [node, ...]}
    {"type": "array", "leaf": i}                        # entry "leaf_<i>" of the file
    {"type": "none"} | {"type": "bool" | "int" | "str", "value": ...}
    {"type": "float", "value": float.hex(x)} | {"type": "complex", "value": [re, im]}
    {"type": "search_result", "items": [[field, node], ...]}  # a model_selection.SearchResult

Every leaf is described by `{"dtype": ..., "shape": [...]}` and referenced exactly once.
"""

from __future__ import annotations

import collections
import dataclasses
import keyword
import numbers
import re
from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np

# The .npy format writes ml_dtypes (bfloat16, float8_*, int4, ...) as opaque void
# types that NumPy cannot read back as numbers, so they are stored as unsigned
# integers of the same width and their name is kept in the leaf's description.
_ML_DTYPES = {
    name: np.dtype(t) for name in ml_dtypes.__all__
    if isinstance(t := getattr(ml_dtypes, name), type) and issubclass(t, np.generic)
}
_NATIVE_KINDS = "biufcSU"  # bool, ints, floats, complex, byte and unicode strings
_DTYPE_STR = re.compile(r"[<>|=][biufcSU][0-9]+\Z")


class FormatError(Exception):
    """The file's description is inconsistent; the caller adds the file's path."""


def _leaf_error(where: str, x: Any, reason: str) -> TypeError:
    return TypeError(f"Cannot save {where}: {reason} (got {type(x).__module__}."
                     f"{type(x).__qualname__}).")


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and isinstance(getattr(type(x), "_fields", None), tuple)


def _to_numpy(x: Any, where: str) -> tuple[np.ndarray, dict]:
    """The array to store for leaf `x`, and its description."""
    if isinstance(x, jax.core.Tracer):
        raise _leaf_error(where, x, "a traced value has no data; call save outside "
                          "jit/vmap/grad")
    if jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
        raise _leaf_error(where, x, "PRNG key arrays cannot be stored; save "
                          "jax.random.key_data(key) and rebuild the key with "
                          "jax.random.wrap_key_data")
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        raise ValueError(f"Cannot save {where}: the array spans several processes; gather it "
                         f"first (jax.experimental.multihost_utils.process_allgather).")
    arr = np.asarray(x)
    for name, dtype in _ML_DTYPES.items():
        if arr.dtype == dtype:
            return arr.view(f"u{dtype.itemsize}"), {"dtype": name, "shape": list(arr.shape)}
    if arr.dtype.kind not in _NATIVE_KINDS or arr.dtype.fields is not None:
        hint = ("object arrays would need pickle, which jaxfit files never hold; convert "
                "to a numeric dtype" if arr.dtype.kind == "O"
                else f"arrays of dtype {arr.dtype} are not supported")
        raise _leaf_error(where, x, hint)
    return arr, {"dtype": arr.dtype.str, "shape": list(arr.shape)}


def _search_result_fields(result) -> dict[str, Any]:
    """What a SearchResult saves: every field but its train_fn (`_refit`), which is code.

    A static axis's configs column is an object array (tuples, strings, ...), which
    .npy could only pickle: it is saved as a list of its values instead.
    """
    fields = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)
              if f.name != "_refit"}
    fields["configs"] = {name: list(values) if np.asarray(values).dtype == object else values
                         for name, values in result.configs.items()}
    return fields


def _search_result(fields: dict) -> Any:
    """Rebuild a SearchResult from `_search_result_fields`; it has no train_fn to refit."""
    from ..model_selection._result import SearchResult  # not at import: model_selection uses io

    names = [f.name for f in dataclasses.fields(SearchResult) if f.name != "_refit"]
    if sorted(fields) != sorted(names):
        raise FormatError(f"a search_result node must have the fields {names}; got {list(fields)}")
    for name in ("configs", "timings", "chunks"):
        if not isinstance(fields[name], dict):
            raise FormatError(f"the search result's {name!r} is not a dict")
    for name in ("scores", "status", "n_steps"):
        if not isinstance(fields[name], np.ndarray) and fields[name] is not None:  # None: unread
            raise FormatError(f"the search result's {name!r} is not an array")
    for name, values in fields["configs"].items():
        if isinstance(values, list):
            column = np.empty(len(values), object)
            for i, v in enumerate(values):
                # A NumPy scalar (saved as a 0-d array) is put back as the scalar it was.
                column[i] = v[()] if isinstance(v, np.ndarray) and v.ndim == 0 else v
            fields["configs"][name] = column
    return SearchResult(**fields)


def encode(tree: Any) -> tuple[dict, list[np.ndarray], list[dict]]:
    """Describe `tree`: the JSON node, the arrays to store and their descriptions.

    Raises:
      TypeError: for a leaf or key of a type that cannot be stored, naming where in the
        tree it sits (e.g. `tree['layers'][0].w`).
    """
    from ..model_selection._result import SearchResult  # not at import: model_selection uses io

    arrays: list[np.ndarray] = []
    specs: list[dict] = []

    def node(x: Any, where: str) -> dict:
        # NumPy scalars are arrays here (np.float64 is also a Python float).
        if isinstance(x, (np.ndarray, np.generic, jax.Array)):
            arr, spec = _to_numpy(x, where)
            arrays.append(arr)
            specs.append(spec)
            return {"type": "array", "leaf": len(arrays) - 1}
        if x is None:
            return {"type": "none"}
        if isinstance(x, bool):
            return {"type": "bool", "value": x}
        if isinstance(x, int):
            return {"type": "int", "value": int(x)}
        if isinstance(x, float):
            return {"type": "float", "value": float.hex(x)}  # exact, NaN and inf included
        if isinstance(x, complex):
            return {"type": "complex", "value": [float.hex(x.real), float.hex(x.imag)]}
        if isinstance(x, str):
            return {"type": "str", "value": str(x)}
        if isinstance(x, dict):
            for key in x:
                if not isinstance(key, str):
                    raise TypeError(f"Cannot save {where}: dict keys must be str; got key "
                                    f"{key!r} of type {type(key).__name__}.")
            return {"type": "dict",
                    "items": [[k, node(v, f"{where}[{k!r}]")] for k, v in x.items()]}
        if _is_namedtuple(x):
            cls = type(x)
            return {"type": "namedtuple", "name": cls.__name__, "module": cls.__module__,
                    "qualname": cls.__qualname__, "fields": list(cls._fields),
                    "items": [node(v, f"{where}.{f}") for f, v in zip(cls._fields, x)]}
        if isinstance(x, (list, tuple)):
            return {"type": "list" if isinstance(x, list) else "tuple",
                    "items": [node(v, f"{where}[{i}]") for i, v in enumerate(x)]}
        if isinstance(x, SearchResult):
            return {"type": "search_result", "items": [
                [k, node(v, f"{where}.{k}")] for k, v in _search_result_fields(x).items()]}
        if callable(x):  # e.g. the `apply` of make_fit_fns' Trained params
            raise _leaf_error(where, x, "a function is code, which a file never holds; save "
                              "the arrays beside it (for a make_fit_fns result, its .params "
                              "and .scaling) and rebuild the function from your code on load")
        raise _leaf_error(where, x, "supported leaves are NumPy/JAX arrays, None, bool, "
                          "int, float, complex and str, inside dict/list/tuple/NamedTuple "
                          "or a SearchResult")

    return node(tree, "tree"), arrays, specs


def parse_leaf(spec: Any, i: int) -> tuple[np.dtype, np.dtype, tuple[int, ...]]:
    """Check leaf `i`'s description: (dtype as stored, dtype to return, shape)."""
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape"}:
        raise FormatError(f"leaf {i} must be described by 'dtype' and 'shape'; got {spec!r}")
    name, shape = spec["dtype"], spec["shape"]
    if not (isinstance(shape, list) and all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)):
        raise FormatError(f"leaf {i} has an invalid shape {shape!r}")
    if isinstance(name, str) and name in _ML_DTYPES:
        dtype = _ML_DTYPES[name]
        return np.dtype(f"u{dtype.itemsize}"), dtype, tuple(shape)
    # Only plain numeric and string dtypes are ever written; anything else, object
    # dtype above all, means the description was edited.
    if not (isinstance(name, str) and _DTYPE_STR.match(name)):
        raise FormatError(f"leaf {i} has an unsupported dtype {name!r}")
    try:
        dtype = np.dtype(name)
    except TypeError:
        raise FormatError(f"leaf {i} has an unsupported dtype {name!r}") from None
    return dtype, dtype, tuple(shape)


def _namedtuple_class(name: Any, fields: Any, qualified: str, types: dict, made: dict) -> type:
    if not (isinstance(fields, list) and all(isinstance(f, str) for f in fields)):
        raise FormatError(f"NamedTuple {qualified} has invalid fields {fields!r}")
    if qualified in types:
        cls = types[qualified]
        if list(cls._fields) != fields:
            raise FormatError(f"NamedTuple {qualified} was saved with fields {fields} but "
                              f"the class passed in `namedtuples` has {list(cls._fields)}")
        return cls
    # Checked here, not left to collections.namedtuple, so the message is about the file.
    for ident in [name, *fields]:
        if not (isinstance(ident, str) and ident.isidentifier()
                and not keyword.iskeyword(ident) and not ident.startswith("_")):
            raise FormatError(f"NamedTuple {qualified} has an invalid name or field {ident!r}")
    if len(set(fields)) != len(fields):
        raise FormatError(f"NamedTuple {qualified} has a repeated field in {fields}")
    key = (name, tuple(fields))
    if key not in made:
        made[key] = collections.namedtuple(name, fields)
    return made[key]


def decode(node: Any, leaves: list, types: dict) -> Any:
    """Rebuild the tree from its description.

    Args:
      node: the description's "tree" node.
      leaves: the checked arrays, in order (placeholders to check the description only).
      types: NamedTuple classes by "module.qualname", used instead of rebuilt ones.

    Raises:
      FormatError: if the description is malformed or a leaf is not referenced
        exactly once.
    """
    used: set[int] = set()
    made: dict = {}

    def items(x: dict) -> list:
        if not isinstance(x.get("items"), list):
            raise FormatError(f"a {x['type']} node has no 'items' list")
        return x["items"]

    def value(x: dict, kinds: tuple[type, ...]) -> Any:
        v = x.get("value")
        if not isinstance(v, kinds) or (isinstance(v, bool) and bool not in kinds):
            raise FormatError(f"a {x['type']} node has an invalid value {v!r}")
        return v

    def hex_float(v: Any) -> float:
        try:
            return float.fromhex(v)
        except (TypeError, ValueError, OverflowError):  # OverflowError: past float's range
            raise FormatError(f"invalid float {v!r}") from None

    def build(x: Any) -> Any:
        kind = x.get("type") if isinstance(x, dict) else None
        if kind == "array":
            i = x.get("leaf")
            if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(leaves):
                raise FormatError(f"the tree refers to a leaf {i!r} that the file does not hold")
            if i in used:
                raise FormatError(f"leaf {i} is referenced more than once")
            used.add(i)
            return leaves[i]
        if kind == "none":
            return None
        if kind == "bool":
            return value(x, (bool,))
        if kind == "int":
            return value(x, (int,))
        if kind == "str":
            return value(x, (str,))
        if kind == "float":
            return hex_float(value(x, (str,)))
        if kind == "complex":
            v = value(x, (list,))
            if len(v) != 2:
                raise FormatError(f"a complex node has an invalid value {v!r}")
            return complex(hex_float(v[0]), hex_float(v[1]))
        if kind in ("dict", "search_result"):
            out = {}
            for pair in items(x):
                if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
                    raise FormatError(f"a {kind} item must be a [str key, node] pair; got {pair!r}")
                out[pair[0]] = build(pair[1])
            return out if kind == "dict" else _search_result(out)
        if kind == "list":
            return [build(v) for v in items(x)]
        if kind == "tuple":
            return tuple(build(v) for v in items(x))
        if kind == "namedtuple":
            qualified = f"{x.get('module')}.{x.get('qualname')}"
            cls = _namedtuple_class(x.get("name"), x.get("fields"), qualified, types, made)
            children = items(x)
            if len(children) != len(cls._fields):
                raise FormatError(f"NamedTuple {qualified} has {len(cls._fields)} fields but "
                                  f"{len(children)} values")
            return cls(*(build(v) for v in children))
        raise FormatError(f"unknown tree node {str(x)[:80]}")

    tree = build(node)
    if len(used) != len(leaves):
        unused = sorted(set(range(len(leaves))) - used)
        raise FormatError(f"leaves {unused} are stored but not referenced by the tree")
    return tree


def check_metadata(metadata: Any, where: str = "metadata", *,
                   other: Callable[[Any, str], Any] | None = None) -> Any:
    """`metadata` as plain JSON values: dicts with str keys, lists, str, numbers, None.

    Tuples become lists and NumPy scalars Python numbers, as JSON would read them back.
    `other(value, where)` gives the JSON form of any other value, or raises; without
    it, such values are refused.
    """
    if metadata is None or isinstance(metadata, (bool, str)):
        return metadata
    if isinstance(metadata, np.generic) and metadata.dtype.kind in "biuf":
        return metadata.item()
    if isinstance(metadata, numbers.Integral):
        return int(metadata)
    if isinstance(metadata, numbers.Real):
        return float(metadata)
    if isinstance(metadata, dict):
        for key in metadata:
            if not isinstance(key, str):
                raise TypeError(f"`{where}` keys must be str (JSON has str keys only); got key "
                                f"{key!r} of type {type(key).__name__}. Use str(key).")
        return {k: check_metadata(v, f"{where}[{k!r}]", other=other) for k, v in metadata.items()}
    if isinstance(metadata, (list, tuple)):
        return [check_metadata(v, f"{where}[{i}]", other=other) for i, v in enumerate(metadata)]
    if other is not None:
        return other(metadata, where)
    raise TypeError(f"`{where}` must hold JSON values (dict with str keys, list, str, number, "
                    f"bool, None); got {type(metadata).__name__}. Put arrays in the tree "
                    f"instead.")


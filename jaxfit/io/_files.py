"""`save` and `load`: a pytree of arrays (or search results) in one .npz file, written
atomically, no pickle.

The file is an ordinary, uncompressed .npz archive, readable with `np.load` alone:

* `leaf_0`, `leaf_1`, ...: the arrays, in the tree's traversal order;
* `__jaxfit__`: a uint8 array holding a UTF-8 JSON document::

      {"format": "jaxfit.io", "format_version": 1, "jaxfit_version": "0.1.0",
       "tree": <the tree's structure, see _tree.py>,
       "leaves": [{"dtype": "<f4", "shape": [3, 2]}, ...],
       "metadata": {...}}

Python scalars, strings and None live in the document, not in arrays.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
import zlib
from typing import Any, Iterable

import numpy as np

from .._atomic import write_atomically
from .._version import __version__
from ._tree import FormatError, check_metadata, decode, encode, parse_leaf

FORMAT = "jaxfit.io"
FORMAT_VERSION = 1
_HEADER = "__jaxfit__"
_DOCUMENT_KEYS = {"format", "format_version", "jaxfit_version", "tree", "leaves", "metadata"}
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header, or an empty archive
_PICKLE_PROTO = b"\x80"  # the first opcode of every pickle since protocol 2


def _check_path(path: Any) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`path` must be a str or os.PathLike; got {type(path).__name__}.")
    return os.path.expanduser(path)  # "~/runs/a.npz", as pandas.read_csv and load_csv read it


def save(path: str | os.PathLike, tree: Any, *, metadata: dict | None = None) -> None:
    """Write a pytree of arrays, and optional metadata, to one .npz file, atomically.

    The file is written to a temporary file in the same directory, flushed to disk and
    then renamed onto `path`, so a process that dies mid-write leaves either the old
    file or the new one, never a torn one (a stray `.<name>.*.tmp` file may remain).

    Args:
      path: the file to write, used as given (a leading `~` is the home folder): no
        `.npz` suffix is appended, so `load(path)` reads what `save(path, ...)` wrote.
        Its directory must exist.
      tree: nested dicts (str keys), lists, tuples and NamedTuples whose leaves are
        NumPy or JAX arrays (0-d and empty included; bfloat16 and the other ml_dtypes
        types too), NumPy scalars, None, bool, int, float, complex or str; or a
        `model_selection.SearchResult`, anywhere in the tree (all but its train_fn).
      metadata: a dict of JSON values (str keys, lists, numbers, str, bool, None;
        NaN and inf are kept), returned by `load_metadata`.

    Raises:
      TypeError: for a leaf that cannot be stored (a function, an object array, a PRNG
        key array: store `jax.random.key_data(key)` instead), naming where it sits in
        the tree, e.g. `tree['opt_state'][1]`; or for metadata that is not JSON.
      FileNotFoundError: if the folder of `path` does not exist.
      PermissionError: if that folder cannot be written to.
      ValueError: if `path` is a folder.

    Example:
      >>> save("params.npz", {"w": jnp.ones((3, 2)), "b": jnp.zeros(2)},
      ...      metadata={"alpha": 0.1})
      >>> load("params.npz")["w"].shape
      (3, 2)
    """
    path = _check_path(path)
    # Checked here: the error from the temporary file would name it, not `path`.
    if os.path.isdir(path):
        raise ValueError(f"`path` {path!r} is a folder; pass a file path in it, e.g. "
                         f"{os.path.join(path, 'result.npz')!r}.")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"`path` {path!r}: its folder {directory!r} does not exist; "
                                f"create it first (os.makedirs).")
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(f"`metadata` must be a dict or None; got {type(metadata).__name__}.")
    document_tree, arrays, specs = encode(tree)
    document = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "jaxfit_version": __version__,
        "tree": document_tree, "leaves": specs, "metadata": check_metadata(metadata or {}),
    }
    header = np.frombuffer(json.dumps(document).encode("utf-8"), dtype=np.uint8)
    entries = {_HEADER: header, **{f"leaf_{i}": a for i, a in enumerate(arrays)}}
    try:
        write_atomically(path, lambda f: _write_npz(f, entries))
    except PermissionError as err:  # it names the temporary file, not `path`
        raise PermissionError(err.errno, f"`path` {path!r}: cannot write in its folder "
                              f"{directory!r} ({err.strerror}); save to a folder you can "
                              f"write to") from None


def _write_npz(file, entries: dict[str, np.ndarray]) -> None:
    # What np.savez does, with allow_pickle=False stated on every entry (NumPy < 2.1's
    # savez cannot be told) and zip64 allowed for entries over 4 GiB.
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, arr in entries.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as out:
                np.lib.format.write_array(out, arr, allow_pickle=False)


_NPY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0}


def _entry_header(npz, name: str, archive_size: int) -> tuple[np.dtype, tuple[int, ...]]:
    """The dtype and shape in entry `name`'s .npy header, checked to fit in the file.

    Read before the array: NumPy allocates what the header describes before reading a
    byte of data, so a tampered header asking for terabytes would raise MemoryError.
    """
    # The entry as np.load finds it: under its own name, else with ".npy" added.
    info = npz.zip.getinfo(name if name in npz.zip.namelist() else f"{name}.npy")
    # Deflated, an entry's size is whatever its (editable) zip header says, so the
    # bound below would not hold.
    if info.compress_type != zipfile.ZIP_STORED:
        raise FormatError(f"entry {name!r} is compressed; jaxfit writes uncompressed archives")
    if info.flag_bits & 0x1:  # zipfile would raise RuntimeError asking for a password
        raise FormatError(f"entry {name!r} is marked as encrypted; jaxfit never encrypts")
    with npz.zip.open(info) as f:
        try:
            reader = _NPY_HEADERS.get(np.lib.format.read_magic(f))
            if reader is None:
                raise ValueError("unsupported .npy format version")
            shape, _, dtype = reader(f)
        except ValueError as err:
            raise FormatError(f"entry {name!r} is corrupt ({err})") from None
    if dtype.hasobject:
        raise FormatError(f"refusing to load pickled data: entry {name!r} holds an object "
                          f"array, which jaxfit never writes")
    if math.prod(shape) * dtype.itemsize > min(info.compress_size, archive_size):
        raise FormatError(f"entry {name!r} describes an array of shape {shape} and dtype "
                          f"{dtype}, larger than the data it holds")
    return dtype, shape


def _read_entry(npz, name: str) -> np.ndarray:
    try:
        return npz[name]
    except ValueError as err:
        raise FormatError(f"entry {name!r} is corrupt ({err})") from None


def _check_document(document: Any) -> list[tuple[np.dtype, np.dtype, tuple[int, ...]]]:
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise FormatError(f"the {_HEADER!r} entry is not a jaxfit document")
    version = document.get("format_version")
    if version != FORMAT_VERSION:
        raise FormatError(f"format version {version!r} is not supported; this jaxfit "
                          f"({__version__}) reads version {FORMAT_VERSION}")
    if set(document) != _DOCUMENT_KEYS:
        raise FormatError(f"the document must have the keys {sorted(_DOCUMENT_KEYS)}; got "
                          f"{sorted(document)}")
    if not isinstance(document["metadata"], dict):
        raise FormatError("the metadata is not a dict")
    if not isinstance(document["leaves"], list):
        raise FormatError("'leaves' is not a list")
    return [parse_leaf(spec, i) for i, spec in enumerate(document["leaves"])]


def _read(path: Any, *, arrays: bool, namedtuples: Iterable[type] = ()) -> tuple[Any, dict]:
    path = _check_path(path)
    types = {}
    for cls in namedtuples:
        if not (isinstance(cls, type) and issubclass(cls, tuple) and hasattr(cls, "_fields")):
            raise TypeError(f"`namedtuples` must hold NamedTuple classes; got {cls!r}.")
        types[f"{cls.__module__}.{cls.__qualname__}"] = cls
    with open(path, "rb") as f:
        try:
            return _read_file(f, arrays, types)
        except FormatError as err:
            raise ValueError(f"Cannot load {path!r}: {err}.") from None


def _read_file(f, arrays: bool, types: dict) -> tuple[Any, dict]:
    magic = f.read(4)
    if magic.startswith(_PICKLE_PROTO):
        raise FormatError("refusing to load pickled data: the file is a Python pickle")
    if magic not in _ZIP_MAGIC:
        raise FormatError("not a jaxfit file (not an .npz archive)" if magic else
                          "the file is empty")
    archive_size = f.seek(0, os.SEEK_END)
    f.seek(0)
    try:
        with np.load(f, allow_pickle=False) as npz:
            return _read_npz(npz, arrays, types, archive_size)
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, EOFError, OSError) as err:
        raise FormatError(f"the archive is truncated or corrupt ({err})") from None
    except RecursionError:
        raise FormatError("the document is nested too deeply") from None


def _read_npz(npz, arrays: bool, types: dict, archive_size: int) -> tuple[Any, dict]:
    names = set(npz.files)
    if _HEADER not in names:
        raise FormatError(f"not a jaxfit file (no {_HEADER!r} entry; it holds "
                          f"{sorted(names)[:5]})")
    dtype, shape = _entry_header(npz, _HEADER, archive_size)
    if dtype != np.uint8 or len(shape) != 1:
        raise FormatError(f"the {_HEADER!r} entry is not a uint8 vector")
    header = _read_entry(npz, _HEADER)
    try:
        document = json.loads(header.tobytes().decode("utf-8"))
    except ValueError as err:  # bad UTF-8, bad JSON, or an int past Python's digit limit
        raise FormatError(f"the {_HEADER!r} entry is not valid JSON ({err})") from None
    specs = _check_document(document)
    leaf_names = [f"leaf_{i}" for i in range(len(specs))]
    missing = sorted(set(leaf_names) - names)
    extra = sorted(names - set(leaf_names) - {_HEADER})
    if missing:
        raise FormatError(f"entries {missing[:5]} are described but missing")
    if extra:
        raise FormatError(f"unexpected entries {extra[:5]}")
    leaves: list = [None] * len(specs)  # enough to check the tree's references
    if arrays:
        leaves = []
        for name, (stored_dtype, dtype, shape) in zip(leaf_names, specs):
            held = _entry_header(npz, name, archive_size)
            if held != (stored_dtype, shape):
                raise FormatError(
                    f"entry {name!r} holds an array of dtype {held[0]} and shape "
                    f"{held[1]}, but the document describes dtype {dtype} and shape {shape}")
            arr = _read_entry(npz, name)
            leaves.append(arr if dtype == stored_dtype else arr.view(dtype))
    return decode(document["tree"], leaves, types), document["metadata"]


def load(path: str | os.PathLike, *, namedtuples: Iterable[type] = ()) -> Any:
    """Read a pytree written by `save`, checking the whole file first.

    Only the `.npz` format is parsed (`np.load(..., allow_pickle=False)`): nothing in
    the file is unpickled, imported or run.

    Args:
      path: the file, exactly as passed to `save`.
      namedtuples: NamedTuple classes to rebuild by their saved module and qualified
        name (e.g. `[jaxfit.FitResult]`). A saved NamedTuple whose class is not listed
        comes back as a `collections.namedtuple` with the same name and fields.

    Returns:
      The tree, with dicts, lists and tuples as saved (dict subclasses as plain dicts)
      and every array, JAX ones included, as a NumPy array of the saved dtype and shape,
      bit for bit; NumPy scalars come back as 0-d arrays. A SearchResult comes back
      with equal configs, scores, table, ranks and best_config, but without the
      train_fn it was searched with (a file holds no code), so its `refit` raises.

    Raises:
      ValueError: naming the path and the problem if the file is truncated or
        corrupt, is not a jaxfit file, holds pickled data, or its document does not
        match its arrays (dtype, shape, missing or unexpected entries).
    """
    return _read(path, arrays=True, namedtuples=namedtuples)[0]


def load_metadata(path: str | os.PathLike) -> dict:
    """The `metadata` dict saved with a file (empty if none was given).

    Checks the document and the set of entries but reads no array, so it is cheap on a
    large file; `load` checks the arrays.

    Raises:
      ValueError: as `load` does, for a file that is not a well-formed jaxfit file.
    """
    return _read(path, arrays=False)[1]

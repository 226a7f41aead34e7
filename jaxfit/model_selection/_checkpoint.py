"""Resumable searches: each finished chunk of configurations saved atomically to a folder.

No pickle anywhere: a chunk is an `.npz` of plain arrays read back with
`allow_pickle=False`, and the manifest is JSON. Every file is written atomically
(`jaxfit._atomic`), so a process killed mid-write leaves either the old file or the
new one, never half of one.

The manifest records a fingerprint of everything that decides the results and that
`search` can see (space, static values, folds, data, key, function names), plus the
user's own description of the rest (`search(fingerprint=...)`: the constants that
`train_fn` and `score_fn` capture); a search whose fingerprint differs refuses the
folder instead of mixing results of two different searches.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
import zlib
from typing import Any, Callable

import jax
import numpy as np

from .._atomic import write_atomically
from ..io._tree import check_metadata

_FORMAT = 1
_MANIFEST = "manifest.json"
_LONGEST_DESCRIPTION = 1000  # characters of `fingerprint=` kept as text; longer ones as a digest


def array_digest(*arrays: Any) -> str:
    """SHA-256 of arrays' dtypes, shapes and bytes (None hashes as a marker)."""
    h = hashlib.sha256()
    for a in arrays:
        if a is None:
            h.update(b"none")
            continue
        a = np.ascontiguousarray(np.asarray(a))
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def describe_fingerprint(value: Any) -> str | None:
    """`search(fingerprint=value)` as text for the manifest; None stays None.

    The text must be the same in every process, so only values with a stable form are
    taken: JSON-able values (written with sorted keys, tuples as lists) and arrays (by
    their bytes). A repr or a `hash()` would not do: both can hold memory addresses,
    and str hashes change from one process to the next.
    """
    if value is None:
        return None
    jsonable = check_metadata(value, "fingerprint", other=_array_description)
    text = json.dumps(jsonable, sort_keys=True, separators=(",", ":"))
    if len(text) > _LONGEST_DESCRIPTION:
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    return text


def _array_description(value: Any, where: str) -> Any:
    """The JSON form of an array in a fingerprint (a scalar as its number), or an error."""
    if isinstance(value, (np.ndarray, jax.Array)):
        array = np.asarray(value)
        if array.ndim == 0 and array.dtype.kind in "biuf":
            return array.item()
        if array.dtype.kind in "biufcUS":
            return {"array": array_digest(array)}
    elif isinstance(value, np.generic) and value.dtype.kind in "cUS":
        return {"array": array_digest(value)}
    raise _fingerprint_error(where, value)


def _fingerprint_error(where: str, value: Any) -> TypeError:
    return TypeError(f"`{where}` must be a str or a JSON-able value (None, bool, numbers, str, "
                     f"lists, dicts with str keys, NumPy arrays) describing the settings that "
                     f"train_fn and score_fn capture, e.g. fingerprint={{'steps': 500, "
                     f"'optimizer': 'adam'}}; got {type(value).__name__}. Describe it by its "
                     f"settings (its repr may hold a memory address, which changes every run).")


class Checkpoint:
    """A folder of finished chunks for one search.

    Args:
      directory: the folder (created if missing).
      fingerprint: `{component: digest or description}` of the search; compared
        component by component with a manifest already in the folder.
      chunk_size: the chunk size the caller asks for, or None to adopt the folder's.
      default_chunk_size: called for the chunk size of a new folder when `chunk_size`
        is None (an estimate that may cost a trace, so only made when needed).

    Attributes:
      chunk_size: the chunk size in force (the folder's when resuming with None).
      saved: chunks written by this process.
      loaded: finished chunks read back instead of recomputed.
    """

    def __init__(self, directory: str | os.PathLike, fingerprint: dict[str, Any],
                 chunk_size: int | None, default_chunk_size: Callable[[], int]):
        if not isinstance(directory, (str, os.PathLike)):
            raise TypeError(f"`checkpoint` must be a folder path (str or os.PathLike); got "
                            f"{type(directory).__name__}.")
        self.directory = os.fspath(directory)
        if os.path.exists(self.directory) and not os.path.isdir(self.directory):
            raise ValueError(f"`checkpoint` must be a folder; {self.directory!r} is a file.")
        os.makedirs(self.directory, exist_ok=True)
        self.saved = 0
        self.loaded = 0
        # Under jax.distributed every process computes the same results; one writes them.
        self._writer = jax.process_index() == 0
        manifest_path = os.path.join(self.directory, _MANIFEST)
        if not os.path.exists(manifest_path):
            self.chunk_size = default_chunk_size() if chunk_size is None else chunk_size
            manifest = {"format": _FORMAT, "chunk_size": self.chunk_size, "fingerprint": fingerprint}
            if not self._writer:
                return
            text = json.dumps(manifest, indent=1, sort_keys=True).encode()
            try:
                # Exclusive: another search that started on this folder meanwhile (the
                # default chunk size takes seconds to estimate) must not have its
                # manifest replaced while it writes chunks under it.
                write_atomically(manifest_path, lambda f: f.write(text), exclusive=True)
                return
            except FileExistsError:
                pass  # it won: check against its manifest
        manifest = self._read_manifest(manifest_path)
        self._check(manifest, fingerprint, chunk_size)
        self.chunk_size = int(manifest["chunk_size"])

    def _read_manifest(self, path: str) -> dict:
        try:
            with open(path, encoding="utf-8") as f:
                manifest = json.load(f)
        except ValueError as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise ValueError(f"`checkpoint` folder {self.directory!r} has a damaged {_MANIFEST} "
                             f"({e}); jaxfit writes it whole, so something else changed it. Use a "
                             f"new folder, or delete this one to start over.") from None
        if not isinstance(manifest, dict) or not isinstance(manifest.get("chunk_size"), int):
            raise ValueError(f"`checkpoint` folder {self.directory!r} has a {_MANIFEST} that "
                             f"jaxfit did not write (no chunk_size). Use a new folder.")
        return manifest

    def _check(self, manifest: dict, fingerprint: dict, chunk_size: int | None) -> None:
        where = f"`checkpoint` folder {self.directory!r}"
        if manifest.get("format") != _FORMAT:
            raise ValueError(f"{where} was written by another version of jaxfit (format "
                             f"{manifest.get('format')!r}, expected {_FORMAT}). Use a new folder.")
        old = manifest.get("fingerprint", {})
        changed = sorted(k for k in set(old) | set(fingerprint) if old.get(k) != fingerprint.get(k))
        if changed:
            detail = resume = ""
            if "fingerprint" in changed:
                show = lambda text: "none" if text is None else f"{text:.200}"
                detail = (f" (it was written with fingerprint={show(old.get('fingerprint'))}; "
                          f"this search passes fingerprint={show(fingerprint.get('fingerprint'))})")
                if changed == ["fingerprint"]:
                    resume = (" If the results do not depend on what changed, pass the "
                              "`fingerprint` it was written with to resume it.")
            raise ValueError(f"{where} holds the results of a different search: "
                             f"{', '.join(changed)} changed since it was written{detail}. Pass a "
                             f"new folder for this search, or delete the old one to start "
                             f"over.{resume}")
        if chunk_size is not None and chunk_size != manifest["chunk_size"]:
            raise ValueError(f"`chunk_size`={chunk_size} differs from the {manifest['chunk_size']} "
                             f"the {where} was written with; pass chunk_size="
                             f"{manifest['chunk_size']} or None to resume it.")

    def _path(self, name: str) -> str:
        return os.path.join(self.directory, f"{name}.npz")

    def load(self, name: str, expected: dict[str, tuple]) -> dict[str, np.ndarray] | None:
        """A finished chunk's arrays, or None if it is missing or unreadable.

        `expected` maps each array name to its shape; a file that does not match (or is
        damaged) is treated as missing and recomputed.
        """
        path = self._path(name)
        if not os.path.exists(path):
            return None
        try:
            # Opened here, not by np.load, which leaks the handle when the archive is bad.
            with open(path, "rb") as f, np.load(f, allow_pickle=False) as data:
                arrays = {k: data[k] for k in expected}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error):
            return None  # torn or damaged: recompute it
        if any(arrays[k].shape != tuple(shape) for k, shape in expected.items()):
            return None
        self.loaded += 1
        return arrays

    def save(self, name: str, arrays: dict[str, np.ndarray]) -> None:
        """Write a finished chunk atomically."""
        if self._writer:
            write_atomically(self._path(name), lambda f: np.savez(f, **arrays))
        self.saved += 1

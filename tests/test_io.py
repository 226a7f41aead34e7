"""jaxfit.io: bit-exact round trips, refusal of anything untrusted, atomic writes."""

import io
import json
import os
import pathlib
import pickle
import random
import re
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest

import jaxfit.model_selection as ms
from jaxfit.io import load, load_metadata, save
from jaxfit.model_selection import SearchResult


class Pair(NamedTuple):
    w: object
    b: object


class Marker:
    """Unpickling this creates the file `path`: the side effect that must never happen."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")


def assert_same(a, b):
    """Equal bit for bit, with the same container and leaf types."""
    if isinstance(a, (np.ndarray, np.generic, jax.Array)):
        expected = np.asarray(a)
        assert type(b) is np.ndarray
        assert b.dtype == expected.dtype and b.shape == expected.shape
        assert b.tobytes() == expected.tobytes()  # NaN payloads and -0.0 included
    elif isinstance(a, float):
        assert type(b) is float and a.hex() == b.hex()
    elif isinstance(a, dict):
        assert type(b) is dict and list(a) == list(b)
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        if not hasattr(a, "_fields"):
            assert type(b) is type(a)
        for x, y in zip(a, b):
            assert_same(x, y)
    else:
        assert type(b) is type(a) and b == a


@pytest.fixture
def path(tmp_path):
    return tmp_path / "tree.npz"


def nan_with_payload():
    return np.array([0x7FC00123], np.uint32).view(np.float32)


@pytest.mark.parametrize("array", [
    np.array([1.5, -0.0, np.inf, -np.inf], np.float32),
    nan_with_payload(),
    np.linspace(-1, 1, 7, dtype=np.float64).reshape(7, 1),
    np.arange(-3, 9, dtype=np.int32).reshape(3, 4),
    np.array([0, 255], np.uint8),
    np.array([2**63 + 5], np.uint64),
    np.array([True, False, True]),
    np.array([1 + 2j, -3j], np.complex64),
    np.array(2.5, np.float32),
    np.array(7, np.int64),
    np.zeros((0, 3), np.float32),
    np.zeros(0, np.bool_),
    np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    np.arange(4, dtype=">f8"),
    np.array(["a", "héllo"]),
    np.array([1.5, -2.25, 3.0], ml_dtypes.bfloat16),
    np.array([1, -2, 7], ml_dtypes.int4),
    np.float32(3.25),
], ids=lambda a: f"{a.dtype}{list(np.shape(a))}")
def test_array_round_trip_bit_for_bit(path, array):
    save(path, {"x": array})
    assert_same({"x": array}, load(path))


def test_jax_arrays_come_back_as_numpy(path):
    tree = {"f32": jnp.arange(3.0), "bf16": jnp.ones((2, 2), jnp.bfloat16),
            "i32": jnp.array(4, jnp.int32), "bool": jnp.array([True, False])}
    save(path, tree)
    loaded = load(path)
    for name, x in tree.items():
        assert type(loaded[name]) is np.ndarray and loaded[name].dtype == x.dtype
        np.testing.assert_array_equal(loaded[name], np.asarray(x))


def test_nested_structure_and_python_scalars_round_trip(path):
    tree = {
        "z": [np.ones(2), (np.int32(1), None), []],
        "a": {"deep": {"deeper": (np.zeros((2, 0)), ())}, "empty": {}},
        "scalars": [3, 2**80, -0.0, float("nan"), float("-inf"), 1e-310, 2 - 1.5j,
                    True, False, None, "", "ünïcode ✓"],
    }
    save(path, tree)
    assert_same(tree, load(path))  # dict order, list vs tuple and exact floats kept


def test_namedtuple_rebuilt_by_name_or_as_given_class(path):
    tree = {"p": Pair(np.ones(3), Pair(np.zeros(()), None))}
    save(path, tree)
    plain = load(path)["p"]
    assert type(plain) is not Pair and type(plain).__name__ == "Pair"
    assert plain._fields == ("w", "b") and type(plain.b) is type(plain)
    assert_same(tree["p"], plain)
    assert len(jax.tree_util.tree_leaves(plain)) == 2  # still a pytree

    typed = load(path, namedtuples=[Pair])["p"]
    assert type(typed) is Pair and type(typed.b) is Pair
    assert_same(tree["p"], typed)


def test_namedtuple_class_with_other_fields_is_refused(path):
    save(path, Pair(1, 2))

    class Pair2(NamedTuple):
        w: object
        c: object
    Pair2.__qualname__, Pair2.__module__ = Pair.__qualname__, Pair.__module__
    with pytest.raises(ValueError, match=r"saved with fields \['w', 'b'\]"):
        load(path, namedtuples=[Pair2])
    with pytest.raises(TypeError, match="`namedtuples` must hold NamedTuple classes"):
        load(path, namedtuples=[tuple])


def test_metadata(path):
    metadata = {"alpha": 0.1, "tags": ("a", "b"), "n": np.int64(3), "score": float("nan"),
                "nested": {"ok": True, "none": None}}
    save(path, {"w": np.ones(2)}, metadata=metadata)
    loaded = load_metadata(path)
    assert loaded["tags"] == ["a", "b"] and type(loaded["n"]) is int
    assert np.isnan(loaded["score"]) and loaded["nested"] == {"ok": True, "none": None}
    save(path, [np.ones(1)])
    assert load_metadata(path) == {}


def test_file_is_plain_npz_with_a_json_document(path):
    save(path, {"w": np.ones((3, 2), np.float32), "k": 5}, metadata={"m": 1})
    with np.load(path, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["__jaxfit__", "leaf_0"]
        document = json.loads(npz["__jaxfit__"].tobytes())
    assert document["format"] == "jaxfit.io" and document["format_version"] == 1
    assert document["leaves"] == [{"dtype": "<f4", "shape": [3, 2]}]
    assert document["metadata"] == {"m": 1}


def test_path_is_used_as_given(tmp_path):
    target = tmp_path / "no_suffix"
    save(str(target), {"a": np.ones(1)})
    assert os.listdir(tmp_path) == ["no_suffix"]
    assert_same({"a": np.ones(1)}, load(target))


def test_home_folder_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # where a "~" folder would be looked for unexpanded
    for path in ("~/home.npz", pathlib.Path("~/home.npz")):
        save(path, {"a": np.arange(3)}, metadata={"m": 1})
        assert os.listdir(tmp_path) == ["home.npz"]
        assert_same({"a": np.arange(3)}, load(path))
        assert load_metadata(path) == {"m": 1}


def test_saves_replace_the_file_and_leave_no_temporary_files(path):
    for k in range(5):
        save(path, {"k": np.full(3, k)})
    assert os.listdir(path.parent) == [path.name]
    assert_same({"k": np.full(3, 4)}, load(path))
    umask = os.umask(0o022)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask


def test_failed_write_keeps_the_old_file_and_cleans_up(path, monkeypatch):
    save(path, {"old": np.ones(2)})

    def fail(fd):
        raise OSError("disk full")
    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="disk full"):
        save(path, {"new": np.zeros(2)})
    monkeypatch.undo()
    assert os.listdir(path.parent) == [path.name]
    assert_same({"old": np.ones(2)}, load(path))


@pytest.mark.parametrize("tree, error, match", [
    ({"f": lambda x: x}, TypeError, r"Cannot save tree\['f'\]: a function is code.*function"),
    ([1, {"a": np.array([object()])}], TypeError, r"tree\[1\]\['a'\]: object arrays would need "
                                                  r"pickle"),
    (Pair(jax.random.key(0), None), TypeError, r"tree\.w: PRNG key arrays .*key_data"),
    ({"t": np.array(["2024-01-01"], "datetime64[D]")}, TypeError, r"dtype datetime64"),
    ({1: np.ones(2)}, TypeError, r"dict keys must be str; got key 1"),
    ({"s": {1, 2}}, TypeError, r"tree\['s'\].*builtins\.set"),
    ({"b": b"bytes"}, TypeError, r"tree\['b'\].*builtins\.bytes"),
])
def test_unsupported_leaves_are_refused(path, tree, error, match):
    with pytest.raises(error, match=match):
        save(path, tree)
    assert not os.listdir(path.parent)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"metadata": {"x": np.ones(2)}}, TypeError, r"`metadata\['x'\]` must hold JSON values"),
    ({"metadata": {"a": [1, {2: 3}]}}, TypeError, r"`metadata\['a'\]\[1\]` keys must be str"),
    ({"metadata": [1, 2]}, TypeError, r"`metadata` must be a dict or None; got list"),
])
def test_bad_metadata_is_refused(path, kwargs, error, match):
    with pytest.raises(error, match=match):
        save(path, {"w": np.ones(1)}, **kwargs)


def test_bad_path_and_traced_values_are_refused(path):
    with pytest.raises(TypeError, match="`path` must be a str or os.PathLike; got int"):
        save(3, {"w": np.ones(1)})
    with pytest.raises(TypeError, match="`path` must be a str or os.PathLike"):
        load(None)
    # The messages name `path` and its folder, not the temporary file beside it.
    with pytest.raises(FileNotFoundError, match=r"`path` .*its folder .*nope' does not exist"):
        save(path.parent / "nope" / "tree.npz", {"w": np.ones(1)})
    with pytest.raises(ValueError, match=r"`path` .* is a folder"):
        save(path.parent, {"w": np.ones(1)})
    assert not os.listdir(path.parent)
    with pytest.raises(TypeError, match=r"tree\['x'\]: a traced value"):
        jax.jit(lambda x: save(path, {"x": x}))(1.0)


def test_read_only_folder_error_names_the_path(path, monkeypatch):
    def mkstemp(prefix, suffix, dir):  # as in a read-only folder (root ignores chmod)
        raise PermissionError(13, "Permission denied", os.path.join(dir, prefix + "x" + suffix))

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    expected = f"`path` {str(path)!r}: cannot write in its folder {str(path.parent)!r}"
    with pytest.raises(PermissionError, match=re.escape(expected)) as info:
        save(path, {"w": np.ones(1)})
    assert info.value.errno == 13 and ".tmp" not in str(info.value)


def _static_search():
    """A search with static axes of tuples and strings (object columns in `configs`)."""
    X = np.arange(16, dtype=np.float32).reshape(8, 2) / 10

    def train_fn(config, X, y, w, key):
        sign = 1.0 if config["activation"] == "relu" else -1.0
        return sign * config["lr"] * len(config["hidden"]) * jnp.sum(w[:, None] * X, axis=0)

    return ms.search(train_fn, lambda p, X, y, w: -jnp.sum(p ** 2), X, X[:, 0],
                     ms.grid(lr=[0.1, 0.5]), ms.kfold(8, 2),
                     static={"hidden": [(4,), (8, 4)], "activation": ["relu", "tanh"]}), X


def test_search_result_round_trips_without_its_train_fn(path):
    result, X = _static_search()
    save(path, {"search": result, "note": "static axes"})
    loaded = load(path)["search"]
    assert isinstance(loaded, SearchResult)
    assert loaded.configs["hidden"].dtype == object
    assert loaded.configs["hidden"].tolist() == [(4,)] * 4 + [(8, 4)] * 4
    expected, got = result.table(), loaded.table()
    assert list(got) == list(expected) and got.pop("params") == expected.pop("params")
    for name in expected:
        assert got[name].dtype == expected[name].dtype, name
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    assert loaded.best_config == result.best_config == {"lr": 0.1, "hidden": (4,), "activation": "relu"}
    np.testing.assert_array_equal(loaded.mean, result.mean)
    np.testing.assert_array_equal(loaded.rank, result.rank)
    assert (loaded.timings, loaded.chunks) == (result.timings, result.chunks)
    # train_fn is code, which the file does not hold: only the original refits.
    assert result.refit(X, X[:, 0]).shape == (2,)
    with pytest.raises(ValueError, match=r"no train_fn.*jaxfit\.io\.load.*best_config"):
        loaded.refit(X, X[:, 0])


def test_search_result_keeps_numpy_scalars_and_refuses_functions(path):
    values = np.empty(3, object)
    values[:] = [np.str_("a"), np.float32(0.5), None]
    result = SearchResult(configs={"v": values}, scores=np.ones((3, 2)),
                          status=np.full((3, 2), "ok"), n_steps=np.ones((3, 2), np.int32),
                          timings={"compile": 0.5, "run": 1.0}, chunks={"computed": 1})
    save(path, result)
    assert [type(v) for v in load(path).configs["v"]] == [np.str_, np.float32, type(None)]
    assert load(path).table()["params"] == result.table()["params"]
    values[0] = len
    with pytest.raises(TypeError, match=r"tree\.configs\['v'\]\[0\]: a function is code"):
        save(path, result)


def rewrite(path, edit):
    """Re-save the file's entries with `edit(document, entries)` applied."""
    with np.load(path, allow_pickle=False) as npz:
        entries = {name: npz[name] for name in npz.files}
    document = json.loads(entries["__jaxfit__"].tobytes())
    edit(document, entries)
    entries["__jaxfit__"] = np.frombuffer(json.dumps(document).encode(), np.uint8)
    np.savez(path, **entries)


def set_leaf(field, value):
    def edit(document, entries):
        document["leaves"][0][field] = value
    return edit


def set_tree(tree):
    def edit(document, entries):
        document["tree"] = tree
    return edit


def set_entry(name, value):
    def edit(document, entries):
        entries[name] = value
    return edit


def drop_entry(name):
    def edit(document, entries):
        del entries[name]
    return edit


def set_key(key, value):
    def edit(document, entries):
        document[key] = value
    return edit


def leaf_node(i):
    return {"type": "array", "leaf": i}


@pytest.mark.parametrize("edit, match", [
    (set_leaf("shape", [2, 2]), r"entry 'leaf_0' holds an array of dtype float32 and shape "
                                r"\(3, 2\), but the document describes dtype float32 and "
                                r"shape \(2, 2\)"),
    (set_leaf("dtype", "<f8"), r"describes dtype float64"),
    (set_leaf("dtype", "|O8"), r"leaf 0 has an unsupported dtype '\|O8'"),
    (set_leaf("shape", [-1, 2]), r"leaf 0 has an invalid shape"),
    (set_entry("leaf_0", np.ones((3, 2), np.float64)), r"holds an array of dtype float64"),
    (set_tree({"type": "list", "items": [leaf_node(0), leaf_node(1), leaf_node(2)]}),
     r"refers to a leaf 2 that the file does not hold"),
    (set_tree({"type": "list", "items": [leaf_node(0), leaf_node(0), leaf_node(1)]}),
     r"leaf 0 is referenced more than once"),
    (set_tree({"type": "list", "items": [leaf_node(1)]}),
     r"leaves \[0\] are stored but not referenced"),
    (set_tree({"type": "eval", "items": []}), r"unknown tree node"),
    (set_tree({"type": "namedtuple", "name": "P", "module": "m", "qualname": "P",
               "fields": ["__class__", "x"], "items": [leaf_node(0), leaf_node(1)]}),
     r"invalid name or field '__class__'"),
    (set_tree({"type": "namedtuple", "name": "P", "module": "m", "qualname": "P",
               "fields": ["a", "a"], "items": [leaf_node(0), leaf_node(1)]}),
     r"NamedTuple m\.P has a repeated field in \['a', 'a'\]"),
    (set_tree({"type": "namedtuple", "name": "os.system", "module": "m", "qualname": "P",
               "fields": ["a", "b"], "items": [leaf_node(0), leaf_node(1)]}),
     r"invalid name or field 'os.system'"),
    (set_tree({"type": "list", "items": [leaf_node(0), leaf_node(1),
                                         {"type": "float", "value": "0x1p99999"}]}),
     r"invalid float '0x1p99999'"),
    (set_entry("extra", np.ones(1)), r"unexpected entries \['extra'\]"),
    (drop_entry("leaf_1"), r"entries \['leaf_1'\] are described but missing"),
    (set_key("format_version", 2), r"format version 2 is not supported"),
    (set_key("format", "other"), r"not a jaxfit document"),
    (set_key("surprise", 1), r"the document must have the keys"),
    (set_tree({"type": "search_result", "items": [["scores", leaf_node(0)],
                                                   ["n_steps", leaf_node(1)]]}),
     r"a search_result node must have the fields"),
])
def test_tampered_document_is_refused(path, edit, match):
    save(path, Pair(np.ones((3, 2), np.float32), np.arange(3)))
    rewrite(path, edit)
    with pytest.raises(ValueError, match=match) as info:
        load(path)
    assert str(path) in str(info.value)


def test_pickle_payload_in_npz_is_refused_without_running_it(path, tmp_path):
    marker = tmp_path / "pwned"
    np.savez(path, leaf_0=np.array([Marker(marker)], dtype=object))
    with pytest.raises(ValueError, match=r"not a jaxfit file \(no '__jaxfit__' entry"):
        load(path)
    # The same payload behind a valid document, so that the array itself is read.
    save(path, [np.ones(1)])
    rewrite(path, set_entry("leaf_0", np.array([Marker(marker)], dtype=object)))
    with pytest.raises(ValueError, match=r"refusing to load pickled data: entry 'leaf_0'"):
        load(path)
    assert load_metadata(path) == {}  # reads no array, so it needs no refusal
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [0, pickle.HIGHEST_PROTOCOL])
def test_raw_pickle_is_refused_without_running_it(path, tmp_path, protocol):
    marker = tmp_path / "pwned"
    path.write_bytes(pickle.dumps({"w": Marker(marker)}, protocol=protocol))
    match = "refusing to load pickled data" if protocol >= 2 else r"not an \.npz archive"
    for read in (load, load_metadata):
        with pytest.raises(ValueError, match=match):
            read(path)
    assert not marker.exists()


@pytest.mark.parametrize("content, match", [
    (b"", r"the file is empty"),
    (b"w,b\n1,2\n", r"not a jaxfit file \(not an \.npz archive\)"),
    (lambda data: data[: len(data) // 2], r"truncated or corrupt"),
    (lambda data: data[:-1], r"truncated or corrupt"),
    (lambda data: data[:100] + bytes(50) + data[150:], r"truncated or corrupt"),
])
def test_truncated_or_foreign_files_are_refused(path, content, match):
    save(path, {"w": np.arange(100.0)})
    path.write_bytes(content(path.read_bytes()) if callable(content) else content)
    with pytest.raises(ValueError, match=match) as info:
        load(path)
    assert str(path) in str(info.value)


def test_npy_and_foreign_npz_files_are_refused(path):
    with open(path, "wb") as f:
        np.save(f, np.ones(3))
    with pytest.raises(ValueError, match=r"not an \.npz archive"):
        load(path)
    np.savez(path, w=np.ones(3))
    with pytest.raises(ValueError, match=re.escape("no '__jaxfit__' entry; it holds ['w']")):
        load_metadata(path)


def forged_npy(shape, dtype) -> bytes:
    """A .npy header describing `shape` and `dtype`, followed by 8 bytes of data."""
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        out, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape})
    return out.getvalue() + bytes(8)


@pytest.mark.parametrize("entry, describe", [("leaf_0", False), ("leaf_0", True),
                                             ("__jaxfit__", False)])
def test_forged_huge_array_header_is_refused_before_allocating(path, entry, describe):
    """A header asking for 4 TB: NumPy allocates it before reading (MemoryError)."""
    save(path, {"w": np.arange(6, dtype=np.float32)})
    if describe:  # the document agrees with the forged header
        rewrite(path, set_leaf("shape", [10**12]))
    with zipfile.ZipFile(path) as zf:
        entries = {name: zf.read(name) for name in zf.namelist()}
    dtype = np.uint8 if entry == "__jaxfit__" else np.float32
    entries[f"{entry}.npy"] = forged_npy((4 * 10**12,) if dtype == np.uint8 else (10**12,), dtype)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    with pytest.raises(ValueError, match=rf"entry '{entry}' describes an array of shape "
                                         rf"\({4 if entry == '__jaxfit__' else 1}0+,\)"):
        load(path)


@pytest.mark.parametrize("entry", ["__jaxfit__", "leaf_0"])
def test_entry_flagged_as_encrypted_is_refused(path, entry):
    """One flipped bit in the zip headers (zipfile raised RuntimeError)."""
    save(path, {"w": np.arange(6.0)})
    data = bytearray(path.read_bytes())
    name = f"{entry}.npy".encode()
    at = data.find(b"PK\x01\x02")  # the central directory, which zipfile goes by
    while data[at + 46:at + 46 + len(name)] != name:
        at = data.find(b"PK\x01\x02", at + 4)
        assert at > 0, "the entry is not in the central directory"
    data[at + 8] |= 0x1  # bit 0 of the general purpose flags: encrypted
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=rf"entry '{entry}' is marked as encrypted"):
        load(path)


def test_compressed_entries_are_refused(path):
    save(path, {"w": np.arange(6.0)})
    with np.load(path, allow_pickle=False) as npz:
        entries = {name: npz[name] for name in npz.files}
    np.savez_compressed(path, **entries)
    with pytest.raises(ValueError, match=r"entry '__jaxfit__' is compressed"):
        load(path)


_WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    from jaxfit.io import save

    trees = [{"x": np.arange(1_000_000.0) + k, "k": k} for k in (0, 1)]
    save(sys.argv[1], trees[0])
    print("ready", flush=True)
    k = 1
    while True:
        save(sys.argv[1], trees[k % 2], metadata={"k": k % 2})
        k += 1
""")


def test_killed_writer_leaves_old_or_new_file(tmp_path):
    """SIGKILL at a random moment of a save loop: the target is always one whole tree."""
    rng = random.Random(0)
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    targets = [tmp_path / f"w{i}" / "tree.npz" for i in range(4)]
    writers = []
    for target in targets:  # side by side, so that their start-up times overlap
        target.parent.mkdir()
        writers.append(subprocess.Popen([sys.executable, "-c", _WRITER, str(target)], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True))
    mid_write = 0
    for writer, target in zip(writers, targets):
        ready = writer.stdout.readline()
        time.sleep(rng.uniform(0.0, 0.2))
        writer.kill()  # SIGKILL: no handler and no cleanup can run
        writer.wait()
        stderr = writer.stderr.read()
        writer.stdout.close()
        writer.stderr.close()
        assert ready == "ready\n", stderr
        loaded = load(target)
        assert loaded["k"] in (0, 1)
        assert_same({"x": np.arange(1_000_000.0) + loaded["k"], "k": loaded["k"]}, loaded)
        mid_write += len(os.listdir(target.parent)) - 1  # the interrupted save's temp file
    assert mid_write >= 1, "no kill landed during a write, so the test proved nothing"

"""Shared test settings: warnings are errors (pyproject), float64 on request, and
compiled programs released after each test module."""

import gc

import jax
import numpy as np
import pytest


@pytest.fixture
def x64():
    """Run a test in float64, for comparisons against float64 references."""
    with jax.enable_x64(True):
        yield


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _memory_mappings() -> int | None:
    try:
        with open("/proc/self/maps") as f:
            return sum(1 for _ in f)
    except OSError:  # not Linux
        return None


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Every XLA:CPU executable keeps memory mappings of its code while a cache holds
    it. The suite compiles thousands of programs in one process, which reached Linux's
    limit of 65,530 mappings (`vm.max_map_count`) near its end, and XLA crashed there
    (a segmentation fault while compiling). So past half of that, the programs
    compiled so far are dropped after a module (not always: later modules reuse many,
    and recompiling them all cost 8%)."""
    yield
    count = _memory_mappings()
    if count is not None and count < 30_000:
        return
    from jaxfit.estimators import _supervised
    from jaxfit.model_selection import _search

    jax.clear_caches()
    _search._COMPILED.clear()
    _supervised._cached_program.cache_clear()
    gc.collect()

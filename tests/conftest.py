"""Shared test settings: warnings are errors (pyproject), float64 on request."""

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

"""Every `Example:` in jaxfit's docstrings runs and prints what it shows.

Each example sees its module's globals plus `jax`, `jnp`, `np` and `jaxfit`, and runs
in a temporary folder (some write files).
"""

import doctest
import importlib
import pkgutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxfit


def _docstring_examples():
    finder = doctest.DocTestFinder(exclude_empty=True)
    for info in pkgutil.walk_packages(jaxfit.__path__, "jaxfit."):
        if info.name.startswith("jaxfit.cli._main") or info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for test in finder.find(module, module=module):
            if test.examples:
                yield pytest.param(test, id=test.name)


@pytest.mark.parametrize("test", list(_docstring_examples()))
def test_docstring_example(test, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    test.globs = {**test.globs, "jax": jax, "jnp": jnp, "np": np, "jaxfit": jaxfit}
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = []
    runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)

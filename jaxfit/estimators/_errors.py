"""Errors and warnings with scikit-learn's names, usable without scikit-learn."""

from __future__ import annotations

import functools
import sys


class NotFittedError(ValueError, AttributeError):
    """Raised by a method that needs a fitted estimator (scikit-learn's bases)."""


class DataConversionWarning(UserWarning):
    """A column-vector `y` was raveled (scikit-learn's warning of the same name)."""


class ConvergenceWarning(UserWarning):
    """A fit stopped at `max_iter` or diverged (scikit-learn's warning of the same name)."""


@functools.lru_cache(maxsize=None)
def _both(ours: type, theirs: type) -> type:
    return type(ours.__name__, (ours, theirs), {"__module__": ours.__module__, "__doc__": ours.__doc__})


def sklearn_class(name: str, ours: type) -> type:
    """`ours`, made a subclass of scikit-learn's class `name` too when scikit-learn is loaded.

    Then `except` clauses and warning filters written for either match. Code that
    catches scikit-learn's class has imported scikit-learn, so looking in `sys.modules`
    finds it without paying for importing scikit-learn here.
    """
    module = sys.modules.get("sklearn.exceptions")
    theirs = getattr(module, name, None) if module is not None else None
    return ours if theirs is None else _both(ours, theirs)

"""The scikit-learn estimator protocol without scikit-learn: parameters, validation, tags.

`BaseEstimator` gives `get_params` (read from the `__init__` signature), `set_params`,
`__repr__` and `__sklearn_tags__`, so `sklearn.base.clone`, `Pipeline`, `GridSearchCV`
and the estimator checks accept jaxfit's estimators, while `jaxfit.estimators` imports
without scikit-learn: the tags are built only when they are asked for, which only
scikit-learn does.

Parameters are validated in `fit` (never in `__init__`, as scikit-learn requires) with
the helpers at the end of this module; inputs in `_inputs`.
"""

from __future__ import annotations

import copy
import inspect
import numbers
import warnings

import numpy as np

from .._validation import host_key
from ._errors import NotFittedError, sklearn_class
from ._inputs import as_float_matrix, feature_names


class BaseEstimator:
    """Parameters from the `__init__` signature, as scikit-learn's `BaseEstimator`.

    Subclasses store every `__init__` argument unchanged under its own name and do
    all validation in `fit`, so `clone` and `set_params` round-trip exactly.
    """

    _estimator_type: str | None = None

    @classmethod
    def _get_param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return sorted(p.name for p in signature.parameters.values()
                      if p.name != "self" and p.kind != p.VAR_KEYWORD)

    def get_params(self, deep: bool = True) -> dict:
        """The constructor parameters; with `deep`, nested estimators' as `name__param`."""
        out = {}
        for name in self._get_param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update({f"{name}__{k}": v for k, v in value.get_params().items()})
            out[name] = value
        return out

    def set_params(self, **params):
        """Set parameters (`name` or nested `name__param`); returns the estimator."""
        valid = self.get_params(deep=True)
        nested: dict[str, dict] = {}
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in valid:
                raise ValueError(f"Invalid parameter {name!r} for estimator {type(self).__name__}. "
                                 f"Valid parameters are: {self._get_param_names()!r}.")
            if sub:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
                valid[name] = value
        for name, sub_params in nested.items():
            valid[name].set_params(**sub_params)
        return self

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = []
        for name in self._get_param_names():
            value, default = getattr(self, name), defaults.get(name, inspect.Parameter.empty)
            if not _same(value, default):
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_tags__(self):
        from sklearn.utils import InputTags, TargetTags, Tags

        return Tags(estimator_type=self._estimator_type, target_tags=TargetTags(required=False),
                    input_tags=InputTags())

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "n_features_in_")

    def _check_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            error = sklearn_class("NotFittedError", NotFittedError)
            raise error(f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                        f"appropriate arguments before using this estimator.")

    def _validate_X(self, X, *, reset: bool):
        """Check `X`; on `reset` (in fit) record `n_features_in_` and feature names,
        otherwise check that they match those seen in fit."""
        names = feature_names(X)
        arr = as_float_matrix(X)
        if reset:
            self.n_features_in_ = arr.shape[1]
            if names is not None:
                self.feature_names_in_ = names
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            return arr
        self._check_fitted()
        self._check_feature_names(names)
        if arr.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {arr.shape[1]} features, but {type(self).__name__} is "
                             f"expecting {self.n_features_in_} features as input.")
        return arr

    def _check_feature_names(self, names) -> None:
        fitted = getattr(self, "feature_names_in_", None)
        cls = type(self).__name__
        if fitted is None and names is not None:
            warnings.warn(f"X has feature names, but {cls} was fitted without feature names", UserWarning)
        elif fitted is not None and names is None:
            warnings.warn(f"X does not have valid feature names, but {cls} was fitted with "
                          f"feature names", UserWarning)
        elif fitted is not None and (len(fitted) != len(names) or np.any(fitted != names)):
            unseen, missing = sorted(set(names) - set(fitted)), sorted(set(fitted) - set(names))
            message = "The feature names should match those that were passed during fit.\n"
            if unseen:
                message += "Feature names unseen at fit time:\n" + _bullets(unseen)
            if missing:
                message += "Feature names seen at fit time, yet now missing:\n" + _bullets(missing)
            if not unseen and not missing:
                message += "Feature names must be in the same order as they were in fit.\n"
            raise ValueError(message)


def clone(estimator):
    """A new, unfitted estimator with the same parameters (nested estimators cloned),
    as `sklearn.base.clone` does, without scikit-learn."""
    params = {name: clone(value) if isinstance(value, BaseEstimator) else copy.deepcopy(value)
              for name, value in estimator.get_params(deep=False).items()}
    new = type(estimator)(**params)
    if hasattr(estimator, "_sklearn_output_config"):  # set_output's choice, kept as sklearn does
        new._sklearn_output_config = copy.deepcopy(estimator._sklearn_output_config)
    return new


def _bullets(names, limit: int = 5) -> str:
    lines = [f"- {name}\n" for name in names[:limit]]
    return "".join(lines) + ("- ...\n" if len(names) > limit else "")


def _same(value, default) -> bool:
    if value is default:
        return True
    try:
        return bool(type(value) is type(default) and value == default)
    except Exception:  # arrays and other values without a boolean ==
        return False


def check_real(estimator, name: str, *, low: float | None = None, high: float | None = None,
               open_low: bool = False, allow_none: bool = False, allow_inf: bool = False):
    """The parameter `name` as a float within bounds, else scikit-learn's style of error."""
    value = getattr(estimator, name)
    if value is None and allow_none:
        return None
    lo = "-inf" if low is None else low
    hi = "inf" if high is None else high
    left, right = "(" if open_low or low is None else "[", "]" if high is not None else ")"
    what = f"a float in the range {left}{lo}, {hi}{right}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"The {name!r} parameter of {type(estimator).__name__} must be {what}"
                        f"{' or None' if allow_none else ''}; got {value!r}.")
    v = float(value)
    below = low is not None and (v <= low if open_low else v < low)
    bad = np.isnan(v) or (np.isinf(v) and not allow_inf) or below or (high is not None and v > high)
    if bad:
        raise ValueError(f"The {name!r} parameter of {type(estimator).__name__} must be {what}; got {value!r}.")
    return v


def check_integer(estimator, name: str, *, low: int = 1, allow_none: bool = False):
    """The parameter `name` as an int of at least `low`."""
    value = getattr(estimator, name)
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"The {name!r} parameter of {type(estimator).__name__} must be an int "
                        f">= {low}{' or None' if allow_none else ''}; got {value!r}.")
    if value < low:
        raise ValueError(f"The {name!r} parameter of {type(estimator).__name__} must be an int "
                         f">= {low}; got {value!r}.")
    return int(value)


def check_option(estimator, name: str, options):
    """The parameter `name`, which must be one of `options`."""
    value = getattr(estimator, name)
    if not any(value is o or (isinstance(value, str) and value == o) for o in options):
        raise ValueError(f"The {name!r} parameter of {type(estimator).__name__} must be one of "
                         f"{list(options)!r}; got {value!r}.")
    return value


def random_key(estimator):
    """The `random_state` parameter (None, int or NumPy generator) as a JAX key.

    None draws a fresh seed from NumPy's global generator, as scikit-learn does, so
    `np.random.seed` makes such fits reproducible.
    """
    seed = estimator.random_state
    if seed is None:
        seed = np.random.randint(2**31 - 1)
    elif isinstance(seed, np.random.RandomState):
        seed = seed.randint(2**31 - 1)
    elif isinstance(seed, np.random.Generator):
        seed = seed.integers(2**31 - 1)
    elif isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"The 'random_state' parameter of {type(estimator).__name__} must be None, "
                        f"an int or a NumPy random generator; got {seed!r}.")
    return host_key(seed)

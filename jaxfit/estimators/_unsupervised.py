"""`KMeans` and `PCA` with scikit-learn's names, over `jaxfit.cluster.kmeans` and
`jaxfit.decomposition.pca` (each compiled once per shape by the core)."""

from __future__ import annotations

import numbers
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from .. import cluster, decomposition
from .._validation import from_pandas
from ..metrics._clustering import _sq_distances, inertia
from ._base import BaseEstimator, check_integer, check_option, check_real, random_key
from ._inputs import as_sample_weight, device_array


class _TransformerMixin:
    """`fit_transform`, and scikit-learn's `set_output` for what `transform` returns."""

    def fit_transform(self, X, y=None, **fit_params):
        """`fit(X)` then `transform(X)`."""
        return self.fit(X, y, **fit_params).transform(X)

    def set_output(self, *, transform=None):
        """Have `transform` return NumPy arrays ("default") or pandas DataFrames
        ("pandas": columns `get_feature_names_out()`, the index of a DataFrame `X`), as
        scikit-learn's `set_output`; None keeps the current setting. Returns self."""
        if transform is not None:
            if transform not in ("default", "pandas"):
                raise ValueError(f"`transform` must be 'default', 'pandas' or None; got {transform!r}.")
            # scikit-learn's attribute: its `clone` and `Pipeline` carry it over.
            self._sklearn_output_config = {"transform": transform}
        return self

    def _as_output(self, Z: np.ndarray, X):
        """`Z` as `set_output` asked: unchanged, or a DataFrame indexed like `X`."""
        if getattr(self, "_sklearn_output_config", {}).get("transform") != "pandas":
            return Z
        import pandas as pd  # set_output("pandas") is a pandas user's request

        index = X.index if isinstance(X, pd.DataFrame) else None
        return pd.DataFrame(Z, columns=self.get_feature_names_out(), index=index)


class KMeans(_TransformerMixin, BaseEstimator):
    """k-means clustering by Lloyd's algorithm, as `sklearn.cluster.KMeans`.

    Runs `jaxfit.cluster.kmeans`: k-means++ seeding (scikit-learn's greedy variant),
    the `n_init` restarts side by side under `vmap`, the lowest inertia kept.

    Args:
      n_clusters: number of clusters.
      init: "k-means++", "random" or an array of initial centers `[n_clusters, d]`.
      n_init: restarts; "auto" is 10 for "random", else 1. With an array `init`
        there is one run (warning if `n_init` asks for more), as scikit-learn.
      max_iter: most Lloyd iterations per restart.
      tol: relative tolerance on the center shift (scikit-learn's).
      random_state: seed (int), NumPy generator, or None for a fresh one.

    Attributes:
      cluster_centers_: `[n_clusters, d]`.
      labels_: cluster index of each training sample.
      inertia_: weighted sum of squared distances to the nearest center.
      n_iter_: Lloyd iterations of the kept restart.
      n_features_in_, feature_names_in_: the columns seen in `fit`.
    """

    _estimator_type = "clusterer"

    def __init__(self, n_clusters=8, *, init="k-means++", n_init="auto", max_iter=300, tol=1e-4,
                 random_state=None):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def fit(self, X, y=None, sample_weight=None):
        """Cluster `X [n, d]` (optionally weighted); `y` is ignored. Returns self."""
        del y
        X = self._validate_X(X, reset=True)
        n_clusters = check_integer(self, "n_clusters")
        if n_clusters > X.shape[0]:
            raise ValueError(f"n_samples={X.shape[0]} should be >= n_clusters={n_clusters}.")
        init = self.init
        if isinstance(init, str):
            check_option(self, "init", ("k-means++", "random"))
        else:
            init = device_array(np.asarray(init, np.float64))
        if self.n_init == "auto":
            n_init = 10 if isinstance(init, str) and init == "random" else 1
        else:
            n_init = check_integer(self, "n_init")
        if not isinstance(init, str) and n_init != 1:
            # Every restart from the same centers ends in the same place (scikit-learn's rule).
            warnings.warn(f"Explicit initial center position passed: performing only one init in "
                          f"KMeans instead of n_init={n_init}.", RuntimeWarning, stacklevel=2)
            n_init = 1
        result = cluster.kmeans(device_array(X), n_clusters, key=random_key(self), n_init=n_init,
                                init=init, max_iter=check_integer(self, "max_iter"),
                                tol=check_real(self, "tol", low=0.0),
                                sample_weight=device_array(as_sample_weight(sample_weight, X.shape[0])))
        result = jax.device_get(result)
        self.cluster_centers_ = np.asarray(result.centers, np.float64)
        self.labels_ = np.asarray(result.labels)
        self.inertia_ = float(result.inertia)
        self.n_iter_ = int(result.n_iter)
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "cluster_centers_")

    def predict(self, X) -> np.ndarray:
        """Index of the nearest center for each row of `X`."""
        X = self._validate_X(X, reset=False)
        return np.asarray(cluster.assign(device_array(self.cluster_centers_), device_array(X)))

    def fit_predict(self, X, y=None, sample_weight=None) -> np.ndarray:
        """`fit(X)` and return `labels_`."""
        return self.fit(X, y, sample_weight=sample_weight).labels_

    def transform(self, X) -> np.ndarray:
        """Euclidean distances `[n, n_clusters]` from each row to each center."""
        sq = _sq_distances(device_array(self._validate_X(X, reset=False)),
                           device_array(self.cluster_centers_))
        return self._as_output(np.asarray(jnp.sqrt(sq), np.float64), X)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Output column names "kmeans0", "kmeans1", ..., as scikit-learn names them."""
        del input_features
        self._check_fitted()
        # The fitted centers, not `n_clusters`, which set_params may change after fit.
        return np.asarray([f"kmeans{i}" for i in range(self.cluster_centers_.shape[0])], dtype=object)

    def score(self, X, y=None, sample_weight=None) -> float:
        """Minus the inertia of `X` on the fitted centers (higher is better)."""
        del y
        X = self._validate_X(X, reset=False)
        w = device_array(as_sample_weight(sample_weight, X.shape[0]))
        return -float(inertia(device_array(X), device_array(self.cluster_centers_), sample_weight=w))

    def __sklearn_tags__(self):
        from sklearn.utils import TransformerTags

        tags = super().__sklearn_tags__()
        # Outputs follow JAX's working precision (float32 unless x64), not the input's.
        tags.transformer_tags = TransformerTags(preserves_dtype=[])
        return tags


class PCA(_TransformerMixin, BaseEstimator):
    """Principal component analysis, as `sklearn.decomposition.PCA`.

    Runs `jaxfit.decomposition.pca`, whose solvers, variances and component signs are
    scikit-learn's.

    Args:
      n_components: components to keep: an int, a float in (0, 1) (the fewest
        components explaining more than that share of the variance), or None (all,
        `min(n, d)`).
      whiten: scale the scores to unit variance.
      svd_solver: "auto", "full", "covariance_eigh" or "randomized".
      iterated_power: power iterations for "randomized"; "auto" as scikit-learn.
      n_oversamples: extra sketch columns for "randomized".
      random_state: seed for "randomized" (int, NumPy generator, or None).

    Attributes:
      components_: `[n_components, d]` principal axes.
      explained_variance_, explained_variance_ratio_, singular_values_: per component.
      mean_: `[d]` feature means.
      n_components_, n_samples_, noise_variance_ (mean variance of the dropped
      directions), n_features_in_, feature_names_in_.
    """

    def __init__(self, n_components=None, *, whiten=False, svd_solver="auto", iterated_power="auto",
                 n_oversamples=10, random_state=None):
        self.n_components = n_components
        self.whiten = whiten
        self.svd_solver = svd_solver
        self.iterated_power = iterated_power
        self.n_oversamples = n_oversamples
        self.random_state = random_state

    def _n_components(self, n, d):
        k = self.n_components
        if k is None:
            return min(n, d), None
        if isinstance(k, numbers.Integral) and not isinstance(k, bool):
            if not 1 <= k <= min(n, d):
                raise ValueError(f"n_components={k} must be between 1 and min(n_samples, n_features)="
                                 f"{min(n, d)}.")
            return int(k), None
        # Not check_real: its message would name floats alone, and the range [.., 1.0].
        if isinstance(k, bool) or not isinstance(k, numbers.Real):
            raise TypeError(f"The 'n_components' parameter of PCA must be an int, a float in (0, 1) "
                            f"or None; got {k!r}.")
        share = float(k)
        if not 0.0 < share < 1.0:
            raise ValueError(f"A float n_components must be in (0, 1); got {share}.")
        return min(n, d), share

    def fit(self, X, y=None):
        """Fit the components to `X [n, d]` (n >= 2); `y` is ignored. Returns self."""
        del y
        X = self._validate_X(X, reset=True)
        n, d = X.shape
        if n < 2:
            raise ValueError(f"PCA needs at least 2 samples; got n_samples = {n}.")
        k, share = self._n_components(n, d)
        solver = check_option(self, "svd_solver", ("auto", "full", "covariance_eigh", "randomized"))
        if not isinstance(self.whiten, (bool, np.bool_)):
            raise TypeError(f"The 'whiten' parameter of PCA must be True or False; got {self.whiten!r}.")
        power = self.iterated_power
        if power == "auto":
            power = 7 if k < 0.1 * min(n, d) else 4
        else:
            power = check_integer(self, "iterated_power", low=0)
        key = random_key(self) if solver in ("auto", "randomized") else None
        fitted = jax.device_get(decomposition.pca(
            device_array(X), k, whiten=bool(self.whiten), solver=solver, key=key,
            n_oversamples=check_integer(self, "n_oversamples", low=0), n_iter=power))
        ratio = np.asarray(fitted.explained_variance_ratio, np.float64)
        if share is not None:  # scikit-learn's rule: the fewest components explaining > share
            k = int(np.searchsorted(np.cumsum(ratio), share, side="right") + 1)
            k = min(k, ratio.size)
        variance = np.asarray(fitted.explained_variance, np.float64)
        total = variance[0] / ratio[0] if ratio[0] > 0 else 0.0
        self.components_ = np.asarray(fitted.components, np.float64)[:k]
        self.explained_variance_ = variance[:k]
        self.explained_variance_ratio_ = ratio[:k]
        self.singular_values_ = np.asarray(fitted.singular_values, np.float64)[:k]
        self.mean_ = np.asarray(fitted.mean, np.float64)
        self.n_components_, self.n_samples_ = k, n
        rest = min(n, d) - k
        self.noise_variance_ = float(max(total - variance[:k].sum(), 0.0) / rest) if rest else 0.0
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "components_")

    def _fitted(self):
        return decomposition.PCA(device_array(self.mean_), device_array(self.components_),
                                 device_array(self.explained_variance_),
                                 device_array(self.explained_variance_ratio_),
                                 device_array(self.singular_values_), jnp.asarray(bool(self.whiten)))

    def transform(self, X) -> np.ndarray:
        """Scores `[n, n_components_]` of `X` on the components."""
        Z = self._fitted().transform(device_array(self._validate_X(X, reset=False)))
        return self._as_output(np.asarray(Z, np.float64), X)

    def inverse_transform(self, X) -> np.ndarray:
        """Data `[n, d]` rebuilt from scores `[n, n_components_]`."""
        self._check_fitted()
        Z = np.asarray(from_pandas(X), np.float64)
        return np.asarray(self._fitted().inverse_transform(device_array(Z)), np.float64)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Output column names "pca0", "pca1", ..., as scikit-learn names them."""
        del input_features
        self._check_fitted()
        return np.asarray([f"pca{i}" for i in range(self.n_components_)], dtype=object)

    def __sklearn_tags__(self):
        from sklearn.utils import TransformerTags

        tags = super().__sklearn_tags__()
        tags.transformer_tags = TransformerTags(preserves_dtype=[])
        return tags

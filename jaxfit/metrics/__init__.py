"""Weighted metrics: `metric(y_true, y_pred, *, sample_weight=None, ...) -> scalar`.

Pure `jnp` functions that run under `jax.jit` and `jax.vmap`; a 0/1 fold mask passed as
`sample_weight` scores the fold exactly as the fold on its own.
"""

from ._classification import accuracy as accuracy
from ._classification import confusion_matrix as confusion_matrix
from ._classification import f1 as f1
from ._classification import log_loss as log_loss
from ._classification import precision as precision
from ._classification import recall as recall
from ._classification import roc_auc as roc_auc
from ._clustering import inertia as inertia
from ._clustering import silhouette_score as silhouette_score
from ._registry import METRICS as METRICS
from ._registry import Metric as Metric
from ._registry import get_metric as get_metric
from ._regression import mae as mae
from ._regression import mse as mse
from ._regression import r2 as r2
from ._regression import rmse as rmse

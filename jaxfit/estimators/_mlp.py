"""Multi-layer perceptrons with scikit-learn's names and objective, over `jaxfit.fit`.

scikit-learn's MLP steps along the gradient of `loss + alpha/(2·n_batch)·||W||²` per
mini-batch (`_backprop`), where the loss is the weighted mean cross-entropy, or for
regression half the squared error *summed* over the m outputs: its `delta = pred - y`
is the same for every output column. jaxfit minimises exactly that, as
`weighted mean loss + penalties.l2(alpha/n_batch)` with the loss `_half_squared_error`
for regression; with no hidden layer and the identity activation it is `Ridge(alpha)`.

The loss scikit-learn *reports* (`loss_`, `loss_curve_`) averages the squared error
over outputs instead (`squared_loss`): `(objective - penalty)/m + penalty`. The loop
records only the objective, so with m > 1 outputs the penalty of every step is taken
at the fitted weights; with one output the reported loss is the objective.

`max_iter` counts epochs, as in scikit-learn; mini-batches follow `jaxfit.fit`.
"""

from __future__ import annotations

import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .. import losses, models, penalties, solvers
from .._fit import epoch_batch_rows, fit
from ._base import check_integer, check_option, check_real, random_key
from ._inputs import column_to_1d, device_array
from ._supervised import ClassifierMixin, RegressorMixin, SupervisedEstimator

_ACTIVATIONS = ("identity", "logistic", "tanh", "relu")
_OPTIMIZERS = ("adam", "sgd", "lbfgs")
_SCHEDULES = (None, "constant", "cosine", "linear")


def _half_squared_error(outputs, y):
    """scikit-learn's MLP regression loss per sample: half the squared error, summed over
    outputs (the sum its gradient takes)."""
    return 0.5 * losses.squared_error(outputs, y)


def _hold_out(key, weight, fraction):
    """A random `fraction` (rounded up) of the samples with weight, as a boolean mask.

    Traced, so early stopping can split each fold of a vmapped search on its own.
    """
    active = weight > 0
    n_held = jnp.ceil(fraction * jnp.sum(active))
    order = jnp.argsort(jnp.where(active, jax.random.uniform(key, weight.shape), 2.0))
    rank = jnp.zeros(weight.shape, jnp.int32).at[order].set(jnp.arange(weight.shape[0], dtype=jnp.int32))
    return active & (rank < n_held)


def _epoch_losses(history, n_steps, n_rows, batch):
    """Each step's entry replaced by its epoch's loss: the batches' objectives weighed by
    their rows, as scikit-learn's `_fit_stochastic` accumulates `batch_loss · rows / n`.

    The rows are those with non-zero weight (`n_rows`, traced), in `jaxfit.fit`'s
    batches: `ceil(n_rows / batch)` steps an epoch (`epoch_batch_rows`).
    """
    step = jnp.arange(history.shape[0])
    per_epoch = (n_rows + batch - 1) // batch
    epoch = step // per_epoch
    rows = jnp.where(step < n_steps, epoch_batch_rows(step % per_epoch, n_rows, batch), 0)
    rows = rows.astype(history.dtype)
    total = jax.ops.segment_sum(jnp.where(rows > 0, history * rows, 0.0), epoch, history.shape[0])
    return (total / jax.ops.segment_sum(rows, epoch, history.shape[0]))[epoch]


def _batch_rows(config, n):
    """Rows per optimizer step (n: full batch)."""
    if config["optimizer"] == "lbfgs":
        return n
    return min(200 if config["batch_size"] == "auto" else config["batch_size"], n)


def _optimizer(config, steps):
    opt = config["optimizer"]
    if isinstance(opt, optax.GradientTransformation):
        return opt
    if opt == "lbfgs":
        return solvers.lbfgs()
    schedule, lr = config["learning_rate_schedule"], config["learning_rate_init"]
    if callable(schedule):
        lr = schedule
    elif schedule == "cosine":
        lr = optax.cosine_decay_schedule(lr, steps)
    elif schedule == "linear":
        lr = optax.linear_schedule(lr, 0.0, steps)
    # scikit-learn's defaults: Adam's betas and epsilon are optax's; SGD uses Nesterov 0.9.
    return optax.adam(lr) if opt == "adam" else optax.sgd(lr, momentum=0.9, nesterov=True)


class _BaseMLP(SupervisedEstimator):
    _traced = ("alpha", "learning_rate_init")

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, alpha=1e-4, batch_size="auto",
                 learning_rate_init=1e-3, max_iter=200, tol=1e-4, early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=10, random_state=None, dropout=0.0,
                 optimizer="adam", learning_rate_schedule=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.tol = tol
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.dropout = dropout
        self.optimizer = optimizer
        self.learning_rate_schedule = learning_rate_schedule

    def _hyperparameters(self):
        hidden = self.hidden_layer_sizes
        hidden = (hidden,) if isinstance(hidden, numbers.Integral) else tuple(hidden)
        if not all(isinstance(h, numbers.Integral) and not isinstance(h, bool) and h >= 1 for h in hidden):
            raise ValueError(f"The 'hidden_layer_sizes' parameter of {type(self).__name__} must be "
                             f"positive ints, e.g. (100,); got {self.hidden_layer_sizes!r}.")
        if not isinstance(self.optimizer, optax.GradientTransformation):
            check_option(self, "optimizer", _OPTIMIZERS)
        if not callable(self.learning_rate_schedule):
            check_option(self, "learning_rate_schedule", _SCHEDULES)
        if self.batch_size != "auto":
            check_integer(self, "batch_size")
        if not isinstance(self.early_stopping, (bool, np.bool_)):
            raise TypeError(f"The 'early_stopping' parameter must be True or False; got {self.early_stopping!r}.")
        fraction = check_real(self, "validation_fraction", low=0.0, high=1.0, open_low=True)
        if fraction >= 1.0:
            raise ValueError(f"The 'validation_fraction' parameter must be in (0, 1); got {fraction}.")
        dropout = check_real(self, "dropout", low=0.0, high=1.0)
        if dropout >= 1.0:
            raise ValueError(f"The 'dropout' parameter must be in [0, 1); got {dropout}.")
        return {"hidden": tuple(int(h) for h in hidden),
                "activation": check_option(self, "activation", _ACTIVATIONS),
                "alpha": check_real(self, "alpha", low=0.0),
                "batch_size": self.batch_size,
                "learning_rate_init": check_real(self, "learning_rate_init", low=0.0, open_low=True),
                "max_iter": check_integer(self, "max_iter"),
                "tol": check_real(self, "tol", low=0.0),
                "early_stopping": bool(self.early_stopping), "validation_fraction": fraction,
                "n_iter_no_change": check_integer(self, "n_iter_no_change"),
                "dropout": dropout, "optimizer": self.optimizer,
                "learning_rate_schedule": self.learning_rate_schedule}

    def _key(self):
        return random_key(self)

    @staticmethod
    def _out_width(task):
        return None if task.kind == "binary" else task.n_outputs

    @classmethod
    def _model(cls, config, task):
        return models.mlp(config["hidden"], _activation(config["activation"]), config["dropout"],
                          cls._out_width(task))

    @classmethod
    def _train(cls, config, task, X, y, sample_weight, key):
        n = X.shape[0]
        rows = _batch_rows(config, n)
        steps = config["max_iter"] * math.ceil(n / rows)
        split_key, key = jax.random.split(key)
        validation_weight = patience = None
        if config["early_stopping"]:
            held = _hold_out(split_key, sample_weight, config["validation_fraction"])
            validation_weight = jnp.where(held, sample_weight, 0.0)
            sample_weight = jnp.where(held, 0.0, sample_weight)
            patience = config["n_iter_no_change"]
        elif config["optimizer"] != "lbfgs":
            # scikit-learn stops stochastic training after n_iter_no_change epochs without
            # improvement of the training loss; fit's patience watches it on all rows.
            validation_weight, patience = sample_weight, config["n_iter_no_change"]
        # A full-batch gradient is exact, so its size is a sound stopping rule (`tol`);
        # an epoch's mini-batch loss is too noisy for a one-epoch rule.
        tol = config["tol"] if rows >= n and not config["early_stopping"] else None
        total = jnp.sum(sample_weight)
        per_batch = total * jnp.minimum(1.0, rows / jnp.sum(sample_weight > 0))
        loss = {"regression": _half_squared_error, "binary": "binary_cross_entropy",
                "multiclass": "softmax_cross_entropy"}[task.kind]
        penalty = penalties.l2(config["alpha"] / per_batch)
        result = fit(cls._model(config, task), loss, X, y, optimizer=_optimizer(config, steps),
                     penalty=penalty, steps=steps, batch_size=None if rows >= n else rows,
                     sample_weight=sample_weight, key=key, tol=tol,
                     validation_weight=validation_weight, patience=patience)
        # A last, shorter batch weighs less in the epoch's reported loss, as in scikit-learn.
        history = _epoch_losses(result.history, result.n_steps, jnp.sum(sample_weight > 0), rows)
        m = task.n_outputs if task.kind == "regression" else None
        if m is not None:
            # scikit-learn's reported loss averages over the m outputs (module docstring).
            fitted_penalty = penalty.value(result.params)
            history = (history - fitted_penalty) / m + fitted_penalty
        return result._replace(history=history)

    def _set_fitted(self, params, result):
        task = self._fit_task
        layers = params["layers"]
        self.coefs_ = [layer["w"] for layer in layers]
        self.intercepts_ = [layer["b"] for layer in layers]
        self.n_layers_ = len(layers) + 1
        self.n_outputs_ = 1 if self._out_width(task) is None else self._out_width(task)
        self.out_activation_ = {"binary": "logistic", "multiclass": "softmax"}.get(task.kind, "identity")
        n_steps = int(result.n_steps)
        history = np.asarray(result.history, np.float64)[:n_steps]
        # The loop marks each epoch's last step in validation_history; without validation
        # weights ("lbfgs") every step is a full-batch epoch.
        marked = np.isfinite(np.asarray(result.validation_history)[:n_steps])
        ends = list(np.flatnonzero(marked) + 1) if marked.any() else list(range(1, n_steps + 1))
        if ends[-1] < n_steps:
            ends.append(n_steps)
        self.loss_curve_ = [float(history[b - 1]) for b in ends]  # `_train` wrote each epoch's loss
        self.n_iter_ = len(self.loss_curve_)
        self.loss_ = self.loss_curve_[-1]
        self.t_ = n_steps

    def _warn_on_max_iter(self, config):
        return self.n_iter_ >= config["max_iter"]

    def _get_fitted_params(self):
        return {"layers": [{"w": device_array(w), "b": device_array(b)}
                           for w, b in zip(self.coefs_, self.intercepts_)]}


def _activation(name):
    return "sigmoid" if name == "logistic" else name


_DOC_ARGS = """
    Args:
      hidden_layer_sizes: widths of the hidden layers, e.g. (100,) or (64, 32).
      activation: "relu", "tanh", "logistic" or "identity".
      alpha: L2 penalty strength (traced: a new value reuses the compiled fit).
      batch_size: rows per step; "auto" is min(200, n).
      learning_rate_init: the optimizer's learning rate (traced).
      max_iter: most epochs (steps for "lbfgs").
      tol: with full-batch steps (batch_size >= n, or "lbfgs"), stop when the largest
        gradient entry falls to `tol`. Mini-batch training stops instead after
        `n_iter_no_change` epochs without improvement of the training loss (any
        improvement counts: `jaxfit.fit`'s patience has no minimum), keeping the best
        parameters.
      early_stopping: hold out `validation_fraction` of the samples and stop after
        `n_iter_no_change` epochs without improvement of their loss (not of the
        accuracy or R² scikit-learn watches); the best parameters are kept.
      validation_fraction: share of samples held out with `early_stopping`.
      n_iter_no_change: patience in epochs (not used by "lbfgs" without early stopping).
      random_state: seed (int), NumPy generator, or None for a fresh one.
      dropout: (jaxfit) probability of dropping a hidden unit while training.
      optimizer: (jaxfit; scikit-learn's `solver`) "adam", "sgd" (Nesterov momentum
        0.9), "lbfgs" (full batch), or any optax `GradientTransformation`.
      learning_rate_schedule: (jaxfit) None/"constant", "cosine" or "linear" decay of
        `learning_rate_init` to zero over all steps, or an optax schedule
        `step -> learning rate`.

    Attributes:
      coefs_, intercepts_: per-layer weights `[in, out]` and biases `[out]`.
      n_iter_: epochs run; loss_curve_: training loss per epoch (scikit-learn's:
        half the squared error averaged over outputs, or the cross-entropy, plus
        alpha/(2·n_batch)·||W||²), the mean of its batches' losses weighed by their
        rows, as scikit-learn does, also with `sample_weight` (not by their weights);
        rows of weight zero are not trained on and do not count; loss_: the last.
      n_layers_, n_outputs_, out_activation_, t_ (optimizer steps),
      n_features_in_, feature_names_in_."""


class MLPClassifier(ClassifierMixin, _BaseMLP):
    __doc__ = ("Multi-layer perceptron classifier, as `sklearn.neural_network.MLPClassifier`.\n\n"
               "    Cross-entropy on a logistic output for two classes, softmax for more; class\n"
               "    labels of any type, in `classes_`.\n" + _DOC_ARGS + "\n      classes_: the sorted class labels.\n")


class MLPRegressor(RegressorMixin, _BaseMLP):
    __doc__ = ("Multi-layer perceptron regressor, as `sklearn.neural_network.MLPRegressor`.\n\n"
               "    Half the squared error with an identity output; `y` may be `[n]` or `[n, m]`\n"
               "    (a column `[n, 1]` is raveled, with a DataConversionWarning, as scikit-learn).\n"
               + _DOC_ARGS + "\n")
    _multi_output = True

    def _task(self, y, n_samples):
        # scikit-learn's MLPRegressor ravels a column y and so predicts `[n]`.
        y, task = super()._task(y, n_samples)
        if task.n_outputs == 1:
            y, task = column_to_1d(y, multi_output=False), task._replace(n_outputs=None)
        return y, task

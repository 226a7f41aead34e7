"""Classification metrics: `metric(y_true, y_pred, *, sample_weight=None, ...) -> scalar`.

Labels are integers `0..n_classes-1`, as jaxfit's data loaders produce them. Each metric
is a pure `jnp` function that runs under `jax.jit` and `jax.vmap`; static choices
(`average`, `n_classes`, `pos_label`) are keyword-only Python values. Samples of weight
zero are left out exactly, so `vmap` over a `[k, n]` batch of 0/1 fold masks passed as
`sample_weight` scores every fold without slicing.

Results match scikit-learn's, with one deliberate difference: a class counts as present
for `average="macro"` when it has positive weight in `y_true` or `y_pred`, where
scikit-learn counts any occurrence. Weight 0 thus means "not in the sample", and a masked
fold scores exactly as the fold on its own.

Called with concrete arrays, a metric checks them in Python and then runs one compiled
program, its jitted core: run op by op, its maths would compile a program per operation
at a process's first call (~0.5 s for `accuracy`). Under a caller's `jit`/`vmap` the
core is traced inline into the caller's program.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .. import _compile
from .._blocks import blocked_product
from .._validation import (as_array, check_choice, check_int, check_scalar, float_dtype, from_pandas,
                           is_traced, weights_or_ones)
from ._common import (as_labels, as_weights, check_same_length, concrete_labels,
                      resolve_n_classes, safe_divide, weighted_mean)

_AVERAGES = ("binary", "micro", "macro", "weighted")
# Rows per product in `_confusion_matrix`, whose partial matrices are then summed.
_CONFUSION_BLOCK = 256


def _labels_and_weights(y_true, y_pred, sample_weight):
    y_true = as_labels(y_true, "y_true")
    y_pred = as_labels(y_pred, "y_pred")
    check_same_length(y_true, y_pred, "y_pred")
    return y_true, y_pred, as_weights(sample_weight, y_true.shape[0])


def _float_weights(w, y_true):
    return weights_or_ones(w, y_true.shape[0], float_dtype())


@_compile.jit
def _accuracy(y_true, y_pred, w):
    w = _float_weights(w, y_true)
    return weighted_mean((y_true == y_pred).astype(w.dtype), w)


def accuracy(y_true, y_pred, *, sample_weight=None):
    """Weighted fraction of correct labels, as `sklearn.metrics.accuracy_score`.

    Args:
      y_true: true labels `[n]`.
      y_pred: predicted labels `[n]`.
      sample_weight: non-negative weights `[n]`; None weighs every sample 1.

    Returns:
      A scalar in `[0, 1]`.

    Example:
      >>> accuracy(jnp.array([0, 1, 1]), jnp.array([0, 1, 0]))
      Array(0.6666667, dtype=float32)
    """
    return _accuracy(*_labels_and_weights(y_true, y_pred, sample_weight))


def log_loss(y_true, y_prob, *, sample_weight=None, eps=None):
    """Weighted mean negative log-likelihood, as `sklearn.metrics.log_loss`.

    Args:
      y_true: true labels `[n]`: 0/1 when `y_prob` is 1-D, else `0..c-1`.
      y_prob: `[n]` probabilities of class 1, or `[n, c]` class probabilities whose rows
        sum to one (e.g. `jax.nn.softmax` of logits).
      sample_weight: non-negative weights `[n]`; None weighs every sample 1.
      eps: probabilities are clipped to `[eps, 1 - eps]` so a confident mistake costs a
        large but finite loss. None uses the machine epsilon of the dtype computed in,
        as scikit-learn does with `y_prob`'s: float64 probabilities are computed in
        float32 unless `jax_enable_x64` is on, so a confident mistake then costs
        -log(1.2e-7) = 15.9 where scikit-learn's float64 clip costs 36.0.

    Returns:
      A non-negative scalar; lower is better.

    Example:
      >>> log_loss(jnp.array([0, 1]), jnp.array([0.2, 0.9]))  # -(log 0.8 + log 0.9) / 2
      Array(0.16425204, dtype=float32)
    """
    y_true = as_labels(y_true, "y_true")
    y_prob = as_array(y_prob, "y_prob", ndim=(1, 2))
    check_same_length(y_true, y_prob, "y_prob")
    w = as_weights(sample_weight, y_true.shape[0])
    if eps is None:
        eps = float(jnp.finfo(y_prob.dtype).eps)
    else:
        check_scalar(eps, "eps", minimum=0.0, maximum=0.5)
        if hasattr(eps, "shape") and not is_traced(eps):
            eps = np.asarray(eps)[()]  # static in the core: a hashable scalar of the same dtype
    if not is_traced(y_prob):
        _check_probabilities(np.asarray(y_prob))
    if y_prob.ndim == 1:
        labels = concrete_labels(y_true)
        if labels is not None and not set(labels.tolist()) <= {0, 1}:
            raise ValueError(
                f"`y_true` must hold labels 0 and 1 when `y_prob` is 1-D (the probability "
                f"of class 1); got the labels {labels.tolist()}. Pass `y_prob` as "
                f"[n, n_classes] probabilities for more classes.")
    elif not is_traced(y_true):
        y_np = np.asarray(y_true)  # on the host: `y_true.min()` would compile a program
        if y_np.min() < 0 or y_np.max() >= y_prob.shape[1]:
            raise ValueError(
                f"`y_true` must hold labels 0..{y_prob.shape[1] - 1}, one per column of "
                f"`y_prob`; got labels from {int(y_np.min())} to {int(y_np.max())}. Encode "
                f"labels as 0..n_classes-1 and order the columns of `y_prob` the same way.")
    return _log_loss(y_true, y_prob, w, eps=eps)


@_compile.jit(static_argnames=("eps",))
def _log_loss(y_true, y_prob, w, eps):
    w = weights_or_ones(w, y_true.shape[0], y_prob.dtype)
    if y_prob.ndim == 1:
        y_prob = jnp.stack([1 - y_prob, y_prob], axis=1)
    p_true = jnp.take_along_axis(y_prob, y_true[:, None], axis=1)[:, 0]
    return weighted_mean(-jnp.log(jnp.clip(p_true, eps, 1 - eps)), w)


def _check_probabilities(p: np.ndarray) -> None:
    if p.min() < 0 or p.max() > 1:
        raise ValueError(
            f"`y_prob` must hold probabilities in [0, 1]; got values from {p.min()} to "
            f"{p.max()}. Pass jax.nn.sigmoid (binary) or jax.nn.softmax (multiclass) of "
            f"the logits.")
    if p.ndim == 2:
        sums = p.sum(axis=1)
        # scikit-learn's tolerance: sqrt(eps) of the dtype, relative to 1.
        bad = ~np.isclose(sums, 1.0, rtol=float(np.sqrt(np.finfo(p.dtype).eps)), atol=0.0)
        if bad.any():
            raise ValueError(
                f"`y_prob` rows must sum to 1; row {int(np.argmax(bad))} sums to "
                f"{sums[bad][0]}. Pass jax.nn.softmax of the logits.")


def roc_auc(y_true, y_score, *, sample_weight=None):
    """Weighted area under the ROC curve, as `sklearn.metrics.roc_auc_score` (binary).

    The probability that a random positive scores above a random negative, each drawn
    with probability proportional to its weight; tied scores count 1/2. It sorts the
    scores once and counts with `searchsorted`, O(n log n), with no n×n matrix.

    Args:
      y_true: true labels `[n]`, 0 or 1 (1 is the positive class).
      y_score: scores `[n]`, higher meaning more likely positive (probabilities,
        logits or any monotone transform of them).
      sample_weight: non-negative weights `[n]`; None weighs every sample 1.

    Returns:
      A scalar in `[0, 1]`; NaN when a traced weight vector leaves one class only.

    Example:
      >>> roc_auc(jnp.array([0, 0, 1, 1]), jnp.array([0.1, 0.4, 0.35, 0.8]))
      Array(0.75, dtype=float32)
    """
    y_true = as_labels(y_true, "y_true")
    ranks = _ranks_if_rounded(y_score)
    y_score = (as_array(y_score, "y_score", ndim=1) if ranks is None else
               as_array(ranks, "y_score", ndim=1, dtype="int"))
    check_same_length(y_true, y_score, "y_score")
    w = as_weights(sample_weight, y_true.shape[0])
    _check_roc_targets(y_true, w)
    return _roc_auc(y_true, y_score, w)


def _ranks_if_rounded(y_score) -> np.ndarray | None:
    """Concrete 64-bit scores, which JAX would round to float32 while x64 is off, as
    their dense ranks: the AUC depends on their order only, and rounding makes ties
    (probabilities 1 - 1e-9 and 1 - 2e-9, timestamps). None when they need no ranks."""
    if isinstance(y_score, jax.Array) or is_traced(y_score) or jax.config.jax_enable_x64:
        return None
    scores = np.asarray(from_pandas(y_score))
    if (scores.ndim != 1 or scores.dtype.kind not in "fiu" or scores.dtype.itemsize <= 4
            or not np.isfinite(scores).all()):
        return None  # as_array names what is wrong with them
    return np.unique(scores, return_inverse=True)[1].reshape(-1)


@_compile.jit
def _roc_auc(y_true, y_score, w):
    w = _float_weights(w, y_true)
    w_pos = jnp.where(y_true == 1, w, 0)
    w_neg = w - w_pos
    order = jnp.argsort(y_score)
    sorted_score = y_score[order]
    # neg_below[i] = weight of negatives among the i lowest scores.
    neg_below = jnp.concatenate([jnp.zeros((1,), dtype=w.dtype), jnp.cumsum(w_neg[order])])
    lo = jnp.searchsorted(sorted_score, y_score, side="left")
    hi = jnp.searchsorted(sorted_score, y_score, side="right")
    wins = neg_below[lo] + 0.5 * (neg_below[hi] - neg_below[lo])
    return (w_pos * wins).sum() / (w_pos.sum() * w_neg.sum())


def _check_roc_targets(y_true, w) -> None:
    labels = concrete_labels(y_true)
    if labels is None:
        return
    if not set(labels.tolist()) <= {0, 1}:
        raise ValueError(
            f"`y_true` must hold binary labels 0 and 1 (1 is positive); got the labels "
            f"{labels.tolist()}. Map them with (y == positive_label).astype(int).")
    if w is None or is_traced(w):  # unit weights keep every sample; traced ones are unknown
        present = np.asarray(y_true)
    else:
        present = np.asarray(y_true)[np.asarray(w) > 0]
    if np.unique(present).size < 2:
        raise ValueError(
            f"`y_true` holds only the class {present[0]} among samples with positive "
            f"weight; ROC AUC needs both classes 0 and 1. Use a stratified split so every "
            f"fold holds both classes.")


def _score(score, y_true, y_pred, sample_weight, average, pos_label, n_classes):
    """`score` of the weighted counts, averaged as `average`: checks, then the core."""
    check_choice(average, "average", _AVERAGES)
    y_true, y_pred, w = _labels_and_weights(y_true, y_pred, sample_weight)
    # The option that `average` ignores goes in as None: unchecked, it need not be hashable.
    if average == "binary":
        pos_label = check_int(pos_label, "pos_label")
        _check_binary_average(y_true, y_pred, pos_label)
        n_classes = None
    else:
        n_classes = resolve_n_classes(n_classes, ("y_true", "y_pred"), y_true, y_pred)
        pos_label = None
    return _averaged_score(y_true, y_pred, w, score=score, average=average,
                           pos_label=pos_label, n_classes=n_classes)


@_compile.jit(static_argnames=("score", "average", "pos_label", "n_classes"))
def _averaged_score(y_true, y_pred, w, score, average, pos_label, n_classes):
    counts = _counts(y_true, y_pred, _float_weights(w, y_true), average, pos_label, n_classes)
    return _average(score, *counts, average)


def _counts(y_true, y_pred, w, average, pos_label, n_classes):
    """Weighted (true positives, predicted, true) counts: scalars or per class `[c]`."""
    if average == "binary":
        t = jnp.where(y_true == pos_label, w, 0)
        p = (y_pred == pos_label).astype(w.dtype)
        return (t * p).sum(), (w * p).sum(), t.sum()
    t = w[:, None] * jax.nn.one_hot(y_true, n_classes, dtype=w.dtype)
    p = jax.nn.one_hot(y_pred, n_classes, dtype=w.dtype)
    return (t * p).sum(axis=0), (w[:, None] * p).sum(axis=0), t.sum(axis=0)


def _check_binary_average(y_true, y_pred, pos_label) -> None:
    labels = concrete_labels(y_true, y_pred)
    if labels is None:
        return
    if labels.size > 2:
        raise ValueError(
            f"`average` is 'binary', but `y_true` and `y_pred` hold {labels.size} classes "
            f"{labels.tolist()}; pass average='micro', 'macro' or 'weighted' (with "
            f"n_classes under jit) for multiclass labels.")
    if labels.size == 2 and pos_label not in labels.tolist():
        raise ValueError(
            f"`pos_label` must be one of the labels {labels.tolist()}; got {pos_label}. "
            f"Pass the label of the positive class.")


def _average(score, tp, predicted, true, average):
    if average == "binary":
        return score(tp, predicted, true)
    if average == "micro":
        return score(tp.sum(), predicted.sum(), true.sum())
    per_class = score(tp, predicted, true)
    if average == "macro":
        present = ((predicted + true) > 0).astype(per_class.dtype)
        return safe_divide((per_class * present).sum(), present.sum())
    return safe_divide((per_class * true).sum(), true.sum())


def _precision(tp, predicted, true):
    return safe_divide(tp, predicted)


def _recall(tp, predicted, true):
    return safe_divide(tp, true)


def _f1(tp, predicted, true):
    # 2·tp / (2·tp + fp + fn), scikit-learn's form: 0 (not NaN) when a class is absent.
    return safe_divide(2 * tp, predicted + true)


def precision(y_true, y_pred, *, sample_weight=None, average="binary", pos_label=1, n_classes=None):
    """Precision `tp / (tp + fp)`, as `sklearn.metrics.precision_score`.

    Args:
      y_true: true labels `[n]`.
      y_pred: predicted labels `[n]`.
      sample_weight: non-negative weights `[n]`; None weighs every sample 1.
      average: "binary" scores the class `pos_label` only; "micro" pools the counts of
        all classes; "macro" is the unweighted mean over the classes present (positive
        weight in `y_true` or `y_pred`); "weighted" weighs each class by its true count.
      pos_label: the positive class for average="binary"; ignored otherwise.
      n_classes: number of classes for the other averages, labels being
        `0..n_classes-1`. Inferred from concrete labels; required under jit/vmap when
        the labels are traced.

    Returns:
      A scalar in `[0, 1]`; 0 where it would divide by zero, as scikit-learn's default.

    Example:
      >>> precision(jnp.array([0, 1, 1, 0]), jnp.array([1, 1, 1, 0]))
      Array(0.6666667, dtype=float32)
    """
    return _score(_precision, y_true, y_pred, sample_weight, average, pos_label, n_classes)


def recall(y_true, y_pred, *, sample_weight=None, average="binary", pos_label=1, n_classes=None):
    """Recall `tp / (tp + fn)`, as `sklearn.metrics.recall_score`.

    Args:
      y_true: true labels `[n]`.
      y_pred: predicted labels `[n]`.
      sample_weight: non-negative weights `[n]`; None weighs every sample 1.
      average: "binary" scores the class `pos_label` only; "micro" pools the counts of
        all classes; "macro" is the unweighted mean over the classes present (positive
        weight in `y_true` or `y_pred`); "weighted" weighs each class by its true count.
      pos_label: the positive class for average="binary"; ignored otherwise.
      n_classes: number of classes for the other averages, labels being
        `0..n_classes-1`. Inferred from concrete labels; required under jit/vmap when
        the labels are traced.

    Returns:
      A scalar in `[0, 1]`; 0 where it would divide by zero, as scikit-learn's default.

    Example:
      >>> recall(jnp.array([0, 1, 2, 2]), jnp.array([0, 2, 2, 1]), average="macro")
      Array(0.5, dtype=float32)
    """
    return _score(_recall, y_true, y_pred, sample_weight, average, pos_label, n_classes)


def f1(y_true, y_pred, *, sample_weight=None, average="binary", pos_label=1, n_classes=None):
    """F1 score `2·tp / (2·tp + fp + fn)`, as `sklearn.metrics.f1_score`.

    Args:
      y_true: true labels `[n]`.
      y_pred: predicted labels `[n]`.
      sample_weight: non-negative weights `[n]`; None weighs every sample 1.
      average: "binary" scores the class `pos_label` only; "micro" pools the counts of
        all classes; "macro" is the unweighted mean over the classes present (positive
        weight in `y_true` or `y_pred`); "weighted" weighs each class by its true count.
      pos_label: the positive class for average="binary"; ignored otherwise.
      n_classes: number of classes for the other averages, labels being
        `0..n_classes-1`. Inferred from concrete labels; required under jit/vmap when
        the labels are traced.

    Returns:
      A scalar in `[0, 1]`; 0 where it would divide by zero, as scikit-learn's default.

    Example:
      >>> f1(jnp.array([0, 1, 1, 0]), jnp.array([1, 1, 1, 0]))
      Array(0.8, dtype=float32)
    """
    return _score(_f1, y_true, y_pred, sample_weight, average, pos_label, n_classes)


def confusion_matrix(y_true, y_pred, *, n_classes=None, sample_weight=None):
    """Weighted confusion matrix, as `sklearn.metrics.confusion_matrix`.

    Entry `[i, j]` is the total weight of samples of true class `i` predicted as `j`
    (rows true, columns predicted). It is a float array even without weights, so that
    weighted and unweighted calls trace to the same program.

    Args:
      y_true: true labels `[n]`, in `0..n_classes-1`.
      y_pred: predicted labels `[n]`, in `0..n_classes-1`.
      n_classes: size of the matrix. Inferred as the largest label + 1 when the labels
        are concrete (scikit-learn's `labels=range(n_classes)`); required under
        jit/vmap when they are traced.
      sample_weight: non-negative weights `[n]`; None weighs every sample 1.

    Returns:
      A `[n_classes, n_classes]` array.

    Example:
      >>> confusion_matrix(jnp.array([0, 1, 1]), jnp.array([0, 1, 0]))
      Array([[1., 0.],
             [1., 1.]], dtype=float32)
    """
    y_true, y_pred, w = _labels_and_weights(y_true, y_pred, sample_weight)
    n_classes = resolve_n_classes(n_classes, ("y_true", "y_pred"), y_true, y_pred)
    return _confusion_matrix(y_true, y_pred, w, n_classes=n_classes)


@_compile.jit(static_argnames=("n_classes",))
def _confusion_matrix(y_true, y_pred, w, n_classes):
    w = _float_weights(w, y_true)
    t = w[:, None] * jax.nn.one_hot(y_true, n_classes, dtype=w.dtype)
    p = jax.nn.one_hot(y_pred, n_classes, dtype=w.dtype)
    # Summed over blocks of rows (`_blocks`): as one product, a float32 count stopped at
    # 2^24. Blocks of at least n_classes rows keep the partial matrices no larger than `t`.
    # HIGHEST keeps weighted counts exact on accelerators whose default matmul is TF32.
    return blocked_product(t, p, max(_CONFUSION_BLOCK, n_classes), precision=jax.lax.Precision.HIGHEST)

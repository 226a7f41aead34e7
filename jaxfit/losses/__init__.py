"""Per-sample losses with one signature: `loss(outputs, y) -> [n]`."""

from ._losses import absolute_error as absolute_error
from ._losses import binary_cross_entropy as binary_cross_entropy
from ._losses import hinge as hinge
from ._losses import huber as huber
from ._losses import softmax_cross_entropy as softmax_cross_entropy
from ._losses import squared_error as squared_error

LOSSES = {
    "squared_error": squared_error,
    "absolute_error": absolute_error,
    "huber": huber,
    "binary_cross_entropy": binary_cross_entropy,
    "softmax_cross_entropy": softmax_cross_entropy,
    "hinge": hinge,
}


def get_loss(loss):
    """A loss function from its name in `LOSSES`, or the callable itself."""
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"`loss` must be one of {sorted(LOSSES)} or a callable; got {loss!r}.")
        return LOSSES[loss]
    if not callable(loss):
        raise TypeError(f"`loss` must be a callable loss(outputs, y) or a loss name; got {type(loss).__name__}.")
    return loss

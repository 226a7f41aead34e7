"""Models as pure `Model(init, apply)` pairs."""

from ._mlp import mlp as mlp
from ._model import Model as Model
from ._model import linear as linear
from ._model import logistic as logistic
from ._model import softmax as softmax

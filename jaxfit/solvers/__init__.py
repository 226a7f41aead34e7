"""Solvers: optax transforms pass through; jaxfit adds the classic methods."""

from ._base import Objective as Objective
from ._base import Solver as Solver
from ._base import as_solver as as_solver
from ._base import from_optax as from_optax

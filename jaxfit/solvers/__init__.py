"""Solvers: optax transforms pass through; jaxfit adds the classic methods."""

from ._base import Objective as Objective
from ._base import Solver as Solver
from ._base import as_solver as as_solver
from ._base import from_optax as from_optax
from ._closed_form import closed_form as closed_form
from ._glm import bound_cg as bound_cg
from ._closed_form import ridge_loo as ridge_loo
from ._lbfgs import lbfgs as lbfgs
from ._nelder_mead import NelderMeadResult as NelderMeadResult
from ._nelder_mead import nelder_mead as nelder_mead
from ._nelder_mead import nelder_mead_solver as nelder_mead_solver
from ._newton import newton as newton
from ._path import PathResult as PathResult
from ._path import regularization_path as regularization_path
from ._path import strength_grid as strength_grid
from ._proximal import proximal as proximal
from ._proximal import proximal_gradient as proximal_gradient

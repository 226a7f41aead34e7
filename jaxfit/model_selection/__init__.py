"""Cross-validation and hyperparameter search, each as one compiled, vmapped program."""

from ._cv import CVResult as CVResult
from ._cv import cross_validate as cross_validate
from ._fit_fns import FitFns as FitFns
from ._fit_fns import Trained as Trained
from ._fit_fns import make_fit_fns as make_fit_fns
from ._result import SearchResult as SearchResult
from ._search import search as search
from ._space import Distribution as Distribution
from ._space import choice as choice
from ._space import grid as grid
from ._space import loguniform as loguniform
from ._space import randint as randint
from ._space import random_search_space as random_search_space
from ._space import uniform as uniform
from ._split import Folds as Folds
from ._split import group_kfold as group_kfold
from ._split import kfold as kfold
from ._split import leave_one_out as leave_one_out
from ._split import shuffle_split as shuffle_split
from ._split import stratified_kfold as stratified_kfold

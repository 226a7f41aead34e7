"""jaxfit: train, cross-validate and tune models in JAX as one compiled program."""

from . import cluster as cluster
from . import data as data
from . import decomposition as decomposition
from . import io as io
from . import losses as losses
from . import metrics as metrics
from . import model_selection as model_selection
from . import models as models
from . import plot as plot
from . import penalties as penalties
from . import solvers as solvers
from ._version import __version__ as __version__
from ._fit import FitResult as FitResult
from ._fit import fit as fit
from .estimators import PCA as PCA
from .estimators import ElasticNet as ElasticNet
from .estimators import KMeans as KMeans
from .estimators import Lasso as Lasso
from .estimators import LinearRegression as LinearRegression
from .estimators import LogisticRegression as LogisticRegression
from .estimators import MLPClassifier as MLPClassifier
from .estimators import MLPRegressor as MLPRegressor
from .estimators import Ridge as Ridge
from .estimators import SearchCV as SearchCV

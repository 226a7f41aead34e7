"""scikit-learn-compatible estimators over jaxfit's functional core.

Same names, parameters and objectives as scikit-learn, so the same data give the same
solution; they work in `Pipeline`, `cross_val_score`, `clone` and `GridSearchCV`, and
import without scikit-learn.
"""

from ._errors import ConvergenceWarning as ConvergenceWarning
from ._errors import DataConversionWarning as DataConversionWarning
from ._errors import NotFittedError as NotFittedError
from ._linear import ElasticNet as ElasticNet
from ._linear import Lasso as Lasso
from ._linear import LinearRegression as LinearRegression
from ._linear import LogisticRegression as LogisticRegression
from ._linear import Ridge as Ridge
from ._mlp import MLPClassifier as MLPClassifier
from ._mlp import MLPRegressor as MLPRegressor
from ._unsupervised import PCA as PCA
from ._unsupervised import KMeans as KMeans
from ._search import SearchCV as SearchCV

"""Matrix decompositions: principal component analysis as a `PCA` NamedTuple."""

from ._pca import PCA as PCA
from ._pca import pca as pca

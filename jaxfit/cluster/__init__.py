"""Clustering: k-means (Lloyd and mini-batch) as functions returning `KMeansResult`."""

from ._kmeans import KMeansResult as KMeansResult
from ._kmeans import assign as assign
from ._kmeans import kmeans as kmeans
from ._minibatch import minibatch_kmeans as minibatch_kmeans

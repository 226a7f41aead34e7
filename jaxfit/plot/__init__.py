"""Plots of fits and searches (matplotlib, imported only when a plot is drawn).

Each function draws into `ax` (or a new figure), labels its axes and returns the Axes.
Install matplotlib with `pip install "jaxfit[plot]"`.
"""

from ._curves import cv_scores as cv_scores
from ._curves import loss_curve as loss_curve
from ._curves import validation_curve as validation_curve
from ._path import regularization_path as regularization_path

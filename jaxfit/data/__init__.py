"""Data in: CSV loading, bundled examples, splitting, scaling and label encoding."""

from ._csv import Dataset as Dataset
from ._csv import load_csv as load_csv
from ._examples import EXAMPLES as EXAMPLES
from ._examples import load_example as load_example
from ._scaling import Scaling as Scaling
from ._scaling import one_hot as one_hot
from ._scaling import standardize as standardize
from ._split import train_test_split as train_test_split

"""Save and load pytrees of arrays and search results: one .npz file, written
atomically, never pickled."""

from ._files import load as load
from ._files import load_metadata as load_metadata
from ._files import save as save

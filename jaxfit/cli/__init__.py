"""The `jaxfit` command line."""

from ._main import main as main

"""The ``bmb-es`` command line."""

from . import (
    _bench,  # noqa: F401  (registers the bench commands on app)
    _cluster,  # noqa: F401  (registers the cluster commands on app)
    _serve,  # noqa: F401  (registers the serve command on app)
)
from ._app import app, main

__all__ = ["app", "main"]

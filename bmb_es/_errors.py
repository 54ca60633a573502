"""Errors a user can act on.

Every expected failure raises a :class:`BmbError` subclass. The CLI prints its message on one line and
exits with its ``exit_code``; nothing else in the package should call ``sys.exit``.
"""

from __future__ import annotations


class BmbError(Exception):
    """Base class: ``str(error)`` says what was wrong, where, and what to do."""

    exit_code: int = 1


class InputError(BmbError):
    """A path, file or record the user gave cannot be read (missing path, empty folder, unknown format)."""

    exit_code = 3


class IndexNotFoundError(BmbError):
    """The named index does not exist."""

    exit_code = 4


class ModelMismatchError(BmbError):
    """The index was built with another embedding model or dimension than the one asked for."""

    exit_code = 5


class QueryError(BmbError):
    """A query is empty, or a request body uses DSL the engine does not execute."""

    exit_code = 6


class StorageError(BmbError):
    """The data directory cannot be created or written."""

    exit_code = 7


class ModelLoadError(BmbError):
    """An embedding model cannot be found or loaded."""

    exit_code = 8


class ClusterError(BmbError):
    """A cluster could not be reached, refused a request, or reported per-document failures."""

    exit_code = 9


class SettingError(ModelLoadError, ValueError):
    """An encoder setting (backend, precision, device or batch size) is not one bmb-es runs.

    A :class:`ModelLoadError` (exit code 8): the model cannot be loaded as asked. Also a ``ValueError``, which is
    what a bad argument to an embedder's constructor or to a ``BACKEND/PRECISION`` parser raised before.
    """

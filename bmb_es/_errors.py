"""Errors a user can act on.

Every expected failure raises a :class:`BmbError` subclass. The CLI prints its message on one line and
exits with its ``exit_code``; nothing else in the package should call ``sys.exit``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class BmbError(Exception):
    """Base class: ``str(error)`` says what was wrong, where, and what to do.

    A subclass names its exit code in its header (``class InputError(BmbError, exit_code=3)``) or keeps its base's.
    """

    exit_code: int = 1

    def __init_subclass__(cls, exit_code: int | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if exit_code is not None:
            cls.exit_code = exit_code


class InputError(BmbError, exit_code=3):
    """A path, file or record the user gave cannot be read (missing path, empty folder, unknown format)."""


class IndexNotFoundError(BmbError, exit_code=4):
    """The named index does not exist."""


class ModelMismatchError(BmbError, exit_code=5):
    """The index was built with another embedding model or dimension than the one asked for."""


class QueryError(BmbError, exit_code=6):
    """A query is empty, or a request body uses DSL the engine does not execute."""


class StorageError(BmbError, exit_code=7):
    """The data directory cannot be created or written, or an index cannot be read as it is (see below)."""


class IndexDamagedError(StorageError):
    """A file of an index is missing, truncated, or changed outside bmb-es; ``path`` names it.

    A :class:`StorageError` (exit code 7). The message is one line: the file, what is wrong with it, and what to
    do (``bmb-es check`` lists every damaged file; a damaged index is deleted and indexed again).

    Parameters
    ----------
    path
        The damaged file (or the folder where it should be).
    problem
        What is wrong with it, without the file's name.
    index
        The index's name.
    """

    def __init__(self, path: Path | str, problem: str, index: str) -> None:
        self.path = Path(path)
        self.problem = " ".join(problem.split())  # foreign messages (tantivy's) may span lines
        self.index = index
        super().__init__(
            f"{self.path}: {self.problem}; index {index!r} is damaged: bmb-es check {index} lists every damaged "
            f"file; delete it (bmb-es delete {index} --yes) and index again"
        )

    def __reduce__(self) -> tuple[type[IndexDamagedError], tuple[Path, str, str]]:
        return type(self), (self.path, self.problem, self.index)  # picklable despite the extra arguments


class ModelLoadError(BmbError, exit_code=8):
    """An embedding model cannot be found or loaded."""


class ClusterError(BmbError, exit_code=9):
    """A cluster could not be reached, refused a request, or reported per-document failures."""


class SettingError(ModelLoadError, ValueError):
    """An encoder setting (backend, precision, device or batch size) is not one bmb-es runs.

    A :class:`ModelLoadError` (exit code 8): the model cannot be loaded as asked. Also a ``ValueError``, which is
    what a bad argument to an embedder's constructor or to a ``BACKEND/PRECISION`` parser raised before.
    """

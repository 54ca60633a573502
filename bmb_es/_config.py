"""Where bmb-es keeps its data, and the defaults every entry point shares."""

from __future__ import annotations

import os
from pathlib import Path

from ._errors import StorageError

DATA_DIR_ENV = "BMB_ES_HOME"
DEFAULT_INDEX = "papers"


def data_dir(override: str | Path | None = None, *, create: bool = True) -> Path:
    """The per-user data folder: ``override``, else ``$BMB_ES_HOME``, else the platform's user data dir.

    On Linux that is ``~/.local/share/bmb-es``. Raises :class:`StorageError` if it cannot be created or written.
    """
    if override is not None:
        path = Path(override).expanduser()
    elif os.environ.get(DATA_DIR_ENV):
        path = Path(os.environ[DATA_DIR_ENV]).expanduser()
    else:
        import platformdirs

        path = Path(platformdirs.user_data_dir("bmb-es", appauthor=False))
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StorageError(
                f"data dir {path}: cannot create it ({error.strerror}); set --data-dir or ${DATA_DIR_ENV}"
            ) from error
        if not os.access(path, os.W_OK | os.X_OK):
            raise StorageError(f"data dir {path}: not writable; set --data-dir or ${DATA_DIR_ENV} to a writable folder")
    return path

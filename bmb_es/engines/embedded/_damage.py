"""tantivy's failures on a damaged index turned into :class:`IndexDamagedError` naming the damaged file.

tantivy checks little when it reads: random bytes in a term dictionary or a fast field reach its decoders, which
raise ``ValueError``/``OSError`` or panic (pyo3 raises ``PanicException``, a ``BaseException``). Every engine
call that reads tantivy runs inside :func:`reading`: on such a failure it verifies tantivy's files against their
checksums (a full read, paid only on this path) and raises the damage error for the first damaged file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..._errors import BmbError, IndexDamagedError
from ._store import TANTIVY_DIR, is_panic
from ._tantivy_files import damaged_files


@contextmanager
def reading(folder: Path) -> Iterator[None]:
    """Run engine code on the index in ``folder``; tantivy's failures on a damaged file become IndexDamagedError.

    A ``ValueError`` or ``OSError`` with no damaged file found is raised as it is (it is not damage); a panic
    always becomes the damage error (naming tantivy's folder when no file is found), never a traceback.
    ``KeyboardInterrupt``, ``SystemExit`` and bmb-es's own errors pass through unchanged.
    """
    try:
        yield
    except BmbError:
        raise
    except BaseException as error:
        panic = is_panic(error)
        if not panic and not isinstance(error, OSError | ValueError):
            raise
        target = folder / TANTIVY_DIR
        damage = damaged_files(target)
        if damage:
            path, problem = damage[0]
            raise IndexDamagedError(path, problem, folder.name) from None
        if panic:
            raise IndexDamagedError(target, f"tantivy failed reading it ({error})", folder.name) from None
        raise

"""Noticing commits: each tantivy commit rewrites ``meta.json``, and the engine compares it with what it last saw.

A commit from another process (``bmb-es index`` while a search runs) is seen on the next search with one
``stat`` for an index at rest; the engine then reloads tantivy's reader and re-maps the record files together.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from ..._errors import IndexDamagedError, IndexNotFoundError
from ._store import META_FILE, TANTIVY_DIR

# File times move in coarse steps (4 ms here) and freed inodes are reused, so two commits can leave meta.json with
# the same inode, size and time. Within this long of a file's time, its contents are compared too.
_RECENT_NS = 2_000_000_000


@dataclass(slots=True)
class Commit:
    """What the engine last saw of tantivy's ``meta.json``, which every commit rewrites (new file, then rename)."""

    path: str
    stat: tuple[int, int, int]
    content: bytes


def _meta_stat(path: str) -> os.stat_result:
    try:
        return os.stat(path)
    except FileNotFoundError:
        folder = Path(path).parent.parent
        if (folder / META_FILE).is_file():  # the index is there, its tantivy part is not
            raise IndexDamagedError(path, "missing", folder.name) from None
        raise IndexNotFoundError(f"{path} is gone (the index was deleted by another process?)") from None


def read_commit(folder: Path) -> Commit:
    """The commit now on disk in the index folder ``folder``."""
    path = str(folder / TANTIVY_DIR / "meta.json")
    stat = _meta_stat(path)
    with open(path, "rb") as handle:
        return Commit(path, (stat.st_ino, stat.st_mtime_ns, stat.st_size), handle.read())


def newer_commit(seen: Commit) -> Commit | None:
    """The commit now on disk when it differs from ``seen``, else ``None`` (one stat for an index at rest)."""
    stat = _meta_stat(seen.path)
    key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    if key == seen.stat and time.time_ns() - stat.st_mtime_ns > _RECENT_NS:
        return None
    with open(seen.path, "rb") as handle:
        content = handle.read()
    if content == seen.content:
        seen.stat = key
        return None
    return Commit(seen.path, key, content)

"""tantivy's files verified without tantivy: which file of a tantivy index is damaged, and how.

tantivy ends every segment file with a footer: a JSON object holding the CRC32 of the bytes before it, the JSON's
length (u32, little-endian) and the magic number 1337 (u32). tantivy checks the magic number when it opens a
segment, never the CRC (random bytes in the middle of a file reach its decoders, which may panic or return wrong
postings), so this module checks both. Reading every file costs a full read of the index: it runs in
``bmb-es check`` and after tantivy failed, to name the damaged file, never on the path of a search.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

from ._records import crc32_of

META_JSON = "meta.json"  # tantivy's own: the segments of the last commit (the index folder has another)
MANAGED_JSON = ".managed.json"  # the files tantivy created, for its garbage collection
SEGMENT_EXTENSIONS = (".term", ".idx", ".pos", ".store", ".fast", ".fieldnorm")
_FOOTER_MAGIC = 1337


def damaged_files(target: Path) -> list[tuple[Path, str]]:
    """Every damaged file of the tantivy index in folder ``target``: ``(path, what is wrong)``, empty if none.

    Checks that ``meta.json`` parses and lists segments, that ``.managed.json`` (when present: tantivy does
    without it) parses, and that every file of every listed segment exists and matches its footer's CRC32.
    """
    meta_path = target / META_JSON
    try:
        meta = json.loads(meta_path.read_bytes())
        segments = meta["segments"]
        files = [name for segment in segments for name in _segment_files(segment)]
    except FileNotFoundError:
        return [(meta_path, "missing")]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        return [(meta_path, f"not tantivy's metadata ({type(error).__name__}: {error})")]
    found = []
    managed = target / MANAGED_JSON
    try:
        if not isinstance(json.loads(managed.read_bytes()), list):
            found.append((managed, "not a list of files"))
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as error:
        found.append((managed, f"not tantivy's list of files ({type(error).__name__}: {error})"))
    for name in files:
        problem = footer_problem(target / name)
        if problem is not None:
            found.append((target / name, problem))
    return found


def _segment_files(segment: dict[str, object]) -> list[str]:
    """The files of one segment of tantivy's ``meta.json``: its six components and its deletes, if any."""
    stem = str(segment["segment_id"]).replace("-", "")
    names = [stem + extension for extension in SEGMENT_EXTENSIONS]
    deletes = segment.get("deletes")
    if isinstance(deletes, dict):
        names.append(f"{stem}.{int(deletes['opstamp'])}.del")
    return names


def footer_problem(path: Path) -> str | None:
    """What is wrong with the footer or checksum of one segment file, or ``None`` when it matches."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size < 8:
                return f"{size} bytes, too short for tantivy's footer"
            handle.seek(size - 8)
            length, magic = struct.unpack("<II", handle.read(8))
            if magic != _FOOTER_MAGIC or length + 8 > size:
                return "no tantivy footer at its end (truncated or overwritten)"
            handle.seek(size - 8 - length)
            try:
                expected = json.loads(handle.read(length))["crc"]
            except (ValueError, KeyError, TypeError):
                return "tantivy's footer does not parse"
            if crc32_of(handle, 0, size - 8 - length) != expected:
                return "does not match the checksum in its footer (bytes changed)"
    except FileNotFoundError:
        return "missing"
    except OSError as error:
        return f"cannot be read ({error.strerror or error})"
    return None

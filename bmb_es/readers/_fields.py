"""Small helpers that turn source values into Document field values.

Coercion policy (every coercion is noted on the Document as ``"<field>: <what>"`` and counted by ingest):

* text fields (``id``, ``title``, ``abstract``, ``body``, ``journal``, ``date``, ``doi``, ``pmid``, ``source``):
  a number becomes its decimal text (``"number → text"``), a boolean ``"true"``/``"false"``
  (``"boolean → text"``), a list its items' text joined by spaces (``"list → joined text"``), an object its JSON
  text (``"object → JSON text"``);
* list fields (``authors``, ``keywords``): a ``"; "``-separated string is split (the usual form, not noted); a
  list keeps its items, each one that is not text coerced as above (``"number item → text"``, ...); any other
  single value becomes a one-item list (``"number → text"``, ...);
* other source fields stay in ``extra`` as they are (JSON values), so nothing is coerced there;
* ``None``, empty strings and ``"nan"``/``"null"``/``"none"`` (CSV exports of missing values) are empty, not noted.
"""

from __future__ import annotations

import json
import re
from typing import Any

_SPLIT = re.compile(r"\s*;\s*")
_EMPTY = ("nan", "null", "none")

# What became of a value that was not text, as a field (first) and as an item of a list field (second).
_NOTES: dict[str, tuple[str, str]] = {
    "number": ("number → text", "number item → text"),
    "boolean": ("boolean → text", "boolean item → text"),
    "list": ("list → joined text", "list item → joined text"),
    "object": ("object → JSON text", "object item → JSON text"),
    "other": ("value → text", "value item → text"),
}


def _as_text(value: Any) -> tuple[str, str | None]:
    """``value`` as unstripped text, and the kind of value it was when it was not text (a key of ``_NOTES``)."""
    if value is None:
        return "", None
    if isinstance(value, str):
        return value, None
    if isinstance(value, bool):  # before int: bool is an int
        return ("true" if value else "false"), "boolean"
    if isinstance(value, int | float):
        return str(value), "number"
    if isinstance(value, list):
        return " ".join(part for part in (text(item) for item in value) if part), "list"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False), "object"
    return str(value), "other"


def _stripped(raw: str) -> str:
    stripped = raw.strip()
    return "" if stripped.lower() in _EMPTY else stripped


def text(value: Any) -> str:
    """A source value as stripped text (``None``, NaN-like empties and non-strings handled)."""
    return _stripped(_as_text(value)[0])


def field_text(value: Any, name: str, notes: list[str]) -> str:
    """:func:`text` of ``value``, noting in ``notes`` how a value that was not text became the field's text."""
    raw, kind = _as_text(value)
    out = _stripped(raw)
    if kind is not None and out:
        notes.append(f"{name}: {_NOTES[kind][0]}")
    return out


def split_list(value: Any, pattern: re.Pattern[str] = _SPLIT) -> tuple[str, ...]:
    """A ``"; "``-separated string (BREATHE, CORD-19) or a JSON list as a tuple of non-empty strings."""
    return field_list(value, "", [], pattern)


def field_list(value: Any, name: str, notes: list[str], pattern: re.Pattern[str] = _SPLIT) -> tuple[str, ...]:
    """:func:`split_list` of ``value``, noting in ``notes`` each item or value that was not text."""
    if isinstance(value, list):
        out: list[str] = []
        for item in value:
            raw, kind = _as_text(item)
            piece = _stripped(raw)
            if piece:
                out.append(piece)
                if kind is not None:
                    notes.append(f"{name}: {_NOTES[kind][1]}")
        return tuple(out)
    if value is None or isinstance(value, str):
        return tuple(part for part in pattern.split(text(value)) if part)
    single = field_text(value, name, notes)
    return (single,) if single else ()


def extra_fields(fields: dict[str, Any], used: set[str]) -> dict[str, Any]:
    """Every source field not mapped onto a Document field, kept JSON-serialisable and non-empty."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if key in used or value is None or value == "" or value == [] or value == {}:
            continue
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            value = str(value)
        out[key] = value
    return out

"""Small helpers that turn source values into Document field values."""

from __future__ import annotations

import json
import re
from typing import Any

_SPLIT = re.compile(r"\s*;\s*")


def text(value: Any) -> str:
    """A source value as stripped text (``None``, NaN-like empties and non-strings handled)."""
    if value is None:
        return ""
    if isinstance(value, str):
        stripped = value.strip()
        return "" if stripped.lower() in ("nan", "null", "none") else stripped
    if isinstance(value, list):
        return " ".join(text(item) for item in value if text(item))
    return str(value).strip()


def split_list(value: Any, pattern: re.Pattern[str] = _SPLIT) -> tuple[str, ...]:
    """A ``"; "``-separated string (BREATHE, CORD-19) or a JSON list as a tuple of non-empty strings."""
    if isinstance(value, list):
        return tuple(text(item) for item in value if text(item))
    return tuple(part for part in pattern.split(text(value)) if part)


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

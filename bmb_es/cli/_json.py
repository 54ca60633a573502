"""What ``--json`` prints: strict JSON, which has no NaN or Infinity (Python's ``json`` writes them by default)."""

from __future__ import annotations

import json
import math
from typing import Any


def json_text(data: Any, *, indent: int | None = 2, ensure_ascii: bool = True) -> str:
    """``data`` as strict JSON: a NaN or infinite float, which JSON cannot hold, becomes ``null``.

    Such floats can only come from a document's own fields (a source may hold them, see
    :mod:`bmb_es.engines.embedded._records`) or a division by a zero time; scores are never NaN.
    """
    return json.dumps(_finite(data), indent=indent, ensure_ascii=ensure_ascii, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value

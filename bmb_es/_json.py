"""The JSON of a typed record: a dataclass's fields by name, as the ``to_json`` of summaries and settings give it.

(What the CLI prints is made strict JSON by :func:`bmb_es.cli._json.json_text`.)
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Collection

    from _typeshed import DataclassInstance


def fields_json(record: DataclassInstance, *, omit: Collection[str] = (), **values: Any) -> dict[str, Any]:
    """``record``'s fields by name, in their order, with ``values`` in place of those of the same name.

    Parameters
    ----------
    record
        A dataclass instance; its field values are taken as they are (not copied).
    omit
        Fields left out.
    **values
        JSON-ready values for fields that are not (a rounded float, a list for a tuple), and extra keys, which
        follow the fields.
    """
    out = {field.name: getattr(record, field.name) for field in dataclasses.fields(record) if field.name not in omit}
    out.update(values)
    return out

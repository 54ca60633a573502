"""fields_json: a dataclass's fields by name, with JSON-ready values in place of some."""

from __future__ import annotations

from dataclasses import dataclass, field

from bmb_es import IngestSummary
from bmb_es._api import MergeSummary
from bmb_es._json import fields_json


@dataclass
class _Record:
    name: str
    span: tuple[int, int] = (1, 2)
    seconds: float = 0.123456
    hidden: list[str] = field(default_factory=list)


def test_fields_in_order_with_values_replaced_omitted_and_added() -> None:
    record = _Record("a", hidden=["x"])
    assert fields_json(record) == {"name": "a", "span": (1, 2), "seconds": 0.123456, "hidden": ["x"]}
    data = fields_json(record, omit=("hidden",), span=[1, 2], seconds=0.123, extra=True)
    assert list(data.items()) == [("name", "a"), ("span", [1, 2]), ("seconds", 0.123), ("extra", True)]


def test_summaries_json_as_before() -> None:
    summary = IngestSummary(index="p", read=10, seconds=2.0, segments=(3, 1), coerced={"b": 1, "a": 2})
    data = summary.to_json()
    assert data["docs_per_second"] == 5.0
    assert data["segments"] == [3, 1]
    assert list(data["coerced"]) == ["a", "b"]
    assert list(data)[:3] == ["index", "read", "indexed"]
    merged = MergeSummary(index="p", sources=["a", "b"], seconds=1.23456, duplicate_ids=[str(n) for n in range(30)])
    assert merged.to_json()["seconds"] == 1.235
    assert len(merged.to_json()["duplicate_ids"]) == 20

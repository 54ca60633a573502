"""Filters on a search: a range of publication years and a journal, as Elasticsearch ``filter`` clauses.

A filter narrows which documents may match; it never changes a score. On a cluster the clauses go into the
request (``bool.filter`` around the BM25 query, ``filter`` inside a kNN search) on the mapped fields
(``mappings/``): ``date`` (type ``date``, ``strict_date_optional_time||yyyy-MM||yyyy``) and ``journal``
(``keyword``: exact, case-sensitive). The embedded engine applies :meth:`Filters.matches` to each candidate's
stored source (see :mod:`bmb_es.engines.embedded._execute`).

User text stays data: a journal name only ever becomes the value of a ``term`` clause, and years are
parsed to integers before they are written into a date.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._errors import QueryError

DATE_FIELD = "date"
JOURNAL_FIELD = "journal"
MIN_YEAR = 1000
MAX_YEAR = 9999
MAX_JOURNAL_CHARS = 500
_YEARS = re.compile(r"^\s*(?P<start>\d{4})?\s*(?P<dash>[-–])?\s*(?P<end>\d{4})?\s*$")  # noqa: RUF001  (en dash)
# Dates as the readers store them (ISO, or a prefix of it) and as the mapping's date formats read them.
_DATE = re.compile(r"^(?P<year>\d{4})(?:-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12]\d|3[01])(?:T.*)?)?)?$")


def _first_day(year: int) -> str:
    return f"{year:04d}-01-01"


def _last_moment(year: int) -> str:
    # A full timestamp: with ``lte``, a date with missing parts would have them filled from the start of the year.
    return f"{year:04d}-12-31T23:59:59.999Z"


@dataclass(frozen=True, slots=True)
class Filters:
    """Which documents a search may return: published from ``year_from`` to ``year_to`` (inclusive; either may be
    open), in ``journal`` (the exact stored name). The default filters nothing.

    Parameters
    ----------
    year_from, year_to
        Four-digit years, ``year_from <= year_to``. A document whose ``date`` is missing or not a date is left out
        by any year bound, as a cluster leaves out a value its date mapping could not parse.
    journal
        The journal's exact name as stored (a ``keyword`` on a cluster: case and spaces matter).
    """

    year_from: int | None = None
    year_to: int | None = None
    journal: str | None = None

    def __post_init__(self) -> None:
        for label, year in (("from", self.year_from), ("to", self.year_to)):
            if year is not None and (isinstance(year, bool) or not MIN_YEAR <= year <= MAX_YEAR):
                raise QueryError(f"year filter: the year {label} must be a four-digit year, got {year!r}")
        if self.year_from is not None and self.year_to is not None and self.year_from > self.year_to:
            raise QueryError(f"year filter: {self.year_from} is after {self.year_to}: give the earlier year first")
        if self.journal is not None:
            if not self.journal.strip():
                raise QueryError("journal filter: the journal is empty: give its name or leave the filter out")
            if len(self.journal) > MAX_JOURNAL_CHARS:
                raise QueryError(f"journal filter: the name is longer than {MAX_JOURNAL_CHARS} characters")
            try:
                self.journal.encode("utf-8")
            except UnicodeEncodeError:
                raise QueryError("journal filter: the name is not UTF-8 text") from None

    @classmethod
    def parse(cls, year: str | None = None, journal: str | None = None) -> Filters:
        """Filters from user text: ``year`` as ``2019-2021``, ``2019`` (that year), ``2019-`` or ``-2021``.

        Empty or blank values filter nothing; a journal name is stripped of surrounding spaces.

        Raises
        ------
        QueryError
            A year range that is not one of those shapes, or whose years are out of order.
        """
        start = end = None
        if year is not None and year.strip():
            match = _YEARS.match(year)
            if match is None or (match["start"] is None and match["end"] is None):
                raise QueryError(f"year filter {year!r}: give YYYY, YYYY-YYYY, YYYY- or -YYYY (e.g. 2019-2021)")
            start = int(match["start"]) if match["start"] else None
            end = int(match["end"]) if match["end"] else None
            if match["dash"] is None:
                end = start
        name = journal.strip() if journal is not None and journal.strip() else None
        return cls(start, end, name)

    def __bool__(self) -> bool:
        return self.year_from is not None or self.year_to is not None or self.journal is not None

    def describe(self) -> str:
        """The filters in words, e.g. ``years 2019-2021, journal 'Thorax'`` (empty when none)."""
        parts = []
        if self.year_from is not None or self.year_to is not None:
            parts.append(f"years {self.year_from or ''}-{self.year_to or ''}")
        if self.journal is not None:
            parts.append(f"journal {self.journal!r}")
        return ", ".join(parts)

    def clauses(self) -> list[dict[str, Any]]:
        """The Elasticsearch ``filter`` clauses: ``range`` on ``date``, ``term`` on ``journal``."""
        out: list[dict[str, Any]] = []
        if self.year_from is not None or self.year_to is not None:
            bounds: dict[str, str] = {}
            if self.year_from is not None:
                bounds["gte"] = _first_day(self.year_from)
            if self.year_to is not None:
                bounds["lte"] = _last_moment(self.year_to)
            out.append({"range": {DATE_FIELD: bounds}})
        if self.journal is not None:
            out.append({"term": {JOURNAL_FIELD: self.journal}})
        return out

    @classmethod
    def from_clauses(cls, clauses: Any, path: str) -> Filters:
        """The filters that :meth:`clauses` wrote; anything else is refused with a :class:`QueryError` naming it."""
        items: Sequence[Any] = clauses if isinstance(clauses, list) else [clauses]
        start = end = None
        journal = None
        for position, clause in enumerate(items):
            where = f"{path}[{position}]" if isinstance(clauses, list) else path
            if not isinstance(clause, Mapping) or len(clause) != 1:
                raise _refused(where, "a filter clause other than one range on date or term on journal")
            ((kind, value),) = clause.items()
            if kind == "range" and isinstance(value, Mapping) and set(value) == {DATE_FIELD}:
                start, end = _parse_range(value[DATE_FIELD], f"{where}.range.{DATE_FIELD}")
            elif kind == "term" and isinstance(value, Mapping) and set(value) == {JOURNAL_FIELD}:
                journal = _term_value(value[JOURNAL_FIELD], f"{where}.term.{JOURNAL_FIELD}")
            else:
                raise _refused(f"{where}.{kind}", "a filter other than range on date or term on journal")
        return cls(start, end, journal)

    def matches(self, source: Mapping[str, Any]) -> bool:
        """Whether a stored ``_source`` passes (what a cluster's filter keeps)."""
        if self.journal is not None and source.get(JOURNAL_FIELD) != self.journal:
            return False
        if self.year_from is None and self.year_to is None:
            return True
        year = source_year(source)
        if year is None:
            return False
        return (self.year_from is None or year >= self.year_from) and (self.year_to is None or year <= self.year_to)


NO_FILTERS = Filters()  # the default everywhere: filters nothing


def source_year(source: Mapping[str, Any]) -> int | None:
    """The year of a source's ``date`` when it is an ISO date or a prefix of one (``2020``, ``2020-03``), else
    ``None`` (a cluster's date mapping would not index it either)."""
    value = source.get(DATE_FIELD)
    if not isinstance(value, str):
        return None
    match = _DATE.match(value)
    return int(match["year"]) if match else None


def _refused(path: str, what: str) -> QueryError:
    return QueryError(
        f"request body: {path}: {what} is not supported; filters the embedded engine runs are "
        f'{{"range": {{"date": {{"gte": "YYYY-01-01", "lte": "YYYY-12-31T23:59:59.999Z"}}}}}} '
        f'and {{"term": {{"journal": "NAME"}}}}'
    )


def _parse_range(bounds: Any, path: str) -> tuple[int | None, int | None]:
    if not isinstance(bounds, Mapping) or not bounds or not set(bounds) <= {"gte", "lte"}:
        raise _refused(path, "a date range other than gte and/or lte")
    start = end = None
    if "gte" in bounds:
        start = _year_of(bounds["gte"], _first_day, f"{path}.gte")
    if "lte" in bounds:
        end = _year_of(bounds["lte"], _last_moment, f"{path}.lte")
    return start, end


def _year_of(value: Any, render: Callable[[int], str], path: str) -> int:
    text = value if isinstance(value, str) else ""
    head = text[:4]
    if not head.isdigit() or render(int(head)) != text:
        raise _refused(path, f"the bound {value!r} (a year's first day for gte, its last moment for lte)")
    return int(head)


def _term_value(value: Any, path: str) -> str:
    if isinstance(value, Mapping) and set(value) == {"value"}:
        value = value["value"]
    if not isinstance(value, str):
        raise _refused(path, f"the value {value!r}")
    return value

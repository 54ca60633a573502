"""The DSL subset the embedded engine executes: exactly what the query builder emits.

Parsing turns a request body into a :class:`SearchPlan` or raises :class:`QueryError` naming the
unsupported clause and its path in the body. Nothing else is accepted silently.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..._errors import QueryError
from ...query import SCORE_MODES, VECTOR_FIELD, QuerySpec

SUBSET_HELP = (
    "the embedded engine runs the bmb-es query subset: multi_match (best_fields) or match_all, "
    "size, _source excludes, and one rescore with script_score cosineSimilarity; "
    "send other DSL to an Elasticsearch or OpenSearch cluster"
)
_COSINE = re.compile(
    r"^\s*cosineSimilarity\(\s*params\.(?P<param>\w+)\s*,\s*(?:'(?P<field>\w+)'|doc\['(?P<docfield>\w+)'\])\s*\)"
    r"\s*\+\s*1(?:\.0*)?\s*$"
)


@dataclass(frozen=True, slots=True)
class FieldBoost:
    field: str
    boost: float


@dataclass(frozen=True, slots=True)
class TextQuery:
    """A ``multi_match`` best_fields query; ``fields`` empty means ``match_all``."""

    text: str
    fields: tuple[FieldBoost, ...]
    tie_breaker: float = 0.0


@dataclass(frozen=True, slots=True, eq=False)
class CosineRescore:
    """One ``script_score`` cosine rescorer; ``vector`` is float32 (what stored vectors are) and read-only."""

    window_size: int
    vector: npt.NDArray[np.float32]
    vector_norm: float
    vector_field: str
    query_weight: float
    rescore_query_weight: float
    score_mode: str


@dataclass(frozen=True, slots=True)
class SearchPlan:
    query: TextQuery
    size: int
    rescore: CosineRescore | None
    source_excludes: tuple[str, ...]


def _unsupported(path: str, what: str) -> QueryError:
    return QueryError(f"request body: {path}: {what} is not supported; {SUBSET_HELP}")


def _only_keys(value: Mapping[str, Any], allowed: set[str], path: str) -> None:
    for key in value:
        if key not in allowed:
            raise _unsupported(f"{path}.{key}" if path else key, repr(key))


def _as_mapping(value: Any, path: str) -> Mapping[str, Any]:
    if isinstance(value, dict):  # the common case, checked first: the Mapping ABC check is slower
        return value
    if not isinstance(value, Mapping):
        raise QueryError(f"request body: {path} must be an object, got {type(value).__name__}")
    return value


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise QueryError(f"request body: {path} must be a finite number, got {value!r}")
    return float(value)


def _int(value: Any, path: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise QueryError(f"request body: {path} must be an integer >= {minimum}, got {value!r}")
    return value


def _vector(values: list[Any], path: str) -> npt.NDArray[np.float32]:
    """A list of finite numbers as a read-only float32 array, checked by numpy in one pass (hundreds of them)."""
    try:
        array = np.asarray(values)
    except ValueError:  # ragged: nested lists of different lengths
        raise QueryError(f"request body: {path} must hold only numbers") from None
    if array.ndim != 1 or array.dtype.kind not in "iuf":  # bools, strings, None and lists are refused
        raise QueryError(f"request body: {path} must hold only numbers")
    if not np.isfinite(array).all():
        raise QueryError(f"request body: {path} holds NaN or infinite values")
    vector = array.astype(np.float32)
    vector.flags.writeable = False
    return vector


def parse_field(spec: str, path: str) -> FieldBoost:
    name, _, boost = spec.partition("^")
    if not name:
        raise QueryError(f"request body: {path}: empty field name in {spec!r}")
    try:
        weight = float(boost) if boost else 1.0
    except ValueError:
        raise QueryError(f"request body: {path}: bad boost in {spec!r}") from None
    return FieldBoost(name, weight)


def _parse_query(query: Mapping[str, Any]) -> TextQuery:
    if len(query) != 1:
        raise QueryError(f"request body: query must hold exactly one clause, got {sorted(query)}")
    ((kind, clause),) = query.items()
    if kind == "match_all":
        _only_keys(_as_mapping(clause, "query.match_all"), set(), "query.match_all")
        return TextQuery("", ())
    if kind != "multi_match":
        raise _unsupported(f"query.{kind}", "this query type")
    clause = _as_mapping(clause, "query.multi_match")
    _only_keys(clause, {"query", "fields", "type", "tie_breaker", "operator"}, "query.multi_match")
    if clause.get("type", "best_fields") != "best_fields":
        raise _unsupported("query.multi_match.type", repr(clause["type"]))
    if str(clause.get("operator", "or")).lower() != "or":
        raise _unsupported("query.multi_match.operator", repr(clause["operator"]))
    text = clause.get("query")
    if not isinstance(text, str) or not text.strip():
        raise QueryError("request body: query.multi_match.query must be non-empty text")
    fields = clause.get("fields")
    if not isinstance(fields, list) or not fields or not all(isinstance(item, str) for item in fields):
        raise QueryError("request body: query.multi_match.fields must be a non-empty list of field names")
    tie = _number(clause.get("tie_breaker", 0.0), "query.multi_match.tie_breaker")
    return TextQuery(text, tuple(parse_field(item, "query.multi_match.fields") for item in fields), tie)


def _parse_rescore(rescore: Any) -> CosineRescore:
    if isinstance(rescore, list):
        if len(rescore) != 1:
            raise _unsupported("rescore", "more than one rescorer")
        rescore = rescore[0]
    rescore = _as_mapping(rescore, "rescore")
    _only_keys(rescore, {"window_size", "query"}, "rescore")
    window = _int(rescore.get("window_size", 10), "rescore.window_size", 1)
    query = _as_mapping(rescore.get("query"), "rescore.query")
    _only_keys(query, {"rescore_query", "query_weight", "rescore_query_weight", "score_mode"}, "rescore.query")
    score_mode = query.get("score_mode", "total")
    if score_mode not in SCORE_MODES:
        raise QueryError(f"request body: rescore.query.score_mode {score_mode!r}: one of {', '.join(SCORE_MODES)}")
    rescore_query = _as_mapping(query.get("rescore_query"), "rescore.query.rescore_query")
    _only_keys(rescore_query, {"script_score"}, "rescore.query.rescore_query")
    script_score = _as_mapping(rescore_query.get("script_score"), "rescore.query.rescore_query.script_score")
    base = "rescore.query.rescore_query.script_score"
    _only_keys(script_score, {"query", "script"}, base)
    inner = _as_mapping(script_score.get("query", {"match_all": {}}), f"{base}.query")
    if dict(inner) != {"match_all": {}}:
        raise _unsupported(f"{base}.query", "a query other than match_all")
    script = _as_mapping(script_score.get("script"), f"{base}.script")
    _only_keys(script, {"source", "params", "lang"}, f"{base}.script")
    if script.get("lang", "painless") != "painless":
        raise _unsupported(f"{base}.script.lang", repr(script["lang"]))
    match = _COSINE.match(str(script.get("source", "")))
    if match is None:
        raise _unsupported(f"{base}.script.source", "a script other than cosineSimilarity(params.X, 'field') + 1.0")
    params = _as_mapping(script.get("params", {}), f"{base}.script.params")
    vector = params.get(match["param"])
    if not isinstance(vector, list) or not vector:
        raise QueryError(f"request body: {base}.script.params.{match['param']} must be a non-empty list of numbers")
    values = _vector(vector, f"{base}.script.params.{match['param']}")
    return CosineRescore(
        window_size=window,
        vector=values,
        vector_norm=float(np.linalg.norm(values)),
        vector_field=match["field"] or match["docfield"],
        query_weight=_number(query.get("query_weight", 1.0), "rescore.query.query_weight"),
        rescore_query_weight=_number(query.get("rescore_query_weight", 1.0), "rescore.query.rescore_query_weight"),
        score_mode=str(score_mode),
    )


def parse_body(body: Mapping[str, Any]) -> SearchPlan:
    """Check ``body`` against the supported subset and turn it into a plan."""
    body = _as_mapping(body, "body")
    _only_keys(body, {"query", "size", "rescore", "_source"}, "")
    query = _parse_query(_as_mapping(body.get("query", {"match_all": {}}), "query"))
    size = _int(body.get("size", 10), "size", 0)
    excludes: tuple[str, ...] = ()
    if "_source" in body:
        source = _as_mapping(body["_source"], "_source")
        _only_keys(source, {"excludes"}, "_source")
        raw = source.get("excludes", [])
        if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
            raise QueryError("request body: _source.excludes must be a list of field names")
        excludes = tuple(raw)
    rescore = _parse_rescore(body["rescore"]) if "rescore" in body else None
    return SearchPlan(query, size, rescore, excludes)


def plan_for(question: str, vector: npt.ArrayLike | None, spec: QuerySpec) -> SearchPlan:
    """The plan of ``build_body(question, vector, spec)``, made without parsing the body back.

    Equal to ``parse_body(build_body(question, vector, spec))`` (tested). Call it with inputs that
    :func:`~bmb_es.query.build_body` has accepted: it repeats none of its checks. It saves a warm search the
    vector's trip through a JSON list and back (hundreds of Python floats) and the walk over the body.
    """
    rescore = None
    if spec.rerank is not None and vector is not None:
        # float64 first, as the body's JSON list holds it, so the float32 vector is the one parse_body makes.
        values = np.asarray(vector, dtype=np.float64).astype(np.float32)
        values.flags.writeable = False
        rescore = CosineRescore(
            window_size=spec.rerank.top_k,
            vector=values,
            vector_norm=float(np.linalg.norm(values)),
            vector_field=VECTOR_FIELD,
            query_weight=float(spec.rerank.query_weight),
            rescore_query_weight=float(spec.rerank.rescore_query_weight),
            score_mode=spec.rerank.score_mode,
        )
    fields = tuple(parse_field(item, "query.multi_match.fields") for item in spec.fields)
    return SearchPlan(TextQuery(question.strip(), fields), spec.size, rescore, (VECTOR_FIELD,))


def combine(score_mode: str, primary: Any, secondary: Any) -> Any:
    """Elasticsearch's QueryRescorer combination of the weighted first-pass and rescore scores.

    Works on numbers and, elementwise, on numpy arrays (a whole rescore window at once).
    """
    if score_mode == "total":
        return primary + secondary
    if score_mode == "multiply":
        return primary * secondary
    if score_mode == "avg":
        return (primary + secondary) / 2
    if score_mode == "max":
        return np.maximum(primary, secondary)
    if score_mode == "min":
        return np.minimum(primary, secondary)
    raise QueryError(f"score_mode {score_mode!r}")

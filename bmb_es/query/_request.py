"""The typed search request every engine executes, and its two faces: an Elasticsearch body and back.

:class:`SearchRequest` is what bmb-es means by a search. Clusters get ``request.to_body(dialect)``; the
embedded engine executes the request itself; ``bmb-es query --explain`` prints the body. A body a user
hands in (``engine.search(index, body)``) becomes a request with :meth:`SearchRequest.from_body`, which
accepts exactly what :meth:`~SearchRequest.to_body` writes and refuses anything else, naming the clause
and its path. ``SearchRequest.from_body(request.to_body(d)) == request`` for every request and dialect.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from .._errors import QueryError
from . import _builder
from ._builder import DEFAULT_FIELDS, MAX_SIZE, SCORE_MODES, VECTOR_FIELD, Dialect, QuerySpec, Rerank, ScoreMode
from ._dense import knn_clause
from ._filters import NO_FILTERS, Filters

SUBSET_HELP = (
    "the embedded engine runs the bmb-es query subset: multi_match (best_fields or most_fields) or match_all, "
    "size, _source excludes, one rescore with script_score cosineSimilarity, or a kNN search on 'embedding'; "
    "a bool with that query in must and filter clauses (range on date, term on journal); "
    "send other DSL to an Elasticsearch or OpenSearch cluster"
)
# Both dialects' painless: Elasticsearch names the field as a string, OpenSearch's k-NN extension takes doc[...].
_COSINE = re.compile(
    r"^\s*cosineSimilarity\(\s*params\.(?P<param>\w+)\s*,\s*(?:'(?P<field>\w+)'|doc\['(?P<docfield>\w+)'\])\s*\)"
    r"\s*\+\s*1(?:\.0*)?\s*$"
)


@dataclass(frozen=True, slots=True)
class FieldBoost:
    """One searched field and its ``^boost``."""

    field: str
    boost: float = 1.0

    @classmethod
    def parse(cls, spec: str, where: str = "request body: fields") -> FieldBoost:
        """``name`` or ``name^boost``; ``where`` starts each error (a body path, or a CLI option: ``--fields``)."""
        name, _, boost = spec.partition("^")
        if not name:
            raise QueryError(f"{where}: empty field name in {spec!r}")
        try:
            weight = float(boost) if boost else 1.0
        except ValueError:
            raise QueryError(f"{where}: bad boost in {spec!r}") from None
        if not math.isfinite(weight) or weight < 0:
            raise QueryError(f"{where}: the boost in {spec!r} must be a finite number >= 0")
        return cls(name, weight)

    def __str__(self) -> str:
        return self.field if self.boost == 1.0 else f"{self.field}^{self.boost:g}"


@dataclass(frozen=True, slots=True, eq=False)
class SearchRequest:
    """One search: BM25 over ``fields`` (``multi_match``; no fields: ``match_all``), optionally re-ranked, or the
    ``knn`` nearest documents to ``vector`` by cosine.

    Parameters
    ----------
    question
        The text BM25 matches (empty for ``match_all``). It only ever becomes query text.
    fields
        Searched fields with their boosts.
    size
        Hits returned.
    rerank
        The cosine re-rank of the BM25 top ``rerank.top_k`` (``rescore``); needs ``vector``.
    vector
        The question's embedding: float64, read-only, finite, not all zeros.
    tie_breaker
        ``multi_match`` ``tie_breaker``: the weight of the non-best fields' scores. ``1.0`` sums the fields'
        scores and is written as ``"type": "most_fields"``.
    source_excludes
        ``_source`` fields left out of the hits (by default the vector).
    source
        Whether hits carry their ``_source`` at all (``"_source": false`` when not: ids and scores only, as the
        legs of a fused search ask, which fetch the sources of the hits they return afterwards).
    knn
        A dense search instead of BM25: the ``knn`` documents nearest to ``vector`` (exact on the embedded engine,
        HNSW on a cluster), each scored ``(1 + cosine) / 2`` as Elasticsearch and OpenSearch score cosine kNN.
        Needs no ``fields``, no ``rerank``.
    filters
        Which documents may match (years, journal; see :class:`~bmb_es.query.Filters`): a ``bool.filter`` around
        the BM25 query, a ``filter`` inside the kNN search. Scores are unchanged.
    """

    question: str
    fields: tuple[FieldBoost, ...]
    size: int = 10
    rerank: Rerank | None = None
    vector: npt.NDArray[np.float64] | None = None
    tie_breaker: float = 0.0
    source_excludes: tuple[str, ...] = field(default=(VECTOR_FIELD,))
    knn: int | None = None
    filters: Filters = NO_FILTERS
    source: bool = True

    def __post_init__(self) -> None:
        if self.rerank is not None and self.vector is None:
            raise QueryError("re-ranking needs the question's vector")
        if self.fields and not self.question.strip():
            raise QueryError("the query is empty: give a question or keywords")
        check_text(self.question)
        if not 0 <= self.size <= MAX_SIZE:
            raise QueryError(f"size must be between 0 and {MAX_SIZE:,}, got {self.size}")
        if self.knn is not None:
            if self.vector is None:
                raise QueryError("a kNN search needs the question's vector")
            if self.fields or self.rerank is not None:
                raise QueryError("a kNN search takes no BM25 fields and no rescore")
            if not 1 <= self.knn <= MAX_SIZE:
                raise QueryError(f"kNN k must be between 1 and {MAX_SIZE:,}, got {self.knn}")
            if self.size > self.knn:
                raise QueryError(f"size {self.size} is larger than k {self.knn}: raise --top-k or lower --size")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SearchRequest):
            return NotImplemented
        vectors_equal = (self.vector is None and other.vector is None) or (
            self.vector is not None and other.vector is not None and np.array_equal(self.vector, other.vector)
        )
        return vectors_equal and (
            self.question,
            self.fields,
            self.size,
            self.rerank,
            self.tie_breaker,
            self.source_excludes,
            self.knn,
            self.filters,
            self.source,
        ) == (
            other.question,
            other.fields,
            other.size,
            other.rerank,
            other.tie_breaker,
            other.source_excludes,
            other.knn,
            other.filters,
            other.source,
        )

    __hash__ = None  # type: ignore[assignment]  # holds an array: compared by value, not hashable

    @classmethod
    def build(cls, question: str, vector: Sequence[float] | npt.ArrayLike | None, spec: QuerySpec) -> SearchRequest:
        """The request for ``question`` shaped by ``spec`` (the builder's checks: size <= top-k, ...)."""
        text = _builder.bm25_clause(question, spec.fields)["multi_match"]["query"]  # checks and strips the question
        values = None
        if spec.rerank is not None:
            if vector is None:
                raise QueryError("re-ranking needs the question's vector")
            values = _frozen(np.asarray(_builder.vector_param(vector), dtype=np.float64))
        fields = tuple(FieldBoost.parse(item) for item in spec.fields)
        return cls(text, fields, spec.size, spec.rerank, values, spec.tie_breaker, filters=spec.filters)

    @classmethod
    def nearest(
        cls, vector: Sequence[float] | npt.ArrayLike, k: int, size: int, filters: Filters = NO_FILTERS
    ) -> SearchRequest:
        """The dense search: the ``k`` documents nearest to ``vector`` (among those ``filters`` keep), ``size`` of
        them returned."""
        values = _frozen(np.asarray(_builder.vector_param(vector), dtype=np.float64))
        return cls("", (), size, None, values, knn=k, filters=filters)

    def to_body(self, dialect: Dialect = "elasticsearch") -> dict[str, Any]:
        """The Elasticsearch/OpenSearch ``_search`` body (the dialects differ in the painless source and in kNN)."""
        if self.knn is not None and self.vector is not None:
            body: dict[str, Any] = {"size": self.size}
            if dialect == "opensearch":
                body["query"] = knn_clause(self.vector.tolist(), k=self.knn, dialect=dialect)
                if self.filters:  # the k-NN plugin's filter: one query, applied while searching
                    body["query"]["knn"][VECTOR_FIELD]["filter"] = {"bool": {"filter": self.filters.clauses()}}
            else:
                body["knn"] = knn_clause(self.vector.tolist(), k=self.knn, dialect=dialect)
                if self.filters:  # a pre-filter: the k nearest among the documents it keeps
                    body["knn"]["filter"] = self.filters.clauses()
            self._source_option(body)
            return body
        query: dict[str, Any] = {"match_all": {}}
        if self.fields:
            query = _builder.bm25_clause(self.question, [str(item) for item in self.fields])
            if self.tie_breaker == 1.0:
                query["multi_match"]["type"] = "most_fields"  # the fields' scores summed: dis_max with tie 1
            elif self.tie_breaker:
                query["multi_match"]["tie_breaker"] = self.tie_breaker
        if self.filters:  # filter context: documents are kept or dropped, scores stay BM25's
            query = {"bool": {"must": [query], "filter": self.filters.clauses()}}
        body = {"size": self.size, "query": query}
        self._source_option(body)
        if self.rerank is not None and self.vector is not None:
            body["rescore"] = _builder.rescore_clause(self.vector.tolist(), self.rerank, dialect)
        return body

    def _source_option(self, body: dict[str, Any]) -> None:
        """``_source``: ``false`` for hits without sources, else the fields left out."""
        if not self.source:
            body["_source"] = False
        elif self.source_excludes:
            body["_source"] = {"excludes": list(self.source_excludes)}

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> SearchRequest:
        """The request a body describes; raises :class:`QueryError` for anything outside the subset."""
        body = _as_mapping(body, "body")
        _only_keys(body, {"query", "size", "rescore", "_source", "knn"}, "")
        size = _int(body.get("size", 10), "size", 0)
        query_clause = _as_mapping(body.get("query", {"match_all": {}}), "query")
        knn: tuple[int, npt.NDArray[np.float64], Filters] | None = None
        if "knn" in body:  # Elasticsearch: the top-level kNN search option
            if "query" in body or "rescore" in body:
                raise _unsupported("knn", "kNN together with a query or rescore")
            knn = _parse_knn(_as_mapping(body["knn"], "knn"), "knn", elasticsearch=True)
        elif len(query_clause) == 1 and "knn" in query_clause:  # OpenSearch: the k-NN plugin's knn query
            if "rescore" in body:
                raise _unsupported("rescore", "a rescore of a kNN query")
            knn_query = _as_mapping(query_clause["knn"], "query.knn")
            _only_keys(knn_query, {VECTOR_FIELD}, "query.knn")
            knn = _parse_knn(_as_mapping(knn_query.get(VECTOR_FIELD), f"query.knn.{VECTOR_FIELD}"), "query.knn")
        excludes, source = _parse_source(body)
        if knn is not None:
            return cls("", (), size, None, knn[1], 0.0, excludes, knn=knn[0], filters=knn[2], source=source)
        query_clause, filters = _parse_bool(query_clause)
        question, fields, tie = _parse_query(query_clause)
        rerank, vector = _parse_rescore(body["rescore"]) if "rescore" in body else (None, None)
        return cls(question, fields, size, rerank, vector, tie, excludes, filters=filters, source=source)


def check_text(question: str) -> None:
    """QueryError unless ``question`` is text that UTF-8 can encode.

    Bytes that are not UTF-8 in a command line reach Python as lone surrogates (``\\udcff``), which no
    analyzer, encoder or JSON body can take. The message leaves the question out: it cannot be printed either.
    """
    try:
        question.encode("utf-8")
    except UnicodeEncodeError as error:
        raise QueryError(
            f"the query is not UTF-8 text (bytes that are not UTF-8 at position {error.start}): "
            f"set the terminal's encoding to UTF-8 or retype the question"
        ) from None


def build_body(question: str, vector: Sequence[float] | None, spec: QuerySpec) -> dict[str, Any]:
    """:func:`build_query` from a :class:`QuerySpec`."""
    return SearchRequest.build(question, vector, spec).to_body(spec.dialect)


def build_query(
    question: str,
    vector: Sequence[float] | None = None,
    *,
    size: int = 10,
    top_k: int = 50,
    fields: Sequence[str] = DEFAULT_FIELDS,
    query_weight: float = 0.0,
    rescore_query_weight: float = 1.0,
    score_mode: ScoreMode = "total",
    dialect: Dialect = "elasticsearch",
) -> dict[str, Any]:
    """Build the request body for ``question``; with a ``vector``, BM25 top-k is re-ranked by cosine.

    Parameters
    ----------
    question
        The user's text. It is only ever used as ``multi_match`` query text.
    vector
        The question's embedding. ``None`` gives BM25 alone.
    size
        Hits returned. With re-ranking it must not exceed ``top_k``.
    top_k, query_weight, rescore_query_weight, score_mode
        See :class:`Rerank`.
    fields
        Searched fields with optional ``^boost``.
    dialect
        ``"elasticsearch"`` or ``"opensearch"`` (their painless differs).

    Returns
    -------
    dict
        A JSON-serialisable Elasticsearch/OpenSearch ``_search`` body.
    """
    rerank = None
    if vector is not None:
        rerank = Rerank(top_k, query_weight, rescore_query_weight, score_mode)
    spec = QuerySpec(size=size, fields=tuple(fields), rerank=rerank, dialect=dialect)
    return build_body(question, vector, spec)


# -- parsing a body ------------------------------------------------------------------------------------


def _parse_source(body: Mapping[str, Any]) -> tuple[tuple[str, ...], bool]:
    """``_source``: the fields left out, and whether hits carry sources at all (``"_source": false``)."""
    if "_source" not in body:
        return (), True
    if body["_source"] is False:
        return (VECTOR_FIELD,), False
    if body["_source"] is True:
        return (), True
    return _parse_excludes(body), True


def _parse_excludes(body: Mapping[str, Any]) -> tuple[str, ...]:
    source = _as_mapping(body["_source"], "_source")
    _only_keys(source, {"excludes"}, "_source")
    raw = source.get("excludes", [])
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise QueryError("request body: _source.excludes must be a list of field names")
    return tuple(raw)


def _parse_knn(
    clause: Mapping[str, Any], path: str, elasticsearch: bool = False
) -> tuple[int, npt.NDArray[np.float64], Filters]:
    """``(k, vector, filters)`` of Elasticsearch's kNN option (``field``, ``query_vector``, ``k``,
    ``num_candidates``, ``filter``) or of OpenSearch's kNN query on the vector field (``vector``, ``k``,
    ``filter``: one ``bool`` of filter clauses)."""
    filters = Filters()
    if elasticsearch:
        _only_keys(clause, {"field", "query_vector", "k", "num_candidates", "filter"}, path)
        if clause.get("field") != VECTOR_FIELD:
            raise _unsupported(f"{path}.field", f"a vector field other than {VECTOR_FIELD!r}")
        values = clause.get("query_vector")
        vector_path = f"{path}.query_vector"
        if "filter" in clause:
            filters = Filters.from_clauses(clause["filter"], f"{path}.filter")
    else:
        _only_keys(clause, {"vector", "k", "filter"}, path)
        values = clause.get("vector")
        vector_path = f"{path}.vector"
        if "filter" in clause:
            wrapper = _as_mapping(clause["filter"], f"{path}.filter")
            _only_keys(wrapper, {"bool"}, f"{path}.filter")
            inner = _as_mapping(wrapper.get("bool"), f"{path}.filter.bool")
            _only_keys(inner, {"filter"}, f"{path}.filter.bool")
            filters = Filters.from_clauses(inner.get("filter", []), f"{path}.filter.bool.filter")
    if not isinstance(values, list) or not values:
        raise QueryError(f"request body: {vector_path} must be a non-empty list of numbers")
    k = _int(clause.get("k", 10), f"{path}.k", 1)
    if elasticsearch and "num_candidates" in clause:
        _int(clause["num_candidates"], f"{path}.num_candidates", k)  # exact search: every candidate is seen
    return k, _vector(values, vector_path), filters


def _parse_bool(query: Mapping[str, Any]) -> tuple[Mapping[str, Any], Filters]:
    """A ``bool`` of one ``must`` query and ``filter`` clauses as ``(that query, its filters)``; any other query as
    ``(itself, no filters)``."""
    if len(query) != 1 or "bool" not in query:
        return query, Filters()
    clause = _as_mapping(query["bool"], "query.bool")
    _only_keys(clause, {"must", "filter"}, "query.bool")
    must = clause.get("must", [{"match_all": {}}])
    if isinstance(must, list):
        if len(must) != 1:
            raise _unsupported("query.bool.must", "a must other than one query")
        must = must[0]
    return _as_mapping(must, "query.bool.must"), Filters.from_clauses(clause.get("filter", []), "query.bool.filter")


def _frozen(array: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    array.flags.writeable = False
    return array


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


def _vector(values: list[Any], path: str) -> npt.NDArray[np.float64]:
    """A list of finite numbers as a read-only float64 array, checked by numpy in one pass (hundreds of them)."""
    try:
        array = np.asarray(values)
    except ValueError:  # ragged: nested lists of different lengths
        raise QueryError(f"request body: {path} must hold only numbers") from None
    if array.ndim != 1 or array.dtype.kind not in "iuf":  # bools, strings, None and lists are refused
        raise QueryError(f"request body: {path} must hold only numbers")
    if not np.isfinite(array).all():
        raise QueryError(f"request body: {path} holds NaN or infinite values")
    return _frozen(array.astype(np.float64))


def _parse_query(query: Mapping[str, Any]) -> tuple[str, tuple[FieldBoost, ...], float]:
    if len(query) != 1:
        raise QueryError(f"request body: query must hold exactly one clause, got {sorted(query)}")
    ((kind, clause),) = query.items()
    if kind == "match_all":
        _only_keys(_as_mapping(clause, "query.match_all"), set(), "query.match_all")
        return "", (), 0.0
    if kind != "multi_match":
        raise _unsupported(f"query.{kind}", "this query type")
    clause = _as_mapping(clause, "query.multi_match")
    _only_keys(clause, {"query", "fields", "type", "tie_breaker", "operator"}, "query.multi_match")
    kind = clause.get("type", "best_fields")
    if kind not in ("best_fields", "most_fields"):
        raise _unsupported("query.multi_match.type", repr(clause["type"]))
    if kind == "most_fields" and "tie_breaker" in clause:
        raise _unsupported("query.multi_match.tie_breaker", "a tie_breaker with most_fields")
    if str(clause.get("operator", "or")).lower() != "or":
        raise _unsupported("query.multi_match.operator", repr(clause["operator"]))
    text = clause.get("query")
    if not isinstance(text, str) or not text.strip():
        raise QueryError("request body: query.multi_match.query must be non-empty text")
    fields = clause.get("fields")
    if not isinstance(fields, list) or not fields or not all(isinstance(item, str) for item in fields):
        raise QueryError("request body: query.multi_match.fields must be a non-empty list of field names")
    tie = 1.0 if kind == "most_fields" else _number(clause.get("tie_breaker", 0.0), "query.multi_match.tie_breaker")
    return text.strip(), tuple(FieldBoost.parse(item, "request body: query.multi_match.fields") for item in fields), tie


def _parse_rescore(rescore: Any) -> tuple[Rerank, npt.NDArray[np.float64]]:
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
    base = "rescore.query.rescore_query.script_score"
    rescore_query = _as_mapping(query.get("rescore_query"), "rescore.query.rescore_query")
    _only_keys(rescore_query, {"script_score"}, "rescore.query.rescore_query")
    script_score = _as_mapping(rescore_query.get("script_score"), base)
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
    if (match["field"] or match["docfield"]) != VECTOR_FIELD:
        raise _unsupported(f"{base}.script.source", f"a vector field other than {VECTOR_FIELD!r}")
    params = _as_mapping(script.get("params", {}), f"{base}.script.params")
    vector = params.get(match["param"])
    if not isinstance(vector, list) or not vector:
        raise QueryError(f"request body: {base}.script.params.{match['param']} must be a non-empty list of numbers")
    rerank = Rerank(
        top_k=window,
        query_weight=_number(query.get("query_weight", 1.0), "rescore.query.query_weight"),
        rescore_query_weight=_number(query.get("rescore_query_weight", 1.0), "rescore.query.rescore_query_weight"),
        score_mode=cast(ScoreMode, score_mode),  # checked against SCORE_MODES above
    )
    return rerank, _vector(vector, f"{base}.script.params.{match['param']}")

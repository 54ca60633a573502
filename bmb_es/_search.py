"""Answer a question: embed it, build the request body, execute it on an engine, return typed hits."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypedDict, Unpack

from ._document import Document
from ._errors import QueryError
from ._links import doi_url, pubmed_url
from .embedding import EmbedderLike, EncoderSetting, load_embedder
from .engines import Engine, EngineHit, EngineResponse, TotalRelation, as_engine
from .query import (
    DEFAULT_BM25_WEIGHT,
    DEFAULT_FIELDS,
    DEFAULT_MODE,
    DEFAULT_TOP_K,
    NEEDS_VECTOR,
    PAPER_FIELDS,
    Dialect,
    Feedback,
    Filters,
    Fusion,
    Mode,
    QuerySpec,
    Rerank,
    Scored,
    ScoreMode,
    SearchPlan,
    SearchRequest,
    parse_mode,
    scored_hit,
)
from .query._request import check_text

# One question at a time encodes faster on the CPU than on a GPU, and a CPU load can take the warm OpenVINO path that
# imports no torch (figures: docs/benchmarks.md, "Where the defaults come from"). Pass an embedder or ``device`` to
# choose otherwise.
QUESTION_DEVICE = "cpu"


@dataclass(frozen=True, slots=True)
class Hit:
    """One ranked paper.

    ``bm25`` and ``cosine`` are the two parts of ``score`` where the engine reports them (the embedded
    engine always does; clusters report only ``score``).
    """

    rank: int
    id: str
    score: float
    document: Document
    bm25: float | None = None
    cosine: float | None = None


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Hits plus the exact request body that produced them.

    ``total`` counts matches exactly up to 10,000, as Elasticsearch does by default; ``total_relation`` says
    whether it is exact (``"eq"``) or a lower bound (``"gte"``: at least that many matched).
    """

    question: str
    hits: list[Hit]
    total: int
    body: dict[str, Any]
    took_ms: int
    mode: Mode = "bm25"
    total_relation: TotalRelation = "eq"

    def total_label(self) -> str:
        """``total`` for people: ``"1,234"``, or ``"10,000+"`` when it is a lower bound."""
        return f"{self.total:,}" + ("+" if self.total_relation == "gte" else "")

    def to_json(self) -> dict[str, Any]:
        """The question, mode, counts and hits; a hit with a PMID or DOI has ``pubmed_url`` / ``doi_url`` too."""
        return {
            "question": self.question,
            "mode": self.mode,
            "total": self.total,
            "total_relation": self.total_relation,
            "took_ms": self.took_ms,
            "hits": [_hit_json(hit) for hit in self.hits],
        }


def _hit_json(hit: Hit) -> dict[str, Any]:
    out: dict[str, Any] = {"rank": hit.rank, "id": hit.id, "score": hit.score, "bm25": hit.bm25, "cosine": hit.cosine}
    out.update((key, value) for key, value in hit.document.to_source().items() if key != "id")
    links = {"pubmed_url": pubmed_url(hit.document.pmid), "doi_url": doi_url(hit.document.doi)}
    out.update((key, url) for key, url in links.items() if url is not None)
    return out


def result_of(response: EngineResponse, question: str, body: dict[str, Any], mode: Mode = "bm25") -> SearchResult:
    """An engine's typed hits, ranked, with their documents and the body that describes the search."""
    hits = [
        Hit(rank, hit.id, hit.score, Document.from_source(hit.source), hit.bm25, hit.cosine)
        for rank, hit in enumerate(response.hits, start=1)
    ]
    return SearchResult(question, hits, response.total, body, response.took_ms, mode, response.relation)


class SearchKeywords(TypedDict, total=False):
    """:class:`SearchOptions`' fields as keywords of :func:`search` and :func:`search_many`, each optional."""

    mode: Mode | None
    rerank: bool | None
    size: int
    top_k: int
    query_weight: float
    rescore_query_weight: float
    score_mode: ScoreMode
    fields: Sequence[str] | None
    bm25_weight: float
    embedder: EmbedderLike | None
    model: str | None
    device: str | None
    setting: EncoderSetting | None
    year: str | None
    journal: str | None
    filters: Filters | None
    dialect: Dialect | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchOptions:
    """How :func:`search` and :func:`search_many` search: everything but the engine, the index and the question.

    Build one to reuse it (``search(engine, index, question, options)``), or give the same names as keywords
    (``search(engine, index, question, mode="hybrid")``); keywords given with ``options`` override its fields.
    Nothing is checked until a search uses them.

    Parameters
    ----------
    mode
        ``"rerank"`` (default: BM25 top ``top_k`` scored ``bm25_weight * minmax(bm25) + (1 - bm25_weight) *
        cosine``), ``"paper"`` (the paper's pure cosine re-rank), ``"bm25"``, ``"dense"`` or ``"hybrid"``.
    rerank
        Shorthand kept from earlier releases: ``False`` is ``mode="bm25"``, ``True`` the default mode.
    size, top_k
        Hits returned; candidates per leg (BM25 top k, kNN k).
    query_weight, rescore_query_weight, score_mode
        The ``paper`` mode's rescore (see :func:`bmb_es.build_query`); the paper's re-rank is ``0 / 1 / total``.
    fields
        Searched fields with optional ``^boost``; default :data:`~bmb_es.query.DEFAULT_FIELDS`, and the paper's
        ``title^2, abstract, body`` in ``paper`` mode.
    bm25_weight
        ``w`` of the ``rerank`` and ``hybrid`` modes.
    embedder, model
        The question encoder. By default the model the index was built with; naming another is refused
        (:class:`~bmb_es.ModelMismatchError`).
    device, setting
        How the question encoder runs when ``embedder`` is not given: ``setting``, else
        ``EncoderSetting(device=device)`` (device default ``"cpu"``, see :data:`QUESTION_DEVICE`; ``None`` lets
        sentence-transformers choose, e.g. a GPU). Give ``setting`` or a ``device`` other than the default, not both.
    year, journal
        Only papers published in these years (``"2019-2021"``, ``"2019"``, ``"2019-"``, ``"-2021"``) and in this
        journal (its exact name as stored). On a cluster a ``bool.filter`` (``range`` on ``date``, ``term`` on
        ``journal``); on the embedded engine the same documents, filtered in rank order. Scores are unchanged.
    filters
        The same as a :class:`~bmb_es.query.Filters`; give it or ``year``/``journal``, not both.
    dialect
        The dialect of ``result.body`` (``"elasticsearch"`` or ``"opensearch"``; default: the engine's own, and
        ``"elasticsearch"`` on the embedded engine, which runs the request itself and so may describe it in either).
        A cluster runs its own dialect: naming the other is refused (:class:`~bmb_es.QueryError`).
    """

    mode: Mode | None = None
    rerank: bool | None = None
    size: int = 10
    top_k: int = DEFAULT_TOP_K
    query_weight: float = 0.0
    rescore_query_weight: float = 1.0
    score_mode: ScoreMode = "total"
    fields: Sequence[str] | None = None
    bm25_weight: float = DEFAULT_BM25_WEIGHT
    embedder: EmbedderLike | None = None
    model: str | None = None
    device: str | None = QUESTION_DEVICE
    setting: EncoderSetting | None = None
    year: str | None = None
    journal: str | None = None
    filters: Filters | None = None
    dialect: Dialect | None = None

    def chosen_mode(self) -> Mode:
        """The mode asked for: ``mode``, else the older ``rerank`` flag, else the default."""
        if self.mode is None:
            return "bm25" if self.rerank is False else DEFAULT_MODE
        mode = parse_mode(self.mode)
        if self.rerank is False and mode != "bm25":
            raise QueryError(f"rerank=False asks for BM25 alone but mode is {mode!r}: give one of them")
        return mode

    def chosen_filters(self) -> Filters:
        """``filters``, else those of ``year`` and ``journal``."""
        if self.filters is None:
            return Filters.parse(self.year, self.journal)
        if self.year is not None or self.journal is not None:
            raise TypeError(f"give filters= or year=/journal=, not both (filters={self.filters})")
        return self.filters

    def question_setting(self) -> EncoderSetting:
        """The question encoder's setting: ``setting``, or ``device`` with everything else ``auto``."""
        if self.setting is None:
            return EncoderSetting.parse(device=self.device)
        if self.device != QUESTION_DEVICE:
            raise TypeError(f"give setting= or device=, not both (setting={self.setting}, device={self.device!r})")
        return self.setting


def search(
    engine: Engine | Any,
    index: str,
    question: str,
    options: SearchOptions | None = None,
    **keywords: Unpack[SearchKeywords],
) -> SearchResult:
    """Search ``index`` for ``question`` in one of the query modes (see :mod:`bmb_es.query._plan`).

    Parameters
    ----------
    engine
        Any :class:`~bmb_es.engines.Engine` (embedded or cluster), or an ``elasticsearch.Elasticsearch`` /
        ``opensearchpy.OpenSearch`` client you already have (wrapped with :func:`~bmb_es.engines.as_engine`;
        it stays open).
    index
        The index name.
    question
        Plain-language text; it only ever becomes ``multi_match`` query text.
    options, **keywords
        How to search (:class:`SearchOptions`: ``mode``, ``size``, ``top_k``, ``embedder``, ``year`` ...), as
        one object, as keywords of the same names, or both (the keywords override the object's fields).
    """
    return next(search_many(engine, index, [question], options, **keywords))


def search_many(
    engine: Engine | Any,
    index: str,
    questions: Sequence[str],
    options: SearchOptions | None = None,
    **keywords: Unpack[SearchKeywords],
) -> Iterator[SearchResult]:
    """Search ``index`` for each of ``questions``: one model load and one ``embed`` call for them all.

    Everything is checked, and every question embedded, before this returns; the searches then run one by one as
    the iterator is read, each a :class:`SearchResult` as :func:`search` returns it for that question. ``options``
    and ``keywords`` are :func:`search`'s, applied to every question. An encoder may give a question embedded
    among others (padded to the longest) a vector that differs from its own by rounding: scores may then differ
    from :func:`search`'s in the last digits (up to 2e-4 with OpenVINO bf16 on 20 BioASQ questions, which kept
    every ranking).

    Raises
    ------
    QueryError
        An empty question or one that is not UTF-8 text (naming its position, 1-based), and what :func:`search`
        refuses.
    """
    texts = list(questions)
    for position, question in enumerate(texts, start=1):
        try:
            if not question.strip():
                raise QueryError("the query is empty: give a question or keywords")
            check_text(question)  # before a model loads to encode it
        except QueryError as error:
            raise error if len(texts) == 1 else QueryError(f"question {position}: {error}") from None
    options = replace(options or SearchOptions(), **keywords)
    chosen = options.chosen_mode()
    filters = options.chosen_filters()
    engine = as_engine(engine)
    own: Dialect = "opensearch" if engine.kind == "opensearch" else "elasticsearch"
    dialect = options.dialect
    if dialect is not None and dialect != own and engine.kind in ("elasticsearch", "opensearch"):
        raise QueryError(f"dialect {dialect}: this cluster is {engine.kind} and runs {own} request bodies")
    fields = options.fields
    if fields is None:
        fields = PAPER_FIELDS if chosen == "paper" else DEFAULT_FIELDS
    spec = QuerySpec(
        size=options.size,
        fields=tuple(fields),
        rerank=Rerank(options.top_k, options.query_weight, options.rescore_query_weight, options.score_mode),
        dialect=dialect or own,
        filters=filters,
    )
    vectors: list[Any] = [None] * len(texts)
    if chosen in NEEDS_VECTOR and texts:
        meta = engine.index_meta(index)
        embedder = options.embedder
        if embedder is None:
            embedder = load_embedder(options.model or meta.model, setting=options.question_setting())
        meta.check_compatible(index, embedder.name, embedder.dimension)
        vectors = list(embedder.embed([question.strip() for question in texts]))
    fusion = Fusion(options.bm25_weight)
    knn = chosen != "auto" or not texts or engine.has_knn(index)  # auto's feedback needs kNN: else it is rerank
    plans = [
        SearchPlan.build(question, vector, spec, chosen, fusion, knn=knn)
        for question, vector in zip(texts, vectors, strict=True)
    ]
    return _run_plans(engine, index, plans, texts, spec.dialect)


def _run_plans(
    engine: Engine, index: str, plans: Sequence[SearchPlan], questions: Sequence[str], dialect: Dialect
) -> Iterator[SearchResult]:
    for plan, question in zip(plans, questions, strict=True):
        yield run_plan(engine, index, plan, question, dialect)


def run_plan(engine: Engine, index: str, plan: SearchPlan, question: str, dialect: Dialect) -> SearchResult:
    """Execute ``plan``'s legs on ``engine`` and, for fused modes, fuse their hits."""
    if plan.feedback is not None:
        return _with_feedback(engine, index, plan, plan.feedback, question, dialect)
    fusion = plan.fusion
    if fusion is None:
        return result_of(engine.execute(index, plan.legs[0]), question, plan.describe(dialect), plan.mode)
    plan = _ids_only(plan)
    body = plan.describe(dialect)
    started = time.perf_counter()
    candidates: list[Scored] = []
    found: dict[str, EngineHit] = {}
    counted: tuple[int, TotalRelation] = (0, "eq")
    for leg in plan.legs:
        if _bm25_only(leg) and candidates and all(item.bm25 is not None for item in candidates):
            continue  # the re-rank leg before it told every BM25 score already (engines that report score parts)
        response = engine.execute(index, leg)
        counted = _larger_count(counted, (response.total, response.relation))
        for hit in response.hits:
            candidates.append(scored_hit(leg, hit.score, hit.bm25, hit.cosine, hit.id))
            found.setdefault(hit.id, hit)
    fused = fusion.fuse(candidates)[: plan.size]
    kept = [_rescored(found[item.id], score, item) for item, score in fused]
    hits = engine.fetch_sources(index, kept) if kept else []  # only the sources returned are read
    took = int((time.perf_counter() - started) * 1000)
    return result_of(EngineResponse(hits, counted[0], took, counted[1]), question, body, plan.mode)


def _rescored(hit: EngineHit, score: float, parts: Scored) -> EngineHit:
    """``hit`` with its fused score and the parts fusion read (a constructor call: ``replace`` costs more)."""
    return EngineHit(hit.id, score, hit.source, parts.bm25, parts.cosine, hit.location)


def _ids_only(plan: SearchPlan) -> SearchPlan:
    """``plan`` with legs that ask for hits without sources: a fused search keeps ``size`` of up to ``k`` hits
    per leg, so it fetches the sources of those it keeps (:meth:`Engine.fetch_sources`) and decodes no other."""
    return replace(plan, legs=tuple(replace(leg, source=False) for leg in plan.legs))


def _larger_count(one: tuple[int, TotalRelation], other: tuple[int, TotalRelation]) -> tuple[int, TotalRelation]:
    """The larger of two ``(total, relation)`` counts of matches; a lower bound ranks above an exact count of as
    many (its matches are at least as many)."""
    return max(one, other, key=lambda count: (count[0], count[1] == "gte"))


def _with_feedback(
    engine: Engine, index: str, plan: SearchPlan, feedback: Feedback, question: str, dialect: Dialect
) -> SearchResult:
    """``feedback`` mode: the first pass, its top documents' stored vectors, then the second pass.

    The body lists both passes' searches, the second with the vector the first pass made, and names the
    documents that moved it (``bmb_es_fusion.feedback.used``).
    """
    started = time.perf_counter()
    first = run_plan(engine, index, plan.first_pass(), question, dialect)
    used = [hit.id for hit in first.hits]
    stored = engine.get(index, used) if used else {}
    vectors = [stored[doc].vector for doc in used if doc in stored and len(stored[doc].vector)]
    second = plan.second_pass(vectors)
    result = run_plan(engine, index, second, question, dialect)
    fusion = dict(result.body["bmb_es_fusion"])
    fusion["feedback"] = {**feedback.to_json(), "used": used, "first_pass_searches": len(plan.legs)}
    body = {"bmb_es_fusion": fusion, "searches": [*first.body["searches"], *result.body["searches"]]}
    took = int((time.perf_counter() - started) * 1000)
    total, relation = _larger_count((first.total, first.total_relation), (result.total, result.total_relation))
    return replace(result, body=body, took_ms=took, total=total, total_relation=relation)


def _bm25_only(leg: SearchRequest) -> bool:
    """A plain BM25 leg: no rescore, no kNN (its hits tell BM25 scores and nothing else)."""
    return leg.rerank is None and leg.knn is None

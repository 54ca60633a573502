"""Answer a question: embed it, build the request body, execute it on an engine, return typed hits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ._document import Document
from ._errors import QueryError
from .embedding import EmbedderLike, EncoderSetting, load_embedder
from .engines import Engine, EngineResponse, as_engine
from .query import DEFAULT_FIELDS, QuerySpec, Rerank, ScoreMode, SearchRequest

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
    """Hits plus the exact request body that produced them."""

    question: str
    hits: list[Hit]
    total: int
    body: dict[str, Any]
    took_ms: int

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "total": self.total,
            "took_ms": self.took_ms,
            "hits": [
                {
                    "rank": hit.rank,
                    "id": hit.id,
                    "score": hit.score,
                    "bm25": hit.bm25,
                    "cosine": hit.cosine,
                    **{key: value for key, value in hit.document.to_source().items() if key != "id"},
                }
                for hit in self.hits
            ],
        }


def result_of(response: EngineResponse, question: str, body: dict[str, Any]) -> SearchResult:
    """An engine's typed hits, ranked, with their documents and the body that describes the search."""
    hits = [
        Hit(rank, hit.id, hit.score, Document.from_source(hit.source), hit.bm25, hit.cosine)
        for rank, hit in enumerate(response.hits, start=1)
    ]
    return SearchResult(question=question, hits=hits, total=response.total, body=body, took_ms=response.took_ms)


def search(
    engine: Engine | Any,
    index: str,
    question: str,
    *,
    rerank: bool = True,
    size: int = 10,
    top_k: int = 50,
    query_weight: float = 0.0,
    rescore_query_weight: float = 1.0,
    score_mode: ScoreMode = "total",
    fields: Sequence[str] = DEFAULT_FIELDS,
    embedder: EmbedderLike | None = None,
    model: str | None = None,
    device: str | None = QUESTION_DEVICE,
    setting: EncoderSetting | None = None,
) -> SearchResult:
    """Search ``index`` for ``question``: BM25, then (with ``rerank``) cosine re-rank of the top ``top_k``.

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
    rerank, size, top_k, query_weight, rescore_query_weight, score_mode, fields
        See :func:`bmb_es.build_query`.
    embedder, model
        The question encoder. By default the model the index was built with; naming another is refused
        (:class:`~bmb_es.ModelMismatchError`).
    device, setting
        How the question encoder runs when ``embedder`` is not given: ``setting``, else
        ``EncoderSetting(device=device)`` (device default ``"cpu"``, see :data:`QUESTION_DEVICE`; ``None`` lets
        sentence-transformers choose, e.g. a GPU). Give ``setting`` or a ``device`` other than the default, not both.
    """
    if not question.strip():
        raise QueryError("the query is empty: give a question or keywords")
    engine = as_engine(engine)
    spec = QuerySpec(
        size=size,
        fields=tuple(fields),
        rerank=Rerank(top_k, query_weight, rescore_query_weight, score_mode) if rerank else None,
        dialect="opensearch" if engine.kind == "opensearch" else "elasticsearch",
    )
    vector = None
    if rerank:
        meta = engine.index_meta(index)
        if embedder is None:
            embedder = load_embedder(model or meta.model, setting=_question_setting(setting, device))
        meta.check_compatible(index, embedder.name, embedder.dimension)
        vector = embedder.embed([question.strip()])[0]
    request = SearchRequest.build(question, vector, spec)
    return result_of(engine.execute(index, request), question, request.to_body(spec.dialect))


def _question_setting(setting: EncoderSetting | None, device: str | None) -> EncoderSetting:
    """The question encoder's setting: ``setting``, or the given ``device`` with everything else ``auto``."""
    if setting is None:
        return EncoderSetting.parse(device=device)
    if device != QUESTION_DEVICE:
        raise TypeError(f"give setting= or device=, not both (setting={setting}, device={device!r})")
    return setting

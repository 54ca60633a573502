"""One-call conveniences over readers, embedder, engine and ingest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from ._config import DEFAULT_INDEX, data_dir
from ._ingest import IngestSummary, ProgressCallback, default_reject_log, ingest
from .embedding import DEFAULT_EMBED_FIELDS, Embedder, load_embedder
from .engines import EmbeddedEngine, Engine
from .readers import iter_corpus, plan_corpus


def index_path(
    path: str | Path,
    *,
    engine: Engine | None = None,
    index: str = DEFAULT_INDEX,
    model: str | None = None,
    embedder: Embedder | None = None,
    format: str | None = None,
    field_map: Mapping[str, str] | None = None,
    embed_fields: Sequence[str] = DEFAULT_EMBED_FIELDS,
    batch_size: int = 32,
    commit_every: int = 2048,
    reject_log: str | Path | None = None,
    on_progress: ProgressCallback | None = None,
) -> IngestSummary:
    """Index every record under ``path`` (see :func:`bmb_es.readers.plan_corpus` for formats).

    The corpus is planned first, so a missing path or unknown format fails before a model is loaded.
    Rejects go to ``reject_log`` (default ``<data dir>/rejects/<index>-<timestamp>.jsonl``).
    """
    plan = plan_corpus(path, format, field_map)
    engine = engine if engine is not None else EmbeddedEngine()
    if embedder is None:
        if model is None and index in engine.list_indices():
            model = engine.index_meta(index).model  # keep indexing with the model the index was built with
        embedder = load_embedder(model)
    log = Path(reject_log) if reject_log is not None else default_reject_log(data_dir(), index)
    summary = ingest(
        iter_corpus(plan),
        engine,
        index,
        embedder,
        embed_fields=embed_fields,
        batch_size=batch_size,
        commit_every=commit_every,
        reject_log=log,
        on_progress=on_progress,
    )
    summary.skipped_files = [(str(item), reason) for item, reason in plan.skipped]
    return summary

"""One-call conveniences over readers, embedder, engine and ingest."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ._config import DEFAULT_INDEX, data_dir
from ._errors import IndexNotFoundError, InputError
from ._ingest import IngestSummary, ProgressCallback, Shard, default_reject_log, ingest
from ._json import fields_json
from .embedding import DEFAULT_EMBED_FIELDS, EmbedderLike, EncoderSetting, load_embedder, resolve_setting
from .engines import EmbeddedEngine, Engine, IndexMeta, open_engine
from .readers import CorpusPlan, iter_corpus, plan_corpus


def index_path(
    path: str | Path,
    *,
    engine: Engine | None = None,
    index: str = DEFAULT_INDEX,
    model: str | None = None,
    embedder: EmbedderLike | None = None,
    format: str | None = None,
    field_map: Mapping[str, str] | None = None,
    embed_fields: Sequence[str] = DEFAULT_EMBED_FIELDS,
    batch_size: int | None = None,
    commit_every: int | None = None,
    reject_log: str | Path | None = None,
    on_progress: ProgressCallback | None = None,
    precision: str | None = None,
    backend: str | None = None,
    device: str | None = None,
    shard: Shard | str | None = None,
    optimize: bool = True,
    setting: EncoderSetting | None = None,
    on_plan: Callable[[CorpusPlan], None] | None = None,
) -> IngestSummary:
    """Index every record under ``path`` (see :func:`bmb_es.readers.plan_corpus` for formats).

    The corpus is planned first, so a missing path or unknown format fails before a model is loaded.
    Rejects go to ``reject_log`` (default ``<data dir>/rejects/<index>-<timestamp>.jsonl``).
    ``setting`` chooses how the model runs and its batch size (see :class:`~bmb_es.embedding.EncoderSetting` and
    :func:`~bmb_es.embedding.load_embedder`); ``precision``/``backend``/``device``/``batch_size`` are conveniences
    that build it (give those or ``setting``, not both). Batch size ``None`` is the embedder's default (16
    OpenVINO, 32 torch CPU, 512 GPU); with ``embedder`` given, only the setting's batch size applies.
    ``shard`` (``"i/n"`` or a :class:`~bmb_es._ingest.Shard`) indexes only that deterministic part of the
    corpus, for parallel ingest into one cluster index or into shard indices joined by :func:`merge_indices`.
    ``optimize``: see :func:`bmb_es._ingest.ingest`. ``on_plan`` is called with the planned corpus before any model
    loads (the CLI counts its records there, for the progress bar's total).
    """
    setting = resolve_setting(setting, backend=backend, precision=precision, device=device, batch_size=batch_size)
    plan = plan_corpus(path, format, field_map)
    if on_plan is not None:
        on_plan(plan)
    engine = engine if engine is not None else open_engine()  # a cluster when BMB_ES_URL/BMB_OS_URL is set
    if isinstance(engine, EmbeddedEngine):
        engine.ensure_writable(index)  # a second writer is refused now, not after a model loaded and embedded
    if embedder is None:
        if model is None and index in engine.list_indices():
            model = engine.index_meta(index).model  # keep indexing with the model the index was built with
        # The batch size plays no part in loading: one cached model per backend, precision and device.
        embedder = load_embedder(model, setting=replace(setting, batch_size=None))
    if isinstance(shard, str):
        shard = Shard.parse(shard)
    log = Path(reject_log) if reject_log is not None else default_reject_log(data_dir(), index)
    summary = ingest(
        iter_corpus(plan),
        engine,
        index,
        embedder,
        embed_fields=embed_fields,
        batch_size=setting.batch_size,
        commit_every=commit_every,
        reject_log=log,
        on_progress=on_progress,
        shard=shard,
        optimize=optimize,
    )
    summary.skipped_files = [(str(item), reason) for item, reason in plan.skipped]
    return summary


DUPLICATE_IDS_KEPT = 1000  # MergeSummary.duplicate_ids keeps the first ones only: memory must not grow with the merge


@dataclass(slots=True)
class MergeSummary:
    """What :func:`merge_indices` did. ``read`` = ``written + unchanged``; ``duplicates`` counts ids that
    more than one source held (written once, from the last source); ``duplicate_ids`` names the first
    :data:`DUPLICATE_IDS_KEPT` of them."""

    index: str
    sources: list[str]
    read: int = 0
    written: int = 0
    unchanged: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    duplicate_ids: list[str] = field(default_factory=list)
    segments: tuple[int, int] | None = None  # embedded target: (before, after) when the merge optimized it

    def to_json(self) -> dict[str, Any]:
        return fields_json(
            self,
            seconds=round(self.seconds, 3),
            duplicate_ids=self.duplicate_ids[:20],
            segments=list(self.segments) if self.segments else None,
        )


def _source_folder(source: str | Path, engine: Engine) -> Path:
    """An embedded index folder: a path holding ``meta.json``, or an index name in ``engine``'s data dir.

    A damaged index that lost its ``meta.json`` is one too: reading it then says it is damaged.
    """
    from .engines.embedded._open_index import is_index
    from .engines.embedded._store import META_FILE

    candidate = Path(source).expanduser()
    if is_index(candidate):
        return candidate
    if isinstance(engine, EmbeddedEngine) and is_index(engine.root / str(source)):
        return engine.root / str(source)
    raise IndexNotFoundError(
        f"merge source {str(source)!r}: not an embedded index folder (one holding {META_FILE}) "
        f"nor an index in {engine.root if isinstance(engine, EmbeddedEngine) else 'the target engine'}"
    )


def merge_indices(
    sources: Sequence[str | Path],
    into: str,
    *,
    engine: Engine | None = None,
    commit_every: int = 8192,
) -> MergeSummary:
    """Copy every document and vector of embedded shard indices into one index, each exactly once.

    Parameters
    ----------
    sources
        Embedded indices: names in ``engine``'s data dir, or folders (``<data dir>/indices/<name>``) copied
        from other machines. All must be built with the same model, dimension and embedded fields.
    into
        The target index in ``engine`` (embedded or a cluster); created from the first source's metadata.
    engine
        Where the target lives; the default embedded engine if ``None``.

    An embedded target left with several segments is optimized (:meth:`~bmb_es.EmbeddedEngine.optimize`).
    Vectors are copied byte for byte (never re-embedded). Writes are upserts by stable id, so re-running an
    interrupted merge is safe and skips what is already there; an id present in several sources (the same
    record indexed by two shards) is written once, from the last source, and counted in ``duplicates``.
    """
    from .engines.embedded._engine import iter_folder
    from .engines.embedded._read import FolderIds
    from .engines.embedded._store import read_meta

    engine = engine if engine is not None else open_engine()  # a cluster when BMB_ES_URL/BMB_OS_URL is set
    if not sources:
        raise InputError("merge: name at least one source index")
    folders = [_source_folder(source, engine) for source in sources]
    metas = [read_meta(folder) for folder in folders]
    first = metas[0]
    for folder, meta in zip(folders, metas, strict=True):
        meta_check = IndexMeta(first.model, first.dimension, first.embed_fields)
        meta_check.check_compatible(str(folder), meta.model, meta.dimension)
        if tuple(meta.embed_fields) != tuple(first.embed_fields):
            raise InputError(
                f"merge: {folder} embedded {', '.join(meta.embed_fields)}, {folders[0]} embedded "
                f"{', '.join(first.embed_fields)}; shards must be built with the same --embed-fields"
            )
    if any(folder.resolve() == (getattr(engine, "root", Path("/nonexistent")) / into).resolve() for folder in folders):
        raise InputError(f"merge: {into!r} is also a source; merge into a new index")
    engine.create_index(into, first)
    summary = MergeSummary(index=into, sources=[str(folder) for folder in folders])
    # The sources already copied: an id that one of them holds is a duplicate. Looked up batch by batch rather
    # than remembered, so memory does not grow with the number of documents merged.
    copied: list[FolderIds] = []
    since_commit = 0
    started = time.perf_counter()
    try:
        for folder in folders:
            for items in iter_folder(folder):
                ids = [item.document.id for item in items]
                stored = engine.stored_hashes(into, ids)
                repeated = set().union(*(source.held(ids) for source in copied))
                pending = []
                for item in items:
                    summary.read += 1
                    doc_id = item.document.id
                    if doc_id in repeated:
                        summary.duplicates += 1
                        if len(summary.duplicate_ids) < DUPLICATE_IDS_KEPT:
                            summary.duplicate_ids.append(doc_id)
                    if stored.get(doc_id) == item.content_hash:
                        summary.unchanged += 1
                        continue
                    pending.append(item)
                if pending:
                    engine.upsert(into, pending)
                    summary.written += len(pending)
                    since_commit += len(pending)
                    if since_commit >= commit_every:
                        engine.commit(into)
                        since_commit = 0
            copied.append(FolderIds(folder))
    finally:
        engine.commit(into)
        summary.seconds = time.perf_counter() - started
    if isinstance(engine, EmbeddedEngine) and summary.written and engine.segments(into) > 1:
        summary.segments = engine.optimize(into)  # a merge writes a whole index: one segment searches fastest
        summary.seconds = time.perf_counter() - started
    return summary

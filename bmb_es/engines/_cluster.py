"""What the Elasticsearch and OpenSearch engines share: index lifecycle, bulk upsert, hashes, search.

Both official clients expose the same calls (``indices.create``, ``indices.get_mapping``, ``mget``,
``search``, ``count``, ``indices.refresh``, ``ingest.put_pipeline``) and a ``helpers.streaming_bulk``; the
subclasses say how to build a client, which exceptions it raises and which bulk helper to use.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np

from .._document import Document
from .._errors import BmbError, ClusterError, IndexNotFoundError, ModelMismatchError, StorageError
from ..embedding import MIN_COSINE, Embedder, NamedModel, embed_text, row_cosines
from ..query import VECTOR_FIELD, SearchRequest
from ._base import EngineHit, EngineResponse, IndexedDocument, IndexMeta, check_index_name
from ._cluster_config import ClusterConfig, redact_all, redact_url
from ._resources import (
    EMBED_TEXT_FIELD,
    HASH_FIELD,
    Distribution,
    KnnEngine,
    index_body,
    ingest_pipeline_body,
    pipeline_id,
)
from ._retry import RETRY_STATUSES, RetryPolicy

log = logging.getLogger("bmb_es.engines")
MGET_CHUNK = 1000
MAX_REPORTED_FAILURES = 5


class BulkItemError(ClusterError):
    """Some documents of a bulk request were refused; ``failures`` lists ``(id, reason)`` for each."""

    def __init__(self, index: str, failures: list[tuple[str, str]], written: int) -> None:
        self.index = index
        self.failures = failures
        self.written = written
        shown = "; ".join(f"{doc_id}: {reason}" for doc_id, reason in failures[:MAX_REPORTED_FAILURES])
        more = f" (and {len(failures) - MAX_REPORTED_FAILURES} more)" if len(failures) > MAX_REPORTED_FAILURES else ""
        super().__init__(
            f"index {index!r}: {len(failures)} document(s) refused by the cluster, {written} written: {shown}{more}; "
            f"fix them and re-run (written documents are skipped)"
        )


class OtherDistribution(ClusterError):
    """``GET /`` answered, but for the other distribution; :func:`~bmb_es.engines.connect` retries with it."""

    def __init__(self, url: str, distribution: Distribution) -> None:
        super().__init__(f"{url} is {distribution}, not what the client was built for")
        self.distribution: Distribution = distribution


def parse_version(number: str) -> tuple[int, ...]:
    """``"8.18.2"`` / ``"9.1.0-SNAPSHOT"`` as ``(8, 18, 2)`` / ``(9, 1, 0)``."""
    parts: list[int] = []
    for piece in number.split("-", 1)[0].split("."):
        if not piece.isdigit():
            break
        parts.append(int(piece))
    return tuple(parts)


def _body(response: Any) -> Any:
    """The JSON body of a client response (the Elasticsearch client wraps it, opensearch-py does not)."""
    return getattr(response, "body", response)


def _error_reason(error: Any) -> str:
    """``type: reason`` of a bulk item or API error body."""
    if isinstance(error, Mapping):
        kind = error.get("type", "error")
        reason = error.get("reason", "")
        caused = error.get("caused_by")
        text = f"{kind}: {reason}" if reason else str(kind)
        if isinstance(caused, Mapping) and caused.get("reason"):
            text += f" (caused by {caused.get('type', 'error')}: {caused['reason']})"
        elif kind == "search_phase_execution_exception":
            # "all shards failed" says nothing; the shards' own reasons say what to fix.
            roots: list[Any] = list(error.get("root_cause") or [])
            roots += [shard.get("reason") for shard in error.get("failed_shards") or [] if isinstance(shard, Mapping)]
            first = next((cause for cause in roots if isinstance(cause, Mapping) and cause.get("reason")), None)
            if first is not None:
                text += f" (caused by {first.get('type', 'error')}: {first['reason']})"
        return text
    return str(error)


# Sample texts the cluster's model must embed as the client does before documents go through its pipeline. The
# second is 483 word pieces long (MiniLM's tokenizer) and changes topic every few dozen, so a model that cuts texts at
# another length than the client (the usual import mistake) gives another vector: MiniLM cut at 512 instead of its
# 256 gives cosine 0.83, cut at 128 gives 0.77.
PIPELINE_CHECK_TEXTS = (
    "Coronavirus infection of the lungs: alveolar damage, hyaline membranes and impaired gas exchange.",
    " ".join(
        (
            "Severe acute respiratory syndrome coronavirus 2 enters alveolar type II cells through the ACE2 receptor,",
            "and the infected epithelium releases interleukin-6 and other cytokines that recruit neutrophils and",
            "monocytes into the airspaces. Autopsy series describe diffuse alveolar damage with hyaline membranes",
            "and microthrombi in small pulmonary arteries.",
            "Statins lower cholesterol by inhibiting HMG-CoA reductase in the liver, and cohort studies of women",
            "with breast cancer report lower recurrence among users, an association randomised trials have not",
            "settled.",
            "Vitamin D supplementation in older adults reduced falls in some trials and not in others; dose,",
            "baseline deficiency and adherence explain part of the difference.",
            "Deep brain stimulation of the subthalamic nucleus improves motor fluctuations in Parkinson disease,",
            "while cognitive and mood outcomes depend on electrode placement and patient selection.",
            "Carbapenem-resistant Klebsiella pneumoniae spreads between hospitals through transferred patients;",
            "surveillance cultures, contact precautions and antibiotic stewardship reduced its incidence in a",
            "regional intervention.",
            "In type 2 diabetes, sodium-glucose cotransporter 2 inhibitors lowered hospitalisation for heart failure",
            "and slowed the decline of kidney function, effects that appeared before any difference in glycated",
            "haemoglobin.",
            "Artemisinin combination therapies cure most uncomplicated falciparum malaria, but partial resistance",
            "linked to kelch13 mutations has emerged in the Greater Mekong subregion and in East Africa.",
            "Childhood vaccination against measles prevents encephalitis and the immune amnesia that follows",
            "infection, and coverage below ninety-five percent allows outbreaks to return.",
            "Cognitive behavioural therapy for insomnia improves sleep onset and maintenance and its effect lasts",
            "longer than that of hypnotic drugs, which carry a risk of falls in older patients.",
            "Hearing loss in midlife is among the largest modifiable risk factors for dementia, and trials of",
            "hearing aids test whether correcting it slows cognitive decline.",
            "Gut microbiota composition differs between responders and non-responders to immune checkpoint",
            "inhibitors in melanoma, and faecal transplants restored responses in a few refractory patients.",
            "Low-dose computed tomography screening of heavy smokers reduced lung cancer mortality in two large",
            "randomised trials, at the cost of false positives and overdiagnosis.",
        )
    ),
)


class ServerSideEmbedder(NamedModel):
    """Stands in for the embedder when the cluster's ingest pipeline embeds: no vectors are computed here.

    It carries the index's model name and dimension so the ingest checks still hold; ``embed`` returns
    empty rows and the engine sends ``embed_text`` through the pipeline instead of a vector.
    """

    max_length = 512

    def __init__(self, meta: IndexMeta) -> None:
        self._name = meta.model
        self._dimension = meta.dimension

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> Any:
        return np.zeros((len(texts), 0), dtype=np.float32)


class ClusterEngine:
    """Base class of :class:`ElasticsearchEngine` and :class:`OpenSearchEngine`.

    Parameters
    ----------
    client
        An ``Elasticsearch`` / ``OpenSearch`` client. Clients passed in by the caller stay open on
        :meth:`close`; clients the engine built (:meth:`connect`) are closed.
    version
        The server's version; read with ``GET /`` when not given.
    config
        The configuration the client was built from; its secrets are scrubbed from every error message.
    """

    kind: ClassVar[Distribution]
    label: ClassVar[str]

    def __init__(
        self,
        client: Any,
        *,
        version: tuple[int, ...] | None = None,
        config: ClusterConfig | None = None,
        owns_client: bool = False,
    ) -> None:
        self.client = client
        self.config = config
        self._owns_client = owns_client
        self._version = version
        self._meta: dict[str, IndexMeta] = {}
        self._knn: dict[str, bool] = {}  # index -> whether its vector field has an HNSW graph (read with _meta)
        self.ingest_pipeline: str | None = None
        self.retry_policy = config.retry if config else RetryPolicy()
        self.write_retries = 0  # documents sent again after back-pressure, over this engine's life
        self.knn_engine: KnnEngine = "lucene"

    # -- hooks for the subclasses ------------------------------------------------------------------

    @classmethod
    def connect(cls, config: ClusterConfig) -> ClusterEngine:
        """A client built from ``config`` and checked with ``GET /`` (the server's version is kept)."""
        raise NotImplementedError

    def _streaming_bulk(self, actions: Sequence[dict[str, Any]], **kwargs: Any) -> Iterator[tuple[bool, Any]]:
        raise NotImplementedError

    def _classify(self, error: Exception) -> tuple[int | None, Any] | None:
        """``(HTTP status or None, error body)`` for the client's API/transport errors, else ``None``."""
        raise NotImplementedError

    def _mget_hashes(self, name: str, ids: list[str]) -> Any:
        raise NotImplementedError

    def _mget_sources(self, name: str, ids: list[str]) -> Any:
        """``mget`` of ``ids`` with their sources, the vector left out."""
        raise NotImplementedError

    def _info(self) -> Mapping[str, Any]:
        raise NotImplementedError

    # -- plumbing ----------------------------------------------------------------------------------

    @property
    def version(self) -> tuple[int, ...]:
        """The server's version, from ``GET /`` (read once)."""
        if self._version is None:
            with self._errors("reading the cluster version"):
                info = self._info()
            self._version = parse_version(str(info.get("version", {}).get("number", "")))
        return self._version

    def _redact(self, text: str) -> str:
        secrets: list[str] = list(self.config.secrets) if self.config else []
        return redact_all(text, secrets)

    def _where(self) -> str:
        return self.config.url if self.config else self.label

    @contextmanager
    def _errors(self, what: str, index: str | None = None) -> Iterator[None]:
        """Client exceptions as :class:`ClusterError` / :class:`IndexNotFoundError`, secrets removed."""
        try:
            yield
        except BmbError:
            raise
        except Exception as error:
            classified = self._classify(error)
            if classified is None:
                raise
            status, body = classified
            reason = body.get("error") if isinstance(body, Mapping) else None
            kind = reason.get("type") if isinstance(reason, Mapping) else None
            if status == 404 and index is not None and kind in (None, "index_not_found_exception"):
                raise IndexNotFoundError(
                    f"index {index!r} not found on {self._where()}; create it with: bmb-es setup --index {index}"
                ) from None
            if status in (401, 403):
                detail = "authentication failed" if status == 401 else "permission denied"
                raise ClusterError(
                    self._redact(
                        f"{what} on {self._where()}: {detail} ({status}); check the API key, user/password or "
                        f"bearer token in BMB_ES_* / BMB_OS_* and the role's privileges"
                    )
                ) from None
            if status is None:
                raise ClusterError(
                    self._redact(f"{what}: cannot reach {redact_url(self._where())}: {type(error).__name__}: {error}")
                ) from None
            text = _error_reason(reason) if reason is not None else str(body)[:500]
            raise ClusterError(self._redact(f"{what} on {self._where()}: HTTP {status}: {text}")) from None

    # -- index lifecycle ---------------------------------------------------------------------------

    def exists(self, name: str) -> bool:
        with self._errors("checking an index", name):
            return bool(self.client.indices.exists(index=check_index_name(name)))

    def create_index(self, name: str, meta: IndexMeta, *, rerank_only: bool = False) -> None:
        """Create ``name`` from the shipped mapping for ``meta``; an existing index must match ``meta``."""
        check_index_name(name)
        if self.exists(name):
            self.index_meta(name).check_compatible(name, meta.model, meta.dimension)
            return
        body = index_body(self.kind, meta, rerank_only=rerank_only, knn_engine=self.knn_engine, version=self.version)
        try:
            with self._errors(f"creating index {name!r}"):
                self.client.indices.create(index=name, body=body)
        except ClusterError as error:
            if "resource_already_exists_exception" not in str(error):
                raise
        self._meta.pop(name, None)
        self._knn.pop(name, None)
        self.index_meta(name).check_compatible(name, meta.model, meta.dimension)

    def index_meta(self, name: str) -> IndexMeta:
        if name in self._meta:
            return self._meta[name]
        with self._errors(f"reading the mapping of {name!r}", name):
            response = _body(self.client.indices.get_mapping(index=check_index_name(name)))
        mappings = [value.get("mappings", {}) for value in response.values()]
        metas = [m.get("_meta") for m in mappings if isinstance(m.get("_meta"), Mapping) and "model" in m["_meta"]]
        if not metas:
            raise ModelMismatchError(
                f"index {name!r} on {self._where()} has no bmb-es _meta (model, dimension): it was not created by "
                f"bmb-es; create a new one with: bmb-es setup --index NEW_NAME"
            )
        try:
            meta = IndexMeta.from_json(metas[0])
        except (KeyError, TypeError, ValueError) as error:
            raise ModelMismatchError(f"index {name!r}: unreadable bmb-es _meta ({error})") from None
        self._knn[name] = all(_has_graph(m.get("properties", {}).get(VECTOR_FIELD)) for m in mappings)
        self._meta[name] = meta
        return meta

    def has_knn(self, name: str) -> bool:
        self.index_meta(name)  # reads the mapping once, with the _meta, and caches both
        return self._knn[name]

    def list_indices(self) -> list[str]:
        with self._errors("listing indices"):
            response = _body(self.client.indices.get_mapping(index="*"))
        out = []
        for name, value in response.items():
            meta = value.get("mappings", {}).get("_meta")
            if not name.startswith(".") and isinstance(meta, Mapping) and "model" in meta and "dimension" in meta:
                out.append(name)
        return sorted(out)

    def delete_index(self, name: str) -> None:
        with self._errors(f"deleting index {name!r}", name):
            self.client.indices.delete(index=check_index_name(name))
        self._meta.pop(name, None)
        self._knn.pop(name, None)

    def count(self, name: str) -> int:
        with self._errors(f"counting {name!r}", name):
            return int(_body(self.client.count(index=check_index_name(name)))["count"])

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    # -- pipelines ---------------------------------------------------------------------------------

    def put_ingest_pipeline(self, model_id: str) -> str:
        """Create or update the embedding ingest pipeline for a model deployed on the cluster; returns its id."""
        pipeline = pipeline_id(model_id)
        with self._errors(f"creating ingest pipeline {pipeline!r}"):
            self.client.ingest.put_pipeline(id=pipeline, body=ingest_pipeline_body(self.kind, model_id))
        return pipeline

    def use_server_pipeline(self, index: str, model_id: str, client: Embedder | None = None) -> ServerSideEmbedder:
        """Send documents through the ingest pipeline for ``model_id`` from now on (no client-side vectors).

        The index must exist (``bmb-es setup``): its ``_meta`` names the model whose vectors the cluster's
        model must reproduce, so client-side query vectors stay comparable. With ``client`` (that model, loaded
        here) the pipeline is first tried on sample texts and refused unless it agrees (:meth:`check_pipeline`).
        """
        meta = self.index_meta(index)
        if client is not None:
            self.check_pipeline(model_id, client)
        self.ingest_pipeline = self.put_ingest_pipeline(model_id)
        return ServerSideEmbedder(meta)

    def check_pipeline(self, model_id: str, client: Embedder) -> float:
        """Embed :data:`PIPELINE_CHECK_TEXTS` through the ingest pipeline for ``model_id`` and compare with
        ``client``'s vectors; the lowest cosine, or :class:`ModelMismatchError` below
        :data:`~bmb_es.embedding.MIN_COSINE` (query vectors, computed here, would not match the stored ones).

        The pipeline is sent inline to the ``_simulate`` API: nothing is stored, so a refused pipeline never
        lands on the cluster. Put it (:meth:`put_ingest_pipeline`) once this returns.
        """
        pipeline = pipeline_id(model_id)
        texts = list(PIPELINE_CHECK_TEXTS)
        docs = [{"_source": {EMBED_TEXT_FIELD: text}} for text in texts]
        with self._errors(f"trying ingest pipeline {pipeline!r} on sample texts"):
            body = {"pipeline": ingest_pipeline_body(self.kind, model_id), "docs": docs}
            response = self.client.ingest.simulate(body=body)
        rows = []
        for item in response.get("docs", []):
            source = (item.get("doc") or {}).get("_source") or {}
            error = source.get("ingest_error") or (item.get("error") or {}).get("reason")
            if error:
                raise ClusterError(f"ingest pipeline {pipeline!r} failed on a sample text: {error}")
            vector = source.get(VECTOR_FIELD)
            if not isinstance(vector, list) or not vector:
                raise ClusterError(f"ingest pipeline {pipeline!r} wrote no {VECTOR_FIELD!r} vector for a sample text")
            rows.append(vector)
        if len(rows) != len(texts):
            raise ClusterError(f"ingest pipeline {pipeline!r}: {len(rows)} results for {len(texts)} sample texts")
        server = np.asarray(rows, dtype=np.float64)
        local = np.asarray(client.embed(texts), dtype=np.float64)
        if server.shape != local.shape:
            raise ModelMismatchError(
                f"the cluster's model {model_id!r} gives {server.shape[1]}-d vectors, {client.name} "
                f"{local.shape[1]}-d: deploy the model the index was built with"
            )
        lowest = float(np.min(row_cosines(server, local)))
        if lowest < MIN_COSINE:
            raise ModelMismatchError(
                f"the cluster's model {model_id!r} embeds a sample text differently from {client.name}: cosine "
                f"{lowest:.4f} (needs {MIN_COSINE}); most often it cuts texts at another length than "
                f"{client.max_length} tokens: import it with that max length (docs/clusters.md)"
            )
        return lowest

    # -- writing -----------------------------------------------------------------------------------

    def _source(self, item: IndexedDocument, meta: IndexMeta) -> dict[str, Any]:
        source = item.document.to_source()
        source[HASH_FIELD] = item.content_hash
        if self.ingest_pipeline:
            source[EMBED_TEXT_FIELD] = embed_text(item.document, meta.embed_fields)
            return source
        vector = np.asarray(item.vector, dtype=np.float32)
        if vector.shape != (meta.dimension,):
            raise StorageError(
                f"document {item.document.id!r}: vector has shape {vector.shape}, index expects ({meta.dimension},)"
            )
        source[VECTOR_FIELD] = vector.astype(float).tolist()
        return source

    def upsert(self, name: str, items: Sequence[IndexedDocument]) -> None:
        """Bulk-write ``items``; back-pressure (429/502/503/504, timeouts) is retried per :class:`RetryPolicy`.

        Only documents not yet acknowledged are resent, each as an ``index`` with its own id, so a retry never
        stores a document twice. What is still refused after the last retry, or refused for another reason,
        is raised as one :class:`BulkItemError` naming every document not written.
        """
        if not items:
            return
        meta = self.index_meta(name)
        pending = {
            item.document.id: {
                "_op_type": "index",
                "_index": name,
                "_id": item.document.id,
                "_source": self._source(item, meta),
            }
            for item in items
        }
        kwargs: dict[str, Any] = {"pipeline": self.ingest_pipeline} if self.ingest_pipeline else {}
        policy = self.retry_policy
        failures: dict[str, str] = {}
        last_retryable: dict[str, str] = {}
        written = 0
        for attempt in range(policy.max_retries + 1):
            try:
                for ok, result in self._streaming_bulk(list(pending.values()), raise_on_error=False, **kwargs):
                    ((_, item),) = result.items()
                    doc_id = str(item.get("_id"))
                    if ok:
                        written += 1
                        pending.pop(doc_id, None)
                        continue
                    reason = f"HTTP {item.get('status')}: {_error_reason(item.get('error'))}"
                    if item.get("status") in RETRY_STATUSES:
                        last_retryable[doc_id] = reason  # stays pending
                    else:
                        failures[doc_id] = reason
                        pending.pop(doc_id, None)
            except Exception as error:
                status = self._request_failure_status(error)
                if status is False or attempt == policy.max_retries:
                    with self._errors(f"bulk indexing into {name!r} ({written} written, {len(pending)} not)", name):
                        raise
                reason = f"HTTP {status}" if status else f"{type(error).__name__} (no answer)"
                last_retryable.update({doc_id: reason for doc_id in pending})
            if not pending or attempt == policy.max_retries:
                break
            self.write_retries += len(pending)
            delay = policy.delay(attempt)
            log.info(
                "index %s: %d document(s) met back-pressure; retry %d in %.1f s", name, len(pending), attempt + 1, delay
            )
            time.sleep(delay)
        for doc_id in pending:
            failures[doc_id] = (
                f"{last_retryable.get(doc_id, 'not sent')}; still refused after {policy.max_retries} retries"
            )
        if failures:
            for doc_id, reason in failures.items():
                log.error("index %s: document %s refused: %s", name, doc_id, self._redact(reason))
            raise BulkItemError(name, [(doc_id, self._redact(reason)) for doc_id, reason in failures.items()], written)

    def _request_failure_status(self, error: Exception) -> int | bool | None:
        """For a whole bulk request that failed: its retryable HTTP status, ``None`` for a timeout or dropped
        connection (also retried: resending is idempotent), ``False`` when retrying cannot help."""
        if isinstance(error, BmbError):
            return False
        classified = self._classify(error)
        if classified is None:
            return False
        status, _ = classified
        if status is None:
            return None
        return status if status in RETRY_STATUSES else False

    def commit(self, name: str) -> None:
        with self._errors(f"refreshing {name!r}", name):
            self.client.indices.refresh(index=check_index_name(name))

    # -- reading -----------------------------------------------------------------------------------

    def stored_hashes(self, name: str, ids: Sequence[str]) -> dict[str, str]:
        unique = list(dict.fromkeys(ids))
        out: dict[str, str] = {}
        for start in range(0, len(unique), MGET_CHUNK):
            with self._errors(f"reading stored hashes from {name!r}", name):
                response = _body(self._mget_hashes(name, unique[start : start + MGET_CHUNK]))
            for doc in response.get("docs", []):
                digest = (doc.get("_source") or {}).get(HASH_FIELD)
                if doc.get("found") and isinstance(digest, str):
                    out[str(doc["_id"])] = digest
        return out

    def _get_body(self, ids: list[str]) -> dict[str, Any]:
        return {"query": {"ids": {"values": ids}}, "size": len(ids)}

    def get(self, name: str, ids: Sequence[str]) -> dict[str, IndexedDocument]:
        unique = list(dict.fromkeys(ids))
        out: dict[str, IndexedDocument] = {}
        for start in range(0, len(unique), MGET_CHUNK):
            response = self._search(name, self._get_body(unique[start : start + MGET_CHUNK]))
            for hit in response.get("hits", {}).get("hits", []):
                source = dict(hit.get("_source") or {})
                vector = np.asarray(source.pop(VECTOR_FIELD, None) or [], dtype=np.float32)
                digest = str(source.pop(HASH_FIELD, ""))
                source.setdefault("id", hit["_id"])
                out[str(hit["_id"])] = IndexedDocument(Document.from_source(source), digest, vector)
        return out

    def _search(self, name: str, body: Mapping[str, Any], **params: Any) -> dict[str, Any]:
        with self._errors(f"searching {name!r}", name):
            response = self.client.search(index=check_index_name(name), body=dict(body), **params)
        return dict(_body(response))

    def search(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Run ``body`` on the cluster (server-side BM25, rescore, kNN, ...) and return the raw response."""
        return self._search(name, body)

    def execute(self, name: str, request: SearchRequest) -> EngineResponse:
        """Run ``request`` as this cluster's dialect of its body, server-side."""
        return EngineResponse.from_search_response(self.search(name, request.to_body(self.kind)))

    def fetch_sources(self, name: str, hits: Sequence[EngineHit]) -> list[EngineHit]:
        """``hits`` with their sources (vector left out), by one ``mget`` per :data:`MGET_CHUNK` ids."""
        unique = list(dict.fromkeys(hit.id for hit in hits))
        sources: dict[str, dict[str, Any]] = {}
        for start in range(0, len(unique), MGET_CHUNK):
            with self._errors(f"reading sources from {name!r}", name):
                response = _body(self._mget_sources(check_index_name(name), unique[start : start + MGET_CHUNK]))
            for doc in response.get("docs", []):
                if doc.get("found"):
                    source = dict(doc.get("_source") or {})
                    source.setdefault("id", str(doc["_id"]))
                    sources[str(doc["_id"])] = source
        return [replace(hit, source=sources.get(hit.id) or {"id": hit.id}) for hit in hits]


def _has_graph(field: Any) -> bool:
    """Whether a vector field's mapping answers kNN searches: Elasticsearch's ``dense_vector`` unless ``index`` is
    false, OpenSearch's ``knn_vector`` with a ``method`` (or a trained ``model_id``). bmb-es's ``--rerank-only``
    mappings have neither: their vectors serve the rescore only."""
    if not isinstance(field, Mapping):
        return False
    if field.get("type") == "dense_vector":
        return field.get("index", True) is not False
    if field.get("type") == "knn_vector":
        return "method" in field or "model_id" in field
    return False

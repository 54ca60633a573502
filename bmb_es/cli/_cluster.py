"""Cluster commands: ``bmb-es setup`` creates the index and pipelines on Elasticsearch / OpenSearch."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .._config import DEFAULT_INDEX
from .._errors import InputError
from ._app import IndexOption, ModelOption, _user_errors, app

if TYPE_CHECKING:
    from ..embedding import Embedder
    from ..engines import Engine


def _require_cluster(engine: Engine, what: str) -> Any:
    from ..engines._cluster import ClusterEngine

    if not isinstance(engine, ClusterEngine):
        raise InputError(f"{what} needs a cluster: set BMB_ES_URL (Elasticsearch) or BMB_OS_URL (OpenSearch)")
    return engine


def server_pipeline_embedder(engine: Engine, index: str, model_id: str) -> Embedder:
    """For ``index --server-pipeline``: put the ingest pipeline and route documents through it."""
    cluster = _require_cluster(engine, "--server-pipeline")
    embedder: Embedder = cluster.use_server_pipeline(index, model_id)
    return embedder


@app.command("setup")
def setup_command(
    index: IndexOption = DEFAULT_INDEX,
    model: ModelOption = None,
    dimension: Annotated[
        int | None,
        typer.Option("--dimension", min=1, help="The model's vector size; given, the model is not loaded to find it."),
    ] = None,
    rerank_only: Annotated[
        bool,
        typer.Option("--rerank-only", help="Store vectors for the rescore only: no HNSW graph (no kNN/hybrid)."),
    ] = False,
    knn_engine: Annotated[
        str, typer.Option("--knn-engine", help="OpenSearch HNSW engine: lucene (default) or faiss (2.19+).")
    ] = "lucene",
    pipeline_model: Annotated[
        str | None,
        typer.Option(
            "--pipeline-model",
            help="Also create the ingest pipeline for this model id deployed on the cluster (index --server-pipeline).",
        ),
    ] = None,
    hybrid: Annotated[
        bool,
        typer.Option("--hybrid", help="OpenSearch: also create the bmb-es-hybrid search pipeline (neural-search)."),
    ] = False,
    print_only: Annotated[
        bool, typer.Option("--print", help="Print the request bodies for the configured cluster; change nothing.")
    ] = False,
) -> None:
    """Create the index (mapping, analyzer, vector field sized for the model) and pipelines on the cluster."""
    from ..embedding import model_name
    from ..engines import IndexMeta, check_index_name, open_engine
    from ..engines._resources import (
        HYBRID_SEARCH_PIPELINE,
        KNN_ENGINES,
        hybrid_search_pipeline_body,
        index_body,
        ingest_pipeline_body,
        pipeline_id,
    )

    with _user_errors():
        check_index_name(index)
        if knn_engine not in KNN_ENGINES:
            raise typer.BadParameter("choose lucene or faiss", param_hint="--knn-engine")
        if dimension is not None:
            meta = IndexMeta(model_name(model), dimension)
        else:
            from ..embedding import load_embedder

            embedder = load_embedder(model)
            meta = IndexMeta(embedder.name, embedder.dimension)
        cluster = _require_cluster(open_engine(), "bmb-es setup")
        try:
            cluster.knn_engine = knn_engine
            if print_only:
                bodies: dict[str, Any] = {
                    f"PUT /{index}": index_body(
                        cluster.kind,
                        meta,
                        rerank_only=rerank_only,
                        knn_engine=cluster.knn_engine,
                        version=cluster.version,
                    )
                }
                if pipeline_model:
                    bodies[f"PUT /_ingest/pipeline/{pipeline_id(pipeline_model)}"] = ingest_pipeline_body(
                        cluster.kind, pipeline_model
                    )
                if hybrid and cluster.kind == "opensearch":
                    bodies[f"PUT /_search/pipeline/{HYBRID_SEARCH_PIPELINE}"] = hybrid_search_pipeline_body()
                typer.echo(json.dumps(bodies, indent=2))
                return
            cluster.create_index(index, meta, rerank_only=rerank_only)
            where = cluster.config.describe() if cluster.config else cluster.label
            typer.echo(f"index {index}: ready on {where} for {meta.model} ({meta.dimension}-d)")
            if pipeline_model:
                typer.echo(f"ingest pipeline: {cluster.put_ingest_pipeline(pipeline_model)}")
            if hybrid:
                if cluster.kind != "opensearch":
                    typer.echo("--hybrid: Elasticsearch needs no search pipeline (the rrf retriever fuses on its own)")
                else:
                    typer.echo(f"search pipeline: {cluster.put_search_pipeline()}")
        finally:
            cluster.close()

"""Cluster commands: ``bmb-es setup`` creates the index and pipelines on Elasticsearch / OpenSearch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from .._config import DEFAULT_INDEX
from .._errors import InputError
from ._app import IndexOption, ModelOption, _user_errors, app, flag_option

if TYPE_CHECKING:
    from ..embedding import Embedder
    from ..engines import Engine, IndexMeta
    from ..engines._resources import Distribution, KnnEngine


def _require_cluster(engine: Engine, what: str) -> Any:
    from ..engines._cluster import ClusterEngine

    if not isinstance(engine, ClusterEngine):
        raise InputError(f"{what} needs a cluster: set BMB_ES_URL (Elasticsearch) or BMB_OS_URL (OpenSearch)")
    return engine


def server_pipeline_embedder(engine: Engine, index: str, model_id: str) -> Embedder:
    """For ``index --server-pipeline``: check that the cluster's model embeds sample texts as the index's model does
    here (query vectors are computed here), then put the ingest pipeline and route documents through it."""
    from ..embedding import load_embedder

    cluster = _require_cluster(engine, "--server-pipeline")
    client = load_embedder(cluster.index_meta(index).model)
    embedder: Embedder = cluster.use_server_pipeline(index, model_id, client)
    return embedder


DIALECTS = ("elasticsearch", "opensearch")
OLDEST_RELEASES = {"elasticsearch": (8, 18), "opensearch": (2,)}  # what the cluster engines connect to


@app.command("setup")
def setup_command(
    index: IndexOption = DEFAULT_INDEX,
    model: ModelOption = None,
    dimension: Annotated[
        int | None,
        typer.Option("--dimension", min=1, help="The model's vector size; given, the model is not loaded to find it."),
    ] = None,
    rerank_only: Annotated[
        bool, flag_option("--rerank-only", "Vectors for the rescore only: no HNSW graph, so no kNN or hybrid.")
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
        bool, flag_option("--hybrid", "OpenSearch: also create the bmb-es-hybrid search pipeline.")
    ] = False,
    print_only: Annotated[
        bool, flag_option("--print", "Print the requests (Dev Tools form), not send them; with --dialect, no cluster.")
    ] = False,
    dialect: Annotated[
        str | None,
        typer.Option(
            "--dialect",
            help="With --print: the bodies for elasticsearch or opensearch, without a cluster (default: the "
            "configured cluster's).",
        ),
    ] = None,
    server_version: Annotated[
        str | None,
        typer.Option(
            "--server-version",
            help="With --dialect: the release to print for, e.g. 8.19, 9.2, 2.19 (default: bodies that every "
            "supported release accepts).",
        ),
    ] = None,
) -> None:
    """Create the index (mapping, analyzer, vector field sized for the model) and pipelines on the cluster."""
    from ..embedding import model_name
    from ..engines import IndexMeta, check_index_name, open_engine
    from ..engines._cluster import parse_version
    from ..engines._resources import KNN_ENGINES, dev_tools_text, setup_requests

    with _user_errors():
        check_index_name(index)
        if knn_engine not in KNN_ENGINES:
            raise typer.BadParameter("choose lucene or faiss", param_hint="--knn-engine")
        if dialect is not None and not print_only:
            raise typer.BadParameter(
                "only with --print: setup reads the dialect from the cluster it connects to", param_hint="--dialect"
            )
        if dialect is not None and dialect not in DIALECTS:
            raise typer.BadParameter("choose elasticsearch or opensearch", param_hint="--dialect")
        if server_version is not None and dialect is None:
            raise typer.BadParameter(
                "only with --print --dialect: otherwise the cluster's own version is used",
                param_hint="--server-version",
            )
        version = parse_version(server_version) if server_version is not None else ()
        if server_version is not None and not version:
            raise typer.BadParameter(
                f"{server_version!r}: give a release such as 9.2 or 2.19", param_hint="--server-version"
            )
        if dialect is not None and version and version < OLDEST_RELEASES[dialect]:
            oldest = ".".join(map(str, OLDEST_RELEASES[dialect]))
            raise typer.BadParameter(f"bmb-es supports {dialect} {oldest} and later", param_hint="--server-version")
        from ..embedding import load_embedder

        embedder: Embedder | None = None
        if dimension is not None:
            meta = IndexMeta(model_name(model), dimension)
        else:
            embedder = load_embedder(model)
            meta = IndexMeta(embedder.name, embedder.dimension)
        engine: KnnEngine = "faiss" if knn_engine == "faiss" else "lucene"

        def print_requests(distribution: Distribution, version: tuple[int, ...]) -> None:
            requests = setup_requests(
                distribution,
                meta,
                index=index,
                rerank_only=rerank_only,
                knn_engine=engine,
                version=version,
                pipeline_model=pipeline_model,
                hybrid=hybrid,
            )
            typer.echo(_print_header(distribution, version, meta, hybrid=hybrid) + dev_tools_text(requests), nl=False)

        if dialect is not None:
            print_requests("elasticsearch" if dialect == "elasticsearch" else "opensearch", version)
            return
        cluster = _require_cluster(
            open_engine(), "bmb-es setup --print without --dialect" if print_only else "bmb-es setup"
        )
        try:
            cluster.knn_engine = engine
            if print_only:
                print_requests(cluster.kind, cluster.version)
                return
            cluster.create_index(index, meta, rerank_only=rerank_only)
            where = cluster.config.describe() if cluster.config else cluster.label
            typer.echo(f"index {index}: ready on {where} for {meta.model} ({meta.dimension}-d)")
            if pipeline_model:
                # The cluster's model must embed as this one does (query vectors are computed here): tried
                # inline first, so a refused pipeline is never stored.
                lowest = cluster.check_pipeline(pipeline_model, embedder or load_embedder(model))
                pipeline = cluster.put_ingest_pipeline(pipeline_model)
                typer.echo(f"ingest pipeline: {pipeline} (sample texts: cosine {lowest:.5f} to {meta.model})")
            if hybrid:
                if cluster.kind != "opensearch":
                    typer.echo("--hybrid: Elasticsearch needs no search pipeline (the rrf retriever fuses on its own)")
                else:
                    typer.echo(f"search pipeline: {cluster.put_search_pipeline()}")
        finally:
            cluster.close()


def _print_header(distribution: Distribution, version: tuple[int, ...], meta: IndexMeta, *, hybrid: bool) -> str:
    """The ``#`` comment lines above ``setup --print``'s requests (Dev Tools skips them)."""
    name = "Elasticsearch" if distribution == "elasticsearch" else "OpenSearch"
    release = ".".join(map(str, version)) if version else "(every supported release)"
    lines = [f"# bmb-es setup for {name} {release}, model {meta.model} ({meta.dimension}-d)"]
    if distribution == "elasticsearch" and not version:
        lines.append(
            "# on 9.2+ bmb-es also sets index.mapping.exclude_source_vectors: false (see it with --server-version 9.2)"
        )
    if distribution == "elasticsearch" and hybrid:
        lines.append("# --hybrid: Elasticsearch needs no search pipeline (the rrf retriever fuses on its own)")
    return "\n".join(lines) + "\n"

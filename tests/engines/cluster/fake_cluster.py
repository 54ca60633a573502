"""An in-process HTTP server that answers like Elasticsearch 8/9 or OpenSearch 2/3, for the real clients.

Only what the cluster engines call is answered; every request is recorded (method, path, query, headers,
body) so tests can check what the official clients' transports actually sent. Response shapes follow the
engines' own REST test suites (see ../shared/data/engine-api-reference).
"""

from __future__ import annotations

import json
import random
import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

FLAVORS: dict[str, dict[str, Any]] = {
    "es817": {"number": "8.17.4", "distribution": None, "build_flavor": "default"},
    "es8": {"number": "8.18.1", "distribution": None, "build_flavor": "default"},
    "es9": {"number": "9.1.2", "distribution": None, "build_flavor": "default"},
    "es92": {"number": "9.2.0", "distribution": None, "build_flavor": "default"},
    "os2": {"number": "2.19.1", "distribution": "opensearch"},
    "os3": {"number": "3.1.0", "distribution": "opensearch"},
}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeCluster:
    flavor: str
    requests: list[Request] = field(default_factory=list)
    indices: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {"body": create body, "docs": {...}}
    pipelines: dict[str, Any] = field(default_factory=dict)
    search_pipelines: dict[str, Any] = field(default_factory=dict)
    # The cluster's deployed model, as ingest pipelines run it (``_simulate``); None: a node without ML, which
    # answers every simulated document with an error.
    pipeline_model: Callable[[str], list[float]] | None = None
    fail_ids: dict[str, tuple[int, str, str]] = field(default_factory=dict)  # id -> (status, type, reason)
    require_auth: str | None = None  # the exact Authorization header value required
    busy_share: float = 0.0  # share of bulk items answered 429 (back-pressure), drawn with a fixed seed
    busy_requests: int = 0  # the next this many _bulk requests are answered 429 as a whole
    applied: Counter[str] = field(default_factory=Counter)  # id -> bulk items applied (stored) for it
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    no_root: bool = False  # no GET / (Elastic's integ-test zip lacks the rest-root module): 405, as that node
    track_total_hits: int = 10_000  # searches count matches exactly up to this many, then answer "gte"
    url: str = ""

    @property
    def is_es(self) -> bool:
        return self.flavor.startswith("es")

    @property
    def major(self) -> int:
        return int(FLAVORS[self.flavor]["number"].split(".")[0])

    def info(self) -> dict[str, Any]:
        version = {k: v for k, v in FLAVORS[self.flavor].items() if v is not None}
        version.update({"lucene_version": "9.12.0", "minimum_wire_compatibility_version": "7.17.0"})
        return {
            "name": "node-1",
            "cluster_name": "fake",
            "cluster_uuid": "abc",
            "version": version,
            "tagline": "You Know, for Search" if self.is_es else "The OpenSearch Project: https://opensearch.org/",
        }


def _error(status: int, kind: str, reason: str) -> tuple[int, dict[str, Any]]:
    cause = {"type": kind, "reason": reason}
    return status, {"error": {"root_cause": [cause], **cause}, "status": status}


class _Handler(BaseHTTPRequestHandler):
    cluster: FakeCluster

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _read(self) -> Any:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return None
        if "ndjson" in self.headers.get("content-type", "") or self.path.split("?")[0].endswith("_bulk"):
            return [json.loads(line) for line in raw.decode().splitlines() if line.strip()]
        return json.loads(raw)

    def _send(self, status: int, body: Any) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        if self.cluster.is_es:
            self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        body = self._read()
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = Request(self.command, parts.path, parse_qs(parts.query), headers, body)
        self.cluster.requests.append(request)
        status, response = self._route(request)
        self._send(status, response)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

    def _route(self, req: Request) -> tuple[int, Any]:
        c = self.cluster
        if c.require_auth is not None and req.headers.get("authorization") != c.require_auth:
            return _error(401, "security_exception", "unable to authenticate user [someone] for REST request [/]")
        if c.is_es:
            for key in ("accept", "content-type"):
                match = re.search(r"compatible-with=(\d+)", req.headers.get(key, ""))
                if match and int(match.group(1)) > c.major:
                    return _error(400, "media_type_header_exception", f"Invalid media-type value on headers [{key}]")
        path = req.path.strip("/").split("/") if req.path.strip("/") else []
        if not path:
            if c.no_root:
                return _error(405, "method_not_allowed", "Incorrect HTTP method for uri [/] and method [GET]")
            return 200, c.info()
        if path[:2] == ["_nodes", "_local"]:
            return 200, {"nodes": {"n1": {"version": c.info()["version"]["number"]}}}
        if path[0] == "_ingest" and path[-1] == "_simulate" and req.method in ("POST", "GET"):
            named = path[2] if len(path) == 4 else None  # _ingest/pipeline/ID/_simulate, else the body's pipeline
            if named is not None and named not in c.pipelines:
                return _error(404, "resource_not_found_exception", f"pipeline [{named}] does not exist")
            if named is None and "pipeline" not in req.body:
                return _error(400, "parse_exception", "[pipeline] required property is missing")
            return 200, {"docs": [self._simulated(doc["_source"]) for doc in req.body["docs"]]}
        if path[0] == "_ingest" and req.method == "PUT":
            c.pipelines[path[2]] = req.body
            return 200, {"acknowledged": True}
        if path[0] == "_search" and path[1] == "pipeline" and req.method == "PUT":
            c.search_pipelines[path[2]] = req.body
            return 200, {"acknowledged": True}
        if path[0] == "_bulk":
            return self._bulk(req)
        if path[0] == "*" and path[1:] == ["_mapping"]:
            return 200, {name: {"mappings": idx["body"].get("mappings", {})} for name, idx in c.indices.items()}
        name = path[0]
        index = c.indices.get(name)
        if len(path) == 1:
            if req.method == "HEAD":
                return (200 if index else 404), None
            if req.method == "PUT":
                if index:
                    return _error(400, "resource_already_exists_exception", f"index [{name}/uuid] already exists")
                c.indices[name] = {"body": req.body or {}, "docs": {}, "visible": {}}
                return 200, {"acknowledged": True, "shards_acknowledged": True, "index": name}
            if req.method == "DELETE" and index:
                del c.indices[name]
                return 200, {"acknowledged": True}
        if index is None:
            return _error(404, "index_not_found_exception", f"no such index [{name}]")
        op = path[1] if len(path) > 1 else ""
        if op == "_mapping":
            return 200, {name: {"mappings": index["body"].get("mappings", {})}}
        if op == "_refresh":
            index["visible"] = dict(index["docs"])
            return 200, {"_shards": {"total": 2, "successful": 1, "failed": 0}}
        if op == "_count":
            return 200, {
                "count": len(index["visible"]),
                "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            }
        if op == "_mget":
            includes = req.query.get("_source_includes")
            excludes = (req.query.get("_source_excludes") or [""])[0].split(",")
            docs = []
            for doc_id in req.body["ids"]:
                source = index["docs"].get(doc_id)
                if source is None:
                    docs.append({"_index": name, "_id": doc_id, "found": False})
                else:
                    wanted = includes[0].split(",") if includes else [k for k in source if k not in excludes]
                    kept = {k: v for k, v in source.items() if k in wanted}
                    docs.append({"_index": name, "_id": doc_id, "_version": 1, "found": True, "_source": kept})
            return 200, {"docs": docs}
        if op == "_search":
            return self._search(name, index, req)
        return _error(400, "illegal_argument_exception", f"fake cluster: unsupported {req.method} {req.path}")

    def _simulated(self, source: dict[str, Any]) -> dict[str, Any]:
        return _simulate_one(self.cluster, source)

    def _bulk(self, req: Request) -> tuple[int, Any]:
        c = self.cluster
        if c.busy_requests > 0:
            c.busy_requests -= 1
            return _error(429, "es_rejected_execution_exception", "rejected execution of coordinating operation")
        lines = req.body
        items = []
        errors = False
        for action, source in zip(lines[0::2], lines[1::2], strict=True):
            ((op, meta),) = action.items()
            name, doc_id = meta["_index"], meta["_id"]
            if c.busy_share and c.rng.random() < c.busy_share:
                reason = "rejected execution of primary operation [write queue capacity 2]"
                items.append(
                    {
                        op: {
                            "_index": name,
                            "_id": doc_id,
                            "status": 429,
                            "error": {"type": "es_rejected_execution_exception", "reason": reason},
                        }
                    }
                )
                errors = True
                continue
            if doc_id in c.fail_ids:
                status, kind, reason = c.fail_ids[doc_id]
                items.append(
                    {op: {"_index": name, "_id": doc_id, "status": status, "error": {"type": kind, "reason": reason}}}
                )
                errors = True
                continue
            index = c.indices.get(name)
            if index is None:
                items.append(
                    {
                        op: {
                            "_index": name,
                            "_id": doc_id,
                            "status": 404,
                            "error": {"type": "index_not_found_exception", "reason": f"no such index [{name}]"},
                        }
                    }
                )
                errors = True
                continue
            created = doc_id not in index["docs"]
            index["docs"][doc_id] = source
            c.applied[doc_id] += 1
            items.append(
                {
                    op: {
                        "_index": name,
                        "_id": doc_id,
                        "_version": 1,
                        "result": "created" if created else "updated",
                        "_shards": {"total": 2, "successful": 1, "failed": 0},
                        "_seq_no": 0,
                        "_primary_term": 1,
                        "status": 201 if created else 200,
                    }
                }
            )
        return 200, {"took": 3, "errors": errors, "items": items}

    def _search(self, name: str, index: dict[str, Any], req: Request) -> tuple[int, Any]:
        body = req.body or {}
        query = body.get("query", {})
        docs = index["visible"]
        # The fake does no scoring: an ids query gets those documents, anything else every visible one, by id.
        chosen = [d for d in query["ids"]["values"] if d in docs] if "ids" in query else sorted(docs)
        hits = []
        option = body.get("_source")
        for rank, doc_id in enumerate(chosen[: body.get("size", 10)]):
            hit: dict[str, Any] = {"_index": name, "_id": doc_id, "_score": 10.0 - rank}
            if option is not False:  # "_source": false answers ids and scores only
                source = dict(docs[doc_id])
                if self.cluster.flavor == "es92" and (option or {}).get("exclude_vectors") is not False:
                    source.pop("embedding", None)
                for excluded in (option or {}).get("excludes", []):
                    source.pop(excluded, None)
                hit["_source"] = source
            hits.append(hit)
        counted = self.cluster.track_total_hits
        total = {"value": min(len(chosen), counted), "relation": "gte" if len(chosen) > counted else "eq"}
        return 200, {
            "took": 2,
            "timed_out": False,
            "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": {
                "total": total,
                "max_score": 10.0 if hits else None,
                "hits": hits,
            },
        }


def _simulate_one(cluster: FakeCluster, source: dict[str, Any]) -> dict[str, Any]:
    """One document through the embedding pipeline, as ``_simulate`` answers it."""
    if cluster.pipeline_model is None:
        return {"error": {"type": "illegal_argument_exception", "reason": "no ml nodes on this cluster"}}
    out = {key: value for key, value in source.items() if key != "embed_text"}
    out["embedding"] = cluster.pipeline_model(source["embed_text"])
    return {"doc": {"_index": "_index", "_id": "_id", "_source": out}}


def start(flavor: str) -> tuple[FakeCluster, ThreadingHTTPServer]:
    cluster = FakeCluster(flavor)
    handler = type("Handler", (_Handler,), {"cluster": cluster})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    cluster.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return cluster, server

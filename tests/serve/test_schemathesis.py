"""The API, fuzzed from its own OpenAPI spec: no request the spec allows, or that it forbids, gets a server error.

schemathesis runs as a library (one hypothesis test per operation and generation mode): its pytest plugin's
``from_fixture`` does not run under pytest 9.
"""

from __future__ import annotations

from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="the dev extra installs schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode  # noqa: E402

from bmb_es import EmbeddedEngine  # noqa: E402
from bmb_es.serve import create_app  # noqa: E402
from tests.serve.conftest import INDEX  # noqa: E402
from tests.support import HashEmbedder  # noqa: E402

OPERATIONS = ["/api/search", "/api/export", "/api/documents/{doc_id}", "/api/indices", "/api/health"]
# No 5xx; every status one the spec lists; bodies of the declared type and schema. Requests the spec allows may
# still be refused with 400 (a page past top_k, a blank question): the spec cannot say those.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def api_schema(served_index: Path) -> object:
    app = create_app(EmbeddedEngine(served_index), INDEX, HashEmbedder())
    return schemathesis.openapi.from_asgi("/openapi.json", app)


VALID, INVALID = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
RUNS = [(path, VALID) for path in OPERATIONS] + [(path, INVALID) for path in OPERATIONS[:3]]  # the others take none


@pytest.mark.parametrize(("path", "mode"), RUNS, ids=[f"{path}-{mode.value}" for path, mode in RUNS])
def test_no_server_errors_and_answers_as_documented(api_schema: object, path: str, mode: GenerationMode) -> None:
    operation = api_schema[path]["GET"]  # type: ignore[index]
    statuses: list[int] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case: schemathesis.Case) -> None:
        response = case.call()
        statuses.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    run()
    assert statuses and max(statuses) < 500
    if mode == VALID and path != "/api/documents/{doc_id}":  # random ids name no document: 404 is right
        assert 200 in statuses, f"no request to {path} succeeded: {sorted(set(statuses))}"

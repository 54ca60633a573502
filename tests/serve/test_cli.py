"""``bmb-es serve``: what it checks before serving, where it listens, and that the rest of the CLI does not need it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

import bmb_es.embedding
from bmb_es.cli import app
from bmb_es.cli._serve import is_loopback
from tests.serve.conftest import INDEX
from tests.support import HashEmbedder


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        *[("127.0.0.1", True), ("127.8.0.1", True), ("localhost", True), ("::1", True), ("[::1]", True)],
        *[("0.0.0.0", False), ("::", False), ("192.168.1.4", False), ("example.org", False)],
    ],
)
def test_only_loopback_addresses_count_as_this_machine(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


def test_an_unknown_index_fails_before_anything_loads(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["serve", "--index", "nope", "--data-dir", str(tmp_path)])
    assert result.exit_code == 4
    assert result.output.startswith("error: index 'nope' not found")


def test_without_the_serve_extra_it_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *rest: None if name == "fastapi" else real(name))
    result = CliRunner().invoke(app, ["serve", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output == "error: bmb-es serve needs fastapi: pip install 'bmb-es[serve]'\n"


class _Recorded:
    """Stands in for uvicorn.Server: records what it was asked to serve instead of serving."""

    runs: ClassVar[list[tuple[Any, list[Any]]]] = []

    def __init__(self, config: Any) -> None:
        self.config = config

    def run(self, sockets: list[Any]) -> None:
        self.runs.append((self.config, [sock.getsockname() for sock in sockets]))
        for sock in sockets:
            sock.close()


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("0.0.0.0", False)])
def test_it_loads_the_model_once_and_listens_where_told(
    served_index: Path, monkeypatch: pytest.MonkeyPatch, host: str, loopback: bool
) -> None:
    import uvicorn

    loaded: list[str] = []
    embedder = HashEmbedder()

    def load(model: str, **kwargs: Any) -> HashEmbedder:
        loaded.append(model)
        return embedder

    monkeypatch.setattr(bmb_es.embedding, "load_embedder", load)
    monkeypatch.setattr(uvicorn, "Server", _Recorded)
    _Recorded.runs.clear()
    args = ["serve", "--index", INDEX, "--port", "0", "--data-dir", str(served_index)]
    result = CliRunner().invoke(app, [*args, "--host", host])
    assert result.exit_code == 0, result.output
    assert loaded == ["hash-model"] and embedder.calls == [1]  # loaded once, warmed up with one question
    ((config, addresses),) = _Recorded.runs
    ((bound_host, port),) = addresses
    assert bound_host == host and port > 0
    assert f"bmb-es serve: http://{host}:{port}/ (index 'papers'; Ctrl-C stops)" in result.output
    warned = "warning: serving on 0.0.0.0: anyone who can reach this machine can search index 'papers'"
    assert (warned in result.output) is not loopback
    middleware = [item.cls.__name__ for item in config.app.user_middleware]  # type: ignore[attr-defined]
    assert ("TrustedHostMiddleware" in middleware) is loopback


@pytest.mark.slow
def test_the_cli_does_not_import_the_server_until_serve_runs() -> None:
    code = "import sys, bmb_es.cli; print(sorted(m for m in ('fastapi', 'uvicorn', 'jinja2') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
    listed = subprocess.run([sys.executable, "-m", "bmb_es", "--help"], capture_output=True, text=True, check=True)
    assert "serve" in listed.stdout

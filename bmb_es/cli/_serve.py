"""``bmb-es serve``: the search page and JSON API (:mod:`bmb_es.serve`) on one index, with uvicorn."""

from __future__ import annotations

import ipaddress
import socket
from typing import Annotated

import typer

from .._config import DEFAULT_INDEX
from ..embedding import EncoderSetting
from ._app import BackendOption, DataDirOption, IndexOption, PrecisionOption, _user_errors, app


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _require_serve_extra() -> None:
    import importlib.util

    missing = [name for name in ("fastapi", "uvicorn", "jinja2") if importlib.util.find_spec(name) is None]
    if missing:
        typer.echo(f"error: bmb-es serve needs {', '.join(missing)}: pip install 'bmb-es[serve]'", err=True)
        raise typer.Exit(2)


@app.command("serve")
def serve_command(
    index: IndexOption = DEFAULT_INDEX,
    host: Annotated[
        str,
        typer.Option("--host", help="Address to listen on. Default: this machine only; 0.0.0.0 serves every network."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, help="Port (0: any free one).")] = 8000,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Seconds a request may wait for its search (then 504).")
    ] = 10.0,
    precision: PrecisionOption = "auto",
    backend: BackendOption = "auto",
    data_dir: DataDirOption = None,
) -> None:
    """Serve a search page and a JSON API (/api/search, /openapi.json) over one index.

    The index's model is loaded once, at start; each search then only encodes its question (on the CPU).
    """
    _require_serve_extra()
    import uvicorn

    from ..embedding import load_embedder
    from ..engines import open_engine
    from ..serve import LOOPBACK_HOSTS, create_app

    with _user_errors():
        setting = EncoderSetting.parse(backend, precision, "cpu")
        engine = open_engine(data_dir)
        meta = engine.index_meta(index)  # an unknown index fails now (exit 4), not at the first search
        typer.echo(f"loading {meta.model} for index {index!r} ({engine.count(index):,} documents)", err=True)
        embedder = load_embedder(meta.model, setting=setting)
        embedder.embed(["warm up"])  # the first encoding compiles; no request should pay for it
    loopback = is_loopback(host)
    if not loopback:
        typer.echo(
            f"warning: serving on {host}: anyone who can reach this machine can search index {index!r}", err=True
        )
    # Host headers are checked on loopback (against DNS rebinding); starlette's check cannot read IPv6 literals.
    allowed = list(LOOPBACK_HOSTS) if loopback and ":" not in host else None
    application = create_app(engine, index, embedder, timeout=timeout, allowed_hosts=allowed)
    try:
        listener = _listen(host, port)
        bound = listener.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        typer.echo(f"bmb-es serve: http://{shown}:{bound}/ (index {index!r}; Ctrl-C stops)", err=True)
        # log_config=None: uvicorn's own dictConfig would bind handlers to the stderr object of this moment (a
        # captured stream under a test runner, closed later); its warnings reach stderr through logging's default.
        config = uvicorn.Config(application, log_level="warning", access_log=False, log_config=None)
        server = uvicorn.Server(config)
        server.run(sockets=[listener])
    finally:
        engine.close()


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (port 0: a free one, then printed), for uvicorn to listen on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets that say so, and without it a response sent in two
    # writes (headers, body) waits out the client's delayed ACK (40 ms a request).
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host.strip("[]"), port))
        listener.listen(2048)  # connections wait from now on, while uvicorn starts (2048: uvicorn's backlog)
    except OSError as error:
        listener.close()
        typer.echo(f"error: cannot listen on {host}:{port}: {error.strerror or error}", err=True)
        raise typer.Exit(2) from None
    return listener

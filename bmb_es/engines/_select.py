"""Choose the engine from configuration: the embedded engine unless a cluster is configured."""

from __future__ import annotations

from pathlib import Path

from ._base import Engine


def open_engine(data_dir: str | Path | None = None) -> Engine:
    """The engine the CLI and API use by default.

    Only the embedded engine exists in this module's first version; cluster engines plug in here,
    chosen by ``BMB_ES_URL`` / ``BMB_OS_URL``.
    """
    from .embedded import EmbeddedEngine

    return EmbeddedEngine(data_dir)

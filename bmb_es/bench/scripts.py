"""What the encoder scripts in ``bench/`` share: their corpus/model/device/setting options, and loading both."""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from .._document import Document
from .._errors import InputError
from ..embedding import Embedder, EncoderSetting, load_embedder
from .embedding_speed import resolve_device
from .speed import read_documents


def add_encoder_options(parser: argparse.ArgumentParser, repo: Path) -> None:
    """``--corpus`` (default: the BioASQ abstracts beside ``repo``), ``--model``, ``--device``, ``--setting``,
    ``--out`` (default: ``repo/bench/results``)."""
    parser.add_argument("--corpus", type=Path, default=repo.parent / "shared" / "data" / "bioasq" / "pubmed")
    parser.add_argument("--model", default="default")
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda if available, else cpu)")
    parser.add_argument("--setting", default="auto/auto", help="backend/precision (default auto/auto)")
    parser.add_argument("--out", type=Path, default=repo / "bench" / "results")


def check_setting(parser: argparse.ArgumentParser, args: argparse.Namespace) -> EncoderSetting:
    """``--setting`` (``BACKEND/PRECISION``) as a setting; a usage error (exit 2) when it names none bmb-es runs."""
    try:
        return EncoderSetting.from_label(args.setting)
    except ValueError as error:  # a SettingError
        parser.error(str(error))


@dataclass(slots=True)
class Encoder:
    """The corpus as the product reads it, and the embedder the options name, on ``device``."""

    device: str
    documents: list[Document]
    embedder: Embedder


def open_encoder(args: argparse.Namespace, setting: EncoderSetting) -> Encoder:
    """Resolve the device, read the corpus and load the embedder with ``setting`` on that device.

    Raises
    ------
    BmbError
        No GPU for ``--device cuda`` (exit 2), an unreadable or empty corpus, a model that cannot load.
    """
    device = resolve_device(args.device)
    documents, _ = read_documents(args.corpus)
    if not documents:
        raise InputError(f"{args.corpus}: no documents")
    embedder = load_embedder(args.model, setting=replace(setting, device=device))
    return Encoder(device, documents, embedder)


def command_line(script: str, argv: list[str] | None) -> str:
    """How the script was run, for the results file."""
    return " ".join(["python", f"bench/{script}", *(shlex.quote(arg) for arg in (argv or sys.argv[1:]))])

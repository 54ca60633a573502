"""Results files: ``<out>/<suite>-<date>.json`` with every figure, a Markdown table and PNG plots beside it."""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES: tuple[str, ...] = (
    "bmb-es",
    "tantivy",
    "sentence-transformers",
    "transformers",
    "torch",
    "numpy",
    "ranx",
    "bm25s",
    "scipy",
    "matplotlib",
)


def machine() -> dict[str, Any]:
    """CPU model, cores, memory, OS and Python, for the results file."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": memory,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "load_average_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux ``ru_maxrss`` is KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf become null, numpy scalars plain numbers."""
    if isinstance(value, float):
        return None if not math.isfinite(value) else value
    if isinstance(value, Mapping):
        return {str(key): _clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    if hasattr(value, "item") and callable(value.item):
        return _clean(value.item())
    return value


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")


def write_results(out_dir: Path, suite: str, payload: Mapping[str, Any], markdown: str) -> tuple[Path, Path]:
    """Write ``<suite>-<date>.json`` and ``.md``; returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    base = out_dir / f"{suite}-{payload['created'].replace(':', '')}"
    json_path, md_path = base.with_suffix(".json"), base.with_suffix(".md")
    json_path.write_text(json.dumps(_clean(payload), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(markdown, encoding="utf-8")
    return json_path, md_path


def envelope(suite: str, command: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "suite": suite,
        "created": stamp(),
        "command": command,
        "machine": machine(),
        "versions": versions(),
        "settings": dict(settings),
        "started_unix": time.time(),
    }


def fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.{digits}f}"
    return str(value)


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(fmt(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def machine_line(payload: Mapping[str, Any]) -> str:
    info = payload["machine"]
    vers = payload["versions"]
    return (
        f"Machine: {info['cpu']}, {info['usable_cores']} usable cores, {info['memory_gib']} GiB, "
        f"{info['platform']}, Python {info['python']} (1-min load at start {info['load_average_1m']}). "
        f"Versions: " + ", ".join(f"{name} {ver}" for name, ver in vers.items() if ver) + "."
    )


def _latest_per_datasets(out_dir: Path, suite: str) -> list[Path]:
    """The newest Markdown result of ``suite`` per dataset list (speed: per corpus, device, with/without comparison)."""
    chosen: dict[str, Path] = {}
    for path in sorted(out_dir.glob(f"{suite}-*.json"), reverse=True):
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if suite == "ir":
            key = ",".join(result["dataset"]["name"] for result in payload.get("results", []))
        else:  # a GPU run, and a run with the encoder-setting comparison, of the same corpus: each its own section
            settings = payload.get("settings", {})
            corpus = "/".join(Path(str(settings.get("corpus"))).parts[-2:])  # the same folder, however it was named
            key = f"{corpus}|{settings.get('device')}|{settings.get('embedding') is None}"
        markdown = path.with_suffix(".md")
        if key not in chosen and markdown.is_file():
            chosen[key] = markdown
    return sorted(chosen.values())


KEPT_START = "<!-- kept: written by hand, update_docs leaves it as it is -->"
KEPT_END = "<!-- /kept -->"


def _kept_block(docs: Path) -> str:
    """The hand-written block of ``docs`` (where each default's figures come from), markers included, or ``""``."""
    if not docs.is_file():
        return ""
    text = docs.read_text(encoding="utf-8")
    start, end = text.find(KEPT_START), text.find(KEPT_END)
    return text[start : end + len(KEPT_END)] + "\n\n" if 0 <= start < end else ""


def update_docs(docs: Path, out_dir: Path) -> None:
    """Rewrite ``docs/benchmarks.md`` from the newest Markdown result of each suite and dataset in ``out_dir``.

    A block between :data:`KEPT_START` and :data:`KEPT_END` (the measurements behind the code's defaults, which
    code comments point to) is written by hand and kept as it is, after the header.
    """
    kept = _kept_block(docs)
    sections = []
    for suite in ("ir", "speed"):
        for latest in _latest_per_datasets(out_dir, suite):
            rel = os.path.relpath(latest, docs.parent)
            body = latest.read_text(encoding="utf-8")
            sections.append(f"<!-- from {rel} -->\n\n{body}")
    header = (
        "# Benchmarks\n\n"
        "Generated by `bmb-es bench ir` / `bmb-es bench speed` (`--docs docs/benchmarks.md`, or "
        "`bmb-es bench render RESULTS.json --docs docs/benchmarks.md`) from the newest files in `bench/results/` "
        "for each dataset and corpus: JSON with every figure, per-query values and settings, PNG plots beside "
        "them. Each section names the command that produced it; re-run it to refresh this page. A `bench speed` "
        "section also compares every encoder setting (backend/precision) on the same texts: speed, ratio to "
        "torch/fp32 and the retrieval quality each costs. Each section names its machine and the load average "
        "at its start; speed figures from a shared machine are noisy.\n\n"
    )
    docs.parent.mkdir(parents=True, exist_ok=True)
    docs.write_text(header + kept + "\n\n".join(sections), encoding="utf-8")

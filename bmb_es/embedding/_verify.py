"""Check a fast embedding path against fp32 once per model and machine, and remember the verdict."""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ._base import Embedder

MIN_COSINE = 0.999  # mean cosine to fp32 a fast path needs; measured bf16: 0.99998
VERDICTS_FILE = "embedding-checks.json"

# A fixed, varied sample: questions (short) and abstracts (long), so both sides of retrieval are checked.
SAMPLE: tuple[str, ...] = (
    "Is Hirschsprung disease a mendelian or a multifactorial disorder?",
    "Which genes are associated with familial hypercholesterolemia?",
    "What is the mechanism of action of pembrolizumab?",
    "Does metformin reduce cancer incidence in diabetic patients?",
    "List the symptoms of acute respiratory distress syndrome.",
    "Is there an association between obesity and asthma in children?",
    "What is the role of TNF-alpha in rheumatoid arthritis?",
    "Which drugs are used for the treatment of multiple sclerosis relapses?",
    "Acute lung injury. Mechanical ventilation with low tidal volumes reduced mortality in adults with acute "
    "lung injury and the acute respiratory distress syndrome compared with traditional tidal volumes.",
    "Heart failure with preserved ejection fraction. We report a randomised trial of spironolactone in 3445 "
    "patients; the primary outcome was a composite of death from cardiovascular causes, aborted cardiac arrest "
    "or hospitalisation for heart failure, which did not differ significantly between groups.",
    "Sepsis is life-threatening organ dysfunction caused by a dysregulated host response to infection. Early "
    "antibiotics and fluid resuscitation remain the cornerstone of treatment; vasopressors are added when "
    "hypotension persists despite adequate volume.",
    "Genome-wide association studies identified loci near HLA-DRB1, PTPN22 and STAT4 that increase the risk "
    "of rheumatoid arthritis. Citrullinated peptides are presented by shared-epitope alleles, and anti-CCP "
    "antibodies precede clinical disease by years. " * 3,
    "Liver fibrosis results from chronic injury: hepatic stellate cells activate, proliferate and deposit "
    "extracellular matrix. Removal of the cause, as in successful antiviral therapy for hepatitis C, can "
    "reverse fibrosis. Non-invasive elastography measures stiffness and tracks progression over time.",
    "Stroke",
    "kidney disease progression biomarkers",
    "The BRCA1 and BRCA2 genes encode proteins involved in homologous recombination repair of DNA double "
    "strand breaks; carriers of pathogenic variants have a high lifetime risk of breast and ovarian cancer "
    "and tumours are sensitive to PARP inhibitors such as olaparib. " * 4,
)


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    mean_cosine: float
    min_cosine: float
    checked: str
    reason: str = ""


def row_cosines(first: npt.ArrayLike, second: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The cosine of each row of ``first`` with the same row of ``second`` (any length; a zero row gives 0)."""
    a, b = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.asarray(np.sum(a * b, axis=1) / np.where(norms == 0, 1.0, norms), dtype=np.float64)


def mean_cosine(reference: Embedder, candidate: Embedder, texts: tuple[str, ...] = SAMPLE) -> tuple[float, float]:
    """Mean and minimum cosine between the two embedders' vectors of ``texts``."""
    cosines = row_cosines(reference.embed(list(texts)), candidate.embed(list(texts)))
    return float(np.mean(cosines)), float(np.min(cosines))


class VerdictCache:
    """``<data dir>/embedding-checks.json``: ``{"model|backend|precision|hardware": verdict}``."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def _read(self) -> dict[str, dict[str, object]]:
        if self.path is None or not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, key: str) -> Verdict | None:
        raw = self._read().get(key)
        if not isinstance(raw, dict):
            return None
        try:
            return Verdict(
                ok=bool(raw["ok"]),
                mean_cosine=float(raw["mean_cosine"]),  # type: ignore[arg-type]
                min_cosine=float(raw["min_cosine"]),  # type: ignore[arg-type]
                checked=str(raw.get("checked", "")),
                reason=str(raw.get("reason", "")),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def put(self, key: str, verdict: Verdict) -> None:
        if self.path is None:
            return
        data = self._read()
        data[key] = asdict(verdict)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                "w", dir=self.path.parent, suffix=".tmp", delete=False, encoding="utf-8"
            ) as handle:
                json.dump(data, handle, indent=2, sort_keys=True)
            os.replace(handle.name, self.path)
        except OSError:
            pass  # an unwritable cache only means checking again next time


def verify(reference: Embedder, candidate: Embedder, threshold: float | None = None) -> Verdict:
    """Compare ``candidate`` with the fp32 ``reference`` on :data:`SAMPLE`."""
    limit = MIN_COSINE if threshold is None else threshold
    mean, low = mean_cosine(reference, candidate)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if mean >= limit:
        return Verdict(True, mean, low, stamp)
    return Verdict(False, mean, low, stamp, f"mean cosine to fp32 {mean:.5f} < {limit}")

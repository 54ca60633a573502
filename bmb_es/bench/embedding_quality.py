"""Quality figures of one encoder setting: dense MRR@10 on the BioASQ golden questions, cosine to fp32 vectors.

Used by :mod:`bmb_es.bench.embedding_speed` so that no speed figure is reported without the quality it costs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .._errors import BmbError
from .datasets import DatasetError, load_bioasq_golden_docs
from .metrics import mean_mrr

GOLDEN_TSV = "golden_question_documents.tsv"

Matrix = npt.NDArray[np.floating]


@dataclass(frozen=True, slots=True)
class GoldenQuestions:
    """BioASQ golden questions whose relevant documents are among the documents measured.

    Parameters
    ----------
    bodies
        Question texts, one per question.
    relevant
        For each question, the ids (PMIDs) of its relevant documents among those measured.
    description
        One line for the report: where the questions came from.
    """

    bodies: list[str]
    relevant: list[set[str]]
    description: str


def golden_questions(corpus: Path, ids: Sequence[str]) -> GoldenQuestions | str:
    """The golden questions for ``ids``, or why there are none (a line for the report).

    They exist only when ``corpus`` is the BioASQ ``pubmed`` folder: it holds ``golden_question_documents.tsv``
    and the golden JSON files are in ``../golden`` (loaded by :func:`~bmb_es.bench.datasets.load_bioasq_golden_docs`).
    Questions keep only the relevant documents in ``ids``; questions left with none are dropped.
    """
    if not (corpus / GOLDEN_TSV).is_file():
        return f"{corpus} is not the BioASQ pubmed folder (it has no {GOLDEN_TSV})"
    root = corpus.resolve().parent
    if corpus.resolve().name != "pubmed" or not (root / "golden").is_dir():
        return f"{corpus}: golden questions need the BioASQ layout (this folder named pubmed, the JSONs in ../golden)"
    try:
        dataset = load_bioasq_golden_docs(root)
    except (BmbError, DatasetError, OSError, KeyError, ValueError) as error:
        return f"golden questions could not be read ({str(error).splitlines()[0]})"
    present = set(ids)
    bodies: list[str] = []
    relevant: list[set[str]] = []
    for qid, body in dataset.queries.items():
        wanted = {doc for doc, grade in dataset.qrels[qid].items() if grade > 0 and doc in present}
        if wanted:
            bodies.append(body)
            relevant.append(wanted)
    if not bodies:
        return f"no golden question has a relevant document among the {len(present)} documents measured"
    return GoldenQuestions(
        bodies,
        relevant,
        f"{len(bodies)} BioASQ golden questions (all types) with a relevant document among the "
        f"{len(present)} documents measured",
    )


def mrr_at_10(queries: Matrix, documents: Matrix, ids: Sequence[str], relevant: Sequence[set[str]]) -> float:
    """Dense MRR@10: documents ranked by exact cosine (rows are unit vectors), 1/rank of the first relevant one.

    Parameters
    ----------
    queries
        One unit vector per question, shape ``(questions, dimension)``.
    documents
        One unit vector per document, shape ``(documents, dimension)``, in the order of ``ids``.
    ids
        Document ids.
    relevant
        Relevant document ids per question; a question with none in the top 10 counts 0.

    Returns
    -------
    float
        The mean over questions (ties keep the document order).
    """
    if len(relevant) == 0:
        raise ValueError("mrr_at_10: no questions")
    scores = np.asarray(queries, dtype=np.float64) @ np.asarray(documents, dtype=np.float64).T
    top = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    if len(top) != len(relevant):
        raise ValueError(f"mrr_at_10: {len(top)} questions but {len(relevant)} relevant sets")
    run = {str(row): [ids[int(position)] for position in ranked] for row, ranked in enumerate(top)}
    return mean_mrr(run, {str(row): wanted for row, wanted in enumerate(relevant)}, 10)


def cosine_to_reference(vectors: Matrix, reference: Matrix) -> tuple[float, float]:
    """Mean and minimum cosine of each row of ``vectors`` to the same row of ``reference`` (unit rows)."""
    cosines = np.sum(np.asarray(vectors, dtype=np.float64) * np.asarray(reference, dtype=np.float64), axis=1)
    return float(cosines.mean()), float(cosines.min())

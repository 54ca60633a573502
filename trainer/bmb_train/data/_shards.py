"""Write instances as sharded TFRecords (BERT's feature names) with a manifest JSON; read the manifest back."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .._errors import DataError
from ._instances import Instance, MaskingSettings

MANIFEST_NAME = "manifest.json"
FORMAT_TAG = "bmb-train-pretraining/1"


@dataclass(frozen=True, slots=True)
class Manifest:
    """What a shards folder holds; written beside the shards as ``manifest.json``."""

    folder: Path
    shards: tuple[str, ...]
    shard_counts: tuple[int, ...]
    instances: int
    vocab_sha256: str
    vocab_size: int
    lowercase: bool
    settings: MaskingSettings
    counts: dict[str, Any]

    @property
    def files(self) -> list[Path]:
        return [self.folder / name for name in self.shards]

    @property
    def vocab_path(self) -> Path:
        return self.folder / "vocab.txt"


def write_shards(
    instances: Sequence[Instance],
    out: Path,
    vocab: Path,
    vocab_sha: str,
    vocab_size: int,
    lowercase: bool,
    settings: MaskingSettings,
    counts: dict[str, Any],
    num_shards: int = 1,
    progress: Callable[[int], None] | None = None,
) -> Manifest:
    """Write ``instances`` round-robin into ``num_shards`` TFRecord files plus ``manifest.json`` and ``vocab.txt``.

    Features (padded to ``max_seq_length`` / ``max_predictions``): ``input_ids``, ``input_mask``,
    ``segment_ids``, ``masked_lm_positions``, ``masked_lm_ids``, ``masked_lm_weights``, ``next_sentence_labels``
    (1 = B is a random sentence, 0 = B follows A).
    """
    import tensorflow as tf

    if not instances:
        raise DataError("no training instances: the corpus has no document with at least two tokens of text")
    if num_shards < 1:
        raise DataError(f"--shards {num_shards}: must be at least 1")
    num_shards = min(num_shards, len(instances))
    out.mkdir(parents=True, exist_ok=True)
    stale = sorted(out.glob("*.tfrecord"))
    if stale:
        raise DataError(f"{out}: already holds {len(stale)} .tfrecord file(s); choose an empty folder")
    names = tuple(f"pretrain-{i:05d}-of-{num_shards:05d}.tfrecord" for i in range(num_shards))
    writers = [tf.io.TFRecordWriter(str(out / name)) for name in names]
    shard_counts = [0] * num_shards

    def ints(values: Sequence[int]) -> tf.train.Feature:
        return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))

    seq, preds = settings.max_seq_length, settings.max_predictions
    try:
        for n, item in enumerate(instances):
            pad = seq - len(item.input_ids)
            pad_p = preds - len(item.masked_positions)
            features = {
                "input_ids": ints([*item.input_ids, *([0] * pad)]),
                "input_mask": ints([1] * len(item.input_ids) + [0] * pad),
                "segment_ids": ints([*item.segment_ids, *([0] * pad)]),
                "masked_lm_positions": ints([*item.masked_positions, *([0] * pad_p)]),
                "masked_lm_ids": ints([*item.masked_ids, *([0] * pad_p)]),
                "masked_lm_weights": tf.train.Feature(
                    float_list=tf.train.FloatList(value=[1.0] * len(item.masked_positions) + [0.0] * pad_p)
                ),
                "next_sentence_labels": ints([int(item.is_random_next)]),
            }
            example = tf.train.Example(features=tf.train.Features(feature=features))
            writers[n % num_shards].write(example.SerializeToString())
            shard_counts[n % num_shards] += 1
            if progress is not None:
                progress(n + 1)
    finally:
        for writer in writers:
            writer.close()
    if vocab.resolve() != (out / "vocab.txt").resolve():
        shutil.copyfile(vocab, out / "vocab.txt")
    manifest = Manifest(
        folder=out,
        shards=names,
        shard_counts=tuple(shard_counts),
        instances=len(instances),
        vocab_sha256=vocab_sha,
        vocab_size=vocab_size,
        lowercase=lowercase,
        settings=settings,
        counts=counts,
    )
    payload = {
        "format": FORMAT_TAG,
        "instances": manifest.instances,
        "shards": [{"file": name, "instances": count} for name, count in zip(names, shard_counts, strict=True)],
        "vocab_sha256": vocab_sha,
        "vocab_size": vocab_size,
        "lowercase": lowercase,
        "settings": asdict(settings),
        "counts": counts,
    }
    (out / MANIFEST_NAME).write_text(json.dumps(payload, indent=2) + "\n")
    return manifest


def load_manifest(folder: Path) -> Manifest:
    """Read ``folder/manifest.json`` and check every shard it names exists."""
    path = folder / MANIFEST_NAME
    if not path.is_file():
        raise DataError(f"{folder}: no {MANIFEST_NAME}; create pretraining data with `bmb-train data`")
    try:
        data = json.loads(path.read_text())
        if data.get("format") != FORMAT_TAG:
            raise DataError(f"{path}: format {data.get('format')!r} is not {FORMAT_TAG!r}")
        shards = tuple(str(item["file"]) for item in data["shards"])
        manifest = Manifest(
            folder=folder,
            shards=shards,
            shard_counts=tuple(int(item["instances"]) for item in data["shards"]),
            instances=int(data["instances"]),
            vocab_sha256=str(data["vocab_sha256"]),
            vocab_size=int(data["vocab_size"]),
            lowercase=bool(data["lowercase"]),
            settings=MaskingSettings(**data["settings"]),
            counts=dict(data.get("counts", {})),
        )
    except (ValueError, KeyError, TypeError) as error:
        raise DataError(f"{path}: unreadable manifest ({error})") from None
    missing = [name for name in shards if not (folder / name).is_file()]
    if missing:
        raise DataError(f"{folder}: shard(s) named in the manifest are missing: {', '.join(missing[:5])}")
    if not manifest.vocab_path.is_file():
        raise DataError(f"{folder}: vocab.txt is missing beside the shards")
    return manifest

"""Corpus to pretraining data: sentences, vocab, MLM/NSP statistics, shards and manifest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from bmb_train.data import (
    CorpusStats,
    MaskingSettings,
    create_instances,
    load_manifest,
    load_tokenizer,
    read_documents,
    read_vocab,
    split_sentences,
)

from .conftest import BREATHE, need_data


def test_split_sentences_keeps_abbreviations() -> None:
    text = "Asthma (e.g. allergic asthma) is common. Smith et al. showed this in 2019! Is it treatable?\nYes."
    assert split_sentences(text) == [
        "Asthma (e.g. allergic asthma) is common.",
        "Smith et al. showed this in 2019!",
        "Is it treatable?",
        "Yes.",
    ]
    assert split_sentences("  \n ") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Patients received statins, e.g. atorvastatin, for 12 weeks. Outcomes improved.",
            ["Patients received statins, e.g. atorvastatin, for 12 weeks.", "Outcomes improved."],
        ),
        (
            "Smith et al. reported a similar effect. Jones et al. (2019) did not.",
            ["Smith et al. reported a similar effect.", "Jones et al. (2019) did not."],
        ),
        (
            "As shown in Fig. 2, the effect persisted. Figs. 3 and 4 show the controls.",
            ["As shown in Fig. 2, the effect persisted.", "Figs. 3 and 4 show the controls."],
        ),
        (
            "The difference was significant (p < 0.05). No adverse events occurred. Survival improved (p<0.001).",
            [
                "The difference was significant (p < 0.05).",
                "No adverse events occurred.",
                "Survival improved (p<0.001).",
            ],
        ),
        (
            "Mice received 5 mg/kg i.v. 2 h before the challenge. Controls received saline.",
            ["Mice received 5 mg/kg i.v. 2 h before the challenge.", "Controls received saline."],
        ),
        (  # abbreviations inside brackets, and a sentence-final "MS." (mass spectrometry, not "Ms.")
            "Proteins were correlated (e.g. SERPINE1 vs. MMP9) in controls. They were identified by MS. "
            "Targeted knock-down followed (ref. 5).",
            [
                "Proteins were correlated (e.g. SERPINE1 vs. MMP9) in controls.",
                "They were identified by MS.",
                "Targeted knock-down followed (ref. 5).",
            ],
        ),
        (  # sentences that start with a gene name or a Greek letter; a closing quote stays with its sentence
            'Its role is gaining interest. circRNAs were studied. γδ T cells respond. He said "stop." Then he left.',
            [
                "Its role is gaining interest.",
                "circRNAs were studied.",
                "γδ T cells respond.",
                'He said "stop."',
                "Then he left.",
            ],
        ),
    ],
)
def test_split_sentences_keeps_biomedical_abbreviations(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_vocab_has_bert_special_tokens(vocab: Path) -> None:
    tokens = read_vocab(vocab)
    assert tokens[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert 1000 < len(tokens) <= 1500
    assert any(token.startswith("##") for token in tokens)


def _tokenised_documents(corpus: Path, vocab: Path) -> list[list[list[int]]]:
    tokenizer = load_tokenizer(vocab)
    docs = []
    for doc in read_documents(corpus, CorpusStats()):
        encoded = [e.ids for e in tokenizer.encode_batch(doc, add_special_tokens=False) if e.ids]
        if encoded:
            docs.append(encoded)
    return docs


@pytest.mark.parametrize("whole_word", [False, True])
def test_masking_and_nsp_statistics(corpus: Path, vocab: Path, whole_word: bool) -> None:
    tokens = read_vocab(vocab)
    mask_id = tokens.index("[MASK]")
    settings = MaskingSettings(max_seq_length=128, max_predictions=20, dupe_factor=3, whole_word_masking=whole_word)
    instances = create_instances(_tokenised_documents(corpus, vocab), tokens, settings)
    assert len(instances) > 1000
    content = masked = replaced = kept = randomised = 0
    for item in instances:
        assert item.input_ids[0] == tokens.index("[CLS]") and item.input_ids[-1] == tokens.index("[SEP]")
        assert len(item.input_ids) <= 128 and len(item.masked_positions) <= 20
        assert list(item.masked_positions) == sorted(set(item.masked_positions))
        content += len(item.input_ids) - 3
        masked += len(item.masked_positions)
        for position, original in zip(item.masked_positions, item.masked_ids, strict=True):
            now = item.input_ids[position]
            replaced += now == mask_id
            kept += now == original
            randomised += now not in (mask_id, original)
        if whole_word:
            # a masked continuation piece has its preceding piece masked too (unless truncation cut it off)
            chosen = set(item.masked_positions)
            boundary = {tokens.index("[CLS]"), tokens.index("[SEP]")}
            for position, original in zip(item.masked_positions, item.masked_ids, strict=True):
                if tokens[original].startswith("##"):
                    assert position - 1 in chosen or item.input_ids[position - 1] in boundary
    assert masked / content == pytest.approx(0.15, abs=0.015)
    assert replaced / masked == pytest.approx(0.8, abs=0.02)
    assert kept / masked == pytest.approx(0.1, abs=0.02)
    assert randomised / masked == pytest.approx(0.1, abs=0.02)
    random_next = sum(item.is_random_next for item in instances) / len(instances)
    assert random_next == pytest.approx(0.5, abs=0.03)


def test_instances_are_deterministic(corpus: Path, vocab: Path) -> None:
    tokens = read_vocab(vocab)
    docs = _tokenised_documents(corpus, vocab)[:40]
    settings = MaskingSettings(max_seq_length=64, max_predictions=10, dupe_factor=1, seed=3)
    assert create_instances(docs, tokens, settings) == create_instances(docs, tokens, settings)
    other = MaskingSettings(max_seq_length=64, max_predictions=10, dupe_factor=1, seed=4)
    assert create_instances(docs, tokens, settings) != create_instances(docs, tokens, other)


def test_shards_and_manifest_match_what_was_written(shards: Path, vocab: Path) -> None:
    import tensorflow as tf
    from bmb_train.data._dataset import pretraining_dataset

    manifest = load_manifest(shards)
    raw = json.loads((shards / "manifest.json").read_text())
    assert raw["vocab_sha256"] == hashlib.sha256(vocab.read_bytes()).hexdigest()
    assert raw["settings"]["max_seq_length"] == 64 and raw["settings"]["seed"] == 7
    assert raw["counts"]["documents"] == 200 and raw["counts"]["rejected"] == 0
    assert (
        sum(manifest.shard_counts)
        == manifest.instances
        == sum(1 for _ in tf.data.TFRecordDataset([str(path) for path in manifest.files]))
    )
    batch = next(iter(pretraining_dataset(manifest, 32, seed=1)))
    assert batch["input_ids"].shape == (32, 64) and batch["masked_lm_ids"].shape == (32, 10)
    weights = batch["masked_lm_weights"].numpy()
    positions = batch["masked_lm_positions"].numpy()
    assert np.all(positions[weights == 0] == 0) and np.all(weights.sum(axis=1) >= 1)
    mask = batch["input_mask"].numpy()
    assert np.all(np.take_along_axis(mask, positions, axis=1)[weights > 0] == 1)
    labels = batch["next_sentence_labels"].numpy()
    assert set(np.unique(labels)) <= {0, 1}


def test_breathe_sample_reads_through_project_readers(vocab: Path, tmp_path: Path) -> None:
    need_data()
    from bmb_train.data import build_pretraining_data

    lines: list[str] = []
    manifest = build_pretraining_data(
        BREATHE,
        vocab,
        tmp_path / "shards",
        MaskingSettings(max_seq_length=64, max_predictions=10, dupe_factor=1),
        limit=20,
        log=lines.append,
    )
    assert manifest.counts["documents"] == 20 and manifest.instances > 20
    assert any("wrote" in line for line in lines)

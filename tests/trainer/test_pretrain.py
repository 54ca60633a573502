"""Tiny CPU pretraining: loss falls, and a crashed run resumes at the right step and data position."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bmb_train import ConfigError
from bmb_train.data import load_manifest
from bmb_train.pretrain import PretrainSettings, pretrain

from .conftest import tiny_config


def _history(run: Path) -> list[dict[str, float]]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_tiny_pretrain_loss_falls(trained_run: Path) -> None:
    history = _history(trained_run)
    assert [item["step"] for item in history] == list(range(1, 41))
    first = sum(item["loss"] for item in history[:8]) / 8
    last = sum(item["loss"] for item in history[-8:]) / 8
    assert last < first - 0.5, (first, last)
    assert (trained_run / "ckpt" / "checkpoint").is_file()
    assert list((trained_run / "logs").glob("events.out.tfevents.*"))


class Crash(RuntimeError):
    pass


@pytest.mark.slow
def test_resume_after_crash_continues_at_same_step_and_batch(shards: Path, tmp_path: Path) -> None:
    config = tiny_config(load_manifest(shards).vocab_size, dropout=0.0)

    def settings(out: Path) -> PretrainSettings:
        return PretrainSettings(
            data=shards,
            out=out,
            config=config,
            steps=8,
            batch_size=8,
            learning_rate=1e-3,
            checkpoint_every=2,
            log_every=1,
            seed=5,
        )

    straight = pretrain(settings(tmp_path / "straight"), log=lambda _: None)

    def crash_after_5(step: int, loss: float) -> None:
        if step == 5:
            raise Crash("simulated crash")

    with pytest.raises(Crash):
        pretrain(settings(tmp_path / "crashed"), log=lambda _: None, on_step=crash_after_5)
    lines: list[str] = []
    resumed = pretrain(settings(tmp_path / "crashed"), log=lines.append)
    assert any("resuming" in line and "step 4" in line for line in lines), lines
    assert resumed.start_step == 4 and resumed.end_step == 8
    expected = {item["step"]: item for item in straight.history}
    for item in resumed.history:
        assert item["batch_fingerprint"] == expected[item["step"]]["batch_fingerprint"]
        assert item["loss"] == pytest.approx(expected[item["step"]]["loss"], rel=1e-3)
    # the crashed run's step 5 (lost, not checkpointed) saw the same batch as the resumed step 5
    crashed_steps = _history(tmp_path / "crashed")
    fifth = [item for item in crashed_steps if item["step"] == 5]
    assert len(fifth) == 2 and fifth[0]["batch_fingerprint"] == fifth[1]["batch_fingerprint"]


def test_resume_with_other_settings_is_refused(trained_run: Path, shards: Path) -> None:
    config = tiny_config(load_manifest(shards).vocab_size)
    with pytest.raises(ConfigError, match="batch_size"):
        pretrain(PretrainSettings(data=shards, out=trained_run, config=config, steps=50, batch_size=4))


def test_vocab_size_mismatch_is_refused(shards: Path, tmp_path: Path) -> None:
    config = tiny_config(999)
    with pytest.raises(ConfigError, match="vocab"):
        pretrain(PretrainSettings(data=shards, out=tmp_path, config=config, steps=2, batch_size=4))

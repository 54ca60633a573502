"""Every error names its exit code in its class header, or keeps its base's; the codes do not change."""

from __future__ import annotations

import pickle
from pathlib import Path

from bmb_train._errors import ConfigError, DataError, ExportError, TrainerError, WeightMappingError

import bmb_es
from bmb_es import BmbError
from bmb_es.bench.embedding_speed import NoGpuError

CODES: dict[type[BmbError], int] = {
    BmbError: 1,
    NoGpuError: 2,
    bmb_es.InputError: 3,
    bmb_es.IndexNotFoundError: 4,
    bmb_es.ModelMismatchError: 5,
    bmb_es.QueryError: 6,
    bmb_es.StorageError: 7,
    bmb_es.IndexDamagedError: 7,  # a StorageError
    bmb_es.ModelLoadError: 8,
    bmb_es.SettingError: 8,  # a ModelLoadError
    bmb_es.ClusterError: 9,
    TrainerError: 10,
    ConfigError: 11,
    DataError: 12,
    WeightMappingError: 13,
    ExportError: 14,
}


def test_each_error_has_its_exit_code() -> None:
    assert {kind: kind.exit_code for kind in CODES} == CODES
    assert bmb_es.QueryError("x").exit_code == 6


def test_a_subclass_without_a_code_keeps_its_bases() -> None:
    class Narrower(bmb_es.QueryError):
        pass

    class Own(bmb_es.QueryError, exit_code=42):
        pass

    assert (Narrower.exit_code, Own.exit_code, bmb_es.QueryError.exit_code) == (6, 42, 6)


def test_a_damaged_index_error_still_pickles() -> None:
    error = bmb_es.IndexDamagedError(Path("/x/meta.json"), "truncated", "papers")
    assert str(pickle.loads(pickle.dumps(error))) == str(error)

"""Errors a user of ``bmb-train`` can act on; the CLI prints their message on one line."""

from __future__ import annotations

from bmb_es._errors import BmbError


class TrainerError(BmbError):
    """Base class for trainer failures."""

    exit_code = 10


class ConfigError(TrainerError):
    """A model config or command-line setting is invalid or contradicts another."""

    exit_code = 11


class DataError(TrainerError):
    """The corpus, vocabulary or pretraining shards are missing, empty or inconsistent."""

    exit_code = 12


class WeightMappingError(TrainerError):
    """Initial weights do not map one-to-one onto the model (missing, unexpected or mis-shaped tensors)."""

    exit_code = 13


class ExportError(TrainerError):
    """An export could not be written, or its reloaded outputs differ from the trained model."""

    exit_code = 14

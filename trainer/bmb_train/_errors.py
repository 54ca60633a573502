"""Errors a user of ``bmb-train`` can act on; the CLI prints their message on one line."""

from __future__ import annotations

from bmb_es._errors import BmbError


class TrainerError(BmbError, exit_code=10):
    """Base class for trainer failures."""


class ConfigError(TrainerError, exit_code=11):
    """A model config or command-line setting is invalid or contradicts another."""


class DataError(TrainerError, exit_code=12):
    """The corpus, vocabulary or pretraining shards are missing, empty or inconsistent."""


class WeightMappingError(TrainerError, exit_code=13):
    """Initial weights do not map one-to-one onto the model (missing, unexpected or mis-shaped tensors)."""


class ExportError(TrainerError, exit_code=14):
    """An export could not be written, or its reloaded outputs differ from the trained model."""

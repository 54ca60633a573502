"""Typed BERT model config: presets, JSON files and Hugging Face ``config.json``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from ._errors import ConfigError


@dataclass(frozen=True, slots=True)
class BertConfig:
    """Shape and regularisation of a BERT encoder.

    Parameters
    ----------
    vocab_size
        Rows of the word-embedding table; must equal the WordPiece vocab's line count.
    hidden_size, num_layers, num_heads, intermediate_size
        Transformer width, depth, attention heads (must divide ``hidden_size``) and feed-forward width.
    max_position_embeddings
        Longest sequence the position table covers.
    type_vocab_size
        Segment ids (2 for sentence A/B).
    hidden_dropout, attention_dropout
        Dropout rates used while training.
    initializer_range
        Std-dev of the truncated-normal initialiser for fresh weights.
    layer_norm_eps
        Layer-norm epsilon (BERT uses 1e-12).
    """

    vocab_size: int = 30522
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12

    def __post_init__(self) -> None:
        for name in (
            "vocab_size",
            "hidden_size",
            "num_layers",
            "num_heads",
            "intermediate_size",
            "max_position_embeddings",
            "type_vocab_size",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"config {name}={getattr(self, name)}: must be a positive integer")
        if self.hidden_size % self.num_heads:
            raise ConfigError(
                f"config hidden_size={self.hidden_size} is not divisible by num_heads={self.num_heads}; "
                "pick a head count that divides the hidden size"
            )
        for name in ("hidden_dropout", "attention_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"config {name}={getattr(self, name)}: must be in [0, 1)")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str = "config") -> BertConfig:
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known keys: {', '.join(sorted(known))}")
        try:
            return cls(**data)
        except TypeError as error:
            raise ConfigError(f"{where}: {error}") from None

    def to_hf(self) -> dict[str, Any]:
        """The Hugging Face ``BertConfig`` fields for this config."""
        return {
            "architectures": ["BertModel"],
            "model_type": "bert",
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "num_hidden_layers": self.num_layers,
            "num_attention_heads": self.num_heads,
            "intermediate_size": self.intermediate_size,
            "hidden_act": "gelu",
            "hidden_dropout_prob": self.hidden_dropout,
            "attention_probs_dropout_prob": self.attention_dropout,
            "max_position_embeddings": self.max_position_embeddings,
            "type_vocab_size": self.type_vocab_size,
            "initializer_range": self.initializer_range,
            "layer_norm_eps": self.layer_norm_eps,
            "pad_token_id": 0,
            "position_embedding_type": "absolute",
        }

    @classmethod
    def from_hf(cls, data: dict[str, Any], where: str = "config.json") -> BertConfig:
        """Read a Hugging Face BERT ``config.json`` dict; refuse what this encoder cannot reproduce."""
        if data.get("model_type", "bert") != "bert":
            raise ConfigError(f"{where}: model_type {data.get('model_type')!r} is not 'bert'")
        act = data.get("hidden_act", "gelu")
        if act != "gelu":
            raise ConfigError(f"{where}: hidden_act {act!r} is not supported (only exact 'gelu')")
        pos = data.get("position_embedding_type", "absolute")
        if pos != "absolute":
            raise ConfigError(f"{where}: position_embedding_type {pos!r} is not supported (only 'absolute')")
        try:
            return cls(
                vocab_size=int(data["vocab_size"]),
                hidden_size=int(data["hidden_size"]),
                num_layers=int(data["num_hidden_layers"]),
                num_heads=int(data["num_attention_heads"]),
                intermediate_size=int(data["intermediate_size"]),
                max_position_embeddings=int(data.get("max_position_embeddings", 512)),
                type_vocab_size=int(data.get("type_vocab_size", 2)),
                hidden_dropout=float(data.get("hidden_dropout_prob", 0.1)),
                attention_dropout=float(data.get("attention_probs_dropout_prob", 0.1)),
                initializer_range=float(data.get("initializer_range", 0.02)),
                layer_norm_eps=float(data.get("layer_norm_eps", 1e-12)),
            )
        except KeyError as error:
            raise ConfigError(f"{where}: missing key {error.args[0]!r}") from None

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")


PRESETS: dict[str, BertConfig] = {
    "base": BertConfig(),
    "large": BertConfig(hidden_size=1024, num_layers=24, num_heads=16, intermediate_size=4096),
    "tiny": BertConfig(hidden_size=64, num_layers=2, num_heads=2, intermediate_size=128, max_position_embeddings=512),
}


def load_config(name_or_path: str, vocab_size: int | None = None) -> BertConfig:
    """A preset name (``base``, ``large``, ``tiny``) or a JSON file of :class:`BertConfig` fields.

    A JSON file may also be a Hugging Face ``config.json`` (recognised by ``num_hidden_layers``).
    ``vocab_size``, when given, overrides the preset's so the embedding table matches the data's vocab.
    """
    if name_or_path in PRESETS:
        config = PRESETS[name_or_path]
    else:
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            raise ConfigError(f"--config {name_or_path}: not a preset ({', '.join(PRESETS)}) and no such JSON file")
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise ConfigError(f"{path}: not readable JSON ({error})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a JSON object of config fields")
        config = (
            BertConfig.from_hf(data, str(path))
            if "num_hidden_layers" in data
            else BertConfig.from_json(data, str(path))
        )
    if vocab_size is not None and vocab_size != config.vocab_size:
        config = replace(config, vocab_size=vocab_size)
    return config

"""Tokenising once, in Rust, for the encoders that feed a model's graph themselves (torch and OpenVINO).

sentence-transformers' ``encode`` tokenises each batch in Python-driven calls and sorts only by characters; on a
GPU that tokenising is a large share of the time. Here every text is tokenised once by the model's own fast
tokenizer (``tokenizers``, which releases the GIL), slice by slice in a worker thread while the caller runs the
previous slice's batches; batches are sorted by token count within a slice and padded to their own longest text.

A model takes this path only when :func:`token_inputs` shows that the arrays built here equal the ones the model's
own preprocessing builds (``model[0].preprocess``) on probe texts; otherwise callers keep sentence-transformers'
path.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import chain, pairwise
from typing import Any

import numpy as np

from ._bucket import length_order

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Truncation, accents, case, an empty text and a text far past any max length: what tokenizers get wrong first.
PROBES = (
    "Coronavirus damages the lungs' alveoli.",
    "ÉTUDE de la protéine ACE2 — naïve β-cells, 5'-UTR, 10 µM",
    "",
    "  spaced   text\twith\ttabs  ",
    " ".join(["pneumonia"] * 1200),
)


@dataclass(frozen=True, slots=True)
class TokenInputs:
    """A model's fast tokenizer set up as the model runs it, and how its inputs are built.

    Parameters
    ----------
    tokenizer
        A ``tokenizers.Tokenizer`` truncating at the model's max length, without padding.
    inputs
        The model's input names, in the order its graph takes them (a subset of :data:`MODEL_INPUTS`).
    pad_id
        The padding token id.
    """

    tokenizer: Any
    inputs: tuple[str, ...]
    pad_id: int


def model_inputs(model: Any) -> tuple[str, ...] | None:
    """The input names a loaded ``SentenceTransformer``'s first module builds, or ``None`` if it cannot say."""
    first = model[0]
    if not hasattr(first, "preprocess"):
        return None
    try:
        example = first.preprocess(["dimension probe", "a longer probe text"])
    except Exception:  # a module whose preprocessing needs more than plain text
        return None
    return tuple(name for name in MODEL_INPUTS if name in example)


def token_inputs(model: Any) -> TokenInputs | None:
    """The fast-tokenizer route for ``model``, or ``None`` when its arrays would differ from the model's own."""
    tokenizer = getattr(model, "tokenizer", None)
    backend = getattr(tokenizer, "backend_tokenizer", None)
    inputs = model_inputs(model)
    if backend is None or not inputs or "input_ids" not in inputs:
        return None
    # encode() puts a default prompt before every text and cuts vectors to truncate_dim; the route does neither.
    prompts = getattr(model, "prompts", None) or {}
    if prompts.get(getattr(model, "default_prompt_name", None) or "") or getattr(model, "truncate_dim", None):
        return None
    import tokenizers

    own = tokenizers.Tokenizer.from_str(backend.to_str())  # a copy: the HF tokenizer keeps its own settings
    own.enable_truncation(int(model.max_seq_length))
    own.no_padding()
    route = TokenInputs(own, inputs, int(getattr(tokenizer, "pad_token_id", None) or 0))
    return route if same_arrays(route, model) else None


def same_arrays(route: TokenInputs, model: Any) -> bool:
    """Whether ``route`` builds exactly the arrays ``model[0].preprocess`` builds for :data:`PROBES`."""
    try:
        expected = model[0].preprocess(list(PROBES))
        ours = pad_batch(route.tokenizer.encode_batch(list(PROBES)), route.inputs, route.pad_id)
        return all(
            np.array_equal(np.asarray(expected[name].cpu().numpy(), dtype=np.int64), array)
            for name, array in zip(route.inputs, ours, strict=True)
        )
    except Exception:  # anything unexpected means: not provably the same, keep the model's own path
        return False


def pad_batch(encodings: Sequence[Any], inputs: Sequence[str], pad_id: int, multiple: int = 1) -> list[np.ndarray]:
    """The model's inputs for one batch, padded on the right to its longest text, in ``inputs`` order.

    ``multiple`` rounds the width up (GPUs: tensor cores want multiples of 8, and fewer distinct shapes means
    fewer kernels chosen at first use); the extra positions are masked, so vectors do not change.
    """
    ids_per_text = [encoding.ids for encoding in encodings]
    lengths = np.fromiter((len(ids) for ids in ids_per_text), dtype=np.int64, count=len(ids_per_text))
    width = int(lengths.max()) if len(lengths) else 0
    width = -(-width // multiple) * multiple
    mask = np.arange(width) < lengths[:, None]  # row-major True cells are each text's tokens, in order
    total = int(lengths.sum())
    ids = np.full((len(encodings), width), pad_id, dtype=np.int64)
    ids[mask] = np.fromiter(chain.from_iterable(ids_per_text), dtype=np.int64, count=total)
    arrays = {"input_ids": ids, "attention_mask": mask.astype(np.int64)}
    if "token_type_ids" in inputs:
        types = np.zeros((len(encodings), width), dtype=np.int64)
        types[mask] = np.fromiter(chain.from_iterable(encoding.type_ids for encoding in encodings), np.int64, total)
        arrays["token_type_ids"] = types
    return [arrays[name] for name in inputs]


def sorted_batches(
    tokenizer: Any, texts: Sequence[str], batch_size: int, slice_size: int
) -> Iterator[tuple[list[int], list[Any]]]:
    """``(positions, encodings)`` per batch: texts tokenised in slices (slice i+1 in a thread while the caller runs
    slice i), each slice's batches sorted longest first. The first slice is one batch, the others ``slice_size``.

    Parameters
    ----------
    tokenizer
        A ``tokenizers.Tokenizer`` (truncating, not padding).
    texts
        The texts; ``positions`` index into it.
    batch_size
        Texts per batch.
    slice_size
        Texts tokenised together; batches are length-sorted within a slice, so make it several batches.
    """
    # The first slice is one batch, so the encoder starts after tokenising one batch, not a whole slice.
    bounds = [0, *range(min(batch_size, len(texts)), len(texts), slice_size), len(texts)]
    slices = [range(start, stop) for start, stop in pairwise(bounds) if stop > start]
    if not slices:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="bmb-es-tokenize") as worker:

        def tokenize(piece: range) -> Future[list[Any]]:
            return worker.submit(tokenizer.encode_batch, [texts[position] for position in piece])

        upcoming = tokenize(slices[0])
        for index, piece in enumerate(slices):
            encodings = upcoming.result()
            if index + 1 < len(slices):
                upcoming = tokenize(slices[index + 1])
            order = length_order([len(encoding.ids) for encoding in encodings])
            for start in range(0, len(order), batch_size):
                batch = order[start : start + batch_size]
                yield [piece[position] for position in batch], [encodings[position] for position in batch]

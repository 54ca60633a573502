"""Masked-LM and next-sentence-prediction training instances, built the way BERT's pretraining data is.

Pure Python and seeded: the same documents, vocab and settings always give the same instances.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from .._errors import ConfigError

Document = Sequence[Sequence[int]]  # a document: sentences, each a list of WordPiece ids


@dataclass(frozen=True, slots=True)
class MaskingSettings:
    """How instances are cut and masked.

    Parameters
    ----------
    max_seq_length
        Tokens per instance including ``[CLS]`` and two ``[SEP]``.
    max_predictions
        Most masked positions per instance (BERT: 20 for 128 tokens).
    masked_lm_prob
        Share of (non-special) tokens to predict: 0.15.
    mask_token_prob, random_token_prob
        Of the predicted tokens: share replaced by ``[MASK]`` (0.8) and by a random token (0.1); the rest
        (0.1) are kept unchanged.
    short_seq_prob
        Share of instances cut shorter than ``max_seq_length`` so the model sees short inputs too.
    whole_word_masking
        Mask all pieces of a word together (``##`` continuation pieces follow their first piece).
    dupe_factor
        Passes over the corpus, each with different masks and pairs.
    seed
        Seed of the one random generator used.
    """

    max_seq_length: int = 128
    max_predictions: int = 20
    masked_lm_prob: float = 0.15
    mask_token_prob: float = 0.8
    random_token_prob: float = 0.1
    short_seq_prob: float = 0.1
    whole_word_masking: bool = False
    dupe_factor: int = 5
    seed: int = 12345

    def __post_init__(self) -> None:
        if self.max_seq_length < 8:
            raise ConfigError(f"--max-seq {self.max_seq_length}: must be at least 8")
        if self.max_predictions < 1:
            raise ConfigError(f"--max-predictions {self.max_predictions}: must be at least 1")
        if not 0.0 < self.masked_lm_prob < 1.0:
            raise ConfigError(f"--mask-prob {self.masked_lm_prob}: must be in (0, 1)")
        if self.mask_token_prob + self.random_token_prob > 1.0:
            raise ConfigError("mask_token_prob + random_token_prob must not exceed 1")
        if self.dupe_factor < 1:
            raise ConfigError(f"--dupe {self.dupe_factor}: must be at least 1")


@dataclass(frozen=True, slots=True)
class Instance:
    """One pretraining example: ``[CLS] A [SEP] B [SEP]`` with masked positions and the NSP label."""

    input_ids: tuple[int, ...]
    segment_ids: tuple[int, ...]
    is_random_next: bool
    masked_positions: tuple[int, ...]
    masked_ids: tuple[int, ...]  # the original ids at masked_positions


@dataclass(frozen=True, slots=True)
class _Vocab:
    cls: int
    sep: int
    mask: int
    continuation: frozenset[int]
    random_pool: tuple[int, ...]


def _vocab_info(tokens: Sequence[str]) -> _Vocab:
    index = {token: i for i, token in enumerate(tokens)}
    special = {i for i, token in enumerate(tokens) if token.startswith("[") and token.endswith("]")}
    pool = tuple(i for i in range(len(tokens)) if i not in special)
    return _Vocab(
        cls=index["[CLS]"],
        sep=index["[SEP]"],
        mask=index["[MASK]"],
        continuation=frozenset(i for i, token in enumerate(tokens) if token.startswith("##")),
        random_pool=pool or tuple(range(len(tokens))),
    )


def create_instances(
    documents: Sequence[Document],
    vocab_tokens: Sequence[str],
    settings: MaskingSettings,
) -> list[Instance]:
    """All instances for ``documents`` over ``settings.dupe_factor`` passes, shuffled.

    Parameters
    ----------
    documents
        Tokenised documents; sentences with no tokens should already be dropped.
    vocab_tokens
        The vocabulary, id order (``vocab.txt`` lines).
    settings
        Cutting and masking settings, including the seed.
    """
    rng = random.Random(settings.seed)
    vocab = _vocab_info(vocab_tokens)
    instances: list[Instance] = []
    for _ in range(settings.dupe_factor):
        for index in range(len(documents)):
            instances.extend(_from_document(documents, index, vocab, settings, rng))
    rng.shuffle(instances)
    return instances


def _from_document(
    documents: Sequence[Document], index: int, vocab: _Vocab, settings: MaskingSettings, rng: random.Random
) -> list[Instance]:
    document = documents[index]
    max_tokens = settings.max_seq_length - 3
    target = rng.randint(2, max_tokens) if rng.random() < settings.short_seq_prob else max_tokens
    out: list[Instance] = []
    chunk: list[Sequence[int]] = []
    length = 0
    i = 0
    while i < len(document):
        chunk.append(document[i])
        length += len(document[i])
        if i == len(document) - 1 or length >= target:
            random_next = len(documents) > 1 and rng.random() < 0.5
            a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
            tokens_a = [token for sentence in chunk[:a_end] for token in sentence]
            tokens_b: list[int] = []
            if random_next:
                tokens_b = _random_segment(documents, index, max(1, target - len(tokens_a)), rng)
                i -= len(chunk) - a_end  # the unused sentences start the next chunk
            elif len(chunk) >= 2:
                tokens_b = [token for sentence in chunk[a_end:] for token in sentence]
            elif len(tokens_a) >= 2:
                # A lone sentence: its second part is still the true continuation of its first.
                cut = rng.randint(1, len(tokens_a) - 1)
                tokens_a, tokens_b = tokens_a[:cut], tokens_a[cut:]
            if tokens_a and tokens_b:
                _truncate_pair(tokens_a, tokens_b, max_tokens, rng)
                out.append(_masked_instance(tokens_a, tokens_b, random_next, vocab, settings, rng))
            chunk = []
            length = 0
        i += 1
    return out


def _random_segment(documents: Sequence[Document], index: int, target: int, rng: random.Random) -> list[int]:
    other = index
    for _ in range(10):
        other = rng.randrange(len(documents))
        if other != index:
            break
    if other == index:
        other = (index + 1) % len(documents)
    document = documents[other]
    start = rng.randrange(len(document))
    tokens: list[int] = []
    for sentence in document[start:]:
        tokens.extend(sentence)
        if len(tokens) >= target:
            break
    return tokens


def _truncate_pair(tokens_a: list[int], tokens_b: list[int], max_tokens: int, rng: random.Random) -> None:
    while len(tokens_a) + len(tokens_b) > max_tokens:
        longer = tokens_a if len(tokens_a) > len(tokens_b) else tokens_b
        if rng.random() < 0.5:
            del longer[0]
        else:
            longer.pop()


def _masked_instance(
    tokens_a: list[int],
    tokens_b: list[int],
    random_next: bool,
    vocab: _Vocab,
    settings: MaskingSettings,
    rng: random.Random,
) -> Instance:
    ids = [vocab.cls, *tokens_a, vocab.sep, *tokens_b, vocab.sep]
    segments = [0] * (len(tokens_a) + 2) + [1] * (len(tokens_b) + 1)
    groups: list[list[int]] = []
    for position, token in enumerate(ids):
        if token in (vocab.cls, vocab.sep):
            continue
        if settings.whole_word_masking and groups and token in vocab.continuation and groups[-1][-1] == position - 1:
            groups[-1].append(position)
        else:
            groups.append([position])
    rng.shuffle(groups)
    content = len(tokens_a) + len(tokens_b)
    to_predict = min(settings.max_predictions, max(1, round(content * settings.masked_lm_prob)))
    chosen: list[int] = []
    for group in groups:
        if len(chosen) >= to_predict:
            break
        if len(chosen) + len(group) > to_predict:
            continue
        chosen.extend(group)
    chosen.sort()
    originals = tuple(ids[position] for position in chosen)
    keep_above = settings.mask_token_prob + settings.random_token_prob
    for position in chosen:
        draw = rng.random()
        if draw < settings.mask_token_prob:
            ids[position] = vocab.mask
        elif draw >= keep_above:
            pass  # kept as is
        else:
            ids[position] = rng.choice(vocab.random_pool)
    return Instance(tuple(ids), tuple(segments), random_next, tuple(chosen), originals)

"""Tokenising once in Rust: the route is taken only when it builds the model's own inputs, batches are sorted within
slices, and the torch embedder gives the vectors sentence-transformers' own ``encode`` gives."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bmb_es.embedding import default_model_path, length_order, load_embedder
from bmb_es.embedding._sentence_transformers import SentenceTransformerEmbedder
from bmb_es.embedding._tokens import MODEL_INPUTS, TokenInputs, pad_batch, sorted_batches, token_inputs

pytestmark = pytest.mark.slow  # every test here loads a real (tiny or default) model

# Unicode, an empty text, whitespace only, tabs, a text past any max length (64 tiny, 256 MiniLM), duplicates.
TEXTS = [
    "lung injury",
    "the heart of the lung injury " * 80,
    "Ünïcödé naïve café — ß, 😷 COVID-19; SARS-CoV-2 (2020) in ACE2+ cells",
    "",
    "   \t\n  ",
    "  spaced   text\twith\ttabs  ",
    "of",
    "ÉTUDE de la protéine ACE2 — naïve β-cells, 5'-UTR, 10 µM",
    "lung injury",
    "heart",
]
LONG = 1


def _load(path: Path) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(path), device="cpu", local_files_only=True)


@pytest.fixture(scope="module")
def models(tiny_model: Path) -> dict[str, Any]:
    """Both models, loaded once; tests that change a model load their own."""
    return {"tiny": _load(tiny_model), "default": _load(default_model_path())}


@pytest.fixture
def fresh(tiny_model: Path) -> Iterator[Any]:
    """A model of its own, for tests that change it."""
    yield _load(tiny_model)


def _route(model: Any) -> TokenInputs:
    route = token_inputs(model)
    assert route is not None
    return route


# -- token_inputs: the route only when it builds exactly the model's inputs -------------------------------------


@pytest.mark.parametrize("which", ["tiny", "default"])
def test_route_builds_exactly_the_arrays_of_the_models_own_preprocessing(models: dict[str, Any], which: str) -> None:
    model = models[which]
    route = _route(model)
    assert route.inputs == MODEL_INPUTS  # both are BERTs: ids, mask and token types
    assert route.pad_id == model.tokenizer.pad_token_id
    # The long text really is truncated, at the model's own max length.
    untruncated = model.tokenizer(TEXTS[LONG], add_special_tokens=True)["input_ids"]
    assert len(untruncated) > model.max_seq_length
    assert len(route.tokenizer.encode(TEXTS[LONG]).ids) == model.max_seq_length
    # The whole list, and batches without the long text (padded to their own longest, not to max length).
    for batch in (TEXTS, TEXTS[2:], [TEXTS[3]], TEXTS[5:8]):
        expected = model[0].preprocess(batch)
        ours = pad_batch(route.tokenizer.encode_batch(batch), route.inputs, route.pad_id)
        for name, array in zip(route.inputs, ours, strict=True):
            reference = expected[name].numpy()
            assert array.dtype == np.int64 and array.shape == reference.shape, name
            assert np.array_equal(array, reference), name
    assert ours[0].shape[1] < model.max_seq_length
    assert int(ours[1].sum()) < ours[1].size  # padding really happened in that batch: the mask has zeros


def test_the_route_tokenizer_is_a_copy_and_follows_the_models_max_length(fresh: Any) -> None:
    fresh.max_seq_length = 12
    route = _route(fresh)
    assert route.tokenizer.padding is None and route.tokenizer.truncation["max_length"] == 12
    expected = fresh[0].preprocess(TEXTS)["input_ids"].numpy()
    (ids,) = pad_batch(route.tokenizer.encode_batch(TEXTS), ("input_ids",), route.pad_id)
    assert ids.shape == (len(TEXTS), 12) and np.array_equal(ids, expected)
    # A copy: changing the route's tokenizer leaves the model's own preprocessing as it was.
    assert route.tokenizer is not fresh.tokenizer.backend_tokenizer
    route.tokenizer.enable_truncation(5)
    assert np.array_equal(fresh[0].preprocess(TEXTS)["input_ids"].numpy(), expected)


def test_padding_to_a_multiple_masks_the_extra_positions_and_keeps_the_vectors(models: dict[str, Any]) -> None:
    model = models["default"]
    route = _route(model)
    encodings = route.tokenizer.encode_batch(TEXTS[2:])
    plain = pad_batch(encodings, route.inputs, route.pad_id)
    rounded = pad_batch(encodings, route.inputs, route.pad_id, 8)
    width = plain[0].shape[1]
    assert width % 8 and rounded[0].shape == (len(encodings), -(-width // 8) * 8)  # rounded up, really wider
    for small, big in zip(plain, rounded, strict=True):
        assert np.array_equal(big[:, :width], small)
    ids, mask, types = rounded
    assert (ids[:, width:] == route.pad_id).all() and not mask[:, width:].any() and not types[:, width:].any()

    def vectors(arrays: list[np.ndarray]) -> np.ndarray:
        import torch

        features: dict[str, Any] = {name: torch.from_numpy(a) for name, a in zip(route.inputs, arrays, strict=True)}
        with torch.inference_mode():
            for module in model:
                features = module(features)
        return np.asarray(features["sentence_embedding"].numpy())

    assert np.allclose(vectors(rounded), vectors(plain), atol=1e-5)


def test_no_route_when_the_model_pads_on_the_left(fresh: Any) -> None:
    fresh.tokenizer.padding_side = "left"
    padded = fresh[0].preprocess(["lung", "lung injury heart"])["input_ids"].numpy()
    assert padded[0, 0] == fresh.tokenizer.pad_token_id  # the model's own inputs really differ from ours
    assert token_inputs(fresh) is None
    fresh.tokenizer.padding_side = "right"
    assert token_inputs(fresh) is not None


def test_no_route_when_the_models_ids_differ_or_its_preprocessing_fails(
    fresh: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = fresh[0].preprocess

    def shifted(texts: list[str], *args: Any, **kwargs: Any) -> dict[str, Any]:
        features = dict(own(texts, *args, **kwargs))
        features["input_ids"] = features["input_ids"] + 1
        return features

    monkeypatch.setattr(fresh[0], "preprocess", shifted)
    assert token_inputs(fresh) is None

    def types_one(texts: list[str], *args: Any, **kwargs: Any) -> dict[str, Any]:
        features = dict(own(texts, *args, **kwargs))
        features["token_type_ids"] = features["token_type_ids"] + 1
        return features

    monkeypatch.setattr(fresh[0], "preprocess", types_one)  # only one input differs: still no route
    assert token_inputs(fresh) is None

    def fails(texts: list[str], *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise RuntimeError("needs images")

    monkeypatch.setattr(fresh[0], "preprocess", fails)
    assert token_inputs(fresh) is None
    monkeypatch.setattr(fresh[0], "preprocess", own)
    assert token_inputs(fresh) is not None


def test_no_route_without_a_fast_tokenizer(fresh: Any) -> None:
    class SlowTokenizerModel:
        """A model whose tokenizer has no Rust backend."""

        tokenizer = object()
        max_seq_length = 64

        def __getitem__(self, index: int) -> Any:
            return fresh[index]

    assert token_inputs(SlowTokenizerModel()) is None


# -- sorted_batches ----------------------------------------------------------------------------------------------


def _corpus() -> list[str]:
    words = ["lung", "injury", "heart", "the", "of"]
    # Lengths repeat (ties) and vary inside every slice; some texts are empty or too long for 64 tokens.
    return [" ".join(words[(position + k) % 5] for k in range((position * 7) % 13)) for position in range(53)] + [
        "lung " * 100
    ]


def _slices(count: int, batch_size: int, slice_size: int) -> list[range]:
    """The slices sorted_batches tokenises: one batch first (the encoder starts at once), then ``slice_size`` each."""
    first = min(batch_size, count)
    return [range(0, first)] + [
        range(start, min(start + slice_size, count)) for start in range(first, count, slice_size)
    ]


@pytest.mark.parametrize(("batch_size", "slice_size"), [(4, 10), (3, 3), (16, 10), (5, 1000), (100, 10)])
def test_sorted_batches_cover_every_text_once_sorted_longest_first_within_each_slice(
    models: dict[str, Any], batch_size: int, slice_size: int
) -> None:
    tokenizer = _route(models["tiny"]).tokenizer
    texts = _corpus()
    slices = _slices(len(texts), batch_size, slice_size)
    batches = list(sorted_batches(tokenizer, texts, batch_size, slice_size))
    flat = [position for positions, _ in batches for position in positions]
    assert sorted(flat) == list(range(len(texts)))  # every position exactly once
    per_slice: dict[int, list[tuple[list[int], list[Any]]]] = {}
    for positions, encodings in batches:
        assert 1 <= len(positions) <= batch_size and len(encodings) == len(positions)
        (piece,) = {index for index, members in enumerate(slices) for p in positions if p in members}  # no crossing
        assert not per_slice or piece >= max(per_slice)  # slices come in order
        per_slice.setdefault(piece, []).append((positions, encodings))
        for position, encoding in zip(positions, encodings, strict=True):
            assert encoding.ids == tokenizer.encode(texts[position]).ids  # each encoding is its own text's
    assert sorted(per_slice) == list(range(len(slices)))
    assert len(per_slice[0]) == 1  # the first slice is exactly one batch
    for piece, pieces in per_slice.items():
        members = slices[piece]
        lengths = [len(encoding.ids) for _, encodings in pieces for encoding in encodings]
        assert lengths == sorted(lengths, reverse=True)  # non-increasing across the slice's batches
        order = [position for positions, _ in pieces for position in positions]
        expected = [members[i] for i in length_order([len(tokenizer.encode(texts[p]).ids) for p in members])]
        assert order == expected  # ties keep input order (stable)
        assert [len(positions) for positions, _ in pieces][:-1] == [batch_size] * (len(pieces) - 1)
    assert len({len(encoding.ids) for _, encodings in batches for encoding in encodings}) > 3  # lengths vary
    assert max(len(encoding.ids) for _, encodings in batches for encoding in encodings) == 64  # truncated


def test_sorted_batches_of_nothing_yield_nothing(models: dict[str, Any]) -> None:
    assert list(sorted_batches(_route(models["tiny"]).tokenizer, [], 4, 10)) == []


def test_the_next_slice_is_tokenised_in_a_worker_thread_while_the_caller_runs_this_one(
    models: dict[str, Any],
) -> None:
    tokenizer = _route(models["tiny"]).tokenizer
    calls: list[tuple[str, int]] = []
    second = threading.Event()

    class Recording:
        def encode_batch(self, texts: list[str]) -> list[Any]:
            calls.append((threading.current_thread().name, len(texts)))
            if len(calls) == 2:
                second.set()
            return list(tokenizer.encode_batch(texts))

    batches = sorted_batches(Recording(), _corpus(), 4, 20)
    first = next(batches)
    assert len(first[0]) == 4
    assert second.wait(10)  # slice 2 was handed to the worker before the caller took slice 1's batches
    rest = list(batches)
    assert sum(len(positions) for positions, _ in [first, *rest]) == len(_corpus())
    assert [count for _, count in calls] == [4, 20, 20, 10]  # one batch first, then slices
    assert all(name.startswith("bmb-es-tokenize") for name, _ in calls)


# -- SentenceTransformerEmbedder: the route gives sentence-transformers' own vectors --------------------------


def _pair(model: Any, precision: str) -> tuple[SentenceTransformerEmbedder, SentenceTransformerEmbedder]:
    routed = SentenceTransformerEmbedder(model, "test", precision)
    fallback = SentenceTransformerEmbedder(model, "test", precision)
    fallback._route = None
    return routed, fallback


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("which", ["tiny", "default"])
def test_routed_vectors_equal_sentence_transformers_own(
    models: dict[str, Any], which: str, precision: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = models[which]
    routed, fallback = _pair(model, precision)
    assert routed.fast_tokenizer is not None and fallback.fast_tokenizer is None
    texts = TEXTS * 3 + TEXTS[::-1]
    expected = fallback.embed(texts, batch_size=4)
    expected_alone = fallback.embed(TEXTS, batch_size=1)
    with monkeypatch.context() as patch:  # the route never goes through sentence-transformers' encode
        patch.setattr(model, "encode", lambda *args, **kwargs: pytest.fail("the routed path called encode"))
        got = routed.embed(texts, batch_size=4)
        alone = routed.embed(TEXTS, batch_size=1)
    assert got.shape == expected.shape == (len(texts), routed.dimension) and got.dtype == np.float32
    # One text per batch: the same inputs on both paths, so the same vectors in either precision.
    cosines = np.sum(alone * expected_alone, axis=1)
    assert float(cosines.min()) > 0.99999, cosines
    # Batched: the route's first batch is unsorted, so texts meet other padding than on sentence-transformers'
    # path. fp32 does not care; bf16 moves by up to ~5e-5 in cosine with padding (sentence-transformers' own path
    # at batch 4 vs batch 64 differs as much), hence 1e-4 there.
    cosines = np.sum(got * expected, axis=1)
    assert float(cosines.min()) > (0.99999 if precision == "fp32" else 0.9999), cosines
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    # Input order kept: row i is text i, as when each text is embedded alone.
    assert float(np.sum(got[: len(TEXTS)] * alone, axis=1).min()) > (0.99999 if precision == "fp32" else 0.9999)
    assert float(np.sum(got[0] * got[8])) > 0.9999  # the same text twice (batches padded apart): the same vector
    assert float(np.sum(got[0] * got[1])) < 0.999  # and different texts do differ


def test_without_a_route_the_embedder_falls_back_to_sentence_transformers(
    models: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    model = models["tiny"]
    monkeypatch.setattr("bmb_es.embedding._sentence_transformers.token_inputs", lambda model: None)
    fallback = SentenceTransformerEmbedder(model, "test")
    assert fallback.fast_tokenizer is None
    seen: list[int] = []
    own = model.encode

    def counting(batch: list[str], **kwargs: Any) -> Any:
        seen.append(len(batch))
        return own(batch, **kwargs)

    monkeypatch.setattr(model, "encode", counting)
    vectors = fallback.embed(TEXTS, batch_size=4)
    assert seen == [4, 4, 2]
    routed = SentenceTransformerEmbedder(models["tiny"], "test")
    routed._route = _route(model)
    assert float(np.sum(vectors * routed.embed(TEXTS, batch_size=4), axis=1).min()) > 0.99999
    assert seen == [4, 4, 2]  # the routed call did not use encode


def test_a_model_with_a_default_prompt_or_truncated_vectors_keeps_sentence_transformers_path(fresh: Any) -> None:
    # encode() puts the default prompt before every text and truncates vectors to truncate_dim; the route does neither.
    fresh.prompts = {"document": "heart of the "}
    fresh.default_prompt_name = "document"
    routed, fallback = _pair(fresh, "fp32")
    assert routed.fast_tokenizer is None
    cosines = np.sum(routed.embed(TEXTS) * fallback.embed(TEXTS), axis=1)
    assert float(cosines.min()) > 0.99999, cosines
    fresh.default_prompt_name = None
    assert token_inputs(fresh) is not None  # prompts the model does not use by default do not matter
    fresh.truncate_dim = 16
    embedder = SentenceTransformerEmbedder(fresh, "test")
    assert embedder.fast_tokenizer is None and embedder.dimension == 16
    assert embedder.embed(TEXTS).shape == (len(TEXTS), 16)


@pytest.mark.parametrize("route", [True, False])
def test_no_texts_give_no_vectors(models: dict[str, Any], route: bool) -> None:
    embedder = _pair(models["tiny"], "fp32")[0 if route else 1]
    vectors = embedder.embed([])
    assert vectors.shape == (0, 32) and vectors.dtype == np.float32


def test_load_embedder_gives_a_routed_torch_embedder(tiny_model: Path) -> None:
    load_embedder.cache_clear()
    try:
        embedder = load_embedder(str(tiny_model), precision="fp32", backend="torch")
        assert isinstance(embedder, SentenceTransformerEmbedder)
        assert embedder.fast_tokenizer is not None
        assert embedder.fast_tokenizer.encode("lung injury").ids == [2, 5, 6, 3]  # [CLS] lung injury [SEP]
    finally:
        load_embedder.cache_clear()

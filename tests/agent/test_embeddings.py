"""The local embedder runs the real int8 MiniLM model offline; builders pick backends."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from openai import AsyncOpenAI

from agent.embeddings import (
    EmbeddingError,
    LocalEmbedder,
    OpenAIEmbedder,
    build_embedder,
    turn_text,
)


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    """One model load for the module (about half a second)."""
    return LocalEmbedder()


async def test_a_paraphrase_ranks_above_an_unrelated_sentence(embedder: LocalEmbedder) -> None:
    query, paraphrase, unrelated = await embedder.embed(
        [
            "What was Apple's revenue in fiscal 2023?",
            "Apple reported total net sales of $383.3 billion for FY2023.",
            "The recipe needs two eggs and a cup of flour.",
        ]
    )

    assert float(query @ paraphrase) > float(query @ unrelated) + 0.3


async def test_vectors_are_float32_unit_length_and_deterministic(embedder: LocalEmbedder) -> None:
    texts = ["Microsoft's Azure grew 29%.", "NVDA gross margin hit 72.7% in FY2024."]

    first = await embedder.embed(texts)
    second = await embedder.embed(texts)
    alone = await embedder.embed(texts[:1])

    assert first.dtype == np.float32 and first.shape == (2, embedder.dim)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(alone[0], first[0], atol=1e-5)  # padding does not leak in


async def test_an_empty_batch_gives_an_empty_matrix(embedder: LocalEmbedder) -> None:
    vectors = await embedder.embed([])

    assert vectors.shape == (0, embedder.dim) and vectors.dtype == np.float32


async def test_long_text_is_cut_at_256_tokens_without_error(embedder: LocalEmbedder) -> None:
    opening = "Revenue grew strongly across every segment of the business this year. " * 40
    one, other = await embedder.embed([opening + "Apple " * 500, opening + "Tesla " * 500])

    np.testing.assert_allclose(one, other, atol=1e-6)  # only the first 256 tokens count
    assert abs(float(np.linalg.norm(one)) - 1.0) < 1e-5


async def test_embedding_runs_off_the_event_loop(embedder: LocalEmbedder) -> None:
    await embedder.embed(["warm up"])
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0)
            ticks += 1

    ticker = asyncio.create_task(tick())
    await embedder.embed(["A sentence about quarterly earnings and margins."] * 64)
    ticker.cancel()

    assert ticks > 0


async def test_a_missing_model_file_raises_embedding_error(tmp_path: Path) -> None:
    broken = LocalEmbedder(model_path=tmp_path / "missing.onnx")

    with pytest.raises(EmbeddingError, match="local embedding failed"):
        await broken.embed(["anything"])


def test_a_turn_is_embedded_from_its_summary_else_its_question() -> None:
    summary = " Microsoft (MSFT) grew 16%. "

    assert turn_text("And Microsoft?", summary) == "Microsoft (MSFT) grew 16%."
    assert turn_text(" What is EPS? ", "") == "What is EPS?"


def test_build_embedder_picks_the_backend_the_setting_names() -> None:
    client = AsyncOpenAI(api_key="unused", base_url="http://127.0.0.1:9/v1")

    assert isinstance(build_embedder("local"), LocalEmbedder)
    assert build_embedder("lexical") is None
    openai_embedder = build_embedder("openai", openai_client=client, model="text-embedding-3-small")
    assert isinstance(openai_embedder, OpenAIEmbedder) and openai_embedder.dim == 1536
    with pytest.raises(ValueError, match="client"):
        build_embedder("openai")
    with pytest.raises(ValueError, match="unknown"):
        build_embedder("word2vec")

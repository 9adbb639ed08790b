"""Sentence embeddings with the prepared multilingual-e5-small, fully offline.

Questions are encoded by the base model and by its query tower with the query adapter added
(``rag.model``); passages always by the base model.

Two backends compute the same vectors (cosine 1.0 on the same inputs): ONNX Runtime, the default,
needs neither torch nor transformers at run time, so it starts in about a second and encodes a
question about 3× faster; PyTorch through sentence-transformers stays available as the reference.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from rag.config import Settings
from rag.encoder import Encoder, QuestionVectors
from rag.errors import ModelMissingError
from rag.model import adapted_weights
from rag.prepared import INT8, PREPARE_HINT, QUERY_GRAPH, PreparedModel, load_tokenizer, read_stamp

if TYPE_CHECKING:
    from tokenizers import Tokenizer

PROMPTS = {"query": "query: ", "passage": "passage: "}  # E5 is trained with these prefixes
MAX_TOKENS = 512
# A question's work is bounded: the gold questions are under 60 tokens, and a 2,000-character
# question cost about 20 times a normal one when all of it went through the model.
MAX_QUESTION_TOKENS = 128
PAD_ID = 1


def token_batch(tokenizer: Tokenizer, texts: Sequence[str], max_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    """Token ids and attention mask of ``texts``, each cut to ``max_tokens`` (its closing ``</s>``
    kept, as the tokenizer's own truncation does) and right-padded to the longest: the shared
    tokenizer (``rag.prepared.load_tokenizer``) is never set to truncate or pad."""
    rows = [encoding.ids for encoding in tokenizer.encode_batch(list(texts))]
    rows = [ids if len(ids) <= max_tokens else [*ids[: max_tokens - 1], ids[-1]] for ids in rows]
    ids = np.full((len(rows), max(map(len, rows), default=0)), PAD_ID, dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, token_ids in enumerate(rows):
        ids[row, : len(token_ids)] = token_ids
        mask[row, : len(token_ids)] = 1
    return ids, mask


def _damaged(folder: Path, error: Exception) -> ModelMissingError:
    return ModelMissingError(f"the embedding model at {folder} is damaged ({type(error).__name__}: {error}); {PREPARE_HINT}")


class _Prepared:
    """What both backends share: the prepared model's stamp."""

    info: PreparedModel

    @property
    def model_id(self) -> str:
        return self.info.model_id

    @property
    def model_sha256(self) -> str:
        return self.info.sha256

    @property
    def dimension(self) -> int:
        return self.info.dimension


class OnnxEncoder(_Prepared):
    """ONNX Runtime: the token vectors are memory-mapped outside the graph (``rag.model``). The
    graphs may be the int8 copies (``Settings.int8_questions``, ``Settings.int8_passages``)."""

    def __init__(self, info: PreparedModel, tokenizer: Tokenizer, token_vectors: np.ndarray,
                 passage_session: Callable[[], Any], both_towers: Any, batch_size: int) -> None:  # fmt: skip
        self.info, self.tokenizer, self.token_vectors = info, tokenizer, token_vectors
        self.passage_session, self.both_towers, self.batch_size = passage_session, both_towers, batch_size
        self.backend = "onnx"

    @classmethod
    def load(cls, folder: Path, batch_size: int = 32, threads: int | None = None, int8_questions: bool = False,
             int8_passages: bool = False) -> OnnxEncoder:  # fmt: skip
        info = read_stamp(folder)  # raises ModelMissingError with the fix when absent or truncated
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or max(1, os.cpu_count() or 1)
        # Idle threads sleep instead of spinning: spinning, they slowed the retrieval that follows each
        # question (a 11,675 × 384 matrix product took 10.6 ms right after a run instead of 2.9 ms)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")

        def session(graph: str) -> Any:
            try:
                return onnxruntime.InferenceSession(str(folder / graph), options, providers=["CPUExecutionProvider"])
            except Exception as error:  # noqa: BLE001 - ONNX Runtime raises its own untyped errors
                raise _damaged(folder, error) from None

        # the passage graph is loaded on first use: answering questions needs only the query graph
        passage_session = cache(lambda: session(INT8["model.onnx"] if int8_passages else "model.onnx"))
        try:
            with ThreadPoolExecutor(1) as pool:  # the question graph's session is built while the tokenizer is parsed
                tokenizer = pool.submit(load_tokenizer, folder)
                both = session(INT8[QUERY_GRAPH] if int8_questions else QUERY_GRAPH)
                token_vectors = np.load(folder / "word_embeddings.npy", mmap_mode="r")  # rows read on demand
                encoder = cls(info, tokenizer.result(), token_vectors, passage_session, both, batch_size)
                encoder.backend = "onnx-int8" if int8_passages else "onnx"  # what the index's vectors came from
                return encoder
        except ModelMissingError:
            raise
        except Exception as error:  # noqa: BLE001 - a truncated tokenizer or matrix fails in many ways
            raise _damaged(folder, error) from None

    def encode_questions(self, texts: Sequence[str]) -> QuestionVectors:
        """Every question goes through the two-tower graph, even when only the base vector is used:
        ONNX Runtime's idle threads spin, and two sessions taking turns fought over the cores
        (36–43 ms a question instead of 14 when questions alternated between them)."""
        texts = [PROMPTS["query"] + text for text in texts]
        base, adapted = self._encode(texts, MAX_QUESTION_TOKENS, self.both_towers, 2, False)
        return QuestionVectors(base, adapted)

    def encode_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return self._encode([PROMPTS["passage"] + text for text in texts], MAX_TOKENS, self.passage_session(), 1, progress)[0]

    def _encode(self, texts: list[str], max_tokens: int, session: Any, outputs: int, progress: bool) -> list[np.ndarray]:
        vectors = [np.empty((len(texts), self.dimension), dtype=np.float32) for _ in range(outputs)]
        order = np.argsort([-len(text) for text in texts], kind="stable")  # similar lengths pad less
        batches = range(0, len(texts), self.batch_size)
        for start in tqdm(batches, desc="Embedding", unit="batch", disable=not progress):
            rows = order[start : start + self.batch_size]
            ids, mask = token_batch(self.tokenizer, [texts[i] for i in rows], max_tokens)
            weights = mask[..., None].astype(np.float32)
            hidden_states = session.run(None, {"token_vectors": self.token_vectors[ids], "attention_mask": mask})
            for out, hidden in zip(vectors, hidden_states, strict=True):
                pooled = (hidden * weights).sum(axis=1) / weights.sum(axis=1)
                out[rows] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return vectors


class TorchEncoder(_Prepared):
    """PyTorch through sentence-transformers: the reference the ONNX graphs are checked against."""

    backend = "torch"

    def __init__(self, info: PreparedModel, base: Any, adapted: Any, batch_size: int) -> None:
        self.info, self.base, self.adapted, self.batch_size = info, base, adapted, batch_size
        self._lock = threading.Lock()  # the base model's length limit is switched for questions

    @classmethod
    def load(cls, folder: Path, batch_size: int = 32, threads: int | None = None) -> TorchEncoder:
        info = read_stamp(folder)
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads or max(1, os.cpu_count() or 1))
        base, adapted = (SentenceTransformer(str(folder), device="cpu", local_files_only=True) for _ in range(2))
        bert = adapted[0].auto_model
        bert.load_state_dict(adapted_weights(bert.state_dict()))
        adapted.max_seq_length = MAX_QUESTION_TOKENS  # the adapted tower only ever reads questions
        return cls(info, base, adapted, batch_size)

    def _encode(self, model: Any, texts: Sequence[str], prompt: str, progress: bool) -> np.ndarray:
        vectors = model.encode(list(texts), prompt_name=prompt, batch_size=self.batch_size, normalize_embeddings=True,
                               convert_to_numpy=True, show_progress_bar=progress)  # fmt: skip
        return np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)

    def encode_questions(self, texts: Sequence[str]) -> QuestionVectors:
        """Both towers read at most ``MAX_QUESTION_TOKENS``, as the ONNX encoder's questions do."""
        with self._lock:
            self.base.max_seq_length = MAX_QUESTION_TOKENS
            try:
                base = self._encode(self.base, texts, "query", False)
            finally:
                self.base.max_seq_length = MAX_TOKENS
        return QuestionVectors(base, self._encode(self.adapted, texts, "query", False))

    def encode_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return self._encode(self.base, texts, "passage", progress)


def load_encoder(settings: Settings, threads: int | None = None) -> Encoder:
    """The encoder ``settings`` ask for: ONNX Runtime (the default) or the PyTorch reference."""
    if settings.encoder_backend == "torch":
        return TorchEncoder.load(settings.model_dir, settings.encode_batch_size, threads)
    return OnnxEncoder.load(settings.model_dir, settings.encode_batch_size, threads, settings.int8_questions, settings.int8_passages)

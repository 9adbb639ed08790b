"""Sentence embeddings with the prepared multilingual-e5-small, fully offline.

Questions are encoded by the base model or by its query tower with the query adapter added
(``rag.model``); passages always by the base model.

Two backends compute the same vectors (cosine 1.0 on the same inputs): ONNX Runtime, the default,
needs neither torch nor transformers at run time, so it starts in about a second and encodes a
question about 3× faster; PyTorch through sentence-transformers stays available as the reference.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from tqdm import tqdm

from rag.model import QUERY_GRAPH, PreparedModel, adapted_weights, read_stamp

if TYPE_CHECKING:
    from tokenizers import Tokenizer

Backend = Literal["onnx", "torch"]
PROMPTS = {"query": "query: ", "passage": "passage: "}  # E5 is trained with these prefixes
MAX_TOKENS = 512
PAD_ID = 1


def _load_tokenizer(path: Path) -> Tokenizer:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.enable_padding(pad_id=PAD_ID, pad_token="<pad>")
    return tokenizer


@dataclass
class Encoder:
    """Encodes questions and passages into L2-normalised float32 vectors (E5 prompts applied)."""

    info: PreparedModel
    backend: Backend
    # ONNX: (tokenizer, memory-mapped token vectors, passage session loader, both-towers session);
    # torch: {adapted: SentenceTransformer}
    runner: Any
    batch_size: int = 32

    @classmethod
    def load(cls, folder: Path, batch_size: int = 32, backend: Backend = "onnx", threads: int | None = None) -> Encoder:
        info = read_stamp(folder)  # raises ModelMissingError with the fix when absent
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        threads = threads or max(1, os.cpu_count() or 1)
        if backend == "onnx":
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = threads

            def session(graph: str) -> Any:
                return onnxruntime.InferenceSession(str(folder / graph), options, providers=["CPUExecutionProvider"])

            # the passage graph is loaded on first use: answering questions needs only the query graph
            passage_session = cache(partial(session, "model.onnx"))
            with ThreadPoolExecutor(1) as pool:  # both load in native code: in parallel
                tokenizer = pool.submit(_load_tokenizer, folder / "tokenizer.json")
                both = session(QUERY_GRAPH)
                token_vectors = np.load(folder / "word_embeddings.npy", mmap_mode="r")  # rows read on demand
                return cls(info, backend, (tokenizer.result(), token_vectors, passage_session, both), batch_size)
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        models = {adapted: SentenceTransformer(str(folder), device="cpu", local_files_only=True) for adapted in (False, True)}
        bert = models[True][0].auto_model
        bert.load_state_dict(adapted_weights(bert.state_dict()))
        return cls(info, backend, models, batch_size)

    @property
    def dimension(self) -> int:
        return self.info.dimension

    def encode_queries(self, questions: Sequence[str]) -> np.ndarray:
        return self.encode_queries_adapted(questions)[1]

    def encode_queries_adapted(self, questions: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The questions through the query tower with the adapter, and through the base model.

        Every question goes through the two-tower graph, even when only the base vector is used:
        ONNX Runtime's idle threads spin, and two sessions taking turns fought over the cores
        (36–43 ms a question instead of 14 when questions alternated between them)."""
        base, adapted = self._encode(questions, "query", progress=False, adapted=True)
        return adapted, base

    def encode_passages(self, passages: Sequence[str], progress: bool = False) -> np.ndarray:
        return self._encode(passages, "passage", progress)[0]

    def _encode(self, texts: Sequence[str], prompt: str, progress: bool, adapted: bool = False) -> list[np.ndarray]:
        """The base model's vectors, and with ``adapted`` the adapted query tower's as well."""
        if not texts:
            return [np.zeros((0, self.dimension), dtype=np.float32)] * (1 + adapted)
        if self.backend == "torch":
            models = [self.runner[False], self.runner[True]] if adapted else [self.runner[False]]
            return [
                np.ascontiguousarray(model.encode(
                    list(texts), prompt_name=prompt, batch_size=self.batch_size, normalize_embeddings=True,
                    convert_to_numpy=True, show_progress_bar=progress,
                ), dtype=np.float32)
                for model in models
            ]  # fmt: skip
        return self._encode_onnx([PROMPTS[prompt] + text for text in texts], progress, adapted)

    def _encode_onnx(self, texts: list[str], progress: bool, adapted: bool) -> list[np.ndarray]:
        tokenizer, token_vectors, passage_session, both = self.runner
        session = both if adapted else passage_session()
        outs = [np.empty((len(texts), self.dimension), dtype=np.float32) for _ in range(1 + adapted)]
        order = np.argsort([-len(text) for text in texts], kind="stable")  # similar lengths pad less
        batches = range(0, len(texts), self.batch_size)
        for start in tqdm(batches, desc="Embedding", unit="batch", disable=not progress):
            rows = order[start : start + self.batch_size]
            encodings = tokenizer.encode_batch([texts[i] for i in rows])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            weights = mask[..., None].astype(np.float32)
            for out, hidden in zip(outs, session.run(None, {"token_vectors": token_vectors[ids], "attention_mask": mask}), strict=True):
                pooled = (hidden * weights).sum(axis=1) / weights.sum(axis=1)
                out[rows] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return outs

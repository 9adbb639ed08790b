"""Sentence embeddings with the prepared multilingual-e5-small, fully offline.

Two backends compute the same vectors (cosine 1.0 on the same inputs): ONNX Runtime, the default,
needs neither torch nor transformers at run time, so it starts in about a second and encodes a
question about 3× faster; PyTorch through sentence-transformers stays available as the reference.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from tqdm import tqdm

from rag.model import PreparedModel, read_stamp

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
    runner: Any  # (onnxruntime session, tokenizer, memory-mapped token vectors), or a SentenceTransformer
    batch_size: int = 32

    @classmethod
    def load(cls, folder: Path, batch_size: int = 32, backend: Backend = "onnx", threads: int | None = None) -> Encoder:
        info = read_stamp(folder)  # raises ModelMissingError with the fix when absent
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        threads = threads or max(1, os.cpu_count() or 1)
        if backend == "onnx":
            import onnxruntime

            with ThreadPoolExecutor(1) as pool:  # both load in native code: in parallel
                tokenizer = pool.submit(_load_tokenizer, folder / "tokenizer.json")
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = threads
                session = onnxruntime.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])
                token_vectors = np.load(folder / "word_embeddings.npy", mmap_mode="r")  # rows read on demand
                return cls(info, backend, (session, tokenizer.result(), token_vectors), batch_size)
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        return cls(info, backend, SentenceTransformer(str(folder), device="cpu", local_files_only=True), batch_size)

    @property
    def dimension(self) -> int:
        return self.info.dimension

    def encode_queries(self, questions: Sequence[str]) -> np.ndarray:
        return self._encode(questions, "query", progress=False)

    def encode_passages(self, passages: Sequence[str], progress: bool = False) -> np.ndarray:
        return self._encode(passages, "passage", progress)

    def _encode(self, texts: Sequence[str], prompt: str, progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self.backend == "torch":
            vectors = self.runner.encode(
                list(texts), prompt_name=prompt, batch_size=self.batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=progress,
            )  # fmt: skip
            return np.ascontiguousarray(vectors, dtype=np.float32)
        return self._encode_onnx([PROMPTS[prompt] + text for text in texts], progress)

    def _encode_onnx(self, texts: list[str], progress: bool) -> np.ndarray:
        session, tokenizer, token_vectors = self.runner
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        order = np.argsort([-len(text) for text in texts], kind="stable")  # similar lengths pad less
        batches = range(0, len(texts), self.batch_size)
        for start in tqdm(batches, desc="Embedding", unit="batch", disable=not progress):
            rows = order[start : start + self.batch_size]
            encodings = tokenizer.encode_batch([texts[i] for i in rows])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            hidden = session.run(None, {"token_vectors": token_vectors[ids], "attention_mask": mask})[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / weights.sum(axis=1)
            out[rows] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out

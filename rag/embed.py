"""Sentence embeddings with the prepared multilingual-e5-small, fully offline."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.model import PreparedModel, read_stamp

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


@dataclass
class Encoder:
    """Encodes questions and passages into L2-normalised float32 vectors (E5 prompts applied)."""

    model: "SentenceTransformer"
    info: PreparedModel
    batch_size: int = 32

    @classmethod
    def load(cls, folder: Path, batch_size: int = 32) -> "Encoder":
        info = read_stamp(folder)  # raises ModelMissingError with the fix when absent
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(max(1, os.cpu_count() or 1))
        model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        return cls(model, info, batch_size)

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
        vectors = self.model.encode(
            list(texts),
            prompt_name=prompt,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

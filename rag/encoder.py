"""The encoder's interface: what indexing and question answering need from an embedding model.

``load_encoder(settings)`` is the one way to build the real one (``rag.embed``); tests use a tiny
deterministic fake (``tests/fakes.py``) so the logic runs without the 470 MB model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from rag.config import Settings


@dataclass(frozen=True)
class QuestionVectors:
    """L2-normalised question vectors, one row per question: from the base model, and from the
    query tower with the query adapter (Chinese questions retrieve with that one)."""

    base: np.ndarray
    adapted: np.ndarray


class Encoder(Protocol):
    @property
    def model_id(self) -> str: ...

    @property
    def model_sha256(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    @property
    def backend(self) -> str: ...

    def encode_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        ...

    def encode_questions(self, texts: Sequence[str]) -> QuestionVectors: ...


def load_encoder(settings: Settings, threads: int | None = None) -> Encoder:
    from rag.embed import OnnxEncoder, TorchEncoder

    if settings.encoder_backend == "torch":
        return TorchEncoder.load(settings.model_dir, settings.encode_batch_size, threads)
    return OnnxEncoder.load(settings.model_dir, settings.encode_batch_size, threads, settings.int8_questions, settings.int8_passages)

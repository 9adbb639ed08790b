"""The encoder's interface: what indexing and question answering need from an embedding model.

Only the interface lives here, so that everything which uses an encoder imports no model runtime.
``rag.embed.load_encoder(settings)`` builds the real one; tests use a tiny deterministic fake
(``tests/fakes.py``) so the logic runs without the 470 MB model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np



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


"""A tiny deterministic encoder for tests that check logic, not the model: texts sharing character
bigrams get similar vectors, so retrieval behaves sensibly on small Chinese corpora."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from rag.encoder import QuestionVectors

DIMENSION = 64


def _vector(text: str) -> np.ndarray:
    vector = np.zeros(DIMENSION, dtype=np.float32)
    characters = [c for c in text.lower() if not c.isspace()]
    for gram in ("".join(pair) for pair in zip(characters, characters[1:])):
        digest = hashlib.blake2b(gram.encode(), digest_size=4).digest()
        vector[int.from_bytes(digest[:2], "little") % DIMENSION] += 1.0 if digest[2] % 2 else -1.0
    norm = np.linalg.norm(vector)
    return vector / norm if norm else np.eye(DIMENSION, dtype=np.float32)[0]


class FakeEncoder:
    """Implements ``rag.encoder.Encoder``; counts how many passages and questions it embedded."""

    model_id = "fake-bigram-hash"
    model_sha256 = "0" * 64
    dimension = DIMENSION
    backend = "fake"

    def __init__(self) -> None:
        self.passages = 0
        self.questions = 0

    def encode_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        self.passages += len(texts)
        return np.stack([_vector(text) for text in texts]) if texts else np.zeros((0, DIMENSION), np.float32)

    def encode_questions(self, texts: Sequence[str]) -> QuestionVectors:
        self.questions += len(texts)
        vectors = np.stack([_vector(text) for text in texts])
        return QuestionVectors(vectors, vectors)


def write_dataset(folder, passages: list[dict], queries: list[dict], readme: str | None = None):
    """A public-dataset folder (``rag_eval.datasets``) written by a test."""
    import json

    folder.mkdir()
    (folder / "passages.jsonl").write_text("\n".join(json.dumps(p, ensure_ascii=False) for p in passages), encoding="utf-8")
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in queries), encoding="utf-8")
    if readme:
        (folder / "README.md").write_text(readme, encoding="utf-8")
    return folder

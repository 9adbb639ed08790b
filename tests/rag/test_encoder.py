"""The encoder's interface, as indexing and answering rely on it, checked on the fake the logic tier
uses and on both real encoders: one L2-normalised float32 row per text, both question towers."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import FakeEncoder

from rag import Encoder, QuestionVectors, Settings, load_encoder

TEXTS = ["哪位首席技术官宣布离职?", "Which CTO resigned?", ""]


def check(encoder: Encoder) -> None:
    passages = encoder.encode_passages(TEXTS)
    assert passages.shape == (3, encoder.dimension) and passages.dtype == np.float32
    assert np.allclose(np.linalg.norm(passages, axis=1), 1, atol=1e-5)
    questions = encoder.encode_questions(TEXTS[:2])
    assert isinstance(questions, QuestionVectors)
    for vectors in (questions.base, questions.adapted):
        assert vectors.shape == (2, encoder.dimension) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert encoder.model_id and len(encoder.model_sha256) == 64 and encoder.backend


def test_the_fake_encoder_keeps_the_contract():
    check(FakeEncoder())


@pytest.mark.model
@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_both_real_encoders_keep_the_contract(backend):
    check(load_encoder(Settings(encoder_backend=backend)))  # type: ignore[arg-type]

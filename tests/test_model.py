"""The prepared model: both backends give the same vectors, preparation is done once, offline."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from rag.config import Settings
from rag.embed import Encoder
from rag.errors import ModelMissingError
from rag.model import prepare_model, read_stamp

TEXTS = ["哪位OpenAI首席技术官宣布离职?", "哪位OpenAI首席技術官宣布離職?", "Which OpenAI CTO resigned?", "米拉·穆拉蒂(Mira Murati)官宣辞职。" * 20]


def test_onnx_and_torch_backends_agree(encoder):
    reference = Encoder.load(Settings().model_dir, backend="torch")
    for encode in ("encode_queries", "encode_passages"):
        fast, slow = getattr(encoder, encode)(TEXTS), getattr(reference, encode)(TEXTS)
        assert fast.shape == (4, 384) and np.allclose(np.linalg.norm(fast, axis=1), 1, atol=1e-5)
        assert (fast * slow).sum(axis=1).min() > 0.9999


def test_loading_path_is_offline_and_cross_lingual(encoder):
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    queries = encoder.encode_queries(TEXTS[:3] + ["今天晚饭吃红烧肉。"])
    similarity = queries @ queries.T
    assert similarity[0, 1] > similarity[0, 3] and similarity[0, 2] > similarity[2, 3]


def test_preparation_is_skipped_when_done():
    folder = Settings().model_dir
    before = (folder / "model.onnx").stat().st_mtime
    assert prepare_model(folder) == read_stamp(folder)
    assert (folder / "model.onnx").stat().st_mtime == before


def test_incomplete_preparation_is_reported(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    shutil.copy(Settings().model_dir / "prepared.json", folder)
    stamp = json.loads((folder / "prepared.json").read_text())
    del stamp["word_embeddings_sha256"]
    (folder / "prepared.json").write_text(json.dumps(stamp))
    with pytest.raises(ModelMissingError, match="rag model"):
        read_stamp(folder)

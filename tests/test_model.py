"""The prepared model: both backends give the same vectors, preparation is done once, offline."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace

import numpy as np
import pytest

from rag.config import Settings
from rag.embed import Encoder
from rag.errors import ModelMissingError
from rag.model import adapted_weights, prepare_model, read_stamp

TEXTS = ["哪位OpenAI首席技术官宣布离职?", "哪位OpenAI首席技術官宣布離職?", "Which OpenAI CTO resigned?", "米拉·穆拉蒂(Mira Murati)官宣辞职。" * 20]


def test_onnx_and_torch_backends_agree(encoder):
    reference = Encoder.load(Settings().model_dir, backend="torch")
    pairs = [
        (encoder.encode_queries(TEXTS), reference.encode_queries(TEXTS)),
        (encoder.encode_queries_adapted(TEXTS)[0], reference.encode_queries_adapted(TEXTS)[0]),
        (encoder.encode_queries_adapted(TEXTS)[1], encoder.encode_queries(TEXTS)),
        (encoder.encode_passages(TEXTS), reference.encode_passages(TEXTS)),
    ]
    for fast, slow in pairs:
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


def test_stale_query_adapter_is_reported(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    stamp = json.loads((Settings().model_dir / "prepared.json").read_text())
    (folder / "prepared.json").write_text(json.dumps(stamp | {"adapter_sha256": "0" * 64}))
    with pytest.raises(ModelMissingError, match="query adapter"):
        read_stamp(folder)


def test_adapted_weights_add_the_low_rank_update_to_the_named_matrices(tmp_path):
    rng = np.random.default_rng(0)
    down, up = rng.normal(size=(2, 4)).astype(np.float32), rng.normal(size=(3, 2)).astype(np.float32)
    adapter = tmp_path / "adapter.npz"
    np.savez(adapter, source=np.array("toy"), **{"layer.q.down": down, "layer.q.up": up})
    state = {"layer.q.weight": np.ones((3, 4), np.float32), "layer.q.bias": np.zeros(3, np.float32)}
    adapted = adapted_weights(state, adapter)
    assert np.allclose(adapted["layer.q.weight"], 1 + up @ down)
    assert adapted["layer.q.bias"] is state["layer.q.bias"] and np.all(state["layer.q.weight"] == 1)


def test_adapter_moves_question_vectors_and_still_finds_the_answer(encoder):
    adapted, base = encoder.encode_queries_adapted(["哪位OpenAI首席技术官宣布离职?"])
    answer, distractor = encoder.encode_passages(["米拉·穆拉蒂(Mira Murati)宣布从OpenAI离职。", "OpenAI完成了66亿美元的新一轮融资。"])
    assert float(adapted[0] @ base[0]) < 0.99
    assert float(adapted[0] @ answer) > float(adapted[0] @ distractor)


def test_english_questions_skip_the_adapter_chinese_ones_use_it(news):
    english, chinese = "Which OpenAI CTO resigned?", "哪位OpenAI首席技术官宣布离职?"
    plain = news.settings.with_retrieval(query_expansion=False)
    assistant = replace(news, settings=plain)
    assert np.allclose(assistant.query(english).vector, news.encoder.encode_queries([english])[0], atol=1e-6)
    adapted, base = news.encoder.encode_queries_adapted([chinese])
    assert np.allclose(assistant.query(chinese).vector, adapted[0], atol=1e-6)
    assert np.allclose(assistant.query(chinese).base_vector, base[0], atol=1e-6)

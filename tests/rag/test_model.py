"""The prepared model: both backends give the same vectors, preparation is done once, offline, and
a damaged model folder is caught and repaired."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from rag import Assistant
from rag.config import RetrievalSettings, Settings
from rag.encoder import load_encoder
from rag.errors import ModelMissingError
from rag.model import adapted_weights, prepare_model, read_stamp
from rag.query import build_query

TEXTS = ["哪位OpenAI首席技术官宣布离职?", "哪位OpenAI首席技術官宣布離職?", "Which OpenAI CTO resigned?", "米拉·穆拉蒂(Mira Murati)官宣辞职。" * 20]


def test_onnx_and_torch_backends_agree():
    onnx, reference = load_encoder(Settings(int8_questions=False)), load_encoder(Settings(encoder_backend="torch"))
    fast, slow = onnx.encode_questions(TEXTS), reference.encode_questions(TEXTS)
    pairs = [(fast.base, slow.base), (fast.adapted, slow.adapted), (onnx.encode_passages(TEXTS), reference.encode_passages(TEXTS))]
    for onnx, torch in pairs:
        assert onnx.shape == (4, 384) and np.allclose(np.linalg.norm(onnx, axis=1), 1, atol=1e-5)
        assert (onnx * torch).sum(axis=1).min() > 0.9999


def test_int8_question_graph_stays_close_to_fp32_and_cites_the_same_articles(news):
    fp32_encoder, int8_encoder = load_encoder(Settings(int8_questions=False)), load_encoder(Settings(int8_questions=True))
    fp32, int8 = fp32_encoder.encode_questions(TEXTS), int8_encoder.encode_questions(TEXTS)
    # measured on these texts: base 0.997-0.998, adapted 0.986-0.992 (per-channel scales; one scale a matrix gave 0.952)
    assert (fp32.base * int8.base).sum(axis=1).min() > 0.99 and (fp32.adapted * int8.adapted).sum(axis=1).min() > 0.98
    assert np.allclose(fp32_encoder.encode_passages(TEXTS), int8_encoder.encode_passages(TEXTS))  # passages stay fp32
    # Retrieval's order, before the reader re-ranks it: re-ranked, passages 0.01-0.02 apart swapped
    # places on 1-2 of these 4 questions (stop 21; the reader reads other sentences for each).
    with_fp32 = Assistant.load(encoder=fp32_encoder).with_retrieval(reader_rerank_weight=0.0)
    with_int8 = Assistant.load(encoder=int8_encoder).with_retrieval(reader_rerank_weight=0.0)
    for question in ["哪位OpenAI首席技术官宣布离职?", "Which OpenAI CTO resigned?", "台積電的晶圓廠計劃是甚麼?", "穆拉蒂在OpenAI工作了多久?"]:
        assert [p.doc_id for p in with_fp32.ask(question).passages[:3]] == [p.doc_id for p in with_int8.ask(question).passages[:3]]


def test_loading_path_is_offline_and_cross_lingual(encoder):
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["ORT_DISABLE_TELEMETRY"] == "1"
    queries = encoder.encode_questions(TEXTS[:3] + ["今天晚饭吃红烧肉。"]).base
    similarity = queries @ queries.T
    assert similarity[0, 1] > similarity[0, 3] and similarity[0, 2] > similarity[2, 3]


def test_preparation_is_skipped_when_done(encoder):
    folder = Settings().model_dir
    before = (folder / "model.onnx").stat().st_mtime
    assert prepare_model(folder) == read_stamp(folder)
    assert (folder / "model.onnx").stat().st_mtime == before


@pytest.fixture()
def model_copy(tmp_path, encoder):
    folder = tmp_path / "model"
    shutil.copytree(Settings().model_dir, folder)
    return folder


@pytest.mark.parametrize("name", ["query.onnx", "tokenizer.json", "word_embeddings.npy", "model.onnx"])
def test_a_truncated_model_file_is_reported_with_the_fix(model_copy, name):
    path = model_copy / name
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ModelMissingError, match="rag model"):
        read_stamp(model_copy)


def test_a_corrupt_model_file_is_found_by_its_checksum_and_prepared_again(model_copy):
    path = model_copy / "tokenizer.json"
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    read_stamp(model_copy)  # same size: loading does not read whole files
    with pytest.raises(ModelMissingError, match="checksum"):
        read_stamp(model_copy, verify=True)
    prepare_model(model_copy)  # `rag model` repairs it
    read_stamp(model_copy, verify=True)


@pytest.mark.parametrize("stamp", ['{"model_id": null}', "not json", ""])
def test_a_damaged_stamp_is_reported_with_the_fix(model_copy, stamp):
    (model_copy / "prepared.json").write_text(stamp)
    with pytest.raises(ModelMissingError, match="rag model"):
        read_stamp(model_copy)


def test_stale_query_adapter_is_reported(model_copy):
    stamp = json.loads((model_copy / "prepared.json").read_text())
    (model_copy / "prepared.json").write_text(json.dumps(stamp | {"adapter_sha256": "0" * 64}))
    with pytest.raises(ModelMissingError, match="query adapter"):
        read_stamp(model_copy)


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
    vectors = encoder.encode_questions(["哪位OpenAI首席技术官宣布离职?"])
    answer, distractor = encoder.encode_passages(["米拉·穆拉蒂(Mira Murati)宣布从OpenAI离职。", "OpenAI完成了66亿美元的新一轮融资。"])
    assert float(vectors.adapted[0] @ vectors.base[0]) < 0.99
    assert float(vectors.adapted[0] @ answer) > float(vectors.adapted[0] @ distractor)


class _NoNames:
    def name_translations(self, words):
        return {}


class _NoWords:
    names = _NoNames()

    def known_terms(self, term_ids):
        return set()


def test_english_questions_skip_the_adapter_chinese_ones_use_it(encoder):
    english, chinese = "Which OpenAI CTO resigned?", "哪位OpenAI首席技术官宣布离职?"
    plain = RetrievalSettings(query_expansion=False)
    assert np.allclose(build_query(english, encoder, _NoWords(), plain).vector, encoder.encode_questions([english]).base[0], atol=1e-6)
    vectors = encoder.encode_questions([chinese])
    query = build_query(chinese, encoder, _NoWords(), plain)
    assert np.allclose(query.vector, vectors.adapted[0], atol=1e-6) and np.allclose(query.base_vector, vectors.base[0], atol=1e-6)

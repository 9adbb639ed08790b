"""The encoders: ONNX Runtime and PyTorch give the same vectors; the int8 question graph stays close;
loading is offline; the adapted query tower moves Chinese questions toward their answers."""

from __future__ import annotations

import os

import numpy as np
import pytest

from rag import Assistant, Settings, load_encoder
from rag.embed import MAX_QUESTION_TOKENS, MAX_TOKENS, PAD_ID, token_batch
from rag.model import package_tokenizer_file

TEXTS = ["哪位OpenAI首席技术官宣布离职?", "哪位OpenAI首席技術官宣布離職?", "Which OpenAI CTO resigned?", "米拉·穆拉蒂(Mira Murati)官宣辞职。" * 20]


@pytest.mark.model  # loads both backends itself, with no fixture that would mark it
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


def test_adapter_moves_question_vectors_and_still_finds_the_answer(encoder):
    vectors = encoder.encode_questions(["哪位OpenAI首席技术官宣布离职?"])
    answer, distractor = encoder.encode_passages(["米拉·穆拉蒂(Mira Murati)宣布从OpenAI离职。", "OpenAI完成了66亿美元的新一轮融资。"])
    assert float(vectors.adapted[0] @ vectors.base[0]) < 0.99
    assert float(vectors.adapted[0] @ answer) > float(vectors.adapted[0] @ distractor)


@pytest.mark.parametrize("max_tokens", [5, MAX_QUESTION_TOKENS, MAX_TOKENS])
def test_token_batch_cuts_and_pads_as_the_tokenizers_own_truncation_and_padding(max_tokens):
    """The shared tokenizer is never set to truncate or pad; ``token_batch`` does both, and gives
    the ids and mask of the tokenizers library's own (the reference) to the last token."""
    from tokenizers import Tokenizer

    path = str(package_tokenizer_file())
    reference = Tokenizer.from_file(path)
    reference.enable_truncation(max_tokens)
    reference.enable_padding(pad_id=PAD_ID, pad_token="<pad>")
    texts = ["", "query: 谁?", *(text[:length] for text in TEXTS for length in (3, 40, 200, 4000)), "passage: " + "很长 " * 600]
    expected = reference.encode_batch(texts)
    ids, mask = token_batch(Tokenizer.from_file(path), texts, max_tokens)
    assert ids.tolist() == [e.ids for e in expected]
    assert mask.tolist() == [e.attention_mask for e in expected]
    assert ids.shape[1] == max_tokens  # the long ones were cut

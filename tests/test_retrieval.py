"""Tokenisation, expansion, fusion, index choice and abstention."""

from __future__ import annotations

import numpy as np
import pytest
from ranx import Run
from ranx import fuse as ranx_fuse

from rag.answer import FEATURES, answer_sentences
from rag.config import RetrievalSettings, VectorIndexSettings
from rag.corpus import question_language
from rag.expand import Expansions, build_expansions, chinese_amounts, corpus_form, english_to_chinese
from rag.lexical import tokenize
from rag.retrieve import Candidate, Query, Ranking, fuse
from rag.vectors import build_faiss_index, choose_kind, grow_faiss_index, search


def test_mixed_script_tokens_are_simplified_lowercased_and_content_only():
    tokens = tokenize("OpenAI首席技術官Mira Murati宣布離職了嗎?你好")
    assert "openai" in tokens and "mira" in tokens and "murati" in tokens
    assert "首席" in tokens or "首席技术官" in tokens  # Traditional folded to Simplified
    assert "离职" in tokens and "離職" not in tokens
    assert not {"了", "吗", "你好", "?"} & set(tokens)
    assert tokenize("ＧＰＴ－４ｏ 的 1500亿") == tokenize("GPT-4o 的 1500亿")


def _ranking(*sentence_scores: list[tuple[int, float]]) -> Ranking:
    query = Query("?", np.zeros(2, dtype=np.float32), [], np.zeros(2, dtype=np.float32))
    return Ranking(query, [Candidate(i, 1.0, 0.0, 0.0, tuple(scored)) for i, scored in enumerate(sentence_scores)])


def test_answer_sentence_comes_from_any_top_passage_lower_ranks_paying_a_little():
    settings = RetrievalSettings(answer_passages=5, answer_rank_penalty=0.01, second_sentence_margin=0.03)
    # passage 3's sentence is clearly closer: it is the answer, passage 1's follows within the margin
    assert answer_sentences(_ranking([(10, 0.40)], [(20, 0.38)], [(30, 0.45)]), settings) == [(3, 30), (1, 10)]
    # a near tie goes to the higher passage: 0.405 - 2 × 0.01 < 0.40
    assert answer_sentences(_ranking([(10, 0.40)], [(20, 0.30)], [(30, 0.405)]), settings)[0] == (1, 10)
    # passages beyond answer_passages are not read; the runner-up is dropped when too far behind
    lower = _ranking([(10, 0.40)], [(20, 0.30)], [(30, 0.30)], [(40, 0.30)], [(50, 0.30)], [(60, 0.90)])
    assert answer_sentences(lower, settings) == [(1, 10)]


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Greg Brockman宣布休假到什麼時候?", "zh-Hant"),  # more Latin letters than Han characters
        ("据The Information汇总,OpenAI这一轮融资预计什么时候完成?", "zh-Hans"),
        ("Why did Elon Musk walk away from OpenAI in early 2018?", "en"),
        ("Who does 奥特曼 report to?", "en"),
    ],
)
def test_question_language_counts_latin_words_against_han_characters(question, language):
    assert question_language(question) == language


def test_english_question_gains_chinese_keywords_from_corpus_words_only():
    expansions = Expansions({"resign": ["辞职"], "murati": ["穆拉蒂"], "chief technology officer": ["首席技术官"]})
    words = english_to_chinese("Did the chief technology officer Murati resign?", expansions)
    assert words == sorted({"辞职", "穆拉蒂", "首席技术官"})
    assert english_to_chinese("Who resigned?", expansions) == ["辞职"]  # "resigned" → "resign"
    assert chinese_amounts("a $7 billion round at a 150 billion valuation") == ["70", "亿", "美元", "1500", "亿"]


def test_dictionary_words_the_corpus_lacks_count_by_their_longest_known_prefix():
    vocabulary = {"天文学", "天文", "领导", "宇宙"}
    assert corpus_form("天文学家", vocabulary) == "天文学"
    assert corpus_form("宇宙", vocabulary) == "宇宙"
    assert corpus_form("天", vocabulary) is None and corpus_form("银河系", vocabulary) is None
    expansions = build_expansions(["科学家分析宇宙图像。"], vocabulary)
    assert expansions.english_to_chinese["astronomer"] == ["天文学"]  # CC-CEDICT: 天文学家


def test_each_dictionary_sense_links_words_on_its_own():
    expansions = build_expansions([], {"摧毁", "员工"})
    assert "摧毁" in expansions.english_to_chinese["destroy"]  # CC-CEDICT: /to destroy; to wreck/
    assert "摧毁" in expansions.english_to_chinese["wreck"]
    assert "员工" in expansions.english_to_chinese["employee"]


def test_fusion_matches_ranx_wsum_with_min_max():
    dense = {1: 0.9, 2: 0.8, 3: 0.5}
    lexical = {3: 12.0, 4: 7.0, 2: 1.0}
    ours = fuse([dense, lexical], [0.3, 0.7])
    runs = [Run({"q": {f"d{k}": v for k, v in run.items()}}) for run in (dense, lexical)]
    theirs = ranx_fuse(runs, norm="min-max", method="wsum", params={"weights": [0.3, 0.7]}).to_dict()["q"]
    assert {f"d{k}": pytest.approx(v) for k, v in ours.items()} == theirs
    # by hand: d3 = 0.3*0 + 0.7*1, d1 = 0.3*1 + 0, d2 = 0.3*0.75 + 0, d4 = 0.7*(6/11)
    assert ours == pytest.approx({3: 0.7, 1: 0.3, 2: 0.225, 4: 0.7 * 6 / 11})


def test_index_kind_is_chosen_by_size_and_changes_when_an_index_grows():
    settings = VectorIndexSettings(exact_max=100)
    assert choose_kind(100, settings) == "flat" and choose_kind(101, settings) == "ivf"
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(400, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    small = build_faiss_index(vectors[:80], settings)
    assert type(small).__name__ == "IndexFlatIP"
    assert type(grow_faiss_index(small, vectors[80:90], settings)).__name__ == "IndexFlatIP"
    grown = grow_faiss_index(small, vectors[80:], settings)  # crosses exact_max: rebuilt as IVF
    assert type(grown).__name__ == "IndexIVFScalarQuantizer" and grown.ntotal == 400 and small.ntotal == 80
    assert grown.nlist == int(4 * 20) and grown.nprobe == 128
    for row in (7, 250):
        scores, ids = search(grown, vectors[row], 5)
        assert ids[0] == row and scores[0] == pytest.approx(1.0, abs=0.02)


def test_offtopic_question_abstains_but_lists_closest_passages(news):
    answer = news.ask("红烧肉怎么做才好吃?", top_k=3)
    assert answer.abstained and answer.text is None and answer.citations == []
    assert len(answer.passages) == 3 and answer.confidence < news.abstainer.threshold
    assert answer.reason == "None of the passages is close enough to the question to answer it."
    assert tuple(answer.features) == FEATURES  # what the decision was made on, for the eval harness
    assert news.abstainer.probability(answer.features) == pytest.approx(answer.confidence, abs=1e-4)


def test_abstention_says_which_kind_of_answer_the_passages_lack(news):
    answer = news.ask("陈信翰是哪一年出生的?", top_k=3)  # the articles never give his birth year
    assert answer.abstained and answer.reason == "The question asks for a year, and the closest passages give none."


def test_answerable_question_does_not_abstain(news):
    answer = news.ask("OpenAI预计年亏损多少?", top_k=5)
    assert not answer.abstained and "50亿" in answer.text and answer.reason is None

"""The one gate for questions and top_k, the question's language, and the query built for retrieval."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from fakes import FakeEncoder

from rag import InvalidQuestionError, QuestionVectors
from rag.config import RetrievalSettings
from rag.lexical import term_id, tokenize
from rag.query import build_query, question_language, validate_filter, validate_question, validate_top_k
from rag.store.filter_index import FilterFields, FilterIndex


@pytest.mark.parametrize(
    ("question", "message"),
    [("", "empty"), ("  \n\t", "empty"), ("问" * 2001, "2,001 characters"), ("OpenAI\ud800估值", "unpaired surrogate"),
     ("估值\x1b[2J多少", "control characters"), ("估值\x00", "control characters"), (None, "must be text"), (42, "must be text")],
)  # fmt: skip
def test_unusable_questions_are_refused_with_the_reason(question, message):
    with pytest.raises(InvalidQuestionError, match=message):
        validate_question(question, 2000)


def test_a_usable_question_is_returned_stripped():
    assert validate_question("  OpenAI估值多少?\n", 2000) == "OpenAI估值多少?"
    assert validate_question("第一行\n第二行", 2000) == "第一行\n第二行"


@pytest.mark.parametrize("top_k", ["5", None, 5.5, True, False, 0, 51, -1])
def test_top_k_must_be_a_whole_number_in_range(top_k):
    with pytest.raises(InvalidQuestionError, match="top_k"):
        validate_top_k(top_k)


def test_top_k_in_range_is_accepted():
    assert [validate_top_k(k) for k in (1, 5, 50)] == [1, 5, 50]


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


class _TwoTowers(FakeEncoder):
    """Base and adapted vectors that differ (the adapted one is the base one reversed), so that a test
    can tell which one a query took."""

    def encode_questions(self, texts):
        base = super().encode_questions(texts).base
        return QuestionVectors(base, np.ascontiguousarray(base[:, ::-1]))


class _Knows:
    """A store view whose chunks hold exactly ``words``."""

    def __init__(self, *words: str) -> None:
        self.ids = {term_id(word) for word in words}

    names = _NoNames()

    def known_terms(self, term_ids):
        return set(term_ids) & self.ids


def test_a_chinese_question_retrieves_with_the_adapted_tower_and_keeps_the_base_vector_for_abstention():
    encoder, question = _TwoTowers(), "哪位首席技术官宣布离职?"
    vectors = encoder.encode_questions([question])
    query = build_query(question, encoder, _Knows(), RetrievalSettings())
    assert (query.language, query.tokens) == ("zh-Hans", tuple(tokenize(question)))
    assert np.array_equal(query.vector, vectors.adapted[0]) and np.array_equal(query.base_vector, vectors.base[0])


def test_an_english_question_gains_the_keywords_the_articles_use_averaged_into_its_base_vector():
    encoder, question = _TwoTowers(), "Did the CTO resign?"
    query = build_query(question, encoder, _Knows("辞职", "首席技术官"), RetrievalSettings())
    assert (query.language, query.tokens) == ("en", ("cto", "resign", "辞职"))  # CC-CEDICT: 辞职 /to resign/
    summed = encoder.encode_questions([question]).base[0] + encoder.encode_questions(["辞职"]).base[0]
    assert np.allclose(query.vector, summed / np.linalg.norm(summed)) and query.base_vector is query.vector
    plain = build_query(question, encoder, _Knows("辞职"), RetrievalSettings(query_expansion=False))
    assert plain.tokens == ("cto", "resign") and np.array_equal(plain.vector, encoder.encode_questions([question]).base[0])


# ---- the filter of a question (issue 28, item 2)

@pytest.mark.parametrize(("given", "message"), [
    ({"since": "2024-02-30"}, r"^since: '2024-02-30' is no date of the calendar"),
    ({"until": "2024/09/26"}, r"^until: a date is written YYYY-MM-DD"),
    ({"since": 20240926}, r"^since: a date is written YYYY-MM-DD"),
    ({"since": "2024-10-01", "until": "2024-09-30"}, r"^since \(2024-10-01\) is after until \(2024-09-30\); nothing could match"),
    ({"sources": "新智元"}, r"^sources must be a list of strings"),
    ({"documents": ["a", 3]}, r"^documents must be a list of strings"),
    ({"documents": ["a"] * 1001}, r"^documents names 1,001; at most 1,000"),
])  # fmt: skip
def test_an_unusable_filter_is_refused_with_the_reason(given, message):
    with pytest.raises(InvalidQuestionError, match=message):
        validate_filter(**given)


def test_a_filter_admits_the_period_inclusive_the_sources_and_the_documents_and_no_undated_article_for_a_period():
    documents = FilterIndex.of([FilterFields("a", "新智元", "2024-09-26"), FilterFields("b", None, "2024-09-30"),
                                FilterFields("c", "虎嗅網", None), FilterFields("d", "虎嗅網", "2023-11-21")])  # fmt: skip
    assert validate_filter().allowed(documents) is None and validate_filter(" ", None, [], None).empty
    assert validate_filter("2024-09-26", "2024-09-30").allowed(documents) == {"a", "b"}  # both ends inclusive, c has no date
    assert validate_filter(until="2024-01-01").allowed(documents) == {"d"}
    assert validate_filter(sources=["虎嗅網", " "]).allowed(documents) == {"c", "d"}
    assert validate_filter(sources=["虎嗅網"], since="2024-01-01").allowed(documents) == set()
    assert validate_filter(documents=["a", "c"], sources=["虎嗅網"]).allowed(documents) == {"c"}
    with pytest.raises(InvalidQuestionError, match=r"^no document 'zz' in the collection; filter by the ids `rag documents` lists$"):
        validate_filter(documents=["a", "zz"]).allowed(documents)


class _CountedReads(dict):
    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.reads = 0

    def __getitem__(self, key: str) -> FilterFields:
        self.reads += 1
        return super().__getitem__(key)


def test_a_filter_reads_only_the_documents_of_its_narrowest_part_never_the_whole_collection():
    """10,000 dated articles, 4 of one source: a period and that source read those 4 documents; a
    period alone, or a source alone, reads none (the index's part is exactly what it admits)."""
    many = [FilterFields(f"d{n}", "新智元" if n % 2500 == 7 else "其他", f"2024-{1 + n % 12:02d}-{1 + n % 28:02d}") for n in range(10_000)]
    index = FilterIndex.of(many)
    counted = replace(index, documents=_CountedReads(index.documents))
    assert validate_filter(since="2024-06-01", sources=["新智元"]).allowed(counted) == {"d7", "d2507", "d7507"}  # d5007: April
    assert counted.documents.reads == 4
    assert len(validate_filter(since="2024-06-01").allowed(counted)) == 5_831 and counted.documents.reads == 4  # 7 months of 12
    assert validate_filter(sources=["新智元"]).allowed(counted) == {"d7", "d2507", "d5007", "d7507"} and counted.documents.reads == 4


def test_a_name_the_tokenizer_glues_to_the_next_word_is_matched_as_the_tagger_cuts_it():
    question = "李政安是哪一年上任的?"
    assert "李政安" not in tokenize(question)  # jieba's tokenizer: 李政安是
    query = build_query(question, _TwoTowers(), _Knows(), RetrievalSettings())
    assert [person.name for person in query.people] == ["李政安"] and query.tokens == (*tokenize(question), "李政安")
    known = build_query("吳思穎今年幾歲?", _TwoTowers(), _Knows(), RetrievalSettings())
    assert known.tokens == tuple(tokenize("吳思穎今年幾歲?"))  # the tokenizer has the name: nothing added

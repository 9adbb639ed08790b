"""The one gate for questions and top_k, the question's language, and query expansion."""

from __future__ import annotations

import pytest

from rag import InvalidQuestionError
from rag.expand import chinese_amounts, corpus_form, english_to_chinese, question_forms
from rag.query import question_language, validate_question, validate_top_k


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


class Vocabulary:
    def __init__(self, words: set[str], names: dict[str, set[str]]) -> None:
        self.words, self.names = words, names

    def known(self, words: set[str]) -> set[str]:
        return words & self.words

    def name_translations(self, words: set[str]) -> dict[str, set[str]]:
        return {word: self.names[word] for word in words if word in self.names}


def test_english_question_gains_chinese_keywords_the_corpus_knows():
    vocabulary = Vocabulary({"辞职", "穆拉蒂", "首席技术官", "天文学"}, {"murati": {"穆拉蒂", "拉"}})
    words = english_to_chinese("Did the chief technology officer Murati resign? An astronomer?", vocabulary)
    assert words == sorted({"辞职", "穆拉蒂", "首席技术官", "天文学"})  # 天文学家 counts by its prefix; "拉" is too short


def test_question_forms_hold_lemmas_and_phrases_but_no_stopwords():
    forms = question_forms("Which companies resigned from the board?")
    assert {"company", "companies", "resign", "board", "companies resigned"} <= forms and "the" not in forms


def test_amounts_and_prefixes():
    assert chinese_amounts("a $7 billion round") == ["70", "亿", "美元"]
    assert chinese_amounts("1.5 million users") == ["150", "万"]
    assert corpus_form("天文学家", {"天文学"}) == "天文学" and corpus_form("领导者", set()) is None


def test_a_question_gains_at_most_max_keywords_the_longest_first():
    from rag.expand import MAX_KEYWORDS, cedict_glosses

    words = {word for gloss in ("company", "time", "report", "market", "people", "world") for word in cedict_glosses()[gloss]}
    vocabulary = Vocabulary(words | {"公司"}, {})
    found = english_to_chinese("The company report on the market, people and the world over time", vocabulary)
    assert len(found) == MAX_KEYWORDS < len(words) and min(map(len, found)) >= max(map(len, words - set(found)))


def test_the_glossary_is_built_once_when_many_threads_ask_for_it_at_once(monkeypatch):
    """Issue 23: 20 clients on a fresh server each built the 0.8 s table (p95 16-20 s)."""
    import functools
    import threading
    import time

    from rag import expand

    built = []

    def slow_build():
        built.append(threading.get_ident())
        time.sleep(0.2)
        return {"company": frozenset({"公司"})}

    monkeypatch.setattr(expand, "_read_cedict", functools.lru_cache(maxsize=1)(slow_build))
    start = threading.Barrier(8)

    def ask() -> None:
        start.wait()
        assert expand.cedict_glosses()["company"] == frozenset({"公司"})

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1


"""Cross-lingual query expansion: Chinese keywords for English questions, only words the articles use."""

from __future__ import annotations

import pytest

from rag.expand import cedict_latin_names, chinese_amounts, corpus_form, english_to_chinese, proper_headwords, question_forms


class Vocabulary:
    def __init__(self, words: set[str], names: dict[str, set[str]]) -> None:
        self.words, self.names = words, names

    def known(self, words: set[str]) -> set[str]:
        return words & self.words

    def name_translations(self, words: set[str]) -> dict[str, set[str]]:
        return {word: self.names[word] for word in words if word in self.names}


def test_each_dictionary_sense_links_words_on_its_own():
    vocabulary = Vocabulary({"摧毁", "员工"}, {})
    assert "摧毁" in english_to_chinese("destroy", vocabulary)  # CC-CEDICT: /to destroy; to wreck/
    assert "摧毁" in english_to_chinese("wreck", vocabulary)
    assert "员工" in english_to_chinese("employees", vocabulary)  # "employees" → "employee"


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
        return {"company": frozenset({"公司"})}, {"google": frozenset({"谷歌"})}, {"谷歌": frozenset({"google"})}

    monkeypatch.setattr(expand, "_read_cedict", functools.lru_cache(maxsize=1)(slow_build))
    start = threading.Barrier(8)
    seen = []

    def ask() -> None:
        start.wait()
        seen.append((expand.cedict_glosses()["company"], expand.cedict_proper_names()["google"]))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1 and seen == [(frozenset({"公司"}), frozenset({"谷歌"}))] * 8  # asserted here: a thread's assert fails no test


def test_cedict_latin_names_give_the_latin_name_a_headwords_senses_open_with():
    latin = cedict_latin_names()
    assert latin["马斯克"] == {"elon", "musk"} and latin["谷歌"] == {"google"}
    assert latin["公开信"] == frozenset()  # a headword, and no proper name
    assert "吴思颖" not in latin


@pytest.mark.parametrize(
    "question, headwords",
    [
        ("How much will the extension to Pingtung cost?", {"屏东", "屏东县", "屏东市"}),  # no gloss gives it
        ("Did Microsoft hire him?", {"微软", "微软公司"}),
        ("Who is the CEO of Nvidia?", {"英伟达"}),
        ("Pingtung is where?", set()),  # the first word: every question capitalises it
        ("Where did Mark Chen move?", set()),  # Mark opens 5 senses, Chen dozens: common words
        ("Who is Sam Altman?", set()),  # not in CC-CEDICT: the names the articles write both ways cover him
    ],
)
def test_a_capitalised_word_inside_an_english_question_is_looked_up_among_proper_names(question, headwords):
    assert proper_headwords(question) == headwords

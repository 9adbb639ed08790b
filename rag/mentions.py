"""What a Chinese question names in Latin letters or, for people, in Han characters, and whether an
article mentions it.

A Chinese question that writes a name in Latin letters ("Sarah Friar加入OpenAI之前在哪家公司任职?")
asks about what it names: an article that never mentions it, neither in those letters nor in a Chinese
form known here (a name the articles write both ways, "米拉·穆拉蒂(Mira Murati)"; a CC-CEDICT
headword of two characters or more, CEO → 总经理, Google → 谷歌), cannot answer it. On the gold dev
split the answer's article lacked such a name for 5 on-topic unanswerable questions and for none of
the answerable ones (eval/reports/experiments.md, "names the articles never mention").
A name of several words ("Sarah Friar", "Durk(Diederik)Kingma", with an alias) counts as mentioned
when any of its words is. English questions are not checked: their capitalised words ("October",
"Canadian", "The New York Times") are written in Chinese by the articles, which no table here covers.
A person named in Han characters (``people_named``) has no table of the other forms it takes (奥特曼,
奥尔特曼 and 阿尔特曼 are one man): an article that writes it is preferred, none is required.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import jieba.posseg

from rag.answer_types import fold
from rag.expand import cedict_glosses, cedict_latin_names, cedict_proper_names

_WORD = r"[A-Za-z][A-Za-z0-9.-]*[A-Za-z0-9]"
_NAME = re.compile(rf"{_WORD}(?:[\s()（）·]+{_WORD})*")  # words joined by spaces, brackets, a middle dot
MIN_LETTERS = 3  # "AI", "VP" and the like are written every way; names are longer
MIN_FORM = 2  # a one-character headword ("will" → 将) is in every article


@dataclass(frozen=True)
class Named:
    """A name a question writes in Latin letters, its words, and the Chinese forms they may have in an
    article (folded)."""

    name: str
    words: tuple[str, ...]
    forms: frozenset[str]


def named_in(question: str, translations: Callable[[set[str]], dict[str, set[str]]]) -> tuple[Named, ...]:
    """The names ``question`` writes in Latin letters (of words of at least ``MIN_LETTERS``) with
    their Chinese forms: ``translations`` gives the collection's names written both ways (lower-case
    word → tokens)."""
    groups = {}
    for match in _NAME.finditer(question):
        words = tuple(word for word in re.findall(_WORD, match.group(0)) if len(word) >= MIN_LETTERS)
        if words:
            groups[match.group(0)] = words
    if not groups:
        return ()
    names = translations({word.lower() for words in groups.values() for word in words})
    glosses, proper = cedict_glosses(), cedict_proper_names()
    named = []
    for name, words in groups.items():
        forms = {form for word in words for table in (names, glosses, proper) for form in table.get(word.lower(), ())}
        named.append(Named(name, words, frozenset(fold(form) for form in forms if len(form) >= MIN_FORM)))
    return tuple(named)


HAN_NAME = re.compile(r"[\u4e00-\u9fff]{2,4}")


def people_named(question: str) -> tuple[Named, ...]:
    """The people a Chinese question names in Han characters ("吳思穎今年幾歲?" → 吴思颖), folded, as
    jieba's part-of-speech tagger finds them (a tag of the nr family, two to four characters; it splits
    a name it does not know, "布罗克曼" → 布罗克 + 曼, and the part still finds the whole), each with
    the Latin name CC-CEDICT gives it (马斯克 → Elon Musk, as an article may write him). A word
    CC-CEDICT knows as no proper name is none (公开信 "open letter", which jieba tags as one)."""
    latin = cedict_latin_names()
    people = []
    for word, tag in jieba.posseg.cut(fold(question)):
        spellings = latin.get(word)
        if tag.startswith("nr") and HAN_NAME.fullmatch(word) and (spellings is None or spellings):
            people.append(Named(word, tuple(sorted(spellings or ())), frozenset({word})))
    return tuple(dict.fromkeys(people))


def han_names_in(text: str) -> list[str]:
    """The Han names in ``text`` (folded) as jieba's tagger finds them: tags of the nr family, two to four
    characters ("63岁的王建平将于年底退休" → 王建平)."""
    return [word for word, tag in jieba.posseg.cut(text) if tag.startswith("nr") and HAN_NAME.fullmatch(word)]


@lru_cache(maxsize=1024)
def places_named(question: str) -> tuple[str, ...]:
    """The places a Chinese question names, folded: words jieba's tagger tags ``ns`` that CC-CEDICT
    knows as a proper name ("云帆科技在新加坡有多少员工?" → 新加坡, Singapore), or that it does not know and
    are three characters or longer (德勒斯登). jieba tags common words ns too (东西 "thing", 城市 "city",
    都市) and cuts others wrongly (中那 of "鐵路中那一種"): on DRCD's reading set they were a third of
    the places found. It tags a place it does not know as a common noun (熊本), so some are missed."""
    latin = cedict_latin_names()
    return tuple(dict.fromkeys(word for word, tag in jieba.posseg.cut(fold(question))
                               if tag == "ns" and (latin.get(word) if word in latin else len(word) > 2)))  # fmt: skip


# what may follow a name that ends it: a verb, a preposition, an adverb, punctuation ("张伟|出任", "王磊|为",
# "吳思穎|將"); not a character jieba leaves on its own after a part of a name ("穆拉|蒂")
_AFTER_A_NAME = ("v", "p", "d", "x")


def han_name_opening(text: str) -> int:
    """The length of the Han name (jieba's nr tags, two to four characters) ``text`` opens with when a
    verb, preposition, adverb or punctuation follows it ("张伟出任海滨市市长" → 2); else 0."""
    words = jieba.posseg.cut(text)
    first, after = next(words, None), next(words, None)
    if first is None or after is None or not first.flag.startswith("nr") or not HAN_NAME.fullmatch(first.word):
        return 0
    return len(first.word) if after.flag.startswith(_AFTER_A_NAME) else 0


def unmentioned(named: Sequence[Named], text: str) -> list[str]:
    """The names of ``named`` that ``text`` mentions in none of their words or forms (case and
    spaces ignored: "Open AI")."""
    if not named:
        return []
    folded, compact = _searchable(text) if len(text) <= _CACHED_CHARS else _folded(text)
    return [n.name for n in named if not any(word.lower() in compact for word in n.words) and not any(form in folded for form in n.forms)]


# Articles kept folded: the same candidate articles come back question after question, and folding one
# takes about 1 ms (the seed articles, 5.5–10k characters). A longer one (an article may hold 5M
# characters) is folded each time rather than kept three times over.
_CACHED_CHARS = 200_000


def _folded(text: str) -> tuple[str, str]:
    """An article folded, and folded without spaces in lower case."""
    folded = fold(text)
    return folded, re.sub(r"\s+", "", folded).lower()


_searchable = lru_cache(maxsize=64)(_folded)


def times_written(word: str, text: str) -> int:
    """How often ``text`` (an article, folded here) writes ``word`` (folded)."""
    folded = _searchable(text)[0] if len(text) <= _CACHED_CHARS else fold(text)
    return folded.count(word)


def listed(words: Iterable[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    items = list(words)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]

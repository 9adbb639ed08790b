"""Extractive answers: ranked passages, the answering sentence, its supporting sentences, citations,
a confidence, and abstention.

Nothing is generated. The answer is one sentence copied from a passage, the one judged to answer
(``rag.judge``); another the judge also rates likely follows it as supporting evidence, with its own
citation, never glued into the answer's text. Each citation gives its offsets in the document and
in the passage, and the text it quotes. Everything here works on a ``Ranking`` and the reader's
readings; the answer stage never searches the store.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

from rag.abstention import Abstainer, features
from rag.amounts import same_amount, words_around
from rag.answer_types import CHINESE, CLAUSE, ORGANISATION_LATIN, TRIMMED, AnswerType, expected_type, fold, given, holds, missing_type, value_bounds
from rag.config import RetrievalSettings
from rag.document import Document
from rag.judge import Judge, JudgedSentence, candidate_sentences, is_headline, judged_sentences
from rag.lexical import tokenize
from rag.mentions import han_name_opening, han_names_in, listed, places_named, times_written, unmentioned
from rag.reader import Reading
from rag.retrieve import Ranking
from rag.succession import asks_for_successor, leaves, takes_office, takes_over, tells_of_succession
from rag.when import Asked, asked, names_former, speaks_of_then, times_spoken_of

# What the confidence means to a reader (``Answer.reliability``). In eval/reports/latest.json's
# reliability bins, answers at or above RELIABLE were right 14 of 16 times on dev (13 of 13 on test),
# LIKELY ones 69% (66%), the rest 41% (33%); few answers reach RELIABLE (16 of 169 shown on dev).
RELIABLE, LIKELY = 0.8, 0.5


@dataclass(frozen=True)
class Passage:
    rank: int
    doc_id: str
    title: str
    source: str | None
    text: str
    start: int
    end: int
    score: float
    highlight: tuple[int, int] | None  # the answering (or best) sentence, as offsets inside ``text``
    date: str | None = None  # its article's publication date (ISO, ``Document.published``), None when unknown


@dataclass(frozen=True)
class Citation:
    rank: int  # the cited passage's rank
    doc_id: str
    start: int  # the quoted sentence's offsets in the document
    end: int
    passage_start: int  # and inside the passage's text
    passage_end: int
    text: str = ""  # the quoted sentence: ``document.text[start:end]``
    time: str | None = None  # the time it speaks of (ISO prefix): a date or year it states, else its article's date
    date: str | None = None  # its article's publication date (ISO), None when unknown


@dataclass(frozen=True)
class Span:
    """The reader's answer inside the cited sentence: ``document.text[start:end] == text``."""

    text: str
    doc_id: str
    start: int
    end: int
    score: float  # P(this is the span) · P(the sentence answers), by the reader (the judge's P for a value found by its type alone)


@dataclass(frozen=True)
class Answer:
    question: str  # as answered: a follow-up's pronoun stands replaced by the earlier answer ("他…" → "林泽宇…")
    text: str | None  # the answering sentence, verbatim (None: abstained)
    passages: list[Passage]
    citations: list[Citation]  # the answering sentence first, then the supporting ones
    abstained: bool
    confidence: float  # P(the answer shown is right); for an abstention, P(the articles answer at all)
    reason: str | None = None  # why the assistant abstained, in words for the reader
    features: dict[str, float] = field(default_factory=dict)  # what the confidence and abstention models saw
    span: Span | None = None  # the exact answer inside the answering sentence, when the reader is confident

    @property
    def supporting(self) -> list[Citation]:
        """Further sentences that state or support the answer, each with its own citation."""
        return self.citations[1:]

    @property
    def reliability(self) -> str:
        """The confidence in words: "reliable", "likely" or "uncertain" ("" for an abstention)."""
        if self.abstained:
            return ""
        return "reliable" if self.confidence >= RELIABLE else "likely" if self.confidence >= LIKELY else "uncertain"

    def to_dict(self) -> dict[str, object]:
        return asdict(self) | {"reliability": self.reliability}


def choose_sentences(ranking: Ranking, judged: Sequence[JudgedSentence], settings: RetrievalSettings) -> list[JudgedSentence]:
    """The answer: the sentence the judge rates highest, then up to ``supporting_sentences`` more that
    the judge gives at least ``supporting_probability`` (``judged``: most likely first)."""
    chosen: list[JudgedSentence] = []
    for sentence in judged:
        if any(sentence.sentence_id == c.sentence_id or _same_text(ranking, sentence.sentence_id, c.sentence_id) for c in chosen):
            continue  # the same sentence, or the same words in another article: cited once
        if chosen and sentence.probability < settings.supporting_probability:
            break
        chosen.append(sentence)
        if len(chosen) > settings.supporting_sentences:
            break
    return chosen


def judge_candidates(ranking: Ranking, settings: RetrievalSettings, readings: Mapping[int, Reading], judge: Judge) -> list[JudgedSentence]:
    """The top passages' sentences as the judge rates them, most likely to hold the answer first."""
    candidates = candidate_sentences(ranking, settings.answer_passages, settings.answer_rank_penalty)
    kind = expected_type(ranking.query.text)
    return judged_sentences(ranking, candidates, readings, kind if kind is None or kind.guides_judge else None, judge)


def _same_text(ranking: Ranking, first: int, second: int) -> bool:
    return ranking.text(ranking.sentences[first]) == ranking.text(ranking.sentences[second])


# An abstention on a question the articles are not about (a recipe, the weather) says so, not that they
# talk about its subject. Told apart by two abstention features (``rag.abstention.features``): off-topic
# when at least OFF_TOPIC_UNKNOWN of the question's rarity-weighted content terms occur nowhere in the
# collection, or the cited article holds less than OFF_TOPIC_COVERAGE of them (also 0 when nothing of an
# English question can be matched). article_coverage alone cannot do it: among dev's abstentions
# off-topic questions reach 0.50 and on-topic ones start at 0.29. The values are the most inclusive round ones
# that call no on-topic abstention of the gold dev split off-topic (on-topic ones reach unknown_terms
# 0.47): 16 of dev's 18 off-topic abstentions get this reason, none of its 14 on-topic unanswerable nor
# 4 answerable ones (held-out test split: 19 of 21 off-topic; wrongly, 1 of 16 on-topic and 1 of 8 answerable).
OFF_TOPIC_UNKNOWN, OFF_TOPIC_COVERAGE = 0.5, 0.25


def abstention_reason(has_sentence: bool, missing: AnswerType | None, seen: Mapping[str, float]) -> str:
    """Why the assistant abstained, in words; ``seen``: the abstention features of its best sentence.
    Off-topic comes before the missing answer type: "no year in the passages" misleads when the
    articles are not about the question at all."""
    if not has_sentence:
        return "No passage matches the question."
    if seen["unknown_terms"] >= OFF_TOPIC_UNKNOWN or seen["article_coverage"] < OFF_TOPIC_COVERAGE:
        return "None of the passages is close enough to the question to answer it."
    if missing is not None:
        return f"The question asks for {missing.noun}, and the closest passages give none."
    return "The passages talk about the question's subject but do not say what it asks."


def _passages(ranking: Ranking, chosen: list[JudgedSentence]) -> list[Passage]:
    cited_in = {c.rank: c.sentence_id for c in reversed(chosen)}
    passages = []
    for rank, candidate in enumerate(ranking.candidates, start=1):
        chunk = ranking.chunks[candidate.chunk_id]
        document = ranking.documents[chunk.doc_id]
        sid = cited_in.get(rank, candidate.sentence_id)
        highlight = None
        if sid is not None:
            sentence = ranking.sentences[sid]
            highlight = (max(sentence.start, chunk.start) - chunk.start, min(sentence.end, chunk.end) - chunk.start)
        passages.append(Passage(rank, chunk.doc_id, document.title, document.source, ranking.text(chunk), chunk.start,
                                chunk.end, round(candidate.score, 4), highlight, document.published))  # fmt: skip
    return passages


def _citation(ranking: Ranking, passage: Passage, sid: int) -> Citation:
    sentence = ranking.sentences[sid]
    start, end = max(sentence.start, passage.start), min(sentence.end, passage.end)
    document = ranking.documents[passage.doc_id]
    time = _time(document, start, end)
    return Citation(passage.rank, passage.doc_id, start, end, start - passage.start, end - passage.start, document.text[start:end], time, passage.date)


def _span(ranking: Ranking, answer: JudgedSentence, readings: Sequence[Reading], settings: RetrievalSettings,
          kind: AnswerType | None) -> Span | None:  # fmt: skip
    """The best of the reader's spans in the answer's sentence (``readings``: best first) that the reader
    is sure enough of and that agrees with what is asked: it holds the kind of value asked for (a year
    for "which year"), and it is not something the question already says ("who will lead after Y left"
    is not answered by Y, nor "新任总经理是谁?" by the one who retires, while the one named right before
    "接任" is shown even when the reader rates it low: ``rag.succession``). None when the reader doubts
    the sentence answers, or the judge doubts the sentence (a span in a wrong sentence is a wrong
    answer), and a span that is nearly the whole sentence
    (``span_max_share``) is no short answer. A span holding the asked quantity and more is cut to it,
    one for "who" to the name it opens with, a name written in Chinese keeps its Latin spelling in
    brackets, and the punctuation closing a clause is dropped: dev's span F1 against the gold answers
    0.579 → 0.621 (experiments.md)."""
    successor = kind is not None and kind.name == "person" and asks_for_successor(ranking.query.text)
    # a sentence telling of the succession asked about is trusted below span_min_judged: the one named
    # before "接任" must still be the reader's or right before the word (the loop below)
    trusted = answer.probability >= settings.span_min_judged or successor and tells_of_succession(answer.text)
    if not readings or readings[0].no_answer >= 0.5 or not trusted:
        return None
    sentence = ranking.sentences[answer.sentence_id]
    document = ranking.documents[sentence.doc_id].text
    asked = fold(ranking.query.text).lower()
    for reading in readings:
        doubtful = reading.score < settings.span_min_score
        if doubtful and not successor:
            break  # best first: the rest score lower still
        if reading.end <= reading.start:
            continue
        start, end = sentence.start + reading.start, sentence.start + reading.end
        if successor and (leaves(document, start, end) or doubtful and not takes_over(document, end)):
            continue  # "新任总经理是谁?" is not answered by the one who retires (rag.succession)
        if kind is not None and kind.checkable and not holds(kind, document[start:end]):
            continue
        # cut to the value first: a span running over nearly the whole sentence may hold a short answer
        start, end = _to_the_value(document, start, end, sentence.start, kind, asked) if kind is not None else (start, end)
        if kind is not None and kind.name in _ONE_CLAUSE:
            end = _to_its_clause(document, start, end)
        end = _to_the_name(document, start, end) if kind is not None and kind.name == "person" else end
        start, end = _to_the_organisation(document, start, end, asked) if kind is not None and kind.name == "organisation" else (start, end)
        text = document[start:end]
        if kind is not None and kind.name == "description" and _NAME_FIRST.fullmatch(text):
            continue  # who someone is is not another name
        if end - start >= settings.span_max_share * (sentence.end - sentence.start) or _echoes(text, asked, ranking.query.tokens) \
                or _inside_a_word(document, start) or _inside_a_word(document, end):  # fmt: skip
            continue
        while end > start + 1 and document[end - 1] in _CLOSING:
            end -= 1
        start, end = _balanced(document, start, end)
        end = _with_alias(document, start, end)
        return Span(document[start:end], sentence.doc_id, start, end, round(reading.score * (1 - reading.no_answer), 4))
    return None


def _the_one_value(ranking: Ranking, answer: JudgedSentence, settings: RetrievalSettings, kind: AnswerType | None) -> Span | None:
    """When the reader shows no span: the one value of the asked quantity or year (``TRIMMED``) that the
    answer's sentence holds and the question does not give, if the judge is sure enough of the sentence
    ("How many employees does OpenAI have?" → "超過1700名"); None when it holds none or several. The
    judge decides, not the reader's P(no answer): heeding that too lost two right spans on dev. Its
    score is the judge's P(the sentence answers). Dev: spans shown 0.634 → 0.649, inside the evidence
    0.868 → 0.871, span F1 0.645 → 0.658 (experiments.md, stop 37)."""
    if kind is None or kind.name not in TRIMMED or answer.probability < settings.span_min_judged:
        return None
    sentence = ranking.sentences[answer.sentence_id]
    document = ranking.documents[sentence.doc_id].text
    found = _one_new_value(document, sentence.start, sentence.end, kind, fold(ranking.query.text).lower())
    if found is None:
        return None
    start, end = found
    return Span(document[start:end], sentence.doc_id, start, end, round(answer.probability, 4))


_CLOSING = "。，,;；:：、!！?？ "  # the punctuation closing a clause is no part of an answer ("Jan Leike也辞职了。")
_LEAD = 4  # characters before a span where the value's word of degree may stand ("大约|30名")


def _to_the_value(document: str, start: int, end: int, sentence_start: int, kind: AnswerType, asked: str) -> tuple[int, int]:
    """A span holding one value of the asked kind and more ("30名走在AI最前沿的科技人员", "4名前董事会成员")
    is cut to the value ("大约30名", "4名"): the reader's spans run on past the value. Kept whole when it
    holds several (which one is asked is the reader's call) or the cut would split a word."""
    return _one_new_value(document, max(sentence_start, start - _LEAD), end, kind, asked, past=start) or (start, end)


def _one_new_value(document: str, start: int, end: int, kind: AnswerType, asked: str, past: int = 0) -> tuple[int, int] | None:
    """Where ``document[start:end]`` writes its one value of ``kind`` (``value_bounds``) that ends after
    ``past`` and that the question (``asked``, folded) does not give; None when it writes none or
    several, or the value's bounds would cut a Latin word or number in two."""
    window = document[start:end]
    found = [(start + s, start + e) for s, e in value_bounds(kind, window) if start + e > past and not given(fold(window[s:e]).strip().lower(), asked)]
    if len(found) != 1 or _inside_a_word(document, found[0][0]) or _inside_a_word(document, found[0][1]):
        return None
    return found[0]


_PAIRED = {"「": "」", "『": "』", "《": "》", "“": "”", "‘": "’", "(": ")", "（": "）", "【": "】", "〈": "〉"}
_OPENING = {closing: opening for opening, closing in _PAIRED.items()}


def _balanced(document: str, start: int, end: int) -> tuple[int, int]:
    """A span whose quotation mark or bracket at either end lacks its partner inside it gets the
    partner standing right beside it ("齿河的盗贼」" → "「齿河的盗贼」", "文苑英华》" → "《文苑英华》", as
    news quotes a nickname: "「播客兄弟」"), or else loses the lone mark ("Sylvia I Romulus)")."""
    if end - start > 1 and (closing := _PAIRED.get(document[start])) is not None and closing not in document[start + 1 : end]:
        if document[end : end + 1] == closing:
            end += 1
        else:
            start += 1
    if end - start > 1 and (opening := _OPENING.get(document[end - 1])) is not None and opening not in document[start : end - 1]:
        if start > 0 and document[start - 1] == opening:
            start -= 1
        else:
            end -= 1
    return start, end


# A span for "who" that opens with a name and runs on ("雅库布(Jakub Pachocki)合作领导研究组织,首席产品官…",
# "Jan Leike也辞职了") is the name: written in Chinese with its Latin spelling in brackets, in Chinese
# with the middle dot, or in capitalised Latin words
_NAME_FIRST = re.compile(r"[\u4e00-\u9fff]{1,8}(?:·[\u4e00-\u9fff]{1,8})?\s*[(（][A-Z][A-Za-z .'’-]{1,40}[)）]"
                         r"|[\u4e00-\u9fff]{1,6}·[\u4e00-\u9fff]{1,8}(?![(（\u4e00-\u9fff])|[A-Z][a-z]+(?:[ -][A-Z][a-z]+)+(?![A-Za-z])")
_AND = re.compile(r"\s*(?:and|&|和|与|與|及|以及|、|,|，)\s*", re.IGNORECASE)


def _to_the_name(document: str, start: int, end: int) -> int:
    """The end of the name a span opens with, when it runs on past it; else ``end``. Names joined
    ("Sam Altman and Greg Brockman") are kept together. A name in Han characters alone ends where
    jieba's tagger ends it ("张伟出任海滨市市长" → "张伟")."""
    name = _NAME_FIRST.match(document, start, end)
    if name is None:
        return start + (han_name_opening(document[start:end]) or end - start)
    joined = _AND.match(document, name.end(), end)
    return end if joined and _NAME_FIRST.match(document, joined.end(), end) else name.end()


_CLAUSE_END = re.compile(r"[,，;；。]")
# Answers that lie inside one clause: a name, a place, a school, a time ("阿尔巴尼亚,16岁移居加拿大" does not
# answer "在哪个国家出生"); quantities are cut to their value instead (``_to_the_value``)
_ONE_CLAUSE = frozenset({"person", "organisation", "place", "school", "year", "date", "time"})


def _to_its_clause(document: str, start: int, end: int) -> int:
    """The end of a span of Chinese text for a name, a place or a time (``_ONE_CLAUSE``) at the end of its
    clause ("xAI,并推出ChatGPT竞品Grok" → "xAI"), unless a name opens the next one (names listed with a
    comma stay together). A span without Chinese is left whole: English lists names with commas."""
    if not CHINESE.search(document, start, end) or (clause := _CLAUSE_END.search(document, start + 1, end)) is None:
        return end
    after = clause.end() + len(document[clause.end() : end]) - len(document[clause.end() : end].lstrip())
    return end if _NAME_FIRST.match(document, after, end) else clause.start()


def _to_the_organisation(document: str, start: int, end: int, asked: str) -> tuple[int, int]:
    """A span of Chinese text for "which company" that holds a name in Latin letters the question does
    not give is cut to the last such name ("竞争对手 Anthropic" → "Anthropic", "AI 公司 Safe
    Superintelligence Inc" → "Safe Superintelligence Inc"). A span without Chinese is left whole:
    there every word is Latin."""
    if not CHINESE.search(document, start, end):
        return start, end
    names = [m for m in ORGANISATION_LATIN.finditer(document, start, end) if fold(m.group(0)).lower() not in asked]
    return (names[-1].start(), names[-1].end()) if names else (start, end)


# A name's spelling in Latin letters in brackets right after it: "米拉·穆拉蒂(Mira Murati)", "安全超级智能(SSI)"
_ALIAS = re.compile(r"\s*[(（]\s*[A-Za-z][A-Za-z0-9 .'’&-]{0,40}[)）]")


def _with_alias(document: str, start: int, end: int) -> int:
    """The span's end, past the Latin spelling in brackets that follows a name written in Chinese."""
    if not (end > start and "\u4e00" <= document[end - 1] <= "\u9fff"):
        return end
    alias = _ALIAS.match(document, end)
    return alias.end() if alias else end


_UNIT = 3  # characters a value may write besides its amount ("1500亿美元" → "美元")


def _echoes(span: str, asked: str, tokens: Sequence[str]) -> bool:
    """Whether a span only repeats what the question says (``asked``: the question folded, in lower
    case; ``tokens``: its words): it is in the question or its amount is (in any script), or its words (of two characters or more) are
    all among the question's, an English question's keywords included (its "Murati" is 米拉·穆拉蒂 in
    the articles), or it is a name written with "·" whose family name the question gives
    ("穆拉蒂辞职后谁接任?" is not answered by 米拉·穆拉蒂)."""
    folded = fold(span).strip().lower()
    if folded in asked or same_amount(folded, asked) and len(words_around(folded)) <= _UNIT:
        return True
    words = {word for word in tokenize(span) if len(word) > 1}
    family = {word for word in tokenize(folded.rsplit("·", 1)[-1]) if len(word) > 1} if "·" in folded else set()
    return bool(words) and words <= set(tokens) or bool(family) and family <= set(tokens)


def _inside_a_word(text: str, offset: int) -> bool:
    """Whether ``offset`` cuts a Latin word or number in two ("Alt|man"): no span starts or ends there."""
    return 0 < offset < len(text) and all(c.isascii() and c.isalnum() for c in text[offset - 1 : offset + 1])


def assemble(ranking: Ranking, settings: RetrievalSettings, abstainer: Abstainer | None, judged: Sequence[JudgedSentence],
             readings: Mapping[int, Sequence[Reading]] | None = None) -> Answer:  # fmt: skip
    """Passages in rank order with their answering sentence marked, the answer, its supporting
    sentences and their citations, or an abstention (the passages are then the closest matches).
    ``judged``: the candidate sentences as the judge rates them (``judge_candidates``); ``readings``:
    the reader's view of the sentences it read, up to ``span_n_best`` readings each, best first (none
    without a reader)."""
    readings = readings or {}
    question = ranking.query.text
    kind = expected_type(question)
    who = kind is not None and kind.name == "person"
    mentioning, unnamed = _mentioning(ranking, judged)
    if judged and not mentioning:
        words = listed(unnamed[judged[0].doc_id])
        return _unmentioned(ranking, judged[0], f"The closest articles never mention {words}, which the question asks about.", abstainer)
    mentioning = _body_before_headline(ranking, _about_the_people(ranking, mentioning), settings.supporting_probability)
    if places_named(question):
        mentioning = _likely_first(mentioning, settings.supporting_probability, later=lambda s: bool(_unsaid_places(ranking, question, s)))
    if who and asks_for_successor(question):
        mentioning = _taking_over_first(mentioning, settings.supporting_probability)
    when = asked(question)
    if when.period is not None:  # a named time: the likely sentences from then first (experiments.md, stop 37)
        likely = settings.period_share * mentioning[0].probability if mentioning else 1.0
        mentioning = _from_then(ranking, mentioning, when, likely, holder=who)
    chosen = choose_sentences(ranking, mentioning, settings)
    passages = _passages(ranking, chosen)
    citations = [_citation(ranking, passages[c.rank - 1], c.sentence_id) for c in chosen]
    # A state that changes: the newest of the chosen sentences answers, what other periods said follows
    # newest first. Dev's 13 questions about a time: the answer's sentence holds the asked period's (or
    # the newest) evidence for 0.615 → 0.692 (first sentence holding any evidence unchanged, 0.750).
    if when.current:  # one that names the asked office as someone's former one comes after the others
        order = sorted(range(len(citations)), key=lambda i: (not names_former(citations[i].text, question), citations[i].time or ""), reverse=True)
        citations, chosen = [citations[i] for i in order], [chosen[i] for i in order]
    first = chosen[0] if chosen else None
    if first is not None and (elsewhere := _unsaid_places(ranking, question, first)):  # (experiments.md, stop 39)
        return _unmentioned(ranking, first, f"The closest passages do not say this about {listed(elsewhere)}.", abstainer)
    found = readings.get(first.sentence_id, ()) if first is not None else ()
    reading = found[0] if found else None
    missing = (missing_type(question, citations[0].text) or _age_of_another(ranking, citations[0].text)) if citations else None
    reads = None if reading is None else 1.0 - reading.no_answer
    seen = features(ranking, first and first.sentence_id, first and first.rank, reads, missing, first.probability if first else 0.0)
    if not citations or (abstainer is not None and abstainer.abstains(seen)):
        answerable = abstainer.answerable.probability(seen) if abstainer else 0.0
        reason = abstention_reason(bool(citations), missing, seen)
        return Answer(question, None, passages, [], True, round(answerable, 4), reason, features=seen)
    assert first is not None
    confidence = abstainer.correct.probability(seen) if abstainer else 1.0
    span = _span(ranking, first, found, settings, kind) or _the_one_value(ranking, first, settings, kind)
    return Answer(question, citations[0].text, passages, citations, False, round(confidence, 4), features=seen, span=span)


def _from_then(ranking: Ranking, judged: Sequence[JudgedSentence], when: Asked, likely: float, holder: bool) -> list[JudgedSentence]:
    """For a question naming a time, the sentences the judge rates at least ``likely`` with those that
    speak of the asked time first (``rag.when.speaks_of_then``; of any time they state: "2020年赛事因新冠
    疫情停办一年,2023年首次获评……" answers "为什么在2020年没有举行?"), then the others in the judge's order.
    When none does and the question asks who held something then (``holder``), the state then is the
    last change before it: of the sentences telling of someone taking an office
    (``rag.succession.takes_office``), the one stating the latest time before the period comes first ("2021年
    海滨市的市长是谁?" → "2020年3月,……原副市长李娜接任市长", not 2016's mayor nor 2024's)."""
    times = {s.sentence_id: _times(ranking.documents[s.doc_id], s.start, s.end) for s in judged if s.probability >= likely}
    text = {s.sentence_id: s.text for s in judged}
    if not holder or any(speaks_of_then(when, time) for found in times.values() for time in found):
        return _likely_first(judged, likely, later=lambda s: not any(speaks_of_then(when, time) for time in times[s.sentence_id]))
    assert when.period is not None
    before = {sid: max((time for time in found if time[: len(when.period)] < when.period), default="") if takes_office(text[sid]) else ""
              for sid, found in times.items()}  # fmt: skip
    latest = max(before.values(), default="")
    return _likely_first(judged, likely, later=lambda s: not latest or before[s.sentence_id] != latest)


def _taking_over_first(judged: Sequence[JudgedSentence], likely: float) -> list[JudgedSentence]:
    """For "who took over": the sentences the judge rates at least ``likely`` that tell of someone taking
    another's place (``rag.succession.tells_of_succession``) first: the judge rated "现年65岁的周国栋是…"
    (the one who retires) over "……周国栋因到龄正式退休,由原集团副院长林泽宇接任" (0.66 vs 0.25)."""
    return _likely_first(judged, likely, later=lambda s: not tells_of_succession(s.text))


def _body_before_headline(ranking: Ranking, judged: Sequence[JudgedSentence], likely: float) -> list[JudgedSentence]:
    """A headline restates its story, the body gives the detail: a headline (``rag.judge.is_headline``)
    comes after the sentences the judge rates at least ``likely`` of its article's body ("星河汽车宣布新任
    首席执行官 创始人林志远转任董事长" was the answer to "新任首席执行官是谁?" over the lead that names her)."""
    headlines = {s.sentence_id for s in judged if is_headline(ranking.documents[s.doc_id].text, s.start, s.end)}
    told = {s.doc_id for s in judged if s.probability >= likely and s.sentence_id not in headlines}
    return _likely_first(judged, likely, later=lambda s: s.sentence_id in headlines and s.doc_id in told)


def _likely_first(judged: Sequence[JudgedSentence], likely: float, later: Callable[[JudgedSentence], bool]) -> list[JudgedSentence]:
    """The sentences the judge rates at least ``likely``, those ``later`` holds for after the others (each
    group in the judge's order), then the rest in the judge's order."""
    rated = [s for s in judged if s.probability >= likely]
    return sorted(rated, key=later) + [s for s in judged if s.probability < likely]


def _time(document: Document, start: int, end: int) -> str | None:
    """The time ``document.text[start:end]`` speaks of (the latest of ``_times``)."""
    return max(_times(document, start, end), default=None)


def _times(document: Document, start: int, end: int) -> list[str]:
    """The times ``document.text[start:end]`` speaks of (``rag.when.times_spoken_of``), read in its paragraph."""
    text = document.text
    return times_spoken_of(text[start:end], document.published, before=text[text.rfind("\n", 0, start) + 1 : start])


def _mentioning(ranking: Ranking, judged: Sequence[JudgedSentence]) -> tuple[list[JudgedSentence], dict[str, list[str]]]:
    """The judged sentences whose article mentions every name a Chinese question writes in Latin
    letters (``rag.mentions``: all of them when it names nothing), and per article of a judged
    sentence the names it does not mention."""
    if not ranking.query.named:
        return list(judged), {}
    unnamed: dict[str, list[str]] = {}
    for sentence in judged:
        if sentence.doc_id not in unnamed:
            unnamed[sentence.doc_id] = unmentioned(ranking.query.named, ranking.documents[sentence.doc_id].text)
    return [sentence for sentence in judged if not unnamed[sentence.doc_id]], unnamed


def _about_the_people(ranking: Ranking, judged: Sequence[JudgedSentence]) -> list[JudgedSentence]:
    """The judged sentences whose article writes every person a Chinese question names in Han characters
    (``Query.people``: the name, or the Latin one CC-CEDICT gives), or all of them when no article does:
    "吳思穎今年幾歲?" is not answered with "陈晓雯今年46岁" of another article, while a name no table links
    to the form an article uses (奥尔特曼 for 奥特曼) leaves nothing out."""
    people = ranking.query.people
    if not people:
        return list(judged)
    writes = {doc_id: not unmentioned(people, ranking.documents[doc_id].text) for doc_id in {s.doc_id for s in judged}}
    return [s for s in judged if writes[s.doc_id]] or list(judged)


def _age_of_another(ranking: Ranking, text: str) -> AnswerType | None:
    """The age type, when a question asks the age of someone it names in Han characters and every age
    ``text`` states is another's: the one name in its clause is not theirs ("孙立伟今年多大岁数?" is not
    answered by "63岁的王建平将于年底退休,由……孙立伟接任"). An age whose clause names no one, or several,
    may be theirs. jieba may tag part of a name (静怡 of 何静怡), so either name may hold the other."""
    kind = expected_type(ranking.query.text)
    people = [person.name for person in ranking.query.people]
    if kind is None or kind.name != "age" or not people:
        return None
    folded = fold(text)
    owners = []
    for start, end in value_bounds(kind, text):
        clause_start = max(folded.rfind(mark, 0, start) for mark in ",，;；。!！?？") + 1
        names = han_names_in(folded[clause_start:start] + CLAUSE.match(folded, end).group(0))  # type: ignore[union-attr]
        owners.append(names[0] if len(names) == 1 else "")
    theirs = any(not owner or any(person in owner or owner in person for person in people) for owner in owners)
    return kind if owners and not theirs else None


_LEAD = 200  # characters of an article's opening (its dateline and lead) that set where it happens
_SETTING = 2  # a place an article writes this often is where its story happens (DRCD: "在美國,哪個州…")
_DIVISION = re.compile(r"(?<=..)[市省县縣州区區]$")  # "台中市" is written 台中 in a dateline, 中市 nowhere


def _unsaid_places(ranking: Ranking, question: str, sentence: JudgedSentence) -> list[str]:
    """The places a Chinese question names (``rag.mentions.places_named``) that neither ``sentence`` nor
    its paragraph up to it ("……在泰国罗勇府的首座海外工厂建设。该工厂……年产能为15万辆。"), its article's
    title nor its opening (where the story happens: "中央社記者陳怡君台中2024年10月8日電") names, and that
    the article writes only once (a place it writes twice or more is where it happens too): "云帆科技在新
    加坡有多少员工?" is not answered by the company's total, nor the investment in Dresden by the one in
    Phoenix. On DRCD's reading set (836 answerable questions) it abstains for 11 whose paragraph names
    the place once, after the answer ("在美國,哪個州…"): 2.3% → 3.6% abstained (experiments.md, stop 39)."""
    places = places_named(question)
    if not places:
        return []
    document = ranking.documents[sentence.doc_id]
    text = document.text
    paragraph = text.rfind("\n", 0, sentence.start) + 1
    said = fold("\n".join((document.title, text[:_LEAD], text[paragraph : sentence.end])))
    written = {place: _DIVISION.sub("", place) for place in places}
    return [place for place in places if written[place] not in said and times_written(written[place], text) < _SETTING]


def _unmentioned(ranking: Ranking, best: JudgedSentence, reason: str, abstainer: Abstainer | None) -> Answer:
    """An abstention: what the question names is not where the answer would be (``reason`` says
    which); its confidence is P(answerable) as the abstention model sees the best candidate."""
    seen = features(ranking, best.sentence_id, best.rank, None, None, best.probability)
    answerable = abstainer.answerable.probability(seen) if abstainer else 0.0
    return Answer(ranking.query.text, None, _passages(ranking, []), [], True, round(answerable, 4), reason, features=seen)

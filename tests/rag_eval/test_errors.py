"""The error analysis: each miss in exactly one category, the first that applies, with its tags; the
span judged apart; the table. Built from hand-made answers (no model)."""

from __future__ import annotations

from rag import Answer, Citation, Passage, Span
from rag_eval.errors import classify, markdown
from rag_eval.gold import Evidence, GoldQuestion

TEXT = "OpenAI宣布融资。公司估值达到1570亿美元。Mira Murati将离开公司。"
#       0          10                 25
TEXTS = {"d": TEXT}
EVIDENCE = (Evidence("d", 11, 25),)  # 公司估值达到1570亿美元。


def _question(evidence: tuple[Evidence, ...] = EVIDENCE, lang: str = "zh-Hans", topic: str | None = None, time: str | None = None) -> GoldQuestion:
    return GoldQuestion("q", "估值多少?", lang, "amount", False, None, evidence, topic, time=time)


def _answer(*quoted: tuple[int, int], passages: tuple[tuple[int, int], ...] = ((0, 39),), abstained: bool = False,
            reason: str | None = None, span: Span | None = None) -> Answer:  # fmt: skip
    shown = [Passage(rank, "d", "t", None, TEXT[s:e], s, e, 1.0, None) for rank, (s, e) in enumerate(passages, start=1)]
    citations = [Citation(1, "d", s, e, s, e, TEXT[s:e]) for s, e in quoted]
    return Answer("估值多少?", None if abstained else TEXT[quoted[0][0] : quoted[0][1]], shown, [] if abstained else citations,
                  abstained, 0.9, reason, span=span)  # fmt: skip


def test_an_answerable_question_gets_the_first_category_that_applies():
    rule = _answer(abstained=True, reason="The question asks for an amount, and the closest passages give none.")
    assert classify(_question(), rule, TEXTS).category == "abstained: answer-type rule"
    assert classify(_question(), _answer(abstained=True, reason="None of the passages is close enough."), TEXTS).category == "abstained"
    elsewhere = _answer((0, 11), passages=((26, 39),))  # no passage covers the evidence
    assert classify(_question(), elsewhere, TEXTS).category == "wrong passage"
    assert classify(_question(), _answer((0, 11)), TEXTS).category == "right passage, wrong sentence"
    assert classify(_question(), _answer((0, 11), (11, 25)), TEXTS).category == "evidence not in the first sentence"
    right = classify(_question(), _answer((11, 25), (0, 11)), TEXTS)
    assert right.category == "right" and right.evidence == TEXT[11:25] and right.answer == TEXT[11:25]


def test_the_span_of_a_right_answer_is_judged_apart():
    inside = Span("1570亿美元", "d", 17, 24, 0.8)
    outside = Span("OpenAI", "d", 0, 6, 0.8)
    assert classify(_question(), _answer((11, 25), span=inside), TEXTS).span == "right"
    assert classify(_question(), _answer((11, 25), span=outside), TEXTS).span == "wrong"
    assert classify(_question(), _answer((11, 25)), TEXTS).span == "missing"
    assert classify(_question(), _answer((0, 11), span=inside), TEXTS).span == ""  # a wrong answer: no span expected


def test_an_unanswerable_question_is_right_when_the_assistant_abstains_and_tags_are_kept():
    assert classify(_question((), topic="on"), _answer((0, 11)), TEXTS).category == "answered (on-topic)"
    assert classify(_question((), topic="off"), _answer((0, 11)), TEXTS).category == "answered (off-topic)"
    assert classify(_question((), topic="off"), _answer(abstained=True), TEXTS).category == "right"
    murati = (Evidence("d", 26, 39),)  # "Mira Murati将离开公司。": Latin words in the evidence
    assert classify(_question(murati, lang="en", time="current"), _answer((26, 39)), TEXTS).tags == ("English", "English in the evidence", "time")


def test_the_table_counts_each_category_and_lists_the_misses_but_not_the_right_answers():
    misses = [classify(_question(), _answer((11, 25)), TEXTS), classify(_question(), _answer((0, 11)), TEXTS)]
    table = markdown(misses, "dev")
    assert table.startswith("### Misses on the dev split: 2 questions (2 answerable)")
    assert "| right passage, wrong sentence | 1 | 0 | 0 | 0 |" in table and "| right | 1 | 0 | 0 | 0 |" in table
    assert table.count("| q | zh-Hans |") == 1 and "| q | zh-Hans | right passage, wrong sentence | 估值多少? | OpenAI宣布融资。 |" in table

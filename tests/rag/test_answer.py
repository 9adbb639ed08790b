"""The answer: one sentence, the one judged to answer, then supporting sentences with their own
citations; the confidence and abstention; the span. Built from hand-made rankings (no model)."""

from __future__ import annotations

import numpy as np
import pytest

from rag.abstention import FEATURES, Abstainer, Logistic
from rag.answer import OFF_TOPIC_COVERAGE, OFF_TOPIC_UNKNOWN, abstention_reason, assemble, judge_candidates
from rag.answer_types import ASKED
from rag.config import RetrievalSettings
from rag.document import Document
from rag.judge import FEATURES as JUDGE_FEATURES
from rag.judge import Judge
from rag.lexical import term_id, tokenize
from rag.mentions import Named
from rag.query import Query
from rag.reader import Reading
from rag.retrieve import Candidate, Closeness, Ranking
from rag.store.base import ChunkRecord, SentenceRecord

TEXT = "奥特曼宣布了消息。穆拉蒂将离开公司。\n她在公司工作了六年半。"
#       0        9 10     18 19        30


def _ranking(sentence_scores: list[tuple[int, float]], question: str = "穆拉蒂要去哪里?", known: bool = True) -> Ranking:
    """``known``: the collection holds the question's words (the abstention features read them)."""
    document = Document("d", "d.txt", "t", "zh-Hans", "0", TEXT)
    sentences = {0: SentenceRecord(0, "d", 0, 9, (0,)), 1: SentenceRecord(1, "d", 9, 18, (0,)), 2: SentenceRecord(2, "d", 19, 30, (0,))}
    chunks = {0: ChunkRecord(0, "d", 0, 30, (0, 1, 2))}
    tokens = tuple(tokenize(question))
    query = Query(question, "zh-Hans", np.zeros(2, np.float32), np.zeros(2, np.float32), tokens)
    return Ranking(query, [Candidate(0, 1.0, tuple(sentence_scores))], chunks, sentences, {"d": document}, Closeness(0.9, 0.9),
                   frozenset(term_id(token) for token in tokens) if known else frozenset())  # fmt: skip


def _judge(**weights: float) -> Judge:
    return Judge(tuple(weights.get(name, 0.0) for name in JUDGE_FEATURES), weights.get("bias", 0.0))


def _answer(ranking: Ranking, judge: Judge, abstainer: Abstainer | None = None,
            readings: dict[int, Reading | list[Reading]] | None = None, settings: RetrievalSettings | None = None):  # fmt: skip
    """``readings``: a sentence's reading, or its n best readings, best first."""
    settings = settings or RetrievalSettings()
    n_best = {sid: found if isinstance(found, list) else [found] for sid, found in (readings or {}).items()}
    best = {sid: found[0] for sid, found in n_best.items()}
    return assemble(ranking, settings, abstainer, judge_candidates(ranking, settings, best, judge), n_best)


def test_the_answer_is_one_sentence_with_exact_offsets_and_its_passage_marked():
    answer = _answer(_ranking([(1, 0.9), (0, 0.5), (2, 0.4)]), Judge.retrieval_only())
    assert not answer.abstained and answer.text == "穆拉蒂将离开公司。" and " … " not in answer.text
    first, *supporting = answer.citations
    assert (first.start, first.end, first.passage_start, first.passage_end, first.text) == (9, 18, 9, 18, "穆拉蒂将离开公司。")
    assert TEXT[first.start : first.end] == first.text
    (passage,) = answer.passages
    assert passage.text == TEXT and passage.highlight == (9, 18) and passage.title == "t"


def test_the_judge_not_retrieval_decides_the_first_sentence_and_others_follow_as_support():
    # retrieval prefers sentence 0; a judge that weighs the reader prefers sentence 2, which it read as answering
    readings = {0: Reading(0, 3, 0.2, 0.9), 1: Reading(0, 3, 0.5, 0.5), 2: Reading(7, 11, 0.9, 0.1)}
    judge = _judge(score_gap=1.0, reader_answers=4.0, bias=-2.0)
    answer = _answer(_ranking([(0, 0.9), (1, 0.85), (2, 0.8)]), judge, readings=readings)
    # by hand: z0 = 0 + 4·0.1 − 2 = −1.6, z1 = −0.05 + 4·0.5 − 2 = −0.05, z2 = −0.1 + 4·0.9 − 2 = 1.5
    assert answer.text == "她在公司工作了六年半。"
    assert [c.text for c in answer.supporting] == ["穆拉蒂将离开公司。"]  # P = 0.49 ≥ 0.2; sentence 0 (P = 0.17) is left out
    strict = _answer(_ranking([(0, 0.9), (1, 0.85), (2, 0.8)]), judge, readings=readings, settings=RetrievalSettings(supporting_probability=0.5))
    assert strict.supporting == []


def test_the_same_words_in_two_articles_are_cited_once():
    twin = Document("e", "e.txt", "t2", "zh-Hans", "1", "穆拉蒂将离开公司。")
    ranking = _ranking([(1, 0.9)])
    sentences = ranking.sentences | {3: SentenceRecord(3, "e", 0, 9, (1,))}
    chunks = ranking.chunks | {1: ChunkRecord(1, "e", 0, 9, (3,))}
    candidates = [*ranking.candidates, Candidate(1, 0.9, ((3, 0.9),))]
    twins = Ranking(ranking.query, candidates, chunks, sentences, ranking.documents | {"e": twin}, ranking.closeness)
    answer = _answer(twins, _judge(bias=5.0))  # every sentence rated likely
    assert answer.text == "穆拉蒂将离开公司。" and len(answer.citations) == 1


def _only(feature: str, weight: float, bias: float) -> Logistic:
    return Logistic(tuple(weight if name == feature else 0.0 for name in FEATURES), bias)


def test_a_question_asking_for_a_year_abstains_when_the_answer_has_none():
    strict = Abstainer(_only("answer_type_mismatch", -5.0, 1.0), 0.5, _only("answer_type_mismatch", 0.0, 1.0))
    assert not _answer(_ranking([(1, 0.9)], "穆拉蒂做了什么?"), Judge.retrieval_only(), strict).abstained
    answer = _answer(_ranking([(1, 0.9)], "穆拉蒂哪一年离开?"), Judge.retrieval_only(), strict)
    assert answer.abstained and answer.text is None and answer.citations == [] and answer.reliability == ""
    assert answer.reason == "The question asks for a year, and the closest passages give none."
    assert answer.features["answer_type_mismatch"] == 1.0 and set(answer.features) == set(FEATURES)
    assert answer.confidence == round(1 / (1 + np.exp(4.0)), 4)  # for an abstention: P(the articles answer)
    assert len(answer.passages) == 1  # the closest passage is still shown


def test_an_offtopic_abstention_says_no_passage_is_close_enough():
    always = Abstainer(_only("judged", 0.0, -5.0), 0.5, _only("judged", 0.0, 0.0))  # abstains on everything
    offtopic = _answer(_ranking([(1, 0.9)], "红烧肉怎么做才好吃?", known=False), Judge.retrieval_only(), always)
    assert offtopic.features["unknown_terms"] == 1.0  # the collection holds none of its words
    assert offtopic.abstained and offtopic.reason == "None of the passages is close enough to the question to answer it."
    ontopic = _answer(_ranking([(1, 0.9)], "穆拉蒂离开的原因是什么?"), Judge.retrieval_only(), always)
    assert ontopic.features["unknown_terms"] == 0.0 and ontopic.features["article_coverage"] > OFF_TOPIC_COVERAGE
    assert ontopic.reason == "The passages talk about the question's subject but do not say what it asks."


YEAR = next(kind for kind in ASKED if kind.name == "year")
ON_TOPIC = {"unknown_terms": 0.1, "article_coverage": 0.8}


@pytest.mark.parametrize(
    ("has_sentence", "missing", "seen", "reason"),
    [
        (False, None, ON_TOPIC, "No passage matches the question."),
        (True, None, ON_TOPIC, "The passages talk about the question's subject but do not say what it asks."),
        (True, YEAR, ON_TOPIC, "The question asks for a year, and the closest passages give none."),
        # off-topic: most of its words are nowhere in the collection, or hardly any in the cited article
        (True, None, {"unknown_terms": OFF_TOPIC_UNKNOWN, "article_coverage": 0.8}, "None of the passages is close enough"),
        (True, None, {"unknown_terms": 0.0, "article_coverage": OFF_TOPIC_COVERAGE - 0.01}, "None of the passages is close enough"),
        (True, None, {"unknown_terms": 0.0, "article_coverage": 0.0}, "None of the passages is close enough"),  # no term matched
        (True, YEAR, {"unknown_terms": 0.63, "article_coverage": 0.37}, "None of the passages is close enough"),  # before the type
        # just on the on-topic side of both thresholds
        (True, None, {"unknown_terms": OFF_TOPIC_UNKNOWN - 0.01, "article_coverage": OFF_TOPIC_COVERAGE}, "The passages talk about"),
    ],
)  # fmt: skip
def test_the_abstention_reason_tells_offtopic_from_ontopic_questions(has_sentence, missing, seen, reason):
    assert abstention_reason(has_sentence, missing, seen).startswith(reason)


@pytest.mark.parametrize(("bias", "label"), [(3.0, "reliable"), (0.5, "likely"), (-0.5, "uncertain")])
def test_the_confidence_is_the_correctness_model_and_reads_as_a_word(bias, label):
    answers = Logistic((0.0,) * len(FEATURES), 10.0)
    answer = _answer(_ranking([(1, 0.9)]), Judge.retrieval_only(), Abstainer(answers, 0.5, Logistic((0.0,) * len(FEATURES), bias)))
    assert answer.confidence == round(1 / (1 + np.exp(-bias)), 4) and answer.reliability == label
    assert answer.to_dict()["reliability"] == label


def test_a_confident_reading_of_the_answers_sentence_is_the_span_with_document_offsets():
    ranking = _ranking([(1, 0.9), (0, 0.5)], "谁将离开公司?")
    settings = RetrievalSettings(span_min_score=0.3)
    answer = _answer(ranking, Judge.retrieval_only(), readings={1: Reading(0, 3, 0.8, 0.1), 0: Reading(0, 2, 0.9, 0.1)}, settings=settings)
    assert answer.span is not None and answer.span.text == "穆拉蒂" and (answer.span.start, answer.span.end) == (9, 12)
    assert TEXT[answer.span.start : answer.span.end] == answer.span.text and answer.span.score == round(0.8 * 0.9, 4)
    unsure = _answer(ranking, Judge.retrieval_only(), readings={1: Reading(0, 3, 0.2, 0.1)}, settings=settings)
    refused = _answer(ranking, Judge.retrieval_only(), readings={1: Reading(0, 3, 0.9, 0.7)}, settings=settings)
    assert unsure.span is None and refused.span is None and unsure.text == refused.text == "穆拉蒂将离开公司。"


def test_a_span_that_disagrees_with_the_question_is_not_shown():
    settings = RetrievalSettings(span_min_score=0.1, span_min_judged=0.0)
    readings = {1: Reading(0, 3, 0.8, 0.1)}  # "穆拉蒂"
    said = _answer(_ranking([(1, 0.9)], "穆拉蒂离开后由谁接任?"), Judge.retrieval_only(), readings=readings, settings=settings)
    assert said.span is None and said.text == "穆拉蒂将离开公司。"  # the question already names her: not its answer
    untyped = _answer(_ranking([(1, 0.9)], "她哪一年离开?"), Judge.retrieval_only(), readings=readings, settings=settings)
    assert untyped.span is None  # a name where a year is asked
    doubted = _answer(_ranking([(1, 0.9)], "谁将离开公司?"), _judge(bias=-1.0), readings=readings,
                      settings=RetrievalSettings(span_min_score=0.1, span_min_judged=0.4))  # fmt: skip
    assert doubted.span is None and doubted.text == "穆拉蒂将离开公司。"  # the judge doubts the sentence: P = 0.27


def _one_sentence(text: str, question: str, keywords: tuple[str, ...] = ()) -> Ranking:
    """A document of one sentence; ``keywords``: the Chinese words an English question is expanded with."""
    document = Document("d", "d.txt", "t", "zh-Hans", "0", text)
    tokens = (*tokenize(question), *keywords)
    query = Query(question, "en" if question.isascii() else "zh-Hans", np.zeros(2, np.float32), np.zeros(2, np.float32), tokens)
    return Ranking(query, [Candidate(0, 1.0, ((0, 0.9),))], {0: ChunkRecord(0, "d", 0, len(text), (0,))},
                   {0: SentenceRecord(0, "d", 0, len(text), (0,))}, {"d": document}, Closeness(0.9, 0.9),
                   frozenset(term_id(token) for token in tokens))  # fmt: skip


def test_a_span_naming_whom_the_question_names_in_other_words_is_not_shown():
    settings = RetrievalSettings(span_min_score=0.1, span_min_judged=0.0)
    text = "米拉·穆拉蒂宣布辞职后,马克·陈接任。"
    named = {0: [Reading(0, 6, 0.8, 0.1)]}  # 米拉·穆拉蒂
    # an English question: its keywords hold her name as the articles write it (米拉·穆拉蒂(Mira Murati)),
    # in jieba's words of two characters or more (米拉, 穆拉 of 穆拉 + 蒂), as the expansion gives them
    english = _one_sentence(text, "Who replaced Murati as CTO?", keywords=("米拉", "穆拉"))
    assert _answer(english, Judge.retrieval_only(), readings=named, settings=settings).span is None
    # a Chinese question that gives her family name only
    family = _one_sentence(text, "穆拉蒂辞职后谁接任?")
    assert _answer(family, Judge.retrieval_only(), readings=named, settings=settings).span is None
    # the next of the n best, the successor, is shown instead; a question naming nobody gets her name
    n_best = {0: [Reading(0, 6, 0.8, 0.1), Reading(12, 16, 0.5, 0.1)]}
    assert _answer(family, Judge.retrieval_only(), readings=n_best, settings=settings).span.text == "马克·陈"
    assert _answer(_one_sentence(text, "谁宣布辞职?"), Judge.retrieval_only(), readings=named, settings=settings).span.text == "米拉·穆拉蒂"


def test_a_span_never_cuts_a_latin_word_or_number_in_two():
    settings = RetrievalSettings(span_min_score=0.1, span_min_judged=0.0)
    text = "董事会解雇 Sam Altman 后,GPT-4o 于5月发布。"
    #       0     5 6   10     17    22  25
    ranking = _one_sentence(text, "谁被解雇了?")
    cut = [Reading(10, 13, 0.8, 0.1), Reading(6, 16, 0.5, 0.1)]  # "Alt" of Altman, then "Sam Altman"
    assert _answer(ranking, Judge.retrieval_only(), readings={0: cut}, settings=settings).span.text == "Sam Altman"
    assert _answer(ranking, Judge.retrieval_only(), readings={0: cut[:1]}, settings=settings).span is None
    model = _one_sentence(text, "五月发布了什么?")
    assert _answer(model, Judge.retrieval_only(), readings={0: [Reading(19, 24, 0.8, 0.1)]}, settings=settings).span is None  # GPT-4 of GPT-4o
    assert _answer(model, Judge.retrieval_only(), readings={0: [Reading(19, 25, 0.8, 0.1)]}, settings=settings).span.text == "GPT-4o"


def test_a_span_that_is_nearly_its_whole_sentence_is_no_short_answer():
    # 穆拉蒂将离开公司。 is 9 characters: a span of 8 (0.89) is a short answer, one of 9 is the sentence again
    settings = RetrievalSettings(span_min_score=0.1, span_min_judged=0.0, span_max_share=0.9)
    ranking = _ranking([(1, 0.9)], "穆拉蒂会怎样?")
    almost = _answer(ranking, Judge.retrieval_only(), readings={1: [Reading(0, 8, 0.8, 0.1)]}, settings=settings)
    assert almost.span is not None and almost.span.text == "穆拉蒂将离开公司"
    whole = _answer(ranking, Judge.retrieval_only(), readings={1: [Reading(0, 9, 0.8, 0.1)]}, settings=settings)
    assert whole.text == "穆拉蒂将离开公司。" and whole.span is None
    # the next of its n best spans that is short enough is shown instead
    n_best = [Reading(0, 9, 0.8, 0.1), Reading(3, 8, 0.3, 0.1)]
    assert _answer(ranking, Judge.retrieval_only(), readings={1: n_best}, settings=settings).span.text == "将离开公司"


def test_the_span_is_the_best_of_the_n_best_that_agrees_with_the_question():
    settings = RetrievalSettings(span_min_score=0.1, span_min_judged=0.0)
    ranking = _ranking([(2, 0.9)], "她工作了多久?")  # asks for a length of time
    # the reader's best span of 她在公司工作了六年半。 is 公司 (no length of time), then 六年半
    n_best = [Reading(2, 4, 0.6, 0.1), Reading(7, 10, 0.3, 0.1), Reading(7, 9, 0.05, 0.1)]
    answer = _answer(ranking, Judge.retrieval_only(), readings={2: n_best}, settings=settings)
    assert answer.span is not None and answer.span.text == "六年半" and (answer.span.start, answer.span.end) == (26, 29)
    assert answer.span.score == round(0.3 * 0.9, 4)  # the chosen span's own score
    only_best = _answer(ranking, Judge.retrieval_only(), readings={2: n_best[:1]}, settings=settings)
    by_type = (only_best.span.text, only_best.span.score) if only_best.span else None
    assert by_type == ("六年半", 0.5)  # one reading (span_n_best 1) of no length of time: the sentence's one value, the judge's P
    # none of the right kind scores span_min_score: no reader's span, not a doubtful one
    strict = RetrievalSettings(span_min_score=0.4, span_min_judged=0.0)
    doubtful = _answer(ranking, Judge.retrieval_only(), readings={2: n_best}, settings=strict)
    assert doubtful.span is not None and doubtful.span.score == 0.5  # the value by its type, not the reader's
    # a span the question already says is skipped too; an empty one is never shown
    said = [Reading(0, 3, 0.8, 0.1), Reading(0, 0, 0.5, 0.1), Reading(3, 8, 0.2, 0.1)]  # 穆拉蒂, "", 将离开公司
    asked = _answer(_ranking([(1, 0.9)], "穆拉蒂会怎样?"), Judge.retrieval_only(), readings={1: said}, settings=settings)
    assert asked.span is not None and asked.span.text == "将离开公司"
    # the sentence read as not answering shows none of the reader's spans; the judge's sentence may still show its one value
    refused = [Reading(2, 4, 0.6, 0.7), Reading(7, 10, 0.3, 0.7)]
    assert _answer(ranking, Judge.retrieval_only(), readings={2: refused}, settings=settings).span.score == 0.5  # type: ignore[union-attr]
    unsure = RetrievalSettings(span_min_score=0.1, span_min_judged=0.6)  # the judge's P 0.5: no span at all
    assert _answer(ranking, Judge.retrieval_only(), readings={2: refused}, settings=unsure).span is None


def test_without_the_readers_span_the_one_value_of_the_asked_kind_is_the_span():
    def shown(text: str, question: str) -> str | None:
        answer = _answer(_one_sentence(text, question), Judge.retrieval_only(), settings=RetrievalSettings(span_min_judged=0.0))
        return answer.span.text if answer.span else None

    assert shown("據報道,如今的OpenAI擁有超過1700名員工。", "How many employees does OpenAI have?") == "超過1700名"
    assert shown("OpenAI成立于2015年。", "OpenAI是哪一年成立的?") == "2015年"
    assert shown("公司有1700名员工,其中80%入职不到两年。", "公司有多少名员工?") is None  # two counts: none is chosen
    assert shown("OpenAI发布了GPT-4o。", "OpenAI发布了几个模型?") is None  # the 4 of GPT-4o is no count
    assert shown("2015年,OpenAI在旧金山成立。", "2015年OpenAI在哪里成立?") is None  # asks for no quantity
    assert shown("它在2015年成立。", "它是2015年成立的吗?") is None  # the question gives it


def test_a_question_about_now_is_answered_with_the_newest_of_the_chosen_sentences_the_others_newest_first():
    texts = {"a": ("2017-03-01", "时任首席技术官为布罗克曼。"), "b": ("2024-09-26", "首席技术官穆拉蒂宣布离职。"), "c": ("2023-11-20", "穆拉蒂曾短暂出任CEO。")}
    documents = {doc: Document(doc, f"{doc}.txt", doc, "zh-Hans", doc, text, published=date) for doc, (date, text) in texts.items()}
    sentences = {row: SentenceRecord(row, doc, 0, len(texts[doc][1]), (row,)) for row, doc in enumerate("abc")}
    chunks = {row: ChunkRecord(row, doc, 0, len(texts[doc][1]), (row,)) for row, doc in enumerate("abc")}

    def answer_to(question: str, settings: RetrievalSettings | None = None):
        tokens = tuple(tokenize(question))
        query = Query(question, "zh-Hans", np.zeros(2, np.float32), np.zeros(2, np.float32), tokens)
        candidates = [Candidate(0, 1.0, ((0, 0.9),)), Candidate(1, 0.95, ((1, 0.85),)), Candidate(2, 0.9, ((2, 0.8),))]
        ranking = Ranking(query, candidates, chunks, sentences, documents, Closeness(0.9, 0.9), frozenset(term_id(t) for t in tokens))
        return _answer(ranking, _judge(bias=5.0), settings=settings)  # every sentence rated likely: the judge keeps retrieval's order

    now = answer_to("OpenAI目前的首席技术官是谁?")
    assert [c.time for c in now.citations] == ["2024-09-26", "2023-11-20", "2017-03-01"]  # their articles' dates
    assert now.text == "首席技术官穆拉蒂宣布离职。"
    former = answer_to("OpenAI目前的CEO是谁?")  # the newest names the office asked about as her former one: it comes last
    assert [c.time for c in former.citations] == ["2024-09-26", "2023-11-20", "2017-03-01"]  # 首席技术官 is not CEO
    texts["b"] = ("2024-09-26", "前首席技术官穆拉蒂宣布创业。")
    documents["b"] = Document("b", "b.txt", "b", "zh-Hans", "b", texts["b"][1], published="2024-09-26")
    sentences[1], chunks[1] = SentenceRecord(1, "b", 0, len(texts["b"][1]), (1,)), ChunkRecord(1, "b", 0, len(texts["b"][1]), (1,))
    past = answer_to("OpenAI目前的首席技术官是谁?")
    assert [c.time for c in past.citations] == ["2023-11-20", "2017-03-01", "2024-09-26"]
    texts["b"] = ("2024-09-26", "首席技术官穆拉蒂宣布离职。")
    documents["b"] = Document("b", "b.txt", "b", "zh-Hans", "b", texts["b"][1], published="2024-09-26")
    timeless = answer_to("首席技术官离职时发生了什么?")  # no time asked: the judge's order stands
    assert timeless.text == "时任首席技术官为布罗克曼。" and [c.time for c in timeless.citations] == ["2017-03-01", "2024-09-26", "2023-11-20"]
    # a question naming a time: the chosen sentences from then come first, the others keep their order
    then = answer_to("2023年11月首席技术官做了什么?")
    assert then.text == "穆拉蒂曾短暂出任CEO。" and [c.time for c in then.citations] == ["2023-11-20", "2017-03-01", "2024-09-26"]
    assert [c.time for c in answer_to("2016年至2018年间首席技术官是谁?").citations] == ["2017-03-01", "2024-09-26", "2023-11-20"]
    assert [c.time for c in answer_to("2024年首席技术官做了什么?").citations] == ["2024-09-26", "2017-03-01", "2023-11-20"]
    # a sentence from then is the answer even when the judge's others would fill the citations without it
    alone = answer_to("2023年11月首席技术官做了什么?", RetrievalSettings(supporting_sentences=0))
    assert [c.time for c in alone.citations] == ["2023-11-20"]


def test_a_sentence_that_states_no_time_is_cited_with_the_time_its_paragraph_set():
    text = "一、早年\nOpenAI至2017年初已有45名员工。时任首席技术官为布罗克曼。"
    start = text.index("时任")
    newer = "首席技术官穆拉蒂宣布离职。"
    documents = {"a": Document("a", "a.txt", "a", "zh-Hans", "a", text, published="2024-09-13"),
                 "b": Document("b", "b.txt", "b", "zh-Hans", "b", newer, published="2024-09-26")}  # fmt: skip
    sentences = {0: SentenceRecord(0, "a", start, len(text), (0,)), 1: SentenceRecord(1, "b", 0, len(newer), (1,))}
    chunks = {0: ChunkRecord(0, "a", 0, len(text), (0,)), 1: ChunkRecord(1, "b", 0, len(newer), (1,))}
    question = "OpenAI目前的首席技术官是谁?"
    tokens = tuple(tokenize(question))
    query = Query(question, "zh-Hans", np.zeros(2, np.float32), np.zeros(2, np.float32), tokens)
    candidates = [Candidate(0, 1.0, ((0, 0.9),)), Candidate(1, 0.95, ((1, 0.85),))]
    ranking = Ranking(query, candidates, chunks, sentences, documents, Closeness(0.9, 0.9), frozenset(term_id(t) for t in tokens))
    answer = _answer(ranking, _judge(bias=5.0))
    assert [(c.text, c.time, c.date) for c in answer.citations] == [(newer, "2024-09-26", "2024-09-26"),
                                                                    ("时任首席技术官为布罗克曼。", "2017", "2024-09-13")]  # fmt: skip

def test_a_name_the_question_writes_in_latin_letters_is_answered_only_from_an_article_that_mentions_it():
    from dataclasses import replace

    from rag.mentions import Named

    ranking = _ranking([(1, 0.9), (2, 0.8)], question="Friar要去哪里?")
    ranking = Ranking(replace(ranking.query, named=(Named("Friar", ("Friar",), frozenset({"弗莱尔"})),)), ranking.candidates, ranking.chunks,
                      ranking.sentences, ranking.documents, ranking.closeness, ranking.known_terms)  # fmt: skip
    answer = _answer(ranking, _judge(bias=5.0))
    assert answer.abstained and answer.citations == [] and answer.reason == "The closest articles never mention Friar, which the question asks about."
    # a lower-ranked article that writes the name in a Chinese form answers instead
    other = Document("e", "e.txt", "t2", "zh-Hans", "1", "弗莱尔将去纽约。")
    mentioning = Ranking(ranking.query, [*ranking.candidates, Candidate(1, 0.5, ((3, 0.5),))], ranking.chunks | {1: ChunkRecord(1, "e", 0, 8, (3,))},
                         ranking.sentences | {3: SentenceRecord(3, "e", 0, 8, (1,))}, ranking.documents | {"e": other}, ranking.closeness,
                         ranking.known_terms)  # fmt: skip
    answer = _answer(mentioning, _judge(bias=5.0))
    assert not answer.abstained and answer.text == "弗莱尔将去纽约。" and {c.doc_id for c in answer.citations} == {"e"}


def _shown(text: str, question: str, reading: tuple[int, int]) -> str | None:
    """The span shown for ``question`` when the reader's best span of the one sentence ``text`` is ``reading``."""
    settings = RetrievalSettings(span_min_score=0.1, span_min_judged=0.0)
    answer = _answer(_one_sentence(text, question), Judge.retrieval_only(), readings={0: [Reading(*reading, 0.8, 0.1)]}, settings=settings)
    return answer.span.text if answer.span else None


def test_a_span_running_past_the_asked_quantity_is_cut_to_it():
    text = "谷歌还得到了大约30名走在AI最前沿的科技人员,以及4名前董事会成员。"
    #       0     6 8                 23  26       35
    assert text[8:23] == "30名走在AI最前沿的科技人员"
    assert _shown(text, "谷歌得到了多少名技术人员?", (8, 23)) == "大约30名"  # the word of nearness before it comes along
    assert _shown(text, "有几位董事会成员?", (26, 35)) == "4名"  # the count keeps its measure word
    assert _shown(text, "谷歌得到了什么?", (8, 23)) == "30名走在AI最前沿的科技人员"  # asks for no quantity: whole
    assert _shown(text, "有多少人?", (6, 34)) == "大约30名走在AI最前沿的科技人员,以及4名前董事会成员"  # two counts: the reader's call
    # nearly the whole sentence is no short answer, but the one length of time inside it is
    tesla = "2013年,她进入特斯拉工作了3年。"
    assert _shown(tesla, "她在特斯拉工作了几年?", (0, 17)) == "3年"  # 2013年 is a year, not a length of time
    assert _shown("她已经在公司工作了快7年了。", "她在公司工作了几年?", (7, 13)) == "快7年"  # 快: almost
    assert _shown("年收入已突破20亿美元,支出高达70亿美元。", "一年支出多少钱?", (12, 21)) == "70亿美元"  # 高达 is emphasis, not part of it
    # a count keeps its ordinal and measure word; a numeral inside a word or before a unit not listed stays in its span
    assert _shown("第26届联合国大会通过了决议。", "第几届大会通过了决议?", (0, 8)) == "第26届"
    assert _shown("他有2部战争片。", "他有几部战争片?", (2, 7)) == "2部"
    assert _shown("引来了数百名员工点赞。", "多少名员工点赞了?", (4, 6)) == "数百名"  # the reader's "百名" is part of it
    assert _shown("贫困率为2006年的57%左右。", "贫困率为多少?", (4, 13)) == "57%"
    assert _shown("总督负责四川等地。", "总督负责几个省?", (4, 8)) == "四川等地"
    assert _shown("降雨量在300公厘以下。", "降雨量低于多少公厘?", (4, 11)) == "300公厘以下"
    assert _shown("It raised $6.6 billion from investors.", "How much money did it raise?", (10, 37)) == "$6.6 billion"
    assert _shown("年增长至少7%左右。", "每年增长多少百分比?", (3, 9)) == "至少7%左右"  # words of nearness on both sides
    stake = "OpenAI正在讨论授予奥尔特曼7%的公司股权。"
    assert _shown(stake, "奥尔特曼可能获得OpenAI多少股权?", (12, 18)) == "7%"  # a share is cut to its value too
    assert _shown("雫石车站在2002年时入选了百选名单。", "雫石车站在哪一年入选?", (5, 11)) == "2002年"  # a year too
    assert _shown("中国民主建国会于1945年12月16日宣告成立。", "民建在哪一年宣告成立?", (8, 19)) == "1945年"
    assert _shown("自1990年代以来受其影响。", "从哪一年开始受其影响?", (1, 9)) == "1990年代以来"  # a decade is no year
    assert _shown("截至目前,公司拥有1700名以上员工。", "公司有多少名员工?", (9, 18)) == "1700名以上"
    # a time keeps the words around its digits
    assert _shown("当地时间11月19日清晨他才知道。", "他什么时候才知道?", (0, 12)) == "当地时间11月19日清晨"


def test_a_name_written_in_chinese_keeps_its_latin_spelling_in_brackets():
    text = "接任者是米拉·穆拉蒂(Mira Murati),她创办了安全超级智能（SSI）。"
    assert _shown(text, "谁接任?", (4, 10)) == "米拉·穆拉蒂(Mira Murati)"
    assert _shown(text, "她创办了什么?", (28, 34)) == "安全超级智能（SSI）"
    assert _shown("他叫Mark Chen (陈信翰)。", "他叫什么?", (2, 11)) == "Mark Chen"  # a Latin name: nothing to spell


def test_a_span_ends_before_the_punctuation_that_closes_its_clause():
    text = "另一位安全主管Jan Leike也辞职了。"
    assert _shown(text, "另一位安全主管怎么了?", (7, 21)) == "Jan Leike也辞职了"
    assert _shown(text, "谁也辞职了?", (7, 21)) == "Jan Leike"  # for "who": the name it opens with
    assert _shown("他说:「我很遗憾。」", "他说了什么?", (3, 10)) == "「我很遗憾。」"  # a quotation keeps its marks

def test_a_span_never_shows_half_a_pair_of_quotation_marks_or_brackets():
    nickname = "高管们给他取了个绰号「播客兄弟」。"
    assert _shown(nickname, "他的绰号是什么?", (10, 15)) == "「播客兄弟」"  # the partner beside it comes along
    assert _shown(nickname, "他的绰号是什么?", (11, 16)) == "「播客兄弟」"
    assert _shown("该书收入《文苑英华》中。", "该书收入哪部书?", (5, 10)) == "《文苑英华》"
    assert _shown("其父为(Rhea Sylvia I Romulus)之子。", "其父是谁?", (9, 26)) == "Sylvia I Romulus"  # no partner beside: the lone mark goes


def test_a_span_for_who_that_opens_with_a_name_and_runs_on_is_the_name():
    text = "首席科学家雅库布(Jakub Pachocki)合作领导研究组织,首席产品官Kevin Weil和工程副总裁Srinivas Narayanan继续领导应用团队。"
    start = text.index("雅库布")
    assert _shown(text, "现任首席科学家是谁?", (start, text.index("团队"))) == "雅库布(Jakub Pachocki)"
    kevin = text.index("Kevin")
    assert _shown(text, "首席产品官是谁?", (kevin, text.index("继续"))) == "Kevin Weil"
    joined = "They would join Sam Altman and Greg Brockman at Microsoft."
    assert _shown(joined, "Whom would they join?", (16, 45)) == "Sam Altman and Greg Brockman"  # names joined stay together
    assert _shown(text, "研究组织由谁领导?", (start, text.index(","))) == "雅库布(Jakub Pachocki)"
    assert _shown(text, "他们做什么?", (start, text.index(","))) == "雅库布(Jakub Pachocki)合作领导研究组织"  # asks for no person


def test_a_company_found_only_in_latin_letters_does_not_sway_the_judge():
    text = "结果没过多久,两人官宣入职微软。投资人Sam Altman说,董事会将恢复原状。"
    document = Document("d", "d.txt", "t", "zh-Hans", "0", text)
    sentences = {0: SentenceRecord(0, "d", 0, 16, (0,)), 1: SentenceRecord(1, "d", 16, len(text), (0,))}
    question = "两人官宣加入了哪家公司?"
    tokens = tuple(tokenize(question))
    query = Query(question, "zh-Hans", np.zeros(2, np.float32), np.zeros(2, np.float32), tokens)
    ranking = Ranking(query, [Candidate(0, 1.0, ((0, 0.9), (1, 0.9)))], {0: ChunkRecord(0, "d", 0, len(text), (0, 1))}, sentences,
                      {"d": document}, Closeness(0.9, 0.9), frozenset(term_id(t) for t in tokens))  # fmt: skip
    # a judge that trusts a new value of the asked type: "Sam Altman" is no company, "微软" one it cannot see
    assert _answer(ranking, _judge(new_value=3.0, score_gap=1.0)).text == "结果没过多久,两人官宣入职微软。"


def test_a_span_for_which_company_is_the_latin_name_in_its_clause():
    text = "马斯克于2023年创立xAI,并推出ChatGPT竞品Grok。"
    assert _shown(text, "马斯克于2023年创立了什么公司?", (text.index("xAI"), len(text) - 1)) == "xAI"  # its clause, not the next
    rival = "John Schulman于 2024 年 8 月离开 OpenAI,加入了竞争对手 Anthropic。"
    assert _shown(rival, "John Schulman离开OpenAI后加入了哪家公司?", (rival.index("竞争"), len(rival) - 1)) == "Anthropic"
    ssi = "Ilya Sutskever 创立了自己的 AI 公司 Safe Superintelligence Inc。"
    assert _shown(ssi, "Ilya Sutskever创立了什么公司?", (ssi.index("AI 公司"), len(ssi) - 1)) == "Safe Superintelligence Inc"  # the last name
    assert _shown("Altman 將入職微軟。", "Altman將入職哪家公司?", (10, 12)) == "微軟"  # no Latin name: the reader's span
    english = "He joined rival lab Anthropic in August."
    assert _shown(english, "Which company did he join?", (10, 29)) == "rival lab Anthropic"  # no Chinese: left whole


def test_a_span_for_who_in_chinese_text_ends_with_its_clause_unless_names_are_listed():
    text = "接替她的是陈信翰,他曾是研究副总裁。"
    assert _shown(text, "谁接替了她?", (5, 17)) == "陈信翰"
    listed = "新董事是Helen Toner,Tasha Kim和Adam Dean。"
    assert _shown(listed, "新董事是谁?", (4, len(listed) - 1)) == "Helen Toner,Tasha Kim和Adam Dean"
    assert _shown(text, "他曾是什么?", (5, 17)) == "陈信翰,他曾是研究副总裁"  # asks for no name: whole
    born = "穆拉蒂于1988年出生于阿尔巴尼亚,16岁移居加拿大。"
    assert _shown(born, "穆拉蒂是在哪个国家出生的?", (12, 26)) == "阿尔巴尼亚"  # a place, and a time, too
    assert _shown("2023年11月,阿爾特曼被開除。", "阿爾特曼什麼時候被開除?", (0, 12)) == "2023年11月"
    # a name in Han characters alone ends where jieba's tagger ends it
    assert _shown("2016年,张伟出任海滨市市长。", "2017年谁是海滨市市长?", (6, 15)) == "张伟"


def test_who_someone_named_is_is_not_answered_with_another_name():
    text = "Emmett Shear與首席科學家Ilya Sutskever有同樣的擔憂。"
    ilya = (text.index("Ilya"), text.index("有同"))
    assert _shown(text, "Who was Emmett Shear?", ilya) is None
    assert _shown(text, "Who shares Emmett Shear's worry?", ilya) == "Ilya Sutskever"


def test_a_successor_is_not_the_one_who_leaves_and_is_shown_when_named_right_before_taking_over():
    settings = RetrievalSettings(span_min_score=0.1, span_min_judged=0.0)
    text = "現任總經理黃建民因屆齡退休,由資深副總經理吳思穎接任,7月1日生效。"
    retires, both, successor = (5, 8), (5, 24), (21, 24)
    assert (text[5:8], text[5:24], text[21:24]) == ("黃建民", "黃建民因屆齡退休,由資深副總經理吳思穎", "吳思穎")
    n_best = [Reading(*retires, 0.57, 0.3), Reading(*both, 0.35, 0.3), Reading(*successor, 0.02, 0.3)]  # as the reader read it
    asked = _answer(_one_sentence(text, "晶元科技的新任總經理是誰?"), Judge.retrieval_only(), readings={0: n_best}, settings=settings)
    assert asked.span is not None and asked.span.text == "吳思穎" and asked.span.score == round(0.02 * 0.7, 4)
    # without the successor named right before 接任, nothing rather than the one who retires
    assert _answer(_one_sentence(text, "晶元科技的新任總經理是誰?"), Judge.retrieval_only(), readings={0: n_best[:2]}, settings=settings).span is None
    # a question that does not ask for the successor still gets the reader's best
    who = _answer(_one_sentence(text, "誰因屆齡退休?"), Judge.retrieval_only(), readings={0: n_best}, settings=settings)
    assert who.span is not None and who.span.text == "黃建民"


def test_a_headline_answers_after_the_body_sentences_of_its_article_the_judge_finds_likely():
    text = "星河汽车宣布新任首席执行官\n公司创始人林志远将卸任,原首席运营官陈晓雯接任首席执行官。\n林志远于2012年创办星河汽车。"
    head, lead, other = (0, 13), (14, 43), (44, len(text))
    document = Document("d", "d.txt", "t", "zh-Hans", "0", text)
    sentences = {i: SentenceRecord(i, "d", start, end, (0,)) for i, (start, end) in enumerate((head, lead, other))}
    question = "星河汽车的新任首席执行官是谁?"
    tokens = tuple(tokenize(question))
    query = Query(question, "zh-Hans", np.zeros(2, np.float32), np.zeros(2, np.float32), tokens)

    def first(scores: tuple[tuple[int, float], ...], settings: RetrievalSettings = RetrievalSettings()) -> str | None:
        ranking = Ranking(query, [Candidate(0, 1.0, scores)], {0: ChunkRecord(0, "d", 0, len(text), (0, 1, 2))}, sentences,
                          {"d": document}, Closeness(0.9, 0.9), frozenset(term_id(token) for token in tokens))  # fmt: skip
        return _answer(ranking, _judge(score_gap=10.0), settings=settings).text

    # the judge: P = σ(10·gap), the headline best (0.5), the lead 0.27 at a gap of 0.1, the last 0.0025 at 0.6
    assert first(((0, 0.9), (1, 0.8), (2, 0.3))) == "公司创始人林志远将卸任,原首席运营官陈晓雯接任首席执行官。"
    assert first(((0, 0.9), (1, 0.8), (2, 0.3)), RetrievalSettings(supporting_probability=0.3)) == "星河汽车宣布新任首席执行官"  # lead unlikely
    assert first(((0, 0.9), (1, 0.3), (2, 0.3))) == "星河汽车宣布新任首席执行官"  # no likely body sentence


def test_a_question_naming_a_person_in_han_characters_is_answered_from_an_article_that_writes_the_name():
    other = Document("o", "o.txt", "t", "zh-Hans", "0", "陈晓雯今年46岁。")
    named = Document("n", "n.txt", "t", "zh-Hans", "0", "吴思颖将接任总经理。")
    question = "吳思穎今年幾歲?"
    tokens = tuple(tokenize(question))

    def first(*people: str) -> str | None:
        named_people = tuple(Named(person, (), frozenset({person})) for person in people)
        query = Query(question, "zh-Hant", np.zeros(2, np.float32), np.zeros(2, np.float32), tokens, (), named_people)
        ranking = Ranking(query, [Candidate(0, 1.0, ((0, 0.9),)), Candidate(1, 0.9, ((1, 0.5),))],
                          {0: ChunkRecord(0, "o", 0, 9, (0,)), 1: ChunkRecord(1, "n", 0, 10, (1,))},
                          {0: SentenceRecord(0, "o", 0, 9, (0,)), 1: SentenceRecord(1, "n", 0, 10, (1,))},
                          {"o": other, "n": named}, Closeness(0.9, 0.9), frozenset(term_id(token) for token in tokens))  # fmt: skip
        return _answer(ranking, Judge.retrieval_only()).text

    assert first("吴思颖") == "吴思颖将接任总经理。"  # the closer sentence is about someone else
    assert first() == "陈晓雯今年46岁。"
    assert first("奥尔特曼") == "陈晓雯今年46岁。"  # no article writes the name: nothing is left out


def test_a_question_naming_a_place_is_not_answered_by_a_sentence_about_elsewhere():
    def answer(question: str, text: str, sentences: tuple[tuple[int, int], ...], title: str = "t"):
        document = Document("d", "d.txt", title, "zh-Hans", "0", text)
        tokens = tuple(tokenize(question))
        query = Query(question, "zh-Hans", np.zeros(2, np.float32), np.zeros(2, np.float32), tokens)
        records = {i: SentenceRecord(i, "d", start, end, (0,)) for i, (start, end) in enumerate(sentences)}
        ranking = Ranking(query, [Candidate(0, 1.0, tuple((i, 0.9 - 0.1 * i) for i in records))], {0: ChunkRecord(0, "d", 0, len(text), tuple(records))},
                          records, {"d": document}, Closeness(0.9, 0.9), frozenset(term_id(token) for token in tokens))  # fmt: skip
        return _answer(ranking, Judge.retrieval_only())

    staff = "云帆科技员工总数为12,860人。"
    elsewhere = answer("云帆科技在新加坡有多少员工?", staff, ((0, len(staff)),))
    assert elsewhere.abstained and elsewhere.reason == "The closest passages do not say this about 新加坡."
    assert not answer("云帆科技在新加坡有多少员工?", staff, ((0, len(staff)),), title="云帆科技新加坡分公司成立").abstained  # the title says where
    plant = "星河汽车在泰国罗勇府建设首座海外工厂。该工厂年产能为15万辆。"
    said = answer("星河汽车泰国工厂的年产能是多少?", plant, ((19, len(plant)),))  # 该工厂: the sentence before says where
    assert not said.abstained and said.text == "该工厂年产能为15万辆。"
    lead = "星河汽车今天公布了年度业绩。" * 15 + "\n"  # 210 characters: what the article opens with is past
    apart = lead + "星河汽车在泰国罗勇府建设首座海外工厂。\n该工厂年产能为15万辆。"
    assert answer("星河汽车泰国工厂的年产能是多少?", apart, ((len(lead) + 20, len(apart)),)).abstained  # another paragraph
    assert not answer("星河汽车泰国工厂的年产能是多少?", "泰国罗勇府报道\n" + apart, ((len(lead) + 28, len(apart) + 8),)).abstained  # the opening says where
    twice = lead + "星河汽车在泰国罗勇府建设首座海外工厂。\n该工厂年产能为15万辆。\n泰国市场销量增长。"
    assert not answer("星河汽车泰国工厂的年产能是多少?", twice, ((len(lead) + 20, len(lead) + 32),)).abstained  # written twice: the story's setting
    assert not answer("台中市有多少户停电?", "中央社记者台中8日电\n全市共有4万3,200户停电。", ((11, 24),)).abstained  # 台中市, written 台中


def test_an_age_that_is_another_persons_is_no_answer():
    strict = Abstainer(_only("answer_type_mismatch", -5.0, 1.0), 0.5, _only("answer_type_mismatch", 0.0, 1.0))

    def answer(question: str, text: str):
        document = Document("d", "d.txt", "t", "zh-Hans", "0", text)
        tokens = tuple(tokenize(question))
        people = tuple(Named(name, (), frozenset({name})) for name in ("孙立伟", "王建平", "静怡") if name in question)
        query = Query(question, "zh-Hans", np.zeros(2, np.float32), np.zeros(2, np.float32), tokens, (), people)
        ranking = Ranking(query, [Candidate(0, 1.0, ((0, 0.9),))], {0: ChunkRecord(0, "d", 0, len(text), (0,))},
                          {0: SentenceRecord(0, "d", 0, len(text), (0,))}, {"d": document}, Closeness(0.9, 0.9),
                          frozenset(term_id(token) for token in tokens))  # fmt: skip
        return _answer(ranking, Judge.retrieval_only(), strict)

    retiring = "63岁的王建平将于年底退休,由连云港市体育局原副局长孙立伟接任。"
    assert answer("孙立伟今年多大岁数?", retiring).reason == "The question asks for an age, and the closest passages give none."
    assert answer("王建平今年多大岁数?", retiring).text == retiring
    assert not answer("何静怡今年多少岁?", "骨科主任何静怡是院区最年轻的科室负责人,今年41岁。").abstained  # the clause names no one


def test_who_held_an_office_in_a_year_no_sentence_names_is_the_last_to_take_it_before():
    text = "2016年,张伟出任海滨市市长。2019年,海滨港建成。2020年3月,原副市长李娜接任市长。2024年1月,王磊当选市长。"
    bounds = ((0, 16), (16, 28), (28, 47), (47, 62))
    document = Document("d", "d.txt", "t", "zh-Hans", "0", text, published="2024-01-12")

    def first(question: str) -> str | None:
        tokens = tuple(tokenize(question))
        query = Query(question, "zh-Hans", np.zeros(2, np.float32), np.zeros(2, np.float32), tokens)
        records = {i: SentenceRecord(i, "d", start, end, (0,)) for i, (start, end) in enumerate(bounds)}
        scores = ((3, 0.9), (0, 0.85), (1, 0.85), (2, 0.8))  # the judge: P = σ(10·gap), 2024's mayor best
        ranking = Ranking(query, [Candidate(0, 1.0, scores)], {0: ChunkRecord(0, "d", 0, len(text), (0, 1, 2, 3))}, records,
                          {"d": document}, Closeness(0.9, 0.9), frozenset(term_id(token) for token in tokens))  # fmt: skip
        return _answer(ranking, _judge(score_gap=10.0)).text

    assert [text[start:end] for start, end in bounds][2] == "2020年3月,原副市长李娜接任市长。"
    assert first("2021年海滨市的市长是谁?") == "2020年3月,原副市长李娜接任市长。"  # not 2019's port, which takes no office
    assert first("2017年海滨市的市长是谁?") == "2016年,张伟出任海滨市市长。"
    assert first("2024年1月海滨市的市长是谁?") == "2024年1月,王磊当选市长。"  # a sentence of then

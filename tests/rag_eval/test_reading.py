"""Reading end to end: the paragraphs chosen, every question kept with its paragraph, and what each
answer scores (hand-computed), then a real assistant over a few paragraphs."""

from __future__ import annotations

import hashlib
import json

import pytest

from rag import Answer, Citation, Passage, Settings, Span
from rag_eval.reading import ReadingQuestion, ReadingResult, evaluate_reading, reading_sample, score_answer, summarise

PARAGRAPHS = ["台积电扩建晶圆厂,投资400亿美元。", "穆拉蒂于1988年出生于阿尔巴尼亚,16岁移居加拿大。", "OpenAI成立于2015年。"]


def _file(tmp_path):
    rows = [{"qid": "1", "context": PARAGRAPHS[0], "question": "台积电投资多少钱?", "answers": [{"text": "400亿美元", "start": 13}]},
            {"qid": "2", "context": PARAGRAPHS[1], "question": "穆拉蒂几岁移居加拿大?", "answers": [{"text": "16岁", "start": 21}]},
            {"qid": "3", "context": PARAGRAPHS[1], "question": "穆拉蒂哪一年出生?", "answers": [{"text": "1988年", "start": 4}]},
            {"qid": "4", "context": PARAGRAPHS[2], "question": "OpenAI哪一年成立?", "answers": [{"text": "2015年", "start": 9}]},
            {"qid": "5", "context": "没有答案的段落。", "question": "?", "answers": []}]  # fmt: skip
    path = tmp_path / "reading.jsonl"
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def test_the_paragraphs_are_the_first_by_their_texts_hash_with_all_their_questions(tmp_path):
    documents, questions = reading_sample(_file(tmp_path), 2)
    first_two = sorted(PARAGRAPHS, key=lambda text: hashlib.sha256(text.encode()).hexdigest())[:2]
    assert [d.text for d in documents] == first_two and [d.id for d in documents] == ["r0000", "r0001"]
    by_id = {d.id: d.text for d in documents}
    assert all(by_id[q.doc_id] in {PARAGRAPHS[0], PARAGRAPHS[1], PARAGRAPHS[2]} for q in questions)
    expected = {"台积电投资多少钱?": PARAGRAPHS[0], "穆拉蒂几岁移居加拿大?": PARAGRAPHS[1], "穆拉蒂哪一年出生?": PARAGRAPHS[1], "OpenAI哪一年成立?": PARAGRAPHS[2]}
    assert {q.question: by_id[q.doc_id] for q in questions} == {q: t for q, t in expected.items() if t in first_two}
    with pytest.raises(ValueError, match="holds 3 paragraphs with answered questions; asked for 4"):
        reading_sample(_file(tmp_path), 4)


def test_an_answer_scores_its_span_against_the_gold_answers_and_none_counts_zero():
    text = PARAGRAPHS[1]
    passage = Passage(1, "r1", "r1", None, text, 0, len(text), 0.9, (0, len(text)))
    citation = Citation(1, "r1", 0, len(text), 0, len(text), text)
    question = ReadingQuestion("穆拉蒂几岁移居加拿大?", "r1", ("16岁", "十六岁"))
    right = Answer(question.question, text, [passage], [citation], False, 0.8, span=Span("16岁移居加拿大", "r1", 21, 28, 0.5))
    scored = score_answer(right, question, 12.0)
    # "16岁" in "16岁移居加拿大": precision 3/8, recall 1 → F1 = 2·(3/8)/(11/8) = 6/11
    assert scored == ReadingResult(False, True, pytest.approx(6 / 11), 0.0, True, True, 12.0)
    abstained = Answer(question.question, None, [passage], [], True, 0.1)
    assert score_answer(abstained, question, 5.0) == ReadingResult(True, False, 0.0, 0.0, True, False, 5.0)
    summary = summarise([scored, score_answer(abstained, question, 5.0)])
    assert summary["span_f1"] == round(3 / 11, 4) and summary["span_shown"] == 0.5 and summary["span_f1_when_shown"] == round(6 / 11, 4)
    assert summary["abstained"] == 0.5 and summary["sentence_holds_answer"] == 0.5 and summary["p50_ms"] == 8.5


def test_a_real_assistant_over_the_paragraphs_answers_with_spans(tmp_path, encoder):
    from rag import Assistant, ChunkSettings

    documents, questions = reading_sample(_file(tmp_path), 3)
    settings = Settings(root=tmp_path, store=None, collection="eval-reading", chunk=ChunkSettings(size=60, overlap=10))  # the prepared model: its reader
    scores = evaluate_reading(Assistant.over(documents, settings, encoder=encoder), questions)
    assert scores["questions"] == 4 and scores["paragraph_first"] == 1.0
    assert scores["span_exact"] >= 0.5 and scores["span_f1"] >= scores["span_exact"]  # years and amounts in one short sentence each

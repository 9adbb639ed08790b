"""The reader's question files: article ids by dataset, and a dev split that keeps articles whole."""

from __future__ import annotations

import json

from rag_eval.reader_data import Question, article_of, load_questions, split_dev


def _question(qid: str) -> Question:
    return Question(qid, "?", "context", (("c", 0),), article_of(qid), "test")


def test_article_ids_follow_each_dataset():
    assert article_of("1-0-1") == "1" and article_of("DEV_12_QUERY_3") == "DEV_12"


def test_dev_split_keeps_each_article_on_one_side():
    questions = [_question(qid) for qid in ("1-0-1", "1-1-1", "2-0-1", "3-0-1", "3-0-2", "DEV_7_QUERY_0")]
    train, dev = split_dev(questions, 0.5, seed=0)
    assert sorted(train + dev) == list(range(len(questions)))
    assert {questions[i].article for i in train}.isdisjoint({questions[i].article for i in dev})
    assert len({questions[i].article for i in dev}) == 2  # half of the 4 articles, rounded


def test_a_question_file_is_read_with_its_answers_offsets_and_article(tmp_path):
    row = {"qid": "5-2-1", "question": "谁?", "context": "首席技术官是穆拉蒂。", "answers": [{"text": "穆拉蒂", "start": 6}], "source": "DRCD"}
    path = tmp_path / "questions.jsonl"
    path.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    (question,) = load_questions(path)
    assert question == Question("5-2-1", "谁?", "首席技术官是穆拉蒂。", (("穆拉蒂", 6),), "5", "DRCD")
    assert question.context[6:9] == "穆拉蒂"

"""The gold set's integrity: every evidence span is verbatim, once, in its cleaned document."""

from __future__ import annotations

import json

import pytest

from rag_eval.gold import load_gold
from rag_eval.paths import gold_file


def test_every_gold_evidence_span_is_in_its_cleaned_document(seed_documents):
    documents = {doc.id: doc for doc in seed_documents.values()}
    questions = load_gold(gold_file(), lambda doc_id: documents[doc_id].text)
    rows = [json.loads(line) for line in gold_file().read_text(encoding="utf-8").splitlines()]
    assert len(questions) == len(rows) >= 150
    for question, row in zip(questions, rows, strict=True):
        for evidence, span in zip(question.evidence, row["evidence"], strict=True):
            written = [span, *span.get("also", ())]
            for place, listed in zip(evidence.places, written, strict=True):
                assert documents[place.doc_id].text[place.start : place.end] == listed["text"]
            assert len(set(evidence.places)) == len(written)
    languages = [q.lang for q in questions]
    assert languages.count("zh-Hans") >= 90 and languages.count("zh-Hant") >= 30 and languages.count("en") >= 30
    assert sum(not q.answerable for q in questions) >= 15
    assert sum(q.paraphrase for q in questions if q.answerable) * 3 >= sum(q.answerable for q in questions)
    splits = {q.split for q in questions}
    assert splits == {"dev", "test"} and 0.35 < sum(q.split == "dev" for q in questions) / len(questions) < 0.65


def test_missing_evidence_is_an_error(tmp_path):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"id": "x", "question": "?", "lang": "en", "type": "factoid", "answer": "a",
                                "evidence": [{"doc": "d", "text": "not there"}]}) + "\n", encoding="utf-8")  # fmt: skip
    with pytest.raises(ValueError, match="not exactly once"):
        load_gold(gold, lambda doc_id: "some text")

"""The distractor setting's documents: every distinct paragraph of a dataset folder or of a JSON-lines
file of reading questions, normalised as a dataset's passages are, and too few refused."""

from __future__ import annotations

import json

import pytest

from rag_eval.distractors import MIN_DOCUMENTS, distractor_documents, with_distractors


def _jsonl(path, rows) -> None:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")


def test_paragraphs_of_a_dataset_and_of_reading_questions_become_documents_once_each(tmp_path):
    dataset = tmp_path / "drcd"
    dataset.mkdir()
    _jsonl(dataset / "passages.jsonl", [{"pid": "p1", "title": "台积电", "text": "台积电扩建晶圆厂。\n\n 投资400亿美元。 "},
                                        {"pid": "p2", "text": "另一段文字。"}])  # fmt: skip
    _jsonl(dataset / "queries.jsonl", [{"qid": "q1", "question": "?", "pid": "p1", "answers": ["400亿美元"]}])
    heldout = tmp_path / "heldout.jsonl"
    _jsonl(heldout, [{"qid": "h1", "context": "另一段文字。"}, {"qid": "h2", "context": "第三段文字。"},  # the first is already known
                     {"qid": "h3", "context": "第三段文字。"}, {"qid": "h4", "context": "  "}])  # fmt: skip
    documents = distractor_documents([dataset, heldout])
    assert [d.id for d in documents] == ["x00000", "x00001", "x00002"]
    assert [d.text for d in documents] == ["台积电扩建晶圆厂。\n投资400亿美元。", "另一段文字。", "第三段文字。"]
    assert documents[0].title == "台积电" and documents[2].title == "heldout-1" and {d.file for d in documents} == {""}


def test_a_path_that_is_neither_is_refused(tmp_path):
    with pytest.raises(ValueError, match="neither a dataset folder"):
        distractor_documents([tmp_path / "nothing"])


def test_too_few_distractors_are_no_archive(tmp_path):
    few = tmp_path / "few.jsonl"
    _jsonl(few, [{"context": f"第{n}段文字。"} for n in range(3)])
    with pytest.raises(ValueError, match=f"3 distractor paragraphs .* needs {MIN_DOCUMENTS:,} or more"):
        with_distractors(None, None, [few], None)  # type: ignore[arg-type]

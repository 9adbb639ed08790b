"""What the reader's latency probe reads: gold questions with five sentences of the article they name."""

import json

from rag_eval.reader_metrics import product_inputs

ARTICLE = "".join(f"第{n}句话讲的是一件很普通的事情。" for n in range(1, 9)) + "首席技术官是米拉·穆拉蒂。"


def test_each_question_gets_its_evidence_first_and_four_other_sentences_of_its_article(tmp_path):
    gold = tmp_path / "gold.jsonl"
    rows = [
        {"question": "谁是首席技术官?", "docs": ["a"], "evidence": [{"text": "首席技术官是米拉·穆拉蒂"}]},
        {"question": "别的文章?", "docs": ["missing"]},
        {"question": "没有证据的问题?", "docs": ["a"]},
    ]
    gold.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    inputs = product_inputs(gold, {"a": ARTICLE}, count=10)
    assert [question for question, _ in inputs] == ["谁是首席技术官?", "没有证据的问题?"]
    (_, with_evidence), (_, without) = inputs
    assert with_evidence[0] == "首席技术官是米拉·穆拉蒂。"
    assert len(with_evidence) == len(without) == 5 == len(set(with_evidence))
    assert all(sentence in ARTICLE for sentence in with_evidence + without)
    assert product_inputs(gold, {"a": ARTICLE}, count=1) == inputs[:1]

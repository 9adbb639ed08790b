"""The reader's scores (CMRC 2018's EM and F1, by hand), the sliding windows a paragraph is read with,
and what the latency probe reads: gold questions with five sentences of the article they name."""

import json

import pytest

from rag_eval.reader_metrics import exact_match, f1, normalise, product_inputs, sliding_windows

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


def test_metrics_match_hand_computed_values():
    assert normalise(" 1,570 亿美元。") == "1570亿美元"
    assert exact_match("《光荣》", ["光荣"]) == 1.0
    assert exact_match("光荣和", ["光荣"]) == 0.0
    # longest common substring 光荣 (2): precision 2/3, recall 2/2 -> F1 0.8
    assert f1("光荣和", ["光荣"]) == pytest.approx(0.8)
    # against 光荣公司 (4): LCS 2, precision 2/3, recall 2/4 -> 4/7; the best over the answers counts
    assert f1("光荣和", ["光荣公司"]) == pytest.approx(4 / 7)
    assert f1("光荣和", ["光荣公司", "光荣"]) == pytest.approx(0.8)
    # common characters that are not contiguous do not count beyond the longest run: 1 of 3 each way
    assert f1("甲乙丙", ["甲丙乙"]) == pytest.approx(1 / 3)
    assert f1("。", ["光荣"]) == 0.0


def test_sliding_windows_cover_the_text():
    assert sliding_windows("a" * 10, 4, 3) == [(0, 4), (3, 7), (6, 10)]
    assert sliding_windows("abc", 160, 80) == [(0, 3)]
    assert sliding_windows("", 160, 80) == [(0, 0)]

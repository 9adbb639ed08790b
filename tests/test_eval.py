"""The evaluation harness: metric wiring, gold integrity, chunk-independent relevance, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from eval.harness import (
    GOLD,
    Evidence,
    GoldQuestion,
    QuestionResult,
    Span,
    covered_evidence,
    covers,
    fit_abstention,
    load_gold,
    ranked_run,
    retrieval_scores,
    separation,
)
from rag.answer import Abstainer
from rag.corpus import Document


def result(qid: str, covered: tuple[tuple[str, ...], ...]) -> QuestionResult:
    return QuestionResult(qid, covered, False, False, False, {}, 1.0)


def test_metrics_on_a_toy_run_match_hand_computed_values():
    questions = [
        GoldQuestion("q1", "?", "zh-Hans", "number", False, "x", (Evidence("d", 0, 10),)),
        GoldQuestion("q2", "?", "en", "date", True, "y", (Evidence("d", 20, 30), Evidence("d", 40, 50))),
        GoldQuestion("q3", "?", "en", "unanswerable", False, None, ()),
    ]
    results = {
        "q1": result("q1", ((), ("e0",))),  # relevant at rank 2
        "q2": result("q2", (("e1",), (), (), ("e0",))),  # ranks 1 and 4
        "q3": result("q3", ((),)),
    }
    scores = retrieval_scores(questions, results)
    assert scores["questions"] == 2  # unanswerable questions are not in retrieval metrics
    assert scores["mrr@10"] == pytest.approx((1 / 2 + 1) / 2)
    assert scores["recall@1"] == pytest.approx((0 + 0.5) / 2)
    assert scores["recall@5"] == pytest.approx((1 + 1) / 2)
    ndcg_q2 = (1 + 1 / 2.321928) / (1 + 1 / 1.584963)  # log2(5) = 2.32, log2(3) = 1.58
    assert scores["ndcg@10"] == pytest.approx((1 / 1.584963 + ndcg_q2) / 2, abs=1e-4)


def test_separation_reports_how_well_features_split_answerable_from_unanswerable():
    def question(qid: str, answerable: bool, topic: str | None = None) -> GoldQuestion:
        evidence = (Evidence("d", 0, 10),) if answerable else ()
        return GoldQuestion(qid, "?", "en", "date", False, None, evidence, topic)

    def scored(qid: str, top: float, mismatch: float, confidence: float) -> QuestionResult:
        features = {"top_dense": top, "top_sentence": top, "answer_type_mismatch": mismatch}
        return QuestionResult(qid, (), False, False, False, features, 1.0, confidence)

    questions = [question("a1", True), question("a2", True), question("on", False, "on"), question("off", False, "off")]
    results = {
        "a1": scored("a1", 0.90, 0.0, 0.9),
        "a2": scored("a2", 0.88, 0.0, 0.8),
        "on": scored("on", 0.89, 1.0, 0.85),  # as close as the answerable ones, but lacks the asked type
        "off": scored("off", 0.80, 0.0, 0.1),
    }
    table = separation(questions, results, Abstainer(weights=(1.0, 1.0, -2.0), bias=0.0))
    assert table["top_dense"] == {"on_topic": 0.5, "off_topic": 1.0}
    assert table["answer_type_mismatch"] == {"on_topic": 1.0, "off_topic": 0.5}  # turned: a mismatch means "no"
    assert table["confidence"] == {"on_topic": 0.5, "off_topic": 1.0}


def test_abstention_threshold_has_the_best_dev_f1_within_the_false_abstention_budget():
    ids = (f"q{n}" for n in range(10_000))
    dev_ids = [qid for qid in ids if GoldQuestion(qid, "?", "en", "x", False, None, ()).split == "dev"]
    closeness = [0.80, 0.81] + [0.85 + 0.001 * n for n in range(68)]  # answerable: 70, so 2 may be wrong
    closeness_unanswerable = [0.70] * 5 + [0.805] * 3 + [0.90] * 2
    questions, results = [], {}
    for qid, top in zip(dev_ids, closeness + closeness_unanswerable, strict=False):
        answerable = len(questions) < len(closeness)
        questions.append(GoldQuestion(qid, "?", "en", "x", False, None, (Evidence("d", 0, 1),) if answerable else ()))
        features = {"top_dense": top, "top_sentence": top, "answer_type_mismatch": 0.0}
        results[qid] = QuestionResult(qid, (), False, False, False, features, 1.0)
    abstainer = fit_abstention(results, questions)
    abstains = {q.id: abstainer.probability(results[q.id].features) < abstainer.threshold for q in questions}
    # one wrong abstention (0.80) catches three more unanswerable questions (0.805); a second would catch none
    assert [abstains[q.id] for q in questions[:3]] == [True, False, False]
    assert sum(abstains[q.id] for q in questions if not q.answerable) == 8


def test_compare_shows_deltas_and_no_abstention_figures_for_configurations_that_never_abstain():
    from eval.report import compare

    def report(mrr: float, f1: float) -> dict:
        overall = {"mrr@10": mrr, "recall@5": 0.9, "abstain_f1": f1, "false_abstention": 0.05, "answer_contains_evidence": 0.8}
        return {"configurations": {"dense": {"test": {"overall": overall}, "abstains": False},
                                   "default": {"test": {"overall": overall}, "abstains": True}}}  # fmt: skip

    table = compare(report(0.70, 0.5), report(0.75, 0.6)).splitlines()
    assert table[2].startswith("| dense | 0.700 → 0.750 (+0.050) | 0.900 → 0.900 (+0.000) | — | — | 0.800")
    assert "| 0.500 → 0.600 (+0.100) | 0.050 → 0.050 (+0.000) |" in table[3]


def test_one_passage_covering_two_evidence_spans_finds_both():
    question = GoldQuestion("q", "?", "zh-Hans", "why", False, "x", (Evidence("d", 0, 10), Evidence("d", 20, 30)))
    covered = covered_evidence([("d", 100, 200), ("d", 0, 40)], question.evidence)
    assert covered == ((), ("e0", "e1"))
    scores = retrieval_scores([question], {"q": result("q", covered)})
    assert scores["recall@1"] == 0 and scores["recall@5"] == 1 and scores["mrr@10"] == 0.5


def test_a_place_stating_the_same_fact_elsewhere_counts_as_the_evidence():
    evidence = Evidence("doc", 100, 140, also=(Span("other", 10, 30),))
    assert covers("other", 0, 25, evidence)  # 15 of the 20 characters of the other place
    assert not covers("other", 25, 100, evidence)
    assert covered_evidence([("other", 0, 50), ("doc", 0, 400)], [evidence]) == (("e0",), ("e0",))
    assert ranked_run((("e0",), ("e0",))) == {"e0": 1.0, "miss-2": 0.5}  # found once, at rank 1


def test_relevance_is_overlap_with_evidence_not_chunk_identity():
    evidence = Evidence("doc", 100, 140)
    assert covers("doc", 90, 130, evidence)  # 30 of 40 characters
    assert covers("doc", 120, 300, evidence)  # exactly half
    assert not covers("doc", 125, 300, evidence)  # a quarter
    assert not covers("other", 0, 1000, evidence)
    small, large = [("doc", 0, 110), ("doc", 95, 150)], [("doc", 0, 400)]
    assert ranked_run(covered_evidence(small, [evidence])) == {"miss-1": 1.0, "e0": 0.5}
    assert ranked_run(covered_evidence(large, [evidence])) == {"e0": 1.0}  # same gold, other chunking
    assert ranked_run(covered_evidence([("doc", 95, 150), ("doc", 100, 141)], [evidence])) == {"e0": 1.0, "miss-2": 0.5}


def test_every_gold_evidence_span_is_in_its_cleaned_document(seed_documents):
    documents = {doc.id: doc for doc in seed_documents.values()}
    questions = load_gold(GOLD, documents)
    rows = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines()]
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
    document = Document("d", "d.txt", "t", "zh-Hans", "0", "some text")
    with pytest.raises(ValueError, match="not exactly once"):
        load_gold(gold, {"d": document})


def test_eval_cli_on_a_tiny_subset(news, tmp_path):
    rag = str(Path(sys.executable).with_name("rag"))
    completed = subprocess.run(
        [rag, "eval", "--limit", "12", "--config", "hybrid", "--config", "lexical", "--output", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-2000:]
    report = json.loads((tmp_path / "latest.json").read_text())
    assert set(report["configurations"]) == {"hybrid", "lexical"} and report["gold"]["questions"] == 12
    assert (tmp_path / "latest.png").stat().st_size > 1000
    assert "| hybrid |" in (tmp_path / "latest.md").read_text()
    compare = subprocess.run([rag, "eval", "--limit", "12", "--config", "hybrid", "--output", str(tmp_path / "b"),
                              "--compare", str(tmp_path / "latest.json")], capture_output=True, text=True, timeout=600)  # fmt: skip
    assert compare.returncode == 0 and "→" in compare.stdout


def test_bench_eval_on_a_tiny_bench(news, tmp_path):
    from eval.harness import evaluate_bench

    passages = [{"pid": f"p{i}", "title": t, "text": x} for i, (t, x) in enumerate([
        ("长城", "长城是中国古代的军事防御工程,全长两万多千米。"),
        ("熊猫", "大熊猫主要生活在四川的山区,以竹子为食。"),
        ("故宫", "故宫位于北京,是明清两代的皇家宫殿。"),
    ])]  # fmt: skip
    queries = [{"qid": "q0", "question": "长城有多长?", "pid": "p0", "answers": ["两万多千米"]},
               {"qid": "q1", "question": "大熊猫吃什么?", "pid": "p1", "answers": ["竹子"]}]  # fmt: skip
    bench = _toy_bench(tmp_path / "tinybench", passages, queries)
    (bench / "README.md").write_text("| config | R@1 | R@5 | R@10 | MRR@10 | index s | query s |\n|---|---|---|---|---|---|---|\n| jieba | 0.5 | 1.0 | 1.0 | 0.75 | 1 | 1 |\n")
    result = evaluate_bench(bench, news.settings.__class__(root=tmp_path), news.encoder, progress=lambda items, label: items)
    assert result["scores"]["recall@1"] == 1.0 and result["queries"] == 2
    assert result["baselines"] == [{"config": "BM25 jieba", "recall@1": 0.5, "recall@5": 1.0, "recall@10": 1.0, "mrr@10": 0.75}]
    assert (tmp_path / "index" / "bench-tinybench" / "CURRENT").exists()


def _toy_bench(folder, passages, queries):
    folder.mkdir()
    (folder / "passages.jsonl").write_text("\n".join(json.dumps(p, ensure_ascii=False) for p in passages), encoding="utf-8")
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in queries), encoding="utf-8")
    return folder


def test_adapter_examples_pair_each_question_with_its_answer_sentence(tmp_path):
    from eval.adapter import load_examples

    bench = _toy_bench(tmp_path / "bench", [
        {"pid": "p0", "title": "长城", "text": "长城是军事防御工程。全长两万多千米。\n始建于春秋战国。"},
        {"pid": "p1", "title": "熊猫", "text": "大熊猫以竹子为食。"},
    ], [
        {"qid": "q0", "question": "长城有多长？", "pid": "p0", "answers": ["两万多千米"]},
        {"qid": "q1", "question": "长城什么时候开始修建？", "pid": "p0", "answers": ["春秋战国"]},
        {"qid": "q2", "question": "长城是什么？", "pid": "p0", "answers": ["工程。全长"]},  # spans two sentences
        {"qid": "q3", "question": "大熊猫吃什么？", "pid": "p1", "answers": ["竹子"]},  # a one-sentence paragraph
    ])  # fmt: skip
    examples = load_examples(bench)
    assert [(e.question, e.sentences[e.answer]) for e in examples] == [
        ("长城有多长?", "全长两万多千米。"), ("长城什么时候开始修建?", "始建于春秋战国。"),
    ]  # fmt: skip


def test_adapter_training_moves_only_the_low_rank_updates(encoder):
    from eval.adapter import AdapterSettings, Example, train_adapter

    examples = [
        Example("长城有多长?", "长城是军事防御工程。全长两万多千米。", ("长城是军事防御工程。", "全长两万多千米。"), 1),
        Example("大熊猫吃什么?", "大熊猫生活在四川。它们以竹子为食。", ("大熊猫生活在四川。", "它们以竹子为食。"), 1),
    ]
    arrays = train_adapter(examples, encoder, AdapterSettings(rank=2, layers=1, steps=2, batch_size=2, hard_negatives=1))
    assert sorted({key.rsplit(".", 1)[1] for key in arrays}) == ["down", "up"] and len(arrays) == 12
    assert arrays["encoder.layer.11.attention.self.query.down"].shape == (2, 384)
    assert arrays["encoder.layer.11.intermediate.dense.up"].shape == (1536, 2)
    assert all(np.abs(arrays[key]).max() > 0 for key in arrays if key.endswith(".up"))  # zero at the start


def test_held_out_check_scores_both_question_towers(encoder):
    from eval.adapter import Example, held_out_accuracy

    examples = [
        Example("长城有多长?", "长城是军事防御工程。全长两万多千米。", ("长城是军事防御工程。", "全长两万多千米。"), 1),
        Example("大熊猫吃什么?", "大熊猫生活在四川。它们以竹子为食。", ("大熊猫生活在四川。", "它们以竹子为食。"), 1),
    ]
    right = held_out_accuracy(examples, encoder)
    assert set(right) == {"base model", "with the adapter"} and right["with the adapter"] == 1.0
    # two sentences a paragraph: whichever is closest, it is right for one labelling and wrong for the other
    wrong = held_out_accuracy([Example(e.question, e.paragraph, e.sentences, 0) for e in examples], encoder)
    assert all(right[tower] + wrong[tower] == 1.0 for tower in right)

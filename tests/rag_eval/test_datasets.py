"""Public datasets: the one reader of the folder format, the adapter's examples, a tiny end-to-end run."""

from __future__ import annotations

from fakes import write_dataset as toy_dataset

from rag_eval.adapter import load_examples
from rag_eval.datasets import is_dataset, load_dataset


PASSAGES = [{"pid": f"p{i}", "title": t, "text": x} for i, (t, x) in enumerate([
    ("长城", "长城是中国古代的军事防御工程,全长两万多千米。"),
    ("熊猫", "大熊猫主要生活在四川的山区,以竹子为食。"),
    ("故宫", "故宫位于北京,是明清两代的皇家宫殿。"),
])]  # fmt: skip
QUERIES = [{"qid": "q0", "question": "长城有多长？", "pid": "p0", "answers": ["两万多千米"]},
           {"qid": "q1", "question": "大熊猫吃什么?", "pid": "p1", "answers": ["竹子"]}]  # fmt: skip
README = "| config | R@1 | R@5 | R@10 | MRR@10 | index s | query s |\n|---|---|---|---|---|---|---|\n| jieba | 0.5 | 1.0 | 1.0 | 0.75 | 1 | 1 |\n"


def test_a_dataset_folder_is_read_once_with_its_baselines(tmp_path):
    folder = toy_dataset(tmp_path / "tiny", PASSAGES, QUERIES, README)
    assert is_dataset(folder) and not is_dataset(tmp_path)
    dataset = load_dataset(folder)
    assert dataset.name == "tiny" and list(dataset.passages) == ["p0", "p1", "p2"] and dataset.titles["p2"] == "故宫"
    assert [q.qid for q in dataset.queries] == ["q0", "q1"] and dataset.queries[0].answers == ("两万多千米",)
    assert dataset.baselines == [{"config": "BM25 jieba", "recall@1": 0.5, "recall@5": 1.0, "recall@10": 1.0, "mrr@10": 0.75}]
    assert [d.id for d in dataset.documents()] == ["p0", "p1", "p2"]


def test_adapter_examples_pair_each_question_with_its_answer_sentence(tmp_path):
    dataset = load_dataset(toy_dataset(tmp_path / "bench", [
        {"pid": "p0", "title": "长城", "text": "长城是军事防御工程。全长两万多千米。\n始建于春秋战国。"},
        {"pid": "p1", "title": "熊猫", "text": "大熊猫以竹子为食。"},
    ], [
        {"qid": "q0", "question": "长城有多长？", "pid": "p0", "answers": ["两万多千米"]},
        {"qid": "q1", "question": "长城什么时候开始修建？", "pid": "p0", "answers": ["春秋战国"]},
        {"qid": "q2", "question": "长城是什么？", "pid": "p0", "answers": ["工程。全长"]},  # spans two sentences
        {"qid": "q3", "question": "大熊猫吃什么？", "pid": "p1", "answers": ["竹子"]},  # a one-sentence paragraph
    ]))  # fmt: skip
    examples = load_examples(dataset)
    assert [(e.question, e.sentences[e.answer]) for e in examples] == [
        ("长城有多长?", "全长两万多千米。"), ("长城什么时候开始修建?", "始建于春秋战国。"),
    ]  # fmt: skip


def test_public_evaluation_of_a_tiny_dataset_indexes_it_apart(tmp_path, encoder):
    from rag import Settings
    from rag_eval.runs import evaluate_public

    dataset = load_dataset(toy_dataset(tmp_path / "tinybench", PASSAGES, QUERIES, README))
    result = evaluate_public(dataset, Settings(root=tmp_path), encoder, progress=lambda items, label: items)
    assert result["scores"]["recall@1"] == 1.0 and result["queries"] == 2 and result["dataset"] == "tinybench"
    assert (tmp_path / "index" / "public-tinybench" / "CURRENT").exists() and not (tmp_path / "corpus").exists()

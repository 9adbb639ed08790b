"""Running the assistant on the gold set and on public datasets, through its facade only.

Configurations are the ablations of the retrieval design: each is the default assistant with some
retrieval settings changed (``Assistant.with_retrieval``) or the news articles indexed with other
chunk sizes (``Assistant.over``, in their own evaluation collections).
"""

from __future__ import annotations

import hashlib
import statistics
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ranx import Qrels, Run, evaluate
from tqdm import tqdm

from rag import Assistant, ChunkSettings, Encoder, Settings
from rag_eval.datasets import Dataset
from rag_eval.fitting import separation
from rag_eval.gold import GoldQuestion, load_gold
from rag_eval.metrics import QuestionResult, covered_evidence, holds_evidence, quotes, retrieval_scores, score_split, span_answer

TOP_K = 10


@dataclass(frozen=True)
class Configuration:
    name: str
    retrieval: dict[str, Any] = field(default_factory=dict)
    chunk: ChunkSettings | None = None


# The ablations answer without abstaining (the abstention model is fitted on the default's scores)
# and without the reader's re-ranking, which the default adds last.
_PLAIN = {"query_expansion": False, "query_adapter": False, "abstain": False, "reader_rerank_weight": 0.0}
CONFIGURATIONS = (
    Configuration("dense", _PLAIN | {"mode": "dense", "sentence_stage": False}),
    Configuration("lexical", _PLAIN | {"mode": "lexical", "sentence_stage": False}),
    Configuration("hybrid", _PLAIN | {"mode": "hybrid", "sentence_stage": False}),
    Configuration("hybrid+sentence", _PLAIN),
    Configuration("hybrid+sentence+expansion", _PLAIN | {"query_expansion": True}),
    Configuration("hybrid+sentence+expansion+adapter", {"reader_rerank_weight": 0.0}),
    Configuration("hybrid+sentence+expansion+adapter+reader", {}),
    Configuration("default, chunks 200/40", chunk=ChunkSettings(200, 40)),
    Configuration("default, chunks 450/90", chunk=ChunkSettings(450, 90)),
)
DEFAULT = "hybrid+sentence+expansion+adapter+reader"


def open_configuration(configuration: Configuration, news: Assistant, base: Settings, encoder: Encoder) -> Assistant:
    if configuration.chunk is None:
        return news.with_retrieval(**configuration.retrieval) if configuration.retrieval else news
    chunk = configuration.chunk
    settings = replace(base.for_collection(f"eval-chunks-{chunk.size}-{chunk.overlap}"), chunk=chunk)
    return Assistant.over([news.document(d.id) for d in news.documents()], settings, encoder=encoder)


def answer_question(assistant: Assistant, question: GoldQuestion, history: Sequence[str] = ()) -> QuestionResult:
    started = time.perf_counter()
    answer = assistant.ask(question.question, TOP_K, history=list(history) or None)
    latency = (time.perf_counter() - started) * 1000
    passages = [(p.doc_id, p.start, p.end) for p in answer.passages]
    places = [place for e in question.evidence for place in e.places]
    holding = [any(holds_evidence(c.doc_id, c.start, c.end, c.text, p, assistant) for p in places) for c in answer.citations]
    first = answer.citations[0] if answer.citations and not answer.abstained else None
    first_holds = tuple(f"e{number}" for number, evidence in enumerate(question.evidence)
                        if first and any(holds_evidence(first.doc_id, first.start, first.end, first.text, p, assistant) for p in evidence.places))  # fmt: skip
    overlaps = any(c.doc_id == p.doc_id and min(c.end, p.end) > max(c.start, p.start) for c in answer.citations for p in places)
    span = answer.span
    inside = None if span is None else any(span.doc_id == p.doc_id and p.start <= span.start and span.end <= p.end for p in places)
    quoted = question.answer is not None and quotes([assistant.document(p.doc_id).text[p.start : p.end] for p in places], question.answer)
    against = span_answer(span.text if span and not answer.abstained else None, question.answer or "") if quoted else None
    return QuestionResult(question.id, covered_evidence(passages, question.evidence), answer.abstained, any(holding),
                          overlaps and not answer.abstained, answer.features, latency, answer.confidence, inside,
                          bool(holding) and holding[0], first_holds, against)  # fmt: skip


def conversation_questions(news: Assistant, path: Path) -> list[GoldQuestion]:
    """The gold questions asked in a conversation: the follow-ups, and self-contained ones asked after one."""
    return [q for q in load_gold(path, lambda doc_id: news.document(doc_id).text) if q.history]


def evaluate_conversations(assistant: Assistant, questions: Sequence[GoldQuestion]) -> dict[str, Any]:
    """Follow-ups asked with their history against the same questions written out in full (and
    alone, for reference); self-contained questions asked after a history against asked alone."""
    follow_ups = [q for q in questions if q.follow_up]
    alone = [q for q in questions if not q.follow_up]
    report: dict[str, Any] = {}
    for split in ("dev", "test", "all"):
        chosen = [q for q in follow_ups if split == "all" or q.split == split]
        others = [q for q in alone if split == "all" or q.split == split]
        runs = {
            "follow-up, with history": {q.id: _asked(assistant, q, q.question, q.history) for q in chosen},
            "written out in full": {q.id: _asked(assistant, q, q.standalone or q.question, ()) for q in chosen},
            "follow-up, without history": {q.id: _asked(assistant, q, q.question, ()) for q in chosen},
            "self-contained, with history": {q.id: _asked(assistant, q, q.question, q.history) for q in others},
            "self-contained, alone": {q.id: _asked(assistant, q, q.question, ()) for q in others},
        }
        report[split] = {name: retrieval_scores(chosen if name.startswith(("follow", "written")) else others, results)
                         | {"first_sentence_holds_evidence": _share(results, "first_sentence_holds_evidence")}
                         for name, results in runs.items()}  # fmt: skip
    return report


def _asked(assistant: Assistant, question: GoldQuestion, text: str, history: Sequence[str]) -> QuestionResult:
    return answer_question(assistant, replace(question, question=text), history)


def _share(results: dict[str, QuestionResult], flag: str) -> float:
    return round(statistics.mean(getattr(r, flag) for r in results.values()), 4) if results else 0.0


def run_questions(assistant: Assistant, questions: Sequence[GoldQuestion], label: str) -> dict[str, QuestionResult]:
    assistant.ask("预热", top_k=TOP_K)  # the first call pays one-time costs; keep them out of latency
    return {q.id: answer_question(assistant, q) for q in tqdm(questions, desc=label, leave=False)}


def gold_questions(news: Assistant, path: Path, limit: int | None = None) -> list[GoldQuestion]:
    """The gold questions asked on their own: not the follow-ups, which only make sense after their
    conversation's earlier questions (scored apart)."""
    questions = [q for q in load_gold(path, lambda doc_id: news.document(doc_id).text) if not q.follow_up]
    return questions[:limit] if limit else questions


def evaluate_gold(news: Assistant, base: Settings, encoder: Encoder, questions: Sequence[GoldQuestion],
                  configurations: Sequence[Configuration] = CONFIGURATIONS) -> dict[str, Any]:  # fmt: skip
    """Every configuration on every gold question; scores per split, language, type."""
    report: dict[str, Any] = {"configurations": {}, "default": None}
    for configuration in configurations:
        assistant = open_configuration(configuration, news, base, encoder)
        results = run_questions(assistant, questions, configuration.name)
        abstains = configuration.retrieval.get("abstain", True)
        scores: dict[str, Any] = {
            split: score_split([q for q in questions if split == "all" or q.split == split], results)
            for split in ("dev", "test", "all")
        } | {"abstains": abstains}
        if abstains:
            scores["separation"] = separation(questions, results)
        report["configurations"][configuration.name] = scores
        if configuration.name == DEFAULT:
            report["default"] = configuration.name
    report["gold"] = {
        "questions": len(questions),
        "answerable": sum(q.answerable for q in questions),
        "dev": sum(q.split == "dev" for q in questions),
        "test": sum(q.split == "test" for q in questions),
        "other_places": sum(len(e.also) for q in questions for e in q.evidence),
    }
    report["query_encoding_p50_ms"] = query_encoding_ms(encoder, [q.question for q in questions])
    return report


def evaluate_distractors(news: Assistant, base: Settings, encoder: Encoder, questions: Sequence[GoldQuestion],
                         paths: Sequence[Path]) -> dict[str, Any]:  # fmt: skip
    """The default configuration on the seed articles among the distractors at ``paths``."""
    from rag_eval.distractors import with_distractors

    assistant, count = with_distractors(news, base, paths, encoder)
    results = run_questions(assistant, questions, "distractors")
    return {"documents": count, "passages": assistant.info().chunks, "paths": [str(p) for p in paths],
            **{split: score_split([q for q in questions if split == "all" or q.split == split], results) for split in ("dev", "test", "all")}}  # fmt: skip


def query_encoding_ms(encoder: Encoder, questions: Sequence[str]) -> float:
    """Median time of the model's forward pass on one question alone (the floor for ``ask``)."""
    encoder.encode_questions([questions[0]])
    times = []
    for question in questions:
        started = time.perf_counter()
        encoder.encode_questions([question])
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def evaluate_public(dataset: Dataset, base: Settings, encoder: Encoder, limit: int | None = None,
                    progress: Callable[[Sequence[Any], str], Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """Index the dataset's passages as their own collection and score its questions (gold = source passage)."""
    settings = base.for_collection(f"public-{dataset.name}").with_retrieval(abstain=False)
    assistant = Assistant.over(dataset.documents(), settings, encoder=encoder, progress=True)
    queries = dataset.queries
    if limit:
        queries = sorted(queries, key=lambda q: hashlib.sha256(q.qid.encode()).hexdigest())[:limit]
    iterate = progress or (lambda items, label: tqdm(items, desc=label))
    run: dict[str, dict[str, float]] = {}
    latencies = []
    for query in iterate(queries, dataset.name):
        question = unicodedata.normalize("NFKC", query.question).strip() or query.qid
        started = time.perf_counter()
        answer = assistant.ask(question, top_k=30)
        latencies.append((time.perf_counter() - started) * 1000)
        ranked: dict[str, float] = {}
        for passage in answer.passages:
            if passage.doc_id not in ranked and len(ranked) < TOP_K:
                ranked[passage.doc_id] = 1.0 / (len(ranked) + 1)
        run[query.qid] = ranked or {"none": 0.0}
    qrels = Qrels({q.qid: {q.pid: 1} for q in queries})
    scores = evaluate(qrels, Run(run), ["recall@1", "recall@5", "recall@10", "mrr@10"], make_comparable=True)
    return {
        "dataset": dataset.name,
        "passages": len(dataset.passages),
        "queries": len(queries),
        "full": limit is None,
        "scores": {metric: round(float(value), 4) for metric, value in scores.items()},
        "p50_ms": round(statistics.median(latencies), 1),
        "baselines": dataset.baselines,
    }

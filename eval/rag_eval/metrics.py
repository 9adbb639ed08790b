"""Scoring: ranx retrieval metrics over chunk-independent relevance, abstention and answer scores,
latency, and how well the abstention features separate answerable from unanswerable questions.

Recall@k is the share of a question's evidence spans covered by its top k passages; MRR@10 and
nDCG@10 rank each passage by the first evidence span it newly covers.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from opencc import OpenCC
from ranx import Qrels, Run, evaluate

from rag_eval.gold import Evidence, GoldQuestion, Span
from rag_eval.reader_metrics import exact_match, f1, normalise

if TYPE_CHECKING:
    from rag import Assistant

RETRIEVAL_METRICS = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")


@dataclass(frozen=True)
class QuestionResult:
    id: str
    covered: tuple[tuple[str, ...], ...]  # the evidence spans each passage covers, in rank order
    abstained: bool
    answer_contains_evidence: bool
    answer_overlaps_evidence: bool
    features: dict[str, float]
    latency_ms: float
    confidence: float = 1.0  # the confidence shown (P(the answer is right)); for an abstention, P(answerable)
    span_inside_evidence: bool | None = None  # None when no span was shown
    first_sentence_holds_evidence: bool = False  # the answer's own sentence, before any supporting one
    first_sentence_evidence: tuple[str, ...] = ()  # the evidence spans ("e0" …) the answer's own sentence holds
    # The span against the gold answer (CMRC 2018's F1 and exact match, 0 when no span is shown), for
    # questions whose evidence quotes their answer; None for the others
    span_answer: tuple[float, float] | None = None


def covers(doc_id: str, start: int, end: int, evidence: Evidence) -> bool:
    """A passage covers an evidence span when it holds at least half of the characters of one of
    the span's places."""
    return any(
        doc_id == place.doc_id and (min(end, place.end) - max(start, place.start)) * 2 >= place.end - place.start
        for place in evidence.places
    )


@lru_cache(maxsize=1)
def _t2s() -> OpenCC:
    return OpenCC("t2s")


def quotes(evidence_texts: Sequence[str], answer: str | None) -> bool:
    """Whether one of the evidence texts holds the gold answer word for word (script, case,
    punctuation and spaces aside): only such an answer can be a span's exact match."""
    wanted = normalise(_t2s().convert(answer or ""))
    return bool(wanted) and any(wanted in normalise(_t2s().convert(text)) for text in evidence_texts)


def span_answer(span: str | None, answer: str) -> tuple[float, float]:
    """(F1, exact match) of a shown span against the gold answer, both in Simplified script; (0, 0)
    when no span is shown: a reader who gets no short answer gets no right one."""
    if not span:
        return 0.0, 0.0
    folded, wanted = _t2s().convert(span), _t2s().convert(answer)
    return f1(folded, [wanted]), exact_match(folded, [wanted])


def holds_evidence(doc_id: str, start: int, end: int, text: str, place: Span, assistant: Assistant) -> bool:
    """A quoted sentence holds an evidence place when it contains the place's words, or lies inside a
    place that spans several sentences."""
    if doc_id == place.doc_id and place.start <= start and end <= place.end:
        return True
    return assistant.document(place.doc_id).text[place.start : place.end] in text


def covered_evidence(passages: Sequence[tuple[str, int, int]], evidence: Sequence[Evidence]) -> tuple[tuple[str, ...], ...]:
    """For each passage in rank order, the evidence spans ("e0", "e1" …) it covers."""
    return tuple(
        tuple(f"e{number}" for number, span in enumerate(evidence) if covers(doc_id, start, end, span))
        for doc_id, start, end in passages
    )


def ranked_run(covered: Sequence[Sequence[str]]) -> dict[str, float]:
    """The ranx run for MRR and nDCG: each passage is one item, named after the first evidence span
    it newly covers ("miss-<rank>" when none)."""
    items: dict[str, float] = {}
    for rank, keys in enumerate(covered, start=1):
        key = next((key for key in keys if key not in items), f"miss-{rank}")
        items[key] = 1.0 / rank
    return items or {"none": 0.0}


def found_run(covered: Sequence[Sequence[str]], k: int) -> dict[str, float]:
    """The ranx run for Recall@k: every evidence span covered by one of the first k passages (one
    passage may cover several)."""
    return {key: 1.0 for keys in covered[:k] for key in keys} or {"none": 0.0}


def retrieval_metrics(covered: dict[str, Sequence[Sequence[str]]], spans: dict[str, int],
                      metrics: Sequence[str] = RETRIEVAL_METRICS) -> dict[str, float]:  # fmt: skip
    """ranx metrics over questions (id → evidence covered by each passage, id → number of spans)."""
    qrels = Qrels({qid: {f"e{i}": 1 for i in range(count)} for qid, count in spans.items()})
    ranked = Run({qid: ranked_run(covered[qid]) for qid in spans})
    scores = {}
    for metric in metrics:
        run, name = ranked, metric
        if metric.startswith("recall@"):
            run, name = Run({qid: found_run(covered[qid], int(metric.removeprefix("recall@"))) for qid in spans}), "recall"
        scores[metric] = round(float(evaluate(qrels, run, name, make_comparable=True)), 4)
    return scores


def retrieval_scores(questions: Sequence[GoldQuestion], results: dict[str, QuestionResult]) -> dict[str, float]:
    answerable = [q for q in questions if q.answerable]
    if not answerable:
        return {}
    covered = {q.id: results[q.id].covered for q in answerable}
    return retrieval_metrics(covered, {q.id: len(q.evidence) for q in answerable}) | {"questions": len(answerable)}


def abstention_scores(questions: Sequence[GoldQuestion], results: dict[str, QuestionResult]) -> dict[str, float]:
    unanswerable = [q for q in questions if not q.answerable]
    answerable = [q for q in questions if q.answerable]
    true_pos = sum(results[q.id].abstained for q in unanswerable)
    false_pos = sum(results[q.id].abstained for q in answerable)
    precision = true_pos / (true_pos + false_pos) if true_pos + false_pos else 0.0
    recall = true_pos / len(unanswerable) if unanswerable else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    by_topic = {
        f"abstain_recall_{topic}_topic": round(statistics.mean(results[q.id].abstained for q in group), 4)
        for topic in ("on", "off")
        if (group := [q for q in unanswerable if q.topic == topic])
    }

    def share(flag: Callable[[QuestionResult], bool]) -> float:
        return round(statistics.mean(flag(results[q.id]) for q in answerable), 4) if answerable else 0.0

    spans = [results[q.id].span_inside_evidence for q in answerable if results[q.id].span_inside_evidence is not None]
    against = [scores for q in answerable if (scores := results[q.id].span_answer) is not None]
    return by_topic | {
        "span_shown": round(len(spans) / len(answerable), 4) if answerable else 0.0,
        "span_inside_evidence": round(statistics.mean(spans), 4) if spans else 0.0,
        "span_f1": round(statistics.mean(f for f, _ in against), 4) if against else 0.0,
        "span_exact": round(statistics.mean(e for _, e in against), 4) if against else 0.0,
        "abstain_precision": round(precision, 4),
        "abstain_recall": round(recall, 4),
        "abstain_f1": round(f1, 4),
        "false_abstention": round(false_pos / len(answerable), 4) if answerable else 0.0,
        "answer_contains_evidence": share(lambda r: r.answer_contains_evidence),
        "first_sentence_holds_evidence": share(lambda r: r.first_sentence_holds_evidence),
        "answer_overlaps_evidence": share(lambda r: r.answer_overlaps_evidence),
    }


RELIABILITY_BINS = 10


def right(question: GoldQuestion, result: QuestionResult) -> bool:
    """The answer shown is right: the question is answerable and the answer's own sentence holds the evidence."""
    return question.answerable and not result.abstained and result.first_sentence_holds_evidence


def reliability(questions: Sequence[GoldQuestion], results: dict[str, QuestionResult]) -> list[dict[str, float]]:
    """The answers shown, in ten bins of confidence: how many, their mean confidence, the share right."""
    shown = [(results[q.id].confidence, right(q, results[q.id])) for q in questions if not results[q.id].abstained]
    bins = []
    for number in range(RELIABILITY_BINS):
        low, high = number / RELIABILITY_BINS, (number + 1) / RELIABILITY_BINS
        group = [(c, r) for c, r in shown if low <= c < high or (number == RELIABILITY_BINS - 1 and c == 1.0)]
        if group:
            bins.append({"low": low, "high": high, "answers": len(group), "confidence": round(statistics.mean(c for c, _ in group), 4),
                         "right": round(statistics.mean(r for _, r in group), 4)})  # fmt: skip
    return bins


def confidence_scores(questions: Sequence[GoldQuestion], results: dict[str, QuestionResult]) -> dict[str, float]:
    """Of the answers shown: expected calibration error (ten bins) and the ROC AUC of the confidence for
    "right" against "wrong or should have abstained"."""
    from sklearn.metrics import roc_auc_score

    shown = [q for q in questions if not results[q.id].abstained]
    if not shown:
        return {}
    bins = reliability(questions, results)
    ece = sum(b["answers"] * abs(b["right"] - b["confidence"]) for b in bins) / len(shown)
    labels = [int(right(q, results[q.id])) for q in shown]
    auc = roc_auc_score(labels, [results[q.id].confidence for q in shown]) if 0 < sum(labels) < len(labels) else 0.0
    return {"confidence_ece": round(ece, 4), "confidence_auroc": round(float(auc), 4), "answers_shown": len(shown),
            "answers_right": round(statistics.mean(labels), 4)}  # fmt: skip


def period_first(result: QuestionResult) -> bool:
    """For a question about a state that changes: the first passage that covers any of its evidence
    covers the first, the asked period's (or the newest)."""
    return next(("e0" in keys for keys in result.covered if keys), False)


def time_scores(questions: Sequence[GoldQuestion], results: dict[str, QuestionResult]) -> dict[str, float]:
    """Of the questions about a state that changes: how often retrieval ranks the asked period's (or
    the newest) evidence first, and how often the answer's own sentence holds it (what a reader sees)."""
    timed = [q for q in questions if q.time and q.answerable]
    if not timed:
        return {}
    return {"time_questions": len(timed), "right_period_first": round(statistics.mean(period_first(results[q.id]) for q in timed), 4),
            "answer_in_right_period": round(statistics.mean("e0" in results[q.id].first_sentence_evidence for q in timed), 4)}


def latency_scores(results: Sequence[QuestionResult]) -> dict[str, float]:
    latencies = sorted(r.latency_ms for r in results)
    return {
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))], 1),
    }


def score_split(questions: Sequence[GoldQuestion], results: dict[str, QuestionResult]) -> dict[str, Any]:
    groups: dict[str, dict[str, Any]] = {}
    for label, key in (
        ("lang", lambda q: q.lang),
        ("type", lambda q: q.type),
        ("paraphrase", lambda q: str(q.paraphrase).lower()),
    ):
        values = sorted({key(q) for q in questions if q.answerable})
        groups[label] = {value: retrieval_scores([q for q in questions if key(q) == value], results) for value in values}
    return {
        "overall": retrieval_scores(questions, results)
        | abstention_scores(questions, results)
        | confidence_scores(questions, results)
        | time_scores(questions, results)
        | latency_scores([results[q.id] for q in questions]),
        "reliability": reliability(questions, results),
        **groups,
    }

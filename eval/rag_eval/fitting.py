"""Fitting the judge, the abstention and the confidence models on the dev split (``rag-eval
fit-judge``, ``rag-eval fit-abstention``), and how well the abstention features separate answerable
questions from the others (a column of the gold report).

Both abstention models are logistic regressions over ``rag.abstention.FEATURES``, fitted on what the
assistant shows for each dev question when it never abstains: one of answerable vs. not, with the
threshold that keeps false abstention on dev at 3% or less; one of "the answer's sentence holds the
evidence" vs. not (a wrong sentence, or an answer to an unanswerable question), unweighted, so that
its probability is calibrated: that is the confidence an answer shows.

Past the facade: it fits and reads the judge and the abstention models themselves (``rag.judge``,
``rag.abstention``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from rag import Assistant
from rag.abstention import FEATURES, Abstainer, Logistic
from rag.judge import FEATURES as JUDGE_FEATURES
from rag.judge import Judge
from rag_eval.gold import GoldQuestion
from rag_eval.metrics import QuestionResult, holds_evidence

# The target is at most 5% false abstention; the threshold is set for 3% on dev because dev has
# about 140 answerable questions and a rerun moves a few of them.
DEV_FALSE_ABSTENTION = 0.03


def _logistic(x: list[list[float]], y: list[int], balanced: bool) -> Logistic:
    """Logistic regression; with one class only, the constant model of its rate (kept off 0 and 1)."""
    from sklearn.linear_model import LogisticRegression

    if len(set(y)) < 2:
        rate = min(max(sum(y) / len(y), 0.01), 0.99) if y else 0.5
        return Logistic((0.0,) * len(x[0]) if x else (), math.log(rate / (1 - rate)))
    model = LogisticRegression(class_weight="balanced" if balanced else None, C=1.0, max_iter=2000).fit(x, y)
    return Logistic(tuple(float(w) for w in model.coef_[0]), float(model.intercept_[0]))


def fit_abstention(results: dict[str, QuestionResult], questions: Sequence[GoldQuestion]) -> Abstainer:
    """``results``: the dev questions answered without abstaining. Of the thresholds that abstain on
    at most 3% of dev's answerable questions, the one with the best dev F1 for abstaining (the highest
    of equals), placed in the middle of the gap below the answerable question it keeps (a rerun's
    last-digit differences in the features must not flip that question)."""
    dev = [q for q in questions if q.split == "dev" and q.id in results]
    x = [[results[q.id].features[name] for name in FEATURES] for q in dev]
    answerable = _logistic(x, [int(q.answerable) for q in dev], balanced=True)
    correct = _logistic(x, [int(q.answerable and results[q.id].first_sentence_holds_evidence) for q in dev], balanced=False)
    probability = {q.id: answerable.probability(results[q.id].features) for q in dev}
    kept = sorted(probability[q.id] for q in dev if q.answerable)
    unanswerable = [probability[q.id] for q in dev if not q.answerable]

    def f1(threshold: float) -> float:
        caught = sum(p < threshold for p in unanswerable)
        wrongly = sum(p < threshold for p in kept)
        return 2 * caught / (caught + wrongly + len(unanswerable)) if unanswerable else 0.0

    allowed = int(DEV_FALSE_ABSTENTION * len(kept))
    thresholds = [kept[wrongly] - 1e-9 for wrongly in range(allowed + 1)]
    best = max(thresholds, key=lambda threshold: (f1(threshold), threshold))
    below = max((p for p in probability.values() if p < best), default=best - 0.01)
    return Abstainer(answerable, (below + best + 1e-9) / 2, correct)


def separation(questions: Sequence[GoldQuestion], results: dict[str, QuestionResult],
               abstainer: Abstainer | None = None) -> dict[str, dict[str, float]]:  # fmt: skip
    """ROC AUC of each abstention feature (turned the way ``abstainer``, by default the fitted model
    the product uses, weighs it) and of the model's confidence, for answerable questions against
    on-topic and against off-topic unanswerable ones: 0.5 is chance, 1.0 a clean split."""
    from sklearn.metrics import roc_auc_score

    abstainer = abstainer or Abstainer.load()
    answerable = [q for q in questions if q.answerable]
    signs = {name: 1.0 if weight >= 0 else -1.0 for name, weight in zip(FEATURES, abstainer.answerable.weights, strict=True)}
    scores: dict[str, Callable[[QuestionResult], float]] = {
        **{name: lambda r, name=name: signs[name] * r.features[name] for name in FEATURES},
        "confidence": lambda r: r.confidence,
    }
    table: dict[str, dict[str, float]] = {}
    for topic in ("on", "off"):
        group = answerable + [q for q in questions if not q.answerable and q.topic == topic]
        if len(group) == len(answerable) or not answerable:
            continue
        labels = [int(q.answerable) for q in group]
        for name, score in scores.items():
            auc = roc_auc_score(labels, [score(results[q.id]) for q in group])
            table.setdefault(name, {})[f"{topic}_topic"] = round(float(auc), 3)
    return table


def judge_examples(assistant: Assistant, questions: Sequence[GoldQuestion]) -> list[tuple[str, list[dict[str, float]], list[int]]]:
    """(question id, each candidate sentence's features, whether it holds the evidence) for the
    answerable questions, as ``Assistant.explain`` shows the candidates."""
    examples = []
    for question in questions:
        if not question.answerable:
            continue
        trace = assistant.explain(question.question, top_k=10)
        places = [place for evidence in question.evidence for place in evidence.places]
        labels = [int(any(holds_evidence(s.doc_id, s.start, s.end, s.text, p, assistant) for p in places)) for s in trace.sentences]
        examples.append((question.id, [dict(s.features) for s in trace.sentences], labels))
    return examples


def fit_judge(examples: Sequence[tuple[str, list[dict[str, float]], list[int]]]) -> Judge:
    """A logistic model of "this candidate sentence holds the answer" over every candidate of every
    example, unweighted: its probability is calibrated, and the confidence models weigh it."""
    x = [[row[name] for name in JUDGE_FEATURES] for _, rows, _ in examples for row in rows]
    y = [label for _, _, labels in examples for label in labels]
    fitted = _logistic(x, y, balanced=False)
    return Judge(fitted.weights, fitted.bias)


def top_choice_accuracy(judge: Judge, examples: Sequence[tuple[str, list[dict[str, float]], list[int]]]) -> float:
    """The share of examples whose most likely candidate holds the answer."""
    right = 0
    for _, rows, labels in examples:
        if rows:
            scores = [judge.probability(row) for row in rows]
            right += labels[max(range(len(rows)), key=lambda i: (scores[i], -i))]
    return right / len(examples) if examples else 0.0

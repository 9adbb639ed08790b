"""Fitting the abstention model on the dev split (``rag-eval fit-abstention``), and how well its
features separate answerable questions from the others (a column of the gold report).

Past the facade: it fits and reads the abstention model itself (``rag.abstention``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from rag.abstention import FEATURES, Abstainer
from rag_eval.gold import GoldQuestion
from rag_eval.metrics import QuestionResult

# The target is at most 5% false abstention; the threshold is set for 3% on dev because dev has
# about 80 answerable questions (one question moves the rate by 1.2 points).
DEV_FALSE_ABSTENTION = 0.03


def fit_abstention(results: dict[str, QuestionResult], questions: Sequence[GoldQuestion]) -> Abstainer:
    """Logistic regression of answerable vs. not on the dev split's features (balanced classes).
    Of the thresholds that abstain on at most 3% of dev's answerable questions, the one with the
    best dev F1 for abstaining (the highest of equals), placed in the middle of the gap below the
    answerable question it keeps: 1e-9 below it, as before, a rerun's last-digit differences in the
    features (ONNX Runtime's threaded sums) flipped that question."""
    from sklearn.linear_model import LogisticRegression

    dev = [q for q in questions if q.split == "dev"]
    x = [[results[q.id].features[name] for name in FEATURES] for q in dev]
    y = [int(q.answerable) for q in dev]
    model = LogisticRegression(class_weight="balanced", C=1.0, max_iter=1000).fit(x, y)
    fitted = Abstainer(tuple(float(w) for w in model.coef_[0]), float(model.intercept_[0]))
    probability = {q.id: fitted.probability(results[q.id].features) for q in dev}
    answerable = sorted(probability[q.id] for q in dev if q.answerable)
    unanswerable = [probability[q.id] for q in dev if not q.answerable]

    def f1(threshold: float) -> float:
        caught = sum(p < threshold for p in unanswerable)
        wrongly = sum(p < threshold for p in answerable)
        return 2 * caught / (caught + wrongly + len(unanswerable)) if unanswerable else 0.0

    allowed = int(DEV_FALSE_ABSTENTION * len(answerable))
    thresholds = [answerable[wrongly] - 1e-9 for wrongly in range(allowed + 1)]
    best = max(thresholds, key=lambda threshold: (f1(threshold), threshold))
    below = max((p for p in probability.values() if p < best), default=best - 0.01)
    return replace(fitted, threshold=(below + best + 1e-9) / 2)


def separation(questions: Sequence[GoldQuestion], results: dict[str, QuestionResult],
               abstainer: Abstainer | None = None) -> dict[str, dict[str, float]]:  # fmt: skip
    """ROC AUC of each abstention feature (turned the way ``abstainer``, by default the fitted model
    the product uses, weighs it) and of the model's confidence, for answerable questions against on-topic and against off-topic unanswerable ones:
    0.5 is chance, 1.0 a clean split."""
    from sklearn.metrics import roc_auc_score

    abstainer = abstainer or Abstainer.load()
    answerable = [q for q in questions if q.answerable]
    signs = {name: 1.0 if weight >= 0 else -1.0 for name, weight in zip(FEATURES, abstainer.weights, strict=True)}
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

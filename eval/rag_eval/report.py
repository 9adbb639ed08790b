"""Reports of the evaluation harness: markdown tables, JSON, a plot, and deltas against an old run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rag_eval.paths import write_whole

HEADLINE = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")
ANSWERING = ("abstain_f1", "abstain_precision", "abstain_recall", "abstain_recall_on_topic", "abstain_recall_off_topic",
             "false_abstention", "first_sentence_holds_evidence", "answer_contains_evidence", "answer_overlaps_evidence",
             "confidence_auroc", "confidence_ece", "span_shown", "span_inside_evidence", "span_f1", "span_exact", "p50_ms", "p95_ms")  # fmt: skip
CONFIDENCE = ("confidence_auroc", "confidence_ece")
LANGUAGES = ("zh-Hans", "zh-Hant", "en")


def _table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.1f}" if abs(value) >= 2 else f"{value:.3f}"  # milliseconds vs. scores
        return str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _name(report: dict[str, Any], name: str) -> str:
    return f"**{name}** (default)" if name == report.get("default") else name


def _answering(config: dict[str, Any], split: str, metric: str) -> Any:
    if metric.startswith(("abstain", "false_abstention", "confidence")) and not config.get("abstains", True):
        return "—"
    return config[split]["overall"].get(metric, 0.0)


def _separation_table(config: dict[str, Any]) -> list[str]:
    separation = config.get("separation")
    if not separation:
        return []
    return [
        "\n### What the abstention model can tell apart (default, all questions)\n",
        _table(
            ["feature", "AUC: answerable vs. on-topic unanswerable", "AUC: answerable vs. off-topic unanswerable"],
            [[name, aucs.get("on_topic", "—"), aucs.get("off_topic", "—")] for name, aucs in separation.items()],
        ),
        "\nROC AUC of each feature, turned the way the abstention model weighs it, and of the model's confidence: "
        "0.5 is chance, 1.0 a clean split. Off-topic questions are told apart by how close the articles come; "
        "on-topic ones are written about the articles' own people and events, so closeness hardly tells them "
        "apart from answerable ones: that takes reading the passage.",
    ]


def gold_markdown(report: dict[str, Any], split: str = "test") -> str:
    configs = report["configurations"]
    gold = report["gold"]
    parts = [
        f"Gold set: {gold['questions']} questions ({gold['answerable']} answerable), dev {gold['dev']} / test {gold['test']}; "
        f"{gold.get('other_places', 0)} more places in the articles state the same fact as an evidence span and count as it. "
        f"Headline numbers are on the **{split}** split; tuning used dev only. "
        f"Bare query encoding p50: {report['query_encoding_p50_ms']} ms.",
        f"\n### Retrieval ({split})\n",
        _table(
            ["configuration", *HEADLINE, "questions"],
            [
                [
                    _name(report, n),
                    *(c[split]["overall"].get(m, 0.0) for m in HEADLINE),
                    c[split]["overall"].get("questions", 0),
                ]
                for n, c in configs.items()
            ],
        ),
        f"\n### Answers and abstention ({split})\n",
        _table(
            ["configuration", *ANSWERING],
            [[_name(report, n), *(_answering(c, split, m) for m in ANSWERING)] for n, c in configs.items()],
        ),
        "\nAbstention columns are — for the ablations, which answer every question (the abstention model is fitted on the default's scores). "
        "Recall on/off topic: unanswerable questions about the articles' people and events vs. unrelated ones. "
        "span_shown: share of answerable questions whose answer shows the reader's exact span; span_inside_evidence: share of "
        "those spans lying inside a gold evidence span (or a place stating the same fact); span_f1 / span_exact: the span against the gold "
        "answer (CMRC 2018's F1 and exact match, Simplified script, 0 without a span), over the answerable questions whose evidence quotes "
        "their answer word for word.",
        *_separation_table(configs.get(report.get("default") or "", {})),
        f"\n### MRR@10 and Recall@5 by question language ({split})\n",
        _table(
            ["configuration", *(f"{lang} MRR@10" for lang in LANGUAGES), *(f"{lang} R@5" for lang in LANGUAGES)],
            [
                [
                    _name(report, n),
                    *(c[split]["lang"].get(lang, {}).get("mrr@10", 0.0) for lang in LANGUAGES),
                    *(c[split]["lang"].get(lang, {}).get("recall@5", 0.0) for lang in LANGUAGES),
                ]
                for n, c in configs.items()
            ],
        ),  # fmt: skip
    ]
    default = configs.get(report.get("default") or "", {}).get(split)
    if default:
        parts += _targets(report, split) + _reliability(default, split) + _distractors(report, split) + _time_and_conversations(report, split)
        parts += [
            f"\n### Default configuration by question type ({split})\n",
            _table(
                ["type", "questions", *HEADLINE],
                [[t, s["questions"], *(s[m] for m in HEADLINE)] for t, s in default["type"].items()],
            ),
            f"\n### Default configuration, paraphrased vs. not ({split})\n",
            _table(
                ["paraphrased", "questions", *HEADLINE],
                [[p, s["questions"], *(s[m] for m in HEADLINE)] for p, s in default["paraphrase"].items()],
            ),
        ]
    other = "dev" if split == "test" else "test"
    parts += [
        f"\n### For reference: the {other} split\n",
        _table(["configuration", "mrr@10", "recall@5", "abstain_f1", "false_abstention"],
               [[_name(report, n), *(_answering(c, other, m) for m in ("mrr@10", "recall@5", "abstain_f1", "false_abstention"))] for n, c in configs.items()]),
    ]  # fmt: skip
    return "\n".join(parts) + "\n"


TARGETS = (  # issue 24: (figure, metric, where, the target's test)
    ("the answer's first sentence holds the evidence", "first_sentence_holds_evidence", "overall", lambda v: v >= 0.85, "≥ 0.85"),
    ("the answer (with its supporting sentences) holds the evidence", "answer_contains_evidence", "overall", lambda v: v >= 0.90, "≥ 0.90"),
    ("MRR@10", "mrr@10", "overall", lambda v: v >= 0.92, "≥ 0.92"),
    *((f"MRR@10, {lang} questions", "mrr@10", lang, lambda v: v >= 0.92, "≥ 0.92") for lang in LANGUAGES),
    ("abstention F1", "abstain_f1", "overall", lambda v: v >= 0.80, "≥ 0.80"),
    ("false abstention", "false_abstention", "overall", lambda v: v <= 0.05, "≤ 0.05"),
    ("abstention recall, on-topic unanswerable", "abstain_recall_on_topic", "overall", lambda v: v >= 0.60, "≥ 0.60"),
    ("confidence AUROC (right vs. wrong or should have abstained)", "confidence_auroc", "overall", lambda v: v >= 0.85, "≥ 0.85"),
    ("confidence ECE", "confidence_ece", "overall", lambda v: v <= 0.05, "≤ 0.05"),
    ("span shown, of answerable questions", "span_shown", "overall", lambda v: v >= 0.60, "≥ 0.60"),
    ("spans inside the evidence", "span_inside_evidence", "overall", lambda v: v >= 0.85, "≥ 0.85"),
)  # fmt: skip


def _targets(report: dict[str, Any], split: str) -> list[str]:
    default = report["configurations"][report["default"]][split]
    rows = []
    for label, metric, where, met, target in TARGETS:
        value = default["overall"].get(metric) if where == "overall" else default["lang"].get(where, {}).get(metric)
        rows.append([label, "—" if value is None else value, target, "—" if value is None else ("met" if met(value) else "**missed**")])
    return [f"\n### Issue 24's targets, default configuration ({split})\n", _table(["figure", "measured", "target", ""], rows)]


def _reliability(default: dict[str, Any], split: str) -> list[str]:
    bins = default.get("reliability")
    if not bins:
        return []
    return [
        f"\n### Reliability of the confidence shown ({split}, answers shown)\n",
        _table(["confidence", "answers", "mean confidence", "share right"],
               [[f"{b['low']:.1f}–{b['high']:.1f}", b["answers"], b["confidence"], b["right"]] for b in bins]),  # fmt: skip
        "\nRight: the answer's own sentence holds the evidence; wrong: another sentence, or an answer to a question the "
        "articles leave open. The page shows ≥ 0.8 as 可靠, ≥ 0.5 as 可能, below as 不确定.",
    ]


def _time_and_conversations(report: dict[str, Any], split: str) -> list[str]:
    """Issue 28's rows: time-dependent questions, and questions asked in a conversation."""
    overall = report["configurations"][report["default"]][split]["overall"]
    parts = []
    if overall.get("time_questions"):
        first = overall["right_period_first"]
        rows = [[f"the newest (or the asked-for period's) evidence first, of {overall['time_questions']}", first, "≥ 0.85",
                 "met" if first >= 0.85 else "**missed**"]]  # fmt: skip
        if "answer_in_right_period" in overall:  # reports written before stop 32 lack it
            rows.append(["the answer's own sentence holds that evidence", overall["answer_in_right_period"], "—", ""])
        parts += [f"\n### Questions whose answer depends on when ({split}, default)\n", _table(["figure", "measured", "target", ""], rows)]
    asked = (report.get("conversations") or {}).get(split)
    if asked:
        metrics = ("mrr@10", "recall@5", "first_sentence_holds_evidence", "questions")
        parts += [f"\n### Questions asked in a conversation ({split}, default)\n",
                  _table(["asked", *metrics], [[name, *(scores.get(m, 0.0) for m in metrics)] for name, scores in asked.items()]),
                  "\nTargets (issue 28): follow-ups with their history within 0.05 MRR@10 of the same questions written out in "
                  "full; self-contained questions after a history within 0.01 of the same asked alone."]  # fmt: skip
    return parts


def _distractors(report: dict[str, Any], split: str) -> list[str]:
    found = report.get("distractors")
    if not found:
        return []
    plain = report["configurations"][report["default"]][split]["overall"]
    among = found[split]["overall"]
    metrics = ("mrr@10", "recall@5", "first_sentence_holds_evidence", "abstain_recall", "abstain_recall_on_topic", "false_abstention")
    return [
        f"\n### Among {found['documents']:,} unrelated paragraphs ({found['passages']:,} passages) ({split})\n",
        _table(["setting", *metrics], [["the five articles alone", *(plain.get(m, 0.0) for m in metrics)],
                                      ["among the distractors", *(among.get(m, 0.0) for m in metrics)]]),  # fmt: skip
        f"\nDistractors: every paragraph of {', '.join(found['paths'])}, each a document of its own (`rag-eval gold --distractors`).",
    ]


def public_markdown(results: list[dict[str, Any]]) -> str:
    rows = []
    for result in results:
        scope = "full dev set" if result["full"] else f"{result['queries']} sampled queries"
        rows.append(
            [
                f"{result['dataset']} — this system (default)",
                *(result["scores"][m] for m in ("recall@1", "recall@5", "recall@10", "mrr@10")),
                f"{scope}, p50 {result['p50_ms']} ms",
            ]
        )
        rows += [
            [
                f"{result['dataset']} — {b['config']}",
                b["recall@1"],
                b["recall@5"],
                b["recall@10"],
                b["mrr@10"],
                "README baseline",
            ]
            for b in result["baselines"]
        ]
    return _table(["system", "R@1", "R@5", "R@10", "MRR@10", "note"], rows) + "\n"


def plot(report: dict[str, Any], path: Path, split: str = "test") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    configs = report["configurations"]
    names = list(configs)
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    for axis, metric in zip(axes, ("mrr@10", "recall@5"), strict=True):
        width = 0.8 / (len(LANGUAGES) + 1)
        positions = np.arange(len(names))
        for offset, lang in enumerate(("all", *LANGUAGES)):
            values = [
                configs[n][split]["overall"][metric]
                if lang == "all"
                else configs[n][split]["lang"].get(lang, {}).get(metric, 0)
                for n in names
            ]
            axis.bar(positions + offset * width, values, width, label=lang)
        axis.set_xticks(
            positions + width * 1.5, [n.replace("+", "+\n").replace(", ", ",\n") for n in names], fontsize=7
        )
        axis.set_ylim(0, 1)
        axis.set_title(f"{metric} on the {split} split")
        axis.grid(axis="y", alpha=0.3)
    axes[0].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_gold_report(report: dict[str, Any], directory: Path) -> None:
    write_whole(directory / "latest.json", json.dumps(report, ensure_ascii=False, indent=2).encode() + b"\n")
    plot(report, directory / "latest.png")
    markdown = "# Retrieval evaluation\n\nMade by `rag-eval gold` (`make eval`).\n\n" + gold_markdown(report)
    markdown += "\n![metric by configuration and language](latest.png)\n"
    public = sorted(directory.glob("public-*.json"))
    if public:
        markdown += "\n## Public benchmarks\n\n" + public_markdown([json.loads(p.read_text()) for p in public])
    write_whole(directory / "latest.md", markdown.encode())


def write_public_report(result: dict[str, Any], directory: Path) -> None:
    write_whole(
        directory / f"public-{result['dataset']}.json", json.dumps(result, ensure_ascii=False, indent=2).encode() + b"\n"
    )


COMPARED = ("mrr@10", "recall@5", "abstain_f1", "false_abstention", "answer_contains_evidence")


def compare(old: dict[str, Any], new: dict[str, Any], split: str = "test") -> str:
    """Per configuration and metric: old → new (delta), for configurations present in both."""
    rows = []
    for name, config in new["configurations"].items():
        if name not in old.get("configurations", {}) or not isinstance(config, dict) or split not in config:
            continue
        cells = []
        for metric in COMPARED:
            before, after = _answering(old["configurations"][name], split, metric), _answering(config, split, metric)
            cells.append("—" if "—" in (before, after) else f"{before:.3f} → {after:.3f} ({after - before:+.3f})")
        rows.append([name, *cells])
    return _table(["configuration", *COMPARED], rows)

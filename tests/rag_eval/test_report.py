"""Report deltas."""

from __future__ import annotations


def test_compare_shows_deltas_and_no_abstention_figures_for_configurations_that_never_abstain():
    from rag_eval.report import compare

    def report(mrr: float, f1: float) -> dict:
        overall = {"mrr@10": mrr, "recall@5": 0.9, "abstain_f1": f1, "false_abstention": 0.05, "answer_contains_evidence": 0.8}
        return {"configurations": {"dense": {"test": {"overall": overall}, "abstains": False},
                                   "default": {"test": {"overall": overall}, "abstains": True}}}  # fmt: skip

    table = compare(report(0.70, 0.5), report(0.75, 0.6)).splitlines()
    assert table[2].startswith("| dense | 0.700 → 0.750 (+0.050) | 0.900 → 0.900 (+0.000) | — | — | 0.800")
    assert "| 0.500 → 0.600 (+0.100) | 0.050 → 0.050 (+0.000) |" in table[3]


def test_time_and_conversation_rows_say_what_was_measured_and_whether_it_met_the_target():
    from rag_eval.report import _time_and_conversations

    report = {"default": "d", "configurations": {"d": {"test": {"overall": {"time_questions": 15, "right_period_first": 0.6,
                                                                             "answer_in_right_period": 0.4}}}},
              "conversations": {"test": {"follow-up, with history": {"mrr@10": 0.868, "recall@5": 0.957,
                                                                     "first_sentence_holds_evidence": 0.652, "questions": 23}}}}  # fmt: skip
    text = "\n".join(_time_and_conversations(report, "test"))
    assert "| the newest (or the asked-for period's) evidence first, of 15 | 0.600 | ≥ 0.85 | **missed** |" in text
    assert "| the answer's own sentence holds that evidence | 0.400 | — |  |" in text
    assert "| follow-up, with history | 0.868 | 0.957 | 0.652 | 23 |" in text
    assert _time_and_conversations({**report, "conversations": {}, "configurations": {"d": {"test": {"overall": {}}}}}, "test") == []

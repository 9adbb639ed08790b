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

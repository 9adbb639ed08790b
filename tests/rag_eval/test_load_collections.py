"""The collections phase's bookkeeping (no model): which acknowledged uploads were lost, and the
report's verdicts. The phase itself runs, small, in tests/rag_eval/test_load.py."""

from __future__ import annotations

from rag_eval.load_collections import Collections, Upload, lost_documents, rows


def test_an_upload_is_lost_when_its_collection_does_not_list_it_or_another_one_does():
    acknowledged = [Upload("desk-a", "006_aa", "load-0.txt"), Upload("desk-b", "006_bb", "load-1.txt"),
                    Upload("desk-a", "007_cc", "load-2.txt")]  # fmt: skip
    assert lost_documents(acknowledged, {"desk-a": {"001", "006_aa", "007_cc"}, "desk-b": {"006_bb"}}) == []
    lost = lost_documents(acknowledged, {"desk-a": {"006_aa", "006_bb"}, "desk-b": {"006_bb"}})
    assert lost == ["load-1.txt (006_bb) is listed in desk-a too", "load-2.txt (007_cc) is not listed in desk-a"]


def _phase(**changes: object) -> Collections:
    measured = {"archive": 300, "archive_listed": 300, "build_s": 60.0, "questions": 200, "quiet_p95_s": 1.0, "during": 400,
                "during_p95_s": 1.5, "within": 390, "slowest_s": 3.0, "uploads": 8, "lost": ()}  # fmt: skip
    return Collections(**(measured | changes))  # type: ignore[arg-type]


def test_the_verdicts_follow_the_targets():
    assert _phase().ratio == 1.5 and all(verdict == "met" for *_, verdict in rows(_phase(), clients=20))
    missed = {row[0]: row[3] for row in rows(_phase(during_p95_s=2.5, lost=("x",), archive_listed=299, within=0, slowest_s=61.0), clients=20)}
    assert sum(verdict == "**missed**" for verdict in missed.values()) == 4, missed

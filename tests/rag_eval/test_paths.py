"""Where the evaluation's data and reports live (``$RAG_HOME``/eval), and reports written whole."""

from __future__ import annotations

import pytest

from rag_eval import paths


def test_the_gold_set_and_reports_live_under_the_projects_eval_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("RAG_HOME", str(tmp_path))
    assert (paths.gold_file(), paths.reports_dir()) == (tmp_path / "eval" / "gold.jsonl", tmp_path / "eval" / "reports")


def test_a_report_is_written_whole_or_the_old_one_stays(tmp_path, monkeypatch):
    report = tmp_path / "reports" / "latest.json"
    paths.write_whole(report, b"old")
    paths.write_whole(report, b"new")
    assert report.read_bytes() == b"new" and [p.name for p in report.parent.iterdir()] == ["latest.json"]

    def dies(self, data: bytes) -> int:
        raise KeyboardInterrupt  # a run stopped while writing

    monkeypatch.setattr(type(report), "write_bytes", dies)
    with pytest.raises(KeyboardInterrupt):
        paths.write_whole(report, b"half")
    assert report.read_text() == "new"

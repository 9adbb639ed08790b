"""The `rag` command as a user runs it: JSON shape, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

RAG = [str(Path(sys.executable).with_name("rag"))]


def run(*args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    if home is not None:
        env["RAG_HOME"] = str(home)
    return subprocess.run(RAG + list(args), capture_output=True, text=True, env=env, timeout=300)


def test_ask_json_has_the_api_fields(news):
    result = run("ask", "Which OpenAI CTO resigned?", "--top-k", "3", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert set(payload) == {"question", "text", "passages", "citations", "abstained", "confidence", "reason", "features"}
    assert len(payload["passages"]) == 3
    assert set(payload["passages"][0]) >= {"doc_id", "title", "text", "start", "end", "score", "rank", "highlight"}
    if not payload["abstained"]:
        assert set(payload["citations"][0]) == {"rank", "doc_id", "start", "end", "passage_start", "passage_end"}


def test_empty_question_exits_2_with_one_line(news):
    result = run("ask", "   ")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "empty" in result.stderr
    assert "Traceback" not in result.stderr


def test_overlong_question_exits_2(news):
    result = run("ask", "问" * 2500)
    assert result.returncode == 2 and "limit" in result.stderr and "Traceback" not in result.stderr


def test_add_of_non_utf8_file_exits_2(project_copy, tmp_path):
    bad = tmp_path / "gbk.txt"
    bad.write_bytes("国家的新闻".encode("gbk"))
    result = run("add", str(bad), home=project_copy)
    assert result.returncode == 2 and "UTF-8" in result.stderr and "Traceback" not in result.stderr


def test_eval_options_naming_nothing_exit_2_before_the_model_loads(tmp_path):
    result = run("eval", "--bench", str(tmp_path), home=tmp_path)  # RAG_HOME without a model
    assert result.returncode == 2 and "not a benchmark folder" in result.stderr and "Traceback" not in result.stderr
    result = run("eval", "--config", "nonsense", home=tmp_path)
    assert result.returncode == 2 and "hybrid" in result.stderr and "Traceback" not in result.stderr


def test_info_lists_documents_and_model(news):
    result = run("info", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["counts"]["documents"] == len(payload["documents"]) == 5
    assert "multilingual-e5-small" in payload["model"]

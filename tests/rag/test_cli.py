"""The `rag` command as a user runs it: JSON shape, exit codes, one-line errors, never a traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

RAG = [str(Path(sys.executable).with_name("rag"))]


def run(*args: str | bytes, home: Path | None = None, cache: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    if home is not None:
        env["RAG_HOME"] = str(home)
    if cache is not None:
        env["RAG_CACHE"] = str(cache)
    result = subprocess.run(RAG + list(args), capture_output=True, text=True, env=env, timeout=300)
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    return result


# ---- no model needed: these fail before it would load


@pytest.mark.parametrize("question", ["   ", "问" * 2500, "估值\x1b[2J"])
def test_an_unusable_question_exits_2_with_one_line(tmp_path, question):
    result = run("ask", question, home=tmp_path, cache=tmp_path / "no-model")
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0 and result.stderr.startswith("error:")


@pytest.mark.parametrize(("options", "message"), [
    (["--since", "2024-02-30"], "error: since: '2024-02-30' is no date of the calendar"),
    (["--since", "2024-10-01", "--until", "2024-09-01"], "error: since (2024-10-01) is after until (2024-09-01)"),
    (["--until", "26/09/2024"], "error: until: a date is written YYYY-MM-DD"),
])  # fmt: skip
def test_an_unusable_filter_exits_2_with_one_line_before_the_model_loads(tmp_path, options, message):
    result = run("ask", "OpenAI估值多少?", *options, home=tmp_path, cache=tmp_path / "no-model")
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0 and result.stderr.startswith(message), result.stderr


def test_an_impossible_date_for_added_files_exits_2_before_anything_is_read(tmp_path):
    result = run("add", str(tmp_path / "missing.txt"), "--date", "2024-13-01", home=tmp_path, cache=tmp_path / "no-model")
    assert result.returncode == 2 and result.stderr.startswith("error: --date: '2024-13-01' is no date of the calendar"), result.stderr
    assert not (tmp_path / "corpus").exists()


def test_invalid_utf8_in_the_arguments_is_a_clear_error(tmp_path):
    result = run("ask", os.fsdecode(b"OpenAI\xff\xfe?"), home=tmp_path, cache=tmp_path / "no-model")
    assert result.returncode == 2 and "surrogate" in result.stderr


def test_a_collection_name_that_is_a_path_is_refused(tmp_path):
    result = run("--collection", "../etc", "info", home=tmp_path, cache=tmp_path / "no-model")
    assert result.returncode == 2 and "invalid collection name" in result.stderr


def test_a_missing_model_says_how_to_prepare_it(tmp_path):
    (tmp_path / "corpus").mkdir()
    result = run("ask", "OpenAI估值多少?", home=tmp_path, cache=tmp_path / "no-model")
    assert result.returncode == 1 and "rag model" in result.stderr


def test_serving_on_a_busy_port_is_refused_before_anything_loads(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = run("serve", "--port", str(busy.getsockname()[1]), home=tmp_path, cache=tmp_path / "no-model")
    assert result.returncode == 2 and "choose another" in result.stderr


def test_the_product_cli_lists_only_product_commands():
    commands = run("--help").stdout
    for command in ("ask", "add", "remove", "documents", "info", "build", "verify", "serve", "model"):
        assert f" {command} " in commands
    assert " eval " not in commands and " bench " not in commands and " adapter " not in commands


# ---- with the model


def test_ask_json_has_the_api_fields(news):
    result = run("ask", "Which OpenAI CTO resigned?", "--top-k", "3", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert set(payload) == {"question", "text", "passages", "citations", "abstained", "confidence", "reason", "features", "span",
                            "reliability"}  # fmt: skip
    assert len(payload["passages"]) == 3 and not payload["abstained"]
    assert payload["reliability"] in {"reliable", "likely", "uncertain"}  # the confidence in words
    assert set(payload["passages"][0]) == {"rank", "doc_id", "title", "source", "text", "start", "end", "score", "highlight", "date"}
    # every citation quotes its sentence and the time it speaks of; the first one is the answer's
    assert set(payload["citations"][0]) == {"rank", "doc_id", "start", "end", "passage_start", "passage_end", "text", "time", "date"}
    assert payload["citations"][0]["text"] == payload["text"]


def test_ask_narrowed_by_date_source_and_document(news):
    result = run("ask", "哪位OpenAI首席技术官宣布离职?", "--since", "2024-09-20", "--json")
    assert result.returncode == 0, result.stderr
    assert {p["doc_id"] for p in json.loads(result.stdout)["passages"]} == {"004_c511aff020beec01"}
    result = run("ask", "OpenAI估值多少?", "--source", "虎嗅網", "--source", "新智元", "--document", "000_a3d17ee69bd47227", "--json")
    assert {p["doc_id"] for p in json.loads(result.stdout)["passages"]} == {"000_a3d17ee69bd47227"}
    readable = run("ask", "哪位OpenAI首席技术官宣布离职?", "--since", "2024-09-20", "-k", "1")
    assert "(2024-09-26 · 004_c511aff020beec01 " in readable.stdout
    unknown = run("ask", "OpenAI估值多少?", "--document", "999_nope")
    assert unknown.returncode == 2 and "no document '999_nope'" in unknown.stderr


def test_add_remove_and_list_documents(project_copy, tmp_path):
    article = tmp_path / "lunar.txt"
    article.write_text("月球基地计划公布。\n航天局宣布,月球南极基地将于2031年建成,首批驻留人员为6名宇航员。\n", encoding="utf-8")
    added = run("add", str(article), home=project_copy)
    assert added.returncode == 0 and added.stdout.startswith("added 005_"), added.stderr
    doc_id = added.stdout.split()[1].rstrip(":")
    listed = json.loads(run("documents", "--json", home=project_copy).stdout)
    assert doc_id in {d["id"] for d in listed} and len(listed) == 6
    assert {d["id"][:3]: d["published"] for d in listed}["001"] == "2023-11-21"
    again = run("add", str(article), home=project_copy)
    assert again.returncode == 0 and again.stdout.startswith(f"unchanged {doc_id}")
    dated = run("add", str(article), "--date", "2031-01-15", home=project_copy)
    assert dated.returncode == 0 and dated.stdout.startswith(f"updated {doc_id}") and "(2031-01-15)" in dated.stdout
    assert f"{doc_id}  2031-01-15  月球基地计划公布" in run("documents", home=project_copy).stdout
    removed = run("remove", doc_id, home=project_copy)
    assert removed.returncode == 0 and f"removed {doc_id}" in removed.stdout
    unknown = run("remove", doc_id, home=project_copy)
    assert unknown.returncode == 2 and "no document" in unknown.stderr


def test_add_of_a_bad_file_exits_2(project_copy, tmp_path):
    bad = tmp_path / "gbk.txt"
    bad.write_bytes("国家的新闻".encode("gbk"))
    result = run("add", str(bad), home=project_copy)
    assert result.returncode == 2 and "UTF-8" in result.stderr


def test_build_repairs_a_damaged_index_without_force(project_copy):
    """`rag build` used to fail with the very error that told the user to run it."""
    segment = next((project_copy / "index" / "news" / "segments").iterdir())
    (segment / "chunk_vectors.bin").write_bytes(b"garbage")
    result = run("build", home=project_copy)
    assert result.returncode == 0 and "damaged" in result.stderr and "index ready: 5 documents" in result.stdout


def test_verify_reports_damage_changing_nothing_and_build_repairs_it(project_copy):
    assert run("verify", home=project_copy).stdout.strip().endswith("nothing to redo")
    segment = next((project_copy / "index" / "news" / "segments").iterdir())
    path = segment / "sentence_vectors.bin"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit: the size is right, the checksum is not
    path.write_bytes(bytes(data))
    result = run("verify", "--json", home=project_copy)
    report = json.loads(result.stdout)
    assert result.returncode == 1 and not report["ok"] and path.read_bytes() == bytes(data)
    assert [(d["part"], d["redo"], d["documents"]) for d in report["damage"]] == [(segment.name, "documents", 5)]
    assert "sentence_vectors.bin does not match its checksum" in report["damage"][0]["problem"]
    assert report["redo"] == [f"embed again the 5 documents of {segment.name} (read from {project_copy / 'corpus'})"]
    built = run("build", home=project_copy)
    assert built.returncode == 0 and "damaged" in built.stderr and "index ready: 5 documents" in built.stdout
    assert run("verify", home=project_copy).returncode == 0


def test_info_lists_documents_model_and_store(news):
    result = run("info", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["documents"] == len(payload["documents_list"]) == 5
    assert "multilingual-e5-small" in payload["model_id"] and payload["store"] == "local files"


def test_article_text_with_escape_codes_prints_none(project_copy, tmp_path):
    article = tmp_path / "ansi.txt"
    article.write_text("\x1b]0;pwned\x07标题\x1b[2J\n正文里有一个\x1b[31m红色\x1b[0m的词。", encoding="utf-8")
    added = run("add", str(article), home=project_copy)
    listed = run("info", home=project_copy)
    asked = run("ask", "正文里有什么颜色的词?", home=project_copy)
    for output in (added.stdout, listed.stdout, asked.stdout):
        assert "\x1b" not in output and "\x07" not in output


def test_pdf_and_word_files_are_added_and_bad_ones_refused_with_the_reason(project_copy, tmp_path):
    from documents import SIMPLIFIED, hanzi_pdf, news_docx, scanned_pdf

    (tmp_path / "report.pdf").write_bytes(hanzi_pdf(SIMPLIFIED))
    (tmp_path / "letter.docx").write_bytes(news_docx())
    added = run("add", str(tmp_path / "report.pdf"), str(tmp_path / "letter.docx"), home=project_copy)
    assert added.returncode == 0 and added.stdout.count("added ") == 2, added.stderr
    answer = json.loads(run("ask", "大型语言模型单次训练耗资多少?", "--json", home=project_copy).stdout)  # only in the PDF
    assert "数亿美元" in answer["text"] and answer["passages"][0]["doc_id"] == added.stdout.split()[1].rstrip(":")
    (tmp_path / "scan.pdf").write_bytes(scanned_pdf())
    refused = run("add", str(tmp_path / "scan.pdf"), home=project_copy)
    assert refused.returncode == 2 and "scan.pdf: the PDF has no text layer" in refused.stderr


def test_the_librarys_warnings_print_on_stderr_as_the_commands_own_lines(capsys):
    import logging

    from rag import cli

    library = logging.getLogger("rag")
    before = list(library.handlers), library.level
    try:
        cli.show_library_messages()
        cli.show_library_messages()  # once per process, however often it is called
        logging.getLogger("rag.abstention").warning("%s was fitted on other features", "abstention.json")
        logging.getLogger("rag.collection").info("Indexed 2 documents.")
        logging.getLogger("rag.collection").debug("not shown")
    finally:
        library.handlers, library.level = before
    assert capsys.readouterr().err == "warning: abstention.json was fitted on other features\nIndexed 2 documents.\n"

"""rag.ingest: from documents to what a store holds (chunks and sentences with exact offsets, the
sentences each chunk holds, tokens and vectors, in bounded batches that a cancel stops before the
next one), and what decides an index's content, versioned by hand and held to the code.

The probe runs every versioned step (the document row and what describing an article puts in it,
extraction per format, cleaning, sentences, chunks, tokens, names, the vector index's structure) on fixed inputs and compares the outputs with
``snapshots/probe.json``: an output that changes without its version bump fails, naming the constant
to bump. ``RAG_UPDATE_PROBE=1`` rewrites the snapshot once the bump is made.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import ARTICLES, CORPUS, REPO
from documents import SIMPLIFIED, TRADITIONAL, hanzi_pdf, news_docx, reportlab_pdf
from fakes import FakeEncoder

from rag import ChunkSettings, Settings, VectorIndexSettings
from rag.chunk import chunk_spans, split_sentences
from rag.clean import clean_text
from rag.corpus import CorpusFolder, describe
from rag.document import Document, from_entry, text_fingerprint
from rag.errors import CancelledError
from rag.formats import decode_text, html_text, markdown_text
from rag.ingest import BATCH_PIECES, VERSIONS, contained_sentences, derive_terms, index_documents, library_versions
from rag.lexical import tokenize
from rag.pdf import pdf_text
from rag.vectors import build_ivf
from rag.word import docx_text

TEXT = "米拉·穆拉蒂(Mira Murati)宣布辞去OpenAI首席技术官一职。她在公司工作了六年半。奥特曼表示感谢。"


def _document(doc_id: str, text: str = TEXT) -> Document:
    return Document(id=doc_id, file=f"{doc_id}.txt", title=text[:8], script="zh-Hans", sha256="0" * 64, text=text)


def test_a_chunk_holds_the_sentences_inside_it_or_else_those_it_overlaps():
    # chunks (0, 10) and (8, 30); sentences (0, 4), (4, 9), (9, 30): the first chunk holds the first two;
    # the second starts inside the second sentence, so it holds only the third
    assert contained_sentences([(0, 10), (8, 30)], [(0, 4), (4, 9), (9, 30)]) == [(0, 1), (2,)]
    assert contained_sentences([(5, 8)], [(0, 10)]) == [(0,)]  # a sentence longer than the chunk


def test_a_document_becomes_pieces_with_exact_offsets_tokens_vectors_and_names():
    settings = Settings(chunk=ChunkSettings(size=30, overlap=5))
    encoder = FakeEncoder()
    (indexed,) = index_documents([_document("d")], encoder, settings)
    text = indexed.document.text
    assert [text[s:e] for s, e in indexed.sentences] == ["米拉·穆拉蒂(Mira Murati)宣布辞去OpenAI首席技术官一职。", "她在公司工作了六年半。", "奥特曼表示感谢。"]
    assert indexed.chunk_vectors.shape == (len(indexed.chunks), 64) and indexed.sentence_vectors.shape == (3, 64)
    assert encoder.passages == len(indexed.chunks) + 3
    assert all(length == sum(counts.values()) for counts, length in zip(indexed.chunk_terms, indexed.chunk_lengths, strict=True))
    assert set(indexed.names) == {"mira", "murati"}  # written both ways in the article: 米拉·穆拉蒂(Mira Murati)


def test_documents_are_embedded_in_batches_and_a_cancel_stops_before_the_next(monkeypatch):
    monkeypatch.setattr("rag.ingest.BATCH_PIECES", 3)  # each document (3 sentences and chunks) fills a batch
    cancel, encoder = threading.Event(), FakeEncoder()
    batches = index_documents([_document(f"d{n}") for n in range(3)], encoder, Settings(), cancel=cancel)
    first = next(batches)
    cancel.set()
    with pytest.raises(CancelledError, match="nothing was added"):
        next(batches)
    assert first.document.id == "d0" and encoder.passages == 4  # one batch: 1 chunk and 3 sentences
    assert BATCH_PIECES == 4096


# ---- the versions of what decides an index's content

SNAPSHOT = Path(__file__).parent / "snapshots" / "probe.json"
UPDATE = "RAG_UPDATE_PROBE=1 python -m pytest tests/rag/test_ingest.py -k probe"
# version key → (the constant to bump, what a bump makes existing indexes do, the libraries it uses)
STEPS = {
    "document": ("rag.document.DOCUMENT_VERSION", "read every file again", ()),
    "describe": ("rag.corpus.DESCRIPTION_VERSION", "read every file again", ("opencc",)),
    "clean": ("rag.clean.CLEANING_VERSION", "read every file again", ("opencc",)),
    "extract.txt": ('rag.formats.EXTRACTION_VERSIONS["txt"]', "read the .txt files again", ()),
    "extract.md": ('rag.formats.EXTRACTION_VERSIONS["md"]', "read the .md files again", ()),
    "extract.html": ('rag.formats.EXTRACTION_VERSIONS["html"]', "read the .html files again", ()),
    "extract.pdf": ('rag.formats.EXTRACTION_VERSIONS["pdf"]', "read the .pdf files again", ("pypdfium2",)),
    "extract.docx": ('rag.formats.EXTRACTION_VERSIONS["docx"]', "read the .docx files again", ("python-docx", "lxml")),
    "sentences": ("rag.chunk.SENTENCES_VERSION", "embed everything again", ()),
    "chunk": ("rag.chunk.CHUNKING_VERSION", "embed everything again", ("langchain-text-splitters",)),
    "tokens": ("rag.lexical.TOKENS_VERSION", "recompute their postings", ("jieba", "opencc")),
    "names": ("rag.expand.NAMES_VERSION", "recompute their names", ("jieba", "opencc")),
    "vector_index": ("rag.vectors.VECTOR_INDEX_VERSION", "rebuild their vector indexes", ()),
}
HANDMADE = {  # what the seed articles lack
    "controls": "标题\x1b[2J一行\x07文字。\n\u202e倒转\u202c的文字在这里出现。\n",
    "widths": "ＯｐｅｎＡＩ　估值１５００亿美元。\n\n\n  两个   空格！ \n",
    "boilerplate": "正文第一段,内容完整。\n分享至 Facebook\nhttps://example.com/x\n2024-09-26\n关注我们\n正文第二段,同样完整。\n菜单",
    "names": "米拉·穆拉蒂(Mira Murati)与山姆·奥特曼(Sam Altman)会面。伊尔亚·苏茨克维(Ilya Sutskever)缺席。",
    "english": "OpenAI said on Monday... It will raise $6.6 billion; the round values it at $157 billion. Really?",
    **ARTICLES,
}
MARKDOWN = b"# Title\n\n> quote **bold** and `code`\n\n- item [link](http://x.y) ![img](a.png)\n"
HTML = "<html><head><title>标题</title><style>p{}</style></head><body><h1>一</h1><p>二<br>三</p><script>x()</script><ul><li>四</li></ul>&amp;&#20116;</body></html>"


def _seed_inputs() -> dict[str, tuple[str, str | None]]:
    """The seed articles as scraped (name → raw text, the manifest's drop_from)."""
    entries = {str(entry["file"]): entry for entry in CorpusFolder(CORPUS).read_manifest().entries}
    return {name: ((CORPUS / name).read_text(encoding="utf-8"), entries[name].get("drop_from")) for name in sorted(entries)}  # type: ignore[misc]


def probe() -> dict[str, dict[str, object]]:
    """step → input name → output, and the inputs' digests (a changed input is no code change)."""
    raw = {name: (text, None) for name, text in HANDMADE.items()} | _seed_inputs()
    outputs: dict[str, dict[str, object]] = {key: {} for key in STEPS}
    outputs["extract.txt"] = {"bom": decode_text("\ufeff一行\r\n二行".encode(), "x"), "plain": decode_text(HANDMADE["english"].encode(), "x")}
    outputs["extract.md"] = {"marks": markdown_text(MARKDOWN, "x")}
    outputs["extract.html"] = {"blocks": html_text(HTML.encode(), "x")}
    outputs["extract.pdf"] = {
        "furniture": pdf_text(hanzi_pdf(SIMPLIFIED * 3, furniture=True), "x"),
        "scripts": pdf_text(reportlab_pdf([("MSung-Light", TRADITIONAL[0]), ("STSong-Light", SIMPLIFIED[0])], indent=False), "x"),
    }
    outputs["extract.docx"] = {"news": docx_text(news_docx(), "x")}
    outputs["describe"] = {name: describe(text, text) for name, (text, _) in raw.items()}  # the raw text alone: cleaning has its own probe
    rows = {"full": Document("000_0123456789abcdef", "000_0123456789abcdef.pdf", "标题", "zh-Hant", "0" * 64, "正文。\n第二段。",
                             source="新华社", date="2024年9月26日", drop_from="责任编辑", name="原来的名字.pdf"),
            "bare": Document("a", "a.txt", "", "zh-Hans", "f" * 64, "")}  # fmt: skip
    outputs["document"] = {name: {"entry": document.entry(), "line": document.manifest_line(), "checksum": document.checksum,
                                  "text": text_fingerprint(document.text), "again": from_entry(document.entry(), document.text) == document}
                           for name, document in rows.items()}  # fmt: skip
    texts = {name: clean_text(text, drop_from=drop) for name, (text, drop) in raw.items()}
    outputs["clean"] = dict(texts)
    texts |= {f"{step}:{name}": text for step in ("extract.pdf", "extract.docx") for name, text in outputs[step].items()}  # type: ignore[misc]
    for name, text in texts.items():
        sentences = split_sentences(text)
        outputs["sentences"][name] = sentences
        chunks = chunk_spans(text, ChunkSettings())
        outputs["chunk"][name] = {"default": chunks, "small": chunk_spans(text, ChunkSettings(40, 10)),
                                  "contained": contained_sentences(chunks, sentences)}  # fmt: skip
        terms = derive_terms(text, chunks)
        outputs["tokens"][name] = {"tokens": [tokenize(text[s:e]) for s, e in chunks],
                                   "terms": [sorted(counts.items()) for counts in terms.chunk_terms], "lengths": terms.chunk_lengths}  # fmt: skip
        outputs["names"][name] = {word: list(chinese) for word, chinese in sorted(terms.names.items())}
    index = build_ivf(np.random.default_rng(0).standard_normal((25_000, 8)).astype(np.float32), VectorIndexSettings())
    outputs["vector_index"] = {"25000x8": {"type": type(index).__name__, "lists": index.nlist, "code_size": index.code_size, "metric": index.metric_type}}
    inputs = {name: hashlib.sha256(json.dumps(value, ensure_ascii=False).encode()).hexdigest() for name, value in raw.items()}
    return {"outputs": outputs, "inputs": inputs}  # type: ignore[dict-item]


def _digests(outputs: dict[str, dict[str, object]]) -> dict[str, dict[str, str]]:
    return {step: {name: hashlib.sha256(json.dumps(value, ensure_ascii=False).encode()).hexdigest()[:16] for name, value in found.items()}
            for step, found in outputs.items()}  # fmt: skip


def test_the_probe_of_every_versioned_step_matches_its_snapshot_or_names_the_constant_to_bump():
    assert set(STEPS) == set(VERSIONS), "every versioned step has a probe"
    found = probe()
    current = {"versions": VERSIONS, "libraries": library_versions(), "inputs": found["inputs"], "outputs": _digests(found["outputs"])}  # type: ignore[arg-type]
    if os.environ.get("RAG_UPDATE_PROBE"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(current, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        pytest.skip(f"{SNAPSHOT} rewritten")
    snapshot = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    problems = []
    changed_inputs = sorted(name for name, digest in current["inputs"].items() if snapshot["inputs"].get(name) != digest)
    for step, (constant, cost, libraries) in STEPS.items():
        before, after = snapshot["outputs"].get(step, {}), current["outputs"][step]
        if snapshot["versions"].get(step) != VERSIONS[step]:
            problems.append(f"{step}: {constant} is {VERSIONS[step]}, the snapshot's {snapshot['versions'].get(step)}: refresh it ({UPDATE})")
            continue
        differing = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
        if not differing:
            continue
        upgraded = [f"{lib} {snapshot['libraries'].get(lib)} → {current['libraries'][lib]}" for lib in libraries
                    if snapshot["libraries"].get(lib) != current["libraries"][lib]]  # fmt: skip
        if set(differing) <= set(changed_inputs) or upgraded:
            why = f"the libraries changed ({', '.join(upgraded)}), which the fingerprint already records" if upgraded else "its inputs changed"
            problems.append(f"{step}: the output for {', '.join(differing)} changed because {why}: refresh the snapshot ({UPDATE})")
        else:
            problems.append(f"{step}: the output for {', '.join(differing)} changed without a version bump: bump {constant} "
                            f"(now {VERSIONS[step]}) so that existing indexes {cost}, then refresh the snapshot ({UPDATE})")  # fmt: skip
    assert not problems, "\n".join(problems)


def test_the_probe_fails_with_the_constant_to_bump_when_a_step_changes_its_output(monkeypatch):
    from rag import lexical

    monkeypatch.delenv("RAG_UPDATE_PROBE", raising=False)  # else the mutant's outputs would become the snapshot
    tokenize_before = lexical.tokenize
    monkeypatch.setattr("rag.ingest.tokenize", lambda text: [token.upper() for token in tokenize_before(text)])
    monkeypatch.setattr(sys.modules[__name__], "tokenize", lambda text: [token.upper() for token in tokenize_before(text)])
    with pytest.raises(AssertionError, match=r"tokens: the output for .* changed without a version bump: bump rag\.lexical\.TOKENS_VERSION \(now 1\)"):
        test_the_probe_of_every_versioned_step_matches_its_snapshot_or_names_the_constant_to_bump()


def test_a_change_to_the_stored_document_row_is_a_version_bump_not_a_code_digest(monkeypatch):
    """The row a store keeps of a document (``rag.document``: its entry and checksum) decides what an
    index holds as much as its vectors: a new field fails the probe, naming the constant to bump."""
    monkeypatch.delenv("RAG_UPDATE_PROBE", raising=False)
    entry = Document.entry
    monkeypatch.setattr(Document, "entry", lambda self: entry(self) | {"language": "zh"})
    with pytest.raises(AssertionError, match=r"document: the output for bare, full changed without a version bump: bump rag\.document\.DOCUMENT_VERSION"):
        test_the_probe_of_every_versioned_step_matches_its_snapshot_or_names_the_constant_to_bump()


EDIT = '\n\n# a comment added by tests/rag/test_ingest.py\ndef _an_unused_function_added_by_a_test() -> None:\n    """Changes no output."""\n'
OPEN = """
import json, sys
from pathlib import Path
from fakes import FakeEncoder
from rag import Assistant, ChunkSettings, Settings
root = Path(sys.argv[1])
encoder = FakeEncoder()
assistant = Assistant.load(Settings(root=root, cache_dir=root / "cache", store=None, chunk=ChunkSettings(size=40, overlap=10)), encoder=encoder)
print(json.dumps({"library": __import__("rag").__file__, "embedded": encoder.passages, "documents": assistant.info().documents}))
"""


def test_an_edit_that_changes_no_output_rebuilds_nothing(tiny, tmp_path):
    """Every module of the library gains a comment and an unused function: the index built before
    opens as it is (no embedding, no new generation)."""
    from rag import Assistant
    from rag.store.local import CURRENT

    settings, encoder = tiny
    Assistant.load(settings, encoder=encoder)
    generation = (settings.index_dir / CURRENT).read_text()
    edited = tmp_path / "edited"
    shutil.copytree(REPO / "rag", edited / "rag", ignore=shutil.ignore_patterns("__pycache__"))
    for module in (edited / "rag").rglob("*.py"):
        module.write_text(module.read_text(encoding="utf-8") + EDIT, encoding="utf-8")
    path = os.pathsep.join([str(edited), str(REPO / "tests")])
    opened = subprocess.run([sys.executable, "-c", OPEN, str(settings.root)], capture_output=True, text=True, check=False,
                            env={**os.environ, "PYTHONPATH": path}, cwd=tmp_path)  # fmt: skip
    assert opened.returncode == 0, opened.stderr[-3000:]
    result = json.loads(opened.stdout.splitlines()[-1])
    assert result["library"].startswith(str(edited)) and result["documents"] == 2
    assert result["embedded"] == 0 and (settings.index_dir / CURRENT).read_text() == generation, opened.stderr[-2000:]

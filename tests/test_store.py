"""Index round-trip, stale detection, corrupt detection and atomic saves, on a tiny corpus."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rag.assistant import Assistant
from rag.config import ChunkSettings, Settings
from rag.errors import IndexCorruptError
from rag.store import CURRENT, current_generation

ARTICLES = {
    "a.txt": "米拉·穆拉蒂宣布辞去OpenAI首席技术官一职。她在公司工作了六年半。奥特曼对她的贡献表示感谢。",
    "b.txt": "台積電是全球最大的晶圓代工廠。奧特曼曾向台積電高管提出建造36座晶圓廠的計劃。",
}


class CountingEncoder:
    """The real encoder, counting how many passages it was asked to embed."""

    def __init__(self, encoder):
        self.inner, self.passages = encoder, 0
        self.dimension = encoder.dimension

    def encode_passages(self, texts, progress=False):
        self.passages += len(texts)
        return self.inner.encode_passages(texts)

    def encode_queries(self, texts):
        return self.inner.encode_queries(texts)

    def encode_queries_adapted(self, texts):
        return self.inner.encode_queries_adapted(texts)


@pytest.fixture()
def tiny(tmp_path, encoder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in ARTICLES.items():
        (corpus / name).write_text(text, encoding="utf-8")
    counting = CountingEncoder(encoder)
    settings = Settings(root=tmp_path, chunk=ChunkSettings(size=40, overlap=10))
    return settings, counting


def open_index(settings: Settings, encoder) -> Assistant:
    return Assistant.load(settings, encoder=encoder)


def test_round_trip_reuses_the_saved_index(tiny, capsys):
    settings, encoder = tiny
    built = open_index(settings, encoder)
    assert "Building" in capsys.readouterr().err
    embedded = encoder.passages
    assert embedded == len(built.index.chunks) + len(built.index.sentences)

    loaded = open_index(settings, encoder)
    assert encoder.passages == embedded  # nothing re-embedded
    assert capsys.readouterr().err == ""
    assert loaded.index.chunks == built.index.chunks
    assert loaded.index.sentences == built.index.sentences
    assert np.array_equal(loaded.index.sentence_vectors, built.index.sentence_vectors)
    assert loaded.index.chunk_vectors.ntotal == built.index.chunk_vectors.ntotal
    assert loaded.index.lexical.tokens == built.index.lexical.tokens
    assert loaded.ask("谁辞去了首席技术官?", top_k=1).passages[0].doc_id == "a"


def test_manifest_records_what_the_index_depends_on(tiny):
    settings, encoder = tiny
    manifest = open_index(settings, encoder).manifest
    fingerprint = manifest["fingerprint"]
    assert fingerprint["dimension"] == 384 and fingerprint["chunk"] == {"size": 40, "overlap": 10}
    assert set(fingerprint["corpus"]) == {"a", "b"} and fingerprint["model_sha256"]
    assert {"faiss-cpu", "sentence-transformers", "bm25s"} <= set(manifest["libraries"])
    assert all(len(entry["sha256"]) == 64 for entry in manifest["files"].values())


def test_changed_document_triggers_a_rebuild(tiny, capsys):
    settings, encoder = tiny
    first = open_index(settings, encoder)
    old_generation = current_generation(settings.index_dir)
    (settings.corpus_dir / "b.txt").write_text(ARTICLES["b.txt"] + "台積電總部位於新竹。", encoding="utf-8")
    second = open_index(settings, encoder)
    assert "documents changed: b" in capsys.readouterr().err
    assert current_generation(settings.index_dir) != old_generation and not old_generation.exists()
    assert second.index.documents["b"].text.endswith("新竹。") and first.index.documents["b"].text != second.index.documents["b"].text


def test_changed_chunk_settings_trigger_a_rebuild(tiny, capsys):
    settings, encoder = tiny
    open_index(settings, encoder)
    capsys.readouterr()
    open_index(replace(settings, chunk=ChunkSettings(size=60, overlap=0)), encoder)
    assert "chunk changed" in capsys.readouterr().err


def test_added_document_is_embedded_alone(tiny, capsys):
    settings, encoder = tiny
    before = open_index(settings, encoder)
    embedded = encoder.passages
    (settings.corpus_dir / "c.txt").write_text("Sora是OpenAI的视频生成模型。它尚未公开推出。", encoding="utf-8")
    after = open_index(settings, encoder)
    assert "documents added: c" in capsys.readouterr().err
    new_chunks = len(after.index.chunks) - len(before.index.chunks)
    new_sentences = len(after.index.sentences) - len(before.index.sentences)
    assert new_chunks > 0 and encoder.passages - embedded == new_chunks + new_sentences
    assert after.ask("Sora是什么?", top_k=1).passages[0].doc_id == "c"


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete"])
@pytest.mark.parametrize("name", ["chunks.faiss", "sentences.npy", "chunks.json"])
def test_damaged_file_is_reported_with_the_fix(tiny, damage, name):
    settings, encoder = tiny
    open_index(settings, encoder)
    path = current_generation(settings.index_dir) / name
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        path.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    else:
        path.unlink()
    with pytest.raises(IndexCorruptError, match="rag build"):
        open_index(settings, encoder)


def test_unreadable_manifest_is_reported(tiny):
    settings, encoder = tiny
    open_index(settings, encoder)
    (current_generation(settings.index_dir) / "manifest.json").write_text("{not json")
    with pytest.raises(IndexCorruptError, match="manifest"):
        open_index(settings, encoder)


def test_crash_while_saving_leaves_the_previous_index(tiny, monkeypatch):
    settings, encoder = tiny
    open_index(settings, encoder)
    pointer = (settings.index_dir / CURRENT).read_text()
    (settings.corpus_dir / "c.txt").write_text("新的文章内容在这里。这是第二句话。", encoding="utf-8")

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("rag.store.faiss.write_index", crash)
    with pytest.raises(OSError, match="disk full"):
        open_index(settings, encoder)
    monkeypatch.undo()
    assert (settings.index_dir / CURRENT).read_text() == pointer
    assert not list(settings.index_dir.glob(".staging-*"))
    manifest = json.loads((current_generation(settings.index_dir) / "manifest.json").read_text())
    assert set(manifest["fingerprint"]["corpus"]) == {"a", "b"}
    assert "c" in open_index(settings, encoder).index.documents  # the next open catches up


def test_missing_model_gives_one_clear_message(tmp_path):
    from rag.embed import Encoder
    from rag.errors import ModelMissingError

    with pytest.raises(ModelMissingError, match="rag model"):
        Encoder.load(Path(tmp_path) / "no-model")


def test_forced_rebuild_keeps_the_old_index_until_the_new_one_is_saved(tiny, monkeypatch):
    settings, encoder = tiny
    open_index(settings, encoder)
    pointer = (settings.index_dir / CURRENT).read_text()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("rag.store.faiss.write_index", crash)
    with pytest.raises(OSError):
        Assistant.load(settings, encoder=encoder, rebuild=True)
    monkeypatch.undo()
    assert (settings.index_dir / CURRENT).read_text() == pointer  # the working index survived
    embedded = encoder.passages
    rebuilt = Assistant.load(settings, encoder=encoder, rebuild=True)
    assert encoder.passages > embedded and (settings.index_dir / CURRENT).read_text() != pointer
    assert rebuilt.ask("谁辞去了首席技术官?", top_k=1).passages[0].doc_id == "a"

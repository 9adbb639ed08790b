from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"
# Fixtures that need the prepared 470 MB model: a test using one is in the `model` tier.
MODEL_FIXTURES = {"encoder", "news", "project_copy", "server"}
INDEX_COPY = shutil.ignore_patterns(".staging-*", "LOCK")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.model)


@pytest.fixture(scope="session", autouse=True)
def project_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The project folder of the whole session (``$RAG_HOME``), holding copies of the seed articles
    and the gold set: whatever a test, or a command it starts, builds or changes with the default
    settings happens here, never in the checkout's index/ or corpus/."""
    home = tmp_path_factory.mktemp("project")
    shutil.copytree(CORPUS, home / "corpus")
    (home / "eval").mkdir()
    shutil.copy(REPO / "eval" / "gold.jsonl", home / "eval" / "gold.jsonl")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAG_HOME", str(home))
        yield home


def seed_raw(prefix: str) -> str:
    (path,) = CORPUS.glob(f"{prefix}_*.txt")
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def seed_documents():
    """The seed articles as the corpus reads them (no model needed), keyed by their number."""
    from rag.config import Settings
    from rag.corpus import CorpusFolder, document_from_bytes, read_bytes

    documents = {}
    for entry in CorpusFolder(CORPUS).read_manifest().entries:
        path = CORPUS / str(entry["file"])
        data = read_bytes(path, Settings().max_document_bytes, path.name)
        document = document_from_bytes(data, path.suffix, str(entry["id"]), label=path.name, file=path.name, overrides=entry)
        documents[document.id[:3]] = document
    return documents


@pytest.fixture(scope="session")
def encoder():
    from rag.config import Settings
    from rag import load_encoder

    return load_encoder(Settings())


@pytest.fixture(scope="session")
def news(project_home, encoder):
    """The assistant over the seed corpus in the session's project folder, its index made there once:
    from a copy of the checkout's index when there is one (``make test`` builds it first; opening the
    copy checks it and rebuilds it when stale), else built from the articles."""
    from rag import Assistant, Settings

    checkout_index = REPO / "index" / "news"
    if checkout_index.is_dir():
        shutil.copytree(checkout_index, project_home / "index" / "news", ignore=INDEX_COPY)
    return Assistant.load(Settings(root=project_home), encoder=encoder)


@pytest.fixture()
def project_copy(tmp_path, project_home, news):
    """A throw-away project folder of its own: the seed corpus and a copy of the session's index."""
    shutil.copytree(project_home / "corpus", tmp_path / "corpus")
    shutil.copytree(project_home / "index" / "news", tmp_path / "index" / "news", ignore=INDEX_COPY)
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


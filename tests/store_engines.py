"""The engines the store contract runs on (``tests/rag/store/test_contract*.py``): local files,
Milvus Lite and a Milvus 2.3 server, each an ``Engine`` holding a collection of two articles, which
opens assistants on it, reads its store apart from them and runs ``store_process.py`` on it; and the
helpers the contract's tests share (the answers to compare, an article file, the corpus folder)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import forked
import pytest
from fakes import FakeEncoder

from rag import Assistant, ChunkSettings, Settings
from rag.store import open_store
from rag.store.base import Store

ARTICLES = {
    "a.txt": "米拉·穆拉蒂宣布辞去OpenAI首席技术官一职。她在公司工作了六年半。奥特曼对她的贡献表示感谢。",
    "b.txt": "台積電是全球最大的晶圓代工廠。奧特曼曾向台積電高管提出建造36座晶圓廠的計劃。",
}
QUESTIONS = ["谁辞去了首席技术官?", "台积电要建多少座晶圆厂?", "奥特曼感谢了谁?", "Who resigned as CTO of OpenAI?"]
NEW_ARTICLE = "Sora是OpenAI的视频生成模型。它尚未公开推出。"
SCRIPT = Path(__file__).resolve().parent / "store_process.py"
ENGINES = ["local", pytest.param("lite", marks=pytest.mark.milvus),
           pytest.param("server", marks=[pytest.mark.milvus, pytest.mark.milvus_server])]  # fmt: skip


@dataclass
class Engine:
    name: str
    settings: Settings
    opened: list[Assistant] = field(default_factory=list)
    stores: list[Store] = field(default_factory=list)

    def open(self, rebuild: bool = False, encoder: FakeEncoder | None = None, **changes: object) -> Assistant:
        assistant = Assistant.load(replace(self.settings, **changes), encoder=encoder or FakeEncoder(), rebuild=rebuild)  # type: ignore[arg-type]
        self.opened.append(assistant)
        return assistant

    def store(self) -> Store:
        """The collection's store, apart from any assistant's (which tests do not reach into)."""
        store = open_store(self.settings)
        store.refresh()
        self.stores.append(store)
        return store

    def leftovers(self) -> bool:
        return self.store().has_leftovers()

    def close(self) -> None:
        """Lite serves a file to one process: close before another process opens it."""
        for assistant in self.opened:
            assistant.close()
        for store in self.stores:
            store.close()
        self.opened.clear()
        self.stores.clear()

    def run(self, action: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``python store_process.py SETTINGS ACTION ARG…``; on local files forked from a process that has
        the library loaded (``forked.py``), on Milvus started anew (its client is not forked)."""
        given = {"root": str(self.settings.root), "store": self.settings.store, "collection": self.settings.collection}
        if self.settings.store is None:
            return forked.run(SCRIPT, [json.dumps(given), action, *args], env=child_env(), timeout=timeout)
        return subprocess.run([sys.executable, str(SCRIPT), json.dumps(given), action, *args], capture_output=True, text=True, check=False,
                              env=child_env(), timeout=timeout)  # fmt: skip


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(SCRIPT.parent), *sys.path])}


def engine_settings(root: Path, store: str | None, collection: str) -> Settings:
    settings = Settings(root=root, cache_dir=root / "cache", store=store, collection=collection, chunk=ChunkSettings(size=40, overlap=10))
    settings.corpus_dir.mkdir(parents=True)
    for name, text in ARTICLES.items():
        (settings.corpus_dir / name).write_text(text, encoding="utf-8")
    return settings


def answers(assistant: Assistant) -> list[list[tuple[str, int, int, float]]]:
    return [[(p.doc_id, p.start, p.end, round(p.score, 4)) for p in assistant.ask(q, top_k=3).passages] for q in QUESTIONS]


def article(engine: Engine, name: str, text: str) -> Path:
    path = engine.settings.root / name
    path.write_text(text, encoding="utf-8")
    return path


def corpus_files(engine: Engine) -> list[str]:
    return sorted(p.name for p in engine.settings.corpus_dir.iterdir())

"""Where a collection's index lives, chosen by one setting (``Settings.store``, from ``$RAG_STORE``):
unset → local files under ``index/`` (``rag.store.local``)."""

from __future__ import annotations

from rag.config import Settings
from rag.store.base import Store


def open_store(settings: Settings) -> Store:
    from rag.store.local import LocalStore

    return LocalStore(settings)

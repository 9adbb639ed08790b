"""Where a collection's index lives, chosen by one setting (``Settings.store``, from ``$RAG_STORE``):
unset → local files under ``index/`` (``rag.store.local``); a path ending in ``.db`` → Milvus Lite in
this process; ``http://host:port`` or ``https://…`` → a Milvus server or cluster (``rag.store.milvus``).
"""

from __future__ import annotations

from rag.config import Settings
from rag.store.base import Store


def open_store(settings: Settings) -> Store:
    if settings.store is None:
        from rag.store.local import LocalStore

        return LocalStore(settings)
    from rag.store.milvus import MilvusStore  # pymilvus is imported only when a Milvus store is chosen

    return MilvusStore(settings)

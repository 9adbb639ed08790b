"""Where a Milvus store is, what its collections are called there, and a client whose every call is
bounded in time and fails as ``StoreUnavailableError`` (eval/milvus/notes.md §6)."""

from __future__ import annotations

import fcntl
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import grpc
from pymilvus import MilvusClient
from pymilvus.client import ts_utils
from pymilvus.exceptions import MilvusException

from rag.errors import StoreUnavailableError

CONNECT_TIMEOUT_S = 3.0  # MilvusClient's own timeout bounds only connecting (§6)
READ_TIMEOUT_S = 10.0  # every call passes its own timeout: without one a frozen server blocks forever (§6)
WRITE_TIMEOUT_S = 120.0
INDEX_TIMEOUT_S = 900.0  # loading, index builds (HNSW over 100k rows took 127 s on 2.3, §8)
TABLES = ("chunks", "sentences", "aux")
NEED_LOADED = ("query", "get", "search", "hybrid_search", "delete")  # the client's calls that need a loaded collection (delete: by filter)

# pymilvus logs every failed call with a traceback, and Lite's in-process gRPC server every call it
# lacks (pymilvus asks it for AllocTimestamp while creating an index): ours say what failed
for _name in ("pymilvus", "milvus_lite", "grpc._server"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class Location:
    uri: str  # what MilvusClient connects to
    lite: bool
    shown: str  # for messages: the path, or the URI without credentials


def parse_location(value: str) -> Location:
    """``RAG_STORE``'s value as a Milvus location, or ``StoreUnavailableError`` saying what is accepted."""
    text = value.strip()
    if text.endswith(".db") and "://" not in text:
        path = Path(text).expanduser().resolve()
        if not path.parent.is_dir():
            raise StoreUnavailableError(f"RAG_STORE={value!r}: the folder {path.parent} does not exist; create it first")
        return Location(str(path), True, str(path))
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port, parts = None, parts._replace(netloc="")
    if parts.scheme in ("http", "https") and parts.hostname:
        return Location(text, False, f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port else ""))
    raise StoreUnavailableError(
        f"RAG_STORE={value!r} is not a Milvus location: use a path ending in .db (Milvus Lite, one process) "
        "or http://host:port or https://host[:port] (a Milvus server); unset it to keep the index in local files"
    )


def _escape(slug: str) -> str:
    """Collection slugs may hold ``-``, Milvus names may not: ``_`` → ``__`` and ``-`` → ``_h`` can be undone."""
    return slug.replace("_", "__").replace("-", "_h")


def meta_name(slug: str) -> str:
    return f"rag_meta_{_escape(slug)}"


def table_name(kind: str, serial: int, slug: str) -> str:
    return f"rag_{kind}_{serial}_{_escape(slug)}"


def owned(name: str, slug: str) -> bool:
    """Whether ``name`` is one of this collection's tables (``rag_<kind>_<n>_<escaped slug>``)."""
    parts = name.split("_", 3)
    return len(parts) == 4 and parts[0] == "rag" and parts[1] in TABLES and parts[2].isdigit() and parts[3] == _escape(slug)


def _message(error: BaseException) -> str:
    if isinstance(error, MilvusException):
        text = error.message
    elif isinstance(error, grpc.RpcError):
        text = f"{error.code().name}: {error.details()}"  # type: ignore[attr-defined]
    else:
        text = str(error)
    return " ".join(str(text).split())[:300]


def _needed_loading(method: Callable[..., Any], error: MilvusException) -> bool:
    return getattr(method, "__name__", "") in NEED_LOADED and "not loaded" in _message(error)


def _lite_held_elsewhere(path: str) -> bool:
    """Lite locks its folder with ``flock``; pymilvus only says "Open local milvus failed" (§6)."""
    lock = Path(path) / "LOCK"
    if not lock.exists():
        return False
    with lock.open("rb") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


_lite_users: Counter[str] = Counter()  # Lite runs one engine per file and process: stopped with its last store
_lite_lock = threading.Lock()


class Milvus:
    """A ``MilvusClient`` whose every call has a timeout and fails as ``StoreUnavailableError``."""

    def __init__(self, location: Location, token: str | None) -> None:
        self.location = location
        try:
            self.client = MilvusClient(location.uri, token=token or "", timeout=CONNECT_TIMEOUT_S)
        except (MilvusException, grpc.RpcError) as error:
            if location.lite and _lite_held_elsewhere(location.uri):
                raise StoreUnavailableError(
                    f"{location.shown} is open in another process: Milvus Lite allows one process per file; "
                    "use a Milvus server (RAG_STORE=http://host:port) for several processes"
                ) from None
            raise self.failure("connect", error) from None
        detail = self.call("read its version", self.client.get_server_version, detail=True)
        version = str(detail.get("version", "")) if isinstance(detail, dict) else str(detail)
        numbers = [int(n) for n in version.lstrip("v").split("-")[0].split(".")[:3] if n.isdigit()]
        self.release = ".".join(map(str, numbers))  # "2.3.5" (the PyPI server calls itself "v2.3.5-lite")
        # Lite has sparse vectors; servers from 2.4 on (§7). The server's "-lite" suffix is no Lite.
        self.sparse = location.lite or tuple(numbers) >= (2, 4)
        if location.lite:
            with _lite_lock:
                _lite_users[location.uri] += 1

    def failure(self, what: str, error: BaseException) -> StoreUnavailableError:
        return StoreUnavailableError(f"the Milvus store at {self.location.shown} could not {what} ({_message(error)})")

    def call(self, what: str, method: Callable[..., Any], *args: Any, timeout: float = READ_TIMEOUT_S, **kwargs: Any) -> Any:
        try:
            try:
                return method(*args, timeout=timeout, **kwargs)
            except MilvusException as error:
                if not _needed_loading(method, error):
                    raise
                # released behind this process's back (another host creating it at the same moment,
                # an operator): loaded again once, and asked again (tests/rag/store/milvus/test_client.py)
                self.client.load_collection(args[0], timeout=INDEX_TIMEOUT_S)
                return method(*args, timeout=timeout, **kwargs)
        except (MilvusException, grpc.RpcError) as error:  # a timeout is a raw gRPC error, not a MilvusException (§6)
            raise self.failure(what, error) from None

    def last_write_ts(self, collection: str) -> int:
        """The timestamp of this process's last write to ``collection`` (0 on Lite). MilvusClient drops
        it from write results; pymilvus keeps it for Session reads, keyed by server address."""
        handler = self.client._get_connection()
        return int(ts_utils.get_collection_ts(collection, handler.server_address, "") or 0)

    def close(self) -> None:
        self.client.close()
        if self.location.lite:
            with _lite_lock:
                _lite_users[self.location.uri] -= 1
                last = _lite_users[self.location.uri] <= 0
            if last:
                from milvus_lite.server_manager import server_manager_instance

                server_manager_instance.release_server(self.location.uri)


def in_parallel(function: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
    """Calls that each wait for a server time tick (≈ 200 ms on 2.3) overlap instead of adding up.
    One call (a question's search under a filter that fits one expression) is made here, no thread."""
    items = list(items)
    if len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(len(items)) as pool:
        return list(pool.map(function, items))

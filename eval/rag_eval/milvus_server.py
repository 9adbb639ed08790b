"""A throw-away Milvus standalone server for tests and benchmarks.

The PyPI package ``milvus`` (2.3.5) ships the Milvus standalone binary with embedded etcd,
rocksmq and local storage. Its own launcher is not usable as is, for three reasons measured here:

* Every gRPC port (proxy 19530, coordinators, nodes) and the metrics/health port 9091 listen on
  ALL interfaces (``*:PORT``), whatever ``<component>.ip`` says: that setting is only the address
  a component advertises in etcd. So the server runs in a private network namespace that has only
  a loopback interface, and this process forwards one port from ``127.0.0.1`` on the host into it
  (and one for the health check). Nothing of the server is reachable from outside the machine.
* Its internal ports are fixed (etcd peer 2380 cannot even be configured), so two servers on one
  machine collide. In a private namespace each server has its own ports; only the forwarded host
  port has to be free, and it is bound here before the server starts (port 0: no race).
* It unpacks 250 MB of binaries (≈ 4.5 s) into every data directory. They are unpacked once into
  a cache (``$RAG_CACHE`` or ``~/.cache/rag``) and shared by all servers of the same version.

The namespace needs root (CAP_SYS_ADMIN), as on the project's machines and CI. The namespace, the
port forwarding and the spawning are ``rag_eval.milvus_network``'s; this module configures, starts,
waits for and stops the server.

    with milvus_server() as uri:               # temporary data, removed afterwards
        client = MilvusClient(uri)

    python -m rag_eval.milvus_server --data DIR --port 19530     # foreground until Ctrl-C
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import fcntl
import http.client
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from rag_eval.milvus_network import Forwarder, MilvusServerError, in_private_netns, spawn_from_long_lived_thread

log = logging.getLogger(__name__)

# The server's own ports inside its namespace (the package's defaults; nothing else is there).
_PROXY_PORT = 19530
_HEALTH_PORT = 9091
_COMPONENTS = ("rootCoord", "proxy", "queryCoord", "queryNode", "indexNode", "dataCoord", "dataNode")


def _cache_root() -> Path:
    return Path(os.environ.get("RAG_CACHE", Path.home() / ".cache" / "rag")).resolve()


def _binaries() -> Path:
    """The unpacked server binaries, shared by all servers of this package version."""
    import milvus

    root = _cache_root() / f"milvus-server-{milvus.__version__}"
    root.mkdir(parents=True, exist_ok=True)
    # A lock, or two test runs starting together would both write the same files.
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        milvus._initialize_data_files(str(root))  # skips files whose .md5 marker matches
    return root / "bin"


# Settings written over the package's template, as "section.key": value.
_SETTINGS: dict[str, object] = {
    # The address each component advertises: the namespace's only interface is loopback.
    **{f"{component}.ip": "127.0.0.1" for component in _COMPONENTS},
    # Measured: with the default (not in the template) SIGTERM hangs in "Query node stop..." for
    # over 60 s once a collection is loaded (coordinators stop first and the query node keeps
    # retrying them); with 2 s the server exits 2.7 s after SIGTERM.
    "queryNode.gracefulStopTimeout": 2,
    # Measured after kill -9 (and after SIGTERM): with the default 30 s the first Strong query
    # waits for the dead server's etcd sessions to expire, 35 s from restart to first answer;
    # with 10 s, 14-16 s. Sessions are kept alive every ttl/3, well within a busy machine's pauses.
    "common.session.ttl": 10,
}


def _write_config(base: Path) -> None:
    """``base/configs/milvus.yaml`` from the package's template, ports left at their defaults."""
    from milvus import MilvusServerConfig

    config = MilvusServerConfig(data_dir=str(base))
    config.resolve_storage()  # logs/, data/ (etcd, rocksmq, segments) under base
    config.write_config()
    path = base / "configs" / "milvus.yaml"
    path.write_text(_with_settings(path.read_text(encoding="utf-8"), _SETTINGS), encoding="utf-8")


def _with_settings(yaml_text: str, settings: dict[str, object]) -> str:
    """Sets dotted keys (``common.session.ttl``) in the template's YAML, adding missing keys.

    The package's own ``extra_configs`` only replaces keys already in its template. The template
    indents by two spaces, has no lists and no multi-line values; that is all this handles.
    """
    lines = yaml_text.splitlines()
    for dotted, value in settings.items():
        start, end = 0, len(lines)  # the block of the current key's parent
        parts = dotted.split(".")
        for depth, part in enumerate(parts):
            prefix = "  " * depth + part + ":"
            found = next((i for i in range(start, end) if lines[i].split("#")[0].rstrip() == prefix
                          or lines[i].startswith(prefix + " ")), None)  # fmt: skip
            if found is None:
                found = start
                lines.insert(found, prefix)
                end += 1
            if depth == len(parts) - 1:
                lines[found] = f"{prefix} {value}"
                break
            start = found + 1  # the child block: lines indented deeper than this key
            end = next((i for i in range(start, end) if lines[i].strip() and not lines[i].strip().startswith("#")
                        and len(lines[i]) - len(lines[i].lstrip()) <= 2 * depth), end)  # fmt: skip
    return "\n".join(lines) + "\n"


class MilvusServerProcess:
    """One Milvus 2.3 standalone server on ``http://127.0.0.1:port``; see the module doc.

    ``data_dir`` None: a temporary directory, removed by ``stop()``. Given: kept, so a later
    server on the same directory sees the same collections.
    """

    def __init__(
        self,
        data_dir: Path | None = None,
        port: int | None = None,
        timeout_s: float = 60,
        stop_timeout_s: float = 20,
    ) -> None:
        self.data_dir = data_dir
        self.requested_port = port
        self.timeout_s = timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.proc: subprocess.Popen[bytes] | None = None
        self.uri = ""
        self.start_seconds = 0.0
        self.stop_seconds = 0.0
        self._base: Path | None = None
        self._temporary = data_dir is None
        self._forwarders: list[Forwarder] = []

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def metrics_url(self) -> str:
        """The server's Prometheus metrics (the health port serves them too): its own time per request."""
        return f"http://127.0.0.1:{self._forwarders[1].port}/metrics"

    @property
    def base_dir(self) -> Path | None:
        """Where config, logs and data are (the temporary directory if none was given)."""
        return self._base

    @property
    def log_dir(self) -> Path | None:
        return self._base / "logs" if self._base else None

    def start(self) -> str:
        started = time.monotonic()
        deadline = started + self.timeout_s
        # A script that ends without stop() still stops the server and removes its temp data.
        atexit.register(self.stop)
        try:
            # Host ports first: a port in use fails here, before anything is spawned.
            for port, target in ((self.requested_port, _PROXY_PORT), (None, _HEALTH_PORT)):
                self._forwarders.append(Forwarder(port, target))
            if self.data_dir is None:
                self._base = Path(tempfile.mkdtemp(prefix="milvus-server-"))
            else:
                self._base = Path(self.data_dir).resolve()
            self._base.mkdir(parents=True, exist_ok=True)
            _write_config(self._base)
            self._spawn(_binaries())
            netns = self._wait_for_namespace(deadline)
            for forwarder in self._forwarders:
                forwarder.start_in_namespace(netns)
            self.uri = f"http://127.0.0.1:{self._forwarders[0].port}"
            self._wait_until_serving(deadline)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - started
        log.info("Milvus server pid %s on %s (started in %.1f s)", self.pid, self.uri, self.start_seconds)
        return self.uri

    def _spawn(self, bin_dir: Path) -> None:
        assert self._base is not None
        env = dict(os.environ)
        env.update(
            DEPLOY_MODE="STANDALONE",
            METRICS_PORT=str(_HEALTH_PORT),
            MILVUS_RUN_DIR=str(self._base / "run"),
            LD_LIBRARY_PATH=":".join(filter(None, [str(bin_dir), os.environ.get("LD_LIBRARY_PATH")])),
        )
        argv = [str(bin_dir / "milvus"), "run", "standalone"]
        bootstrap = in_private_netns(argv)
        logs = self._base / "logs"
        with open(logs / "milvus-stdout.log", "ab") as out, open(logs / "milvus-stderr.log", "ab") as err:
            # cwd: the server reads ./configs/milvus.yaml. Own session: stop() signals the group.
            self.proc = spawn_from_long_lived_thread(
                bootstrap, cwd=self._base, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                start_new_session=True,
            )  # fmt: skip

    def _wait_for_namespace(self, deadline: float) -> Path:
        """The child's namespace once it has left ours (it may not have called unshare yet)."""
        assert self.proc is not None
        own = os.stat("/proc/self/ns/net").st_ino
        path = Path(f"/proc/{self.proc.pid}/ns/net")
        while time.monotonic() < deadline:
            self._raise_if_exited()
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_ino != own:
                    return path
            time.sleep(0.02)
        raise MilvusServerError("the server process did not enter its network namespace in time")

    def _raise_if_exited(self) -> None:
        assert self.proc is not None
        code = self.proc.poll()
        if code is not None:
            tail = ""
            if self.log_dir:
                with contextlib.suppress(OSError):
                    tail = (self.log_dir / "milvus-stderr.log").read_text(errors="replace")[-2000:]
            raise MilvusServerError(f"Milvus server exited with {code}; logs in {self.log_dir}\n{tail}")

    def _wait_until_serving(self, deadline: float) -> None:
        """Healthy (``/healthz`` says OK), then one real request through the forwarded port."""
        health_port = self._forwarders[1].port
        while True:
            self._raise_if_exited()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise MilvusServerError(
                    f"Milvus server not healthy within {self.timeout_s:.0f} s; logs in {self.log_dir}"
                )
            connection = http.client.HTTPConnection("127.0.0.1", health_port, timeout=min(2.0, remaining))
            try:
                connection.request("GET", "/healthz")
                if b"OK" in connection.getresponse().read():
                    break
            except (OSError, http.client.HTTPException):
                pass
            finally:
                connection.close()
            time.sleep(0.2)
        from pymilvus import MilvusClient

        # Healthy is not always ready for DDL yet: list_collections goes through rootCoord.
        client = MilvusClient(self.uri, timeout=max(1.0, deadline - time.monotonic()))
        try:
            client.list_collections()
        finally:
            client.close()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after ``stop_timeout_s``; forwarders closed; temp data removed."""
        started = time.monotonic()
        atexit.unregister(self.stop)
        for forwarder in self._forwarders:
            forwarder.stop()
        self._forwarders.clear()
        if self.proc is not None and self.proc.poll() is None:
            # 2.3.5 logs "All cleanup done" on SIGTERM, then panics closing its etcd client and
            # exits with SIGABRT (-6): that is its normal clean shutdown. The server is one
            # process (etcd is embedded), alone in its process group.
            self._signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("Milvus server pid %s ignored SIGTERM for %.0f s: killed", self.pid, self.stop_timeout_s)
                self._signal_group(signal.SIGKILL)
                self.proc.wait(timeout=10)
        if self._temporary and self._base is not None:
            shutil.rmtree(self._base, ignore_errors=True)
        self.stop_seconds = time.monotonic() - started

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@contextlib.contextmanager
def milvus_server(data_dir: Path | None = None, port: int | None = None, timeout_s: float = 60) -> Iterator[str]:
    """Yields ``http://127.0.0.1:PORT`` of a running server; stops it (and its temp data) on exit."""
    server = MilvusServerProcess(data_dir, port, timeout_s)
    with server as uri:
        yield uri


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        prog="python -m rag_eval.milvus_server",
        description="Run a Milvus 2.3 standalone server on 127.0.0.1 in the foreground until Ctrl-C.",
    )
    parser.add_argument("--data", type=Path, required=True, help="data directory (kept across runs)")
    parser.add_argument("--port", type=int, default=19530, help="port on 127.0.0.1 (default 19530)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for it to start")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server = MilvusServerProcess(args.data, args.port, args.timeout)
    try:
        server.start()
    except MilvusServerError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"Milvus {server.uri}  (data {args.data}, logs {server.log_dir}); Ctrl-C stops it", flush=True)
    try:
        while not stop.wait(1.0):
            if server.proc is not None and server.proc.poll() is not None:
                print(f"Milvus server exited with {server.proc.returncode}; logs in {server.log_dir}", file=sys.stderr)
                return 1
    finally:
        server.stop()
        print(f"stopped in {server.stop_seconds:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

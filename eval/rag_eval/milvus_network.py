"""The network side of the throw-away Milvus server (``rag_eval.milvus_server``): a child process
exec'd in a private network namespace whose only interface is loopback (``in_private_netns``: it
dies with its launcher), the ``Forwarder`` that carries connections from a port on the host's
127.0.0.1 into that namespace, the one long-lived thread servers are spawned from, and the error
both modules raise (``MilvusServerError``). Standard library only: run as a script, it is the
child's first step (``--exec-in-private-netns ARGV``).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import queue
import signal
import socket
import struct
import subprocess
import sys
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

_CLONE_NEWNET = 0x40000000
_PR_SET_PDEATHSIG = 1
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1


class MilvusServerError(RuntimeError):
    """The server could not be started (the message says why and where its logs are)."""


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def in_private_netns(argv: list[str]) -> list[str]:
    """The command that runs ``argv`` in a new private network namespace (``exec_in_private_netns``)."""
    return [sys.executable, str(Path(__file__).resolve()), "--exec-in-private-netns", *argv]


def exec_in_private_netns(argv: list[str]) -> None:
    """Runs in the child: new network namespace with loopback up, then exec the server.

    A separate exec step rather than ``preexec_fn``, which is unsafe in a threaded parent
    (pytest, gRPC). PDEATHSIG: if the launcher dies (kill -9), the server dies with it instead
    of living on unreachable in its namespace.
    """
    libc = _libc()
    _check(libc.unshare(_CLONE_NEWNET), "unshare(CLONE_NEWNET)")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        ifreq = struct.pack("16sH22x", b"lo", 0)
        (flags,) = struct.unpack_from("16xH", fcntl.ioctl(sock, _SIOCGIFFLAGS, ifreq))
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | _IFF_UP))
    _check(libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() == 1:  # the launcher died before prctl took effect
        sys.exit(1)
    os.execv(argv[0], argv)


def _bind_loopback(port: int | None) -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # A restarted server takes its port back while old connections are in TIME_WAIT (on Linux
    # this does not let two listeners share a port).
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("127.0.0.1", port or 0))
    except OSError as exc:
        listener.close()
        if exc.errno == errno.EADDRINUSE:
            raise MilvusServerError(f"port {port} on 127.0.0.1 is already in use") from exc
        raise
    listener.listen(64)
    listener.settimeout(0.5)  # so the accept loop notices stop() within 0.5 s
    return listener


class Forwarder(threading.Thread):
    """Forwards connections from a host loopback port to a port inside the server's namespace.

    The thread joins the namespace (setns is per thread) after the listening socket was made on
    the host: sockets keep the namespace they were created in, so it accepts on the host and
    connects inside. Each connection is pumped by two daemon threads.
    """

    def __init__(self, port: int | None, target_port: int) -> None:
        self.listener = _bind_loopback(port)
        self.port: int = self.listener.getsockname()[1]
        super().__init__(name=f"milvus-forward-{self.port}", daemon=True)
        self._netns = Path()
        self._target_port = target_port
        self._stopping = threading.Event()
        self._joined = threading.Event()
        self._error: OSError | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start_in_namespace(self, netns: Path, timeout_s: float = 5.0) -> None:
        self._netns = netns
        self.start()
        if not self._joined.wait(timeout_s) or self._error is not None:
            raise MilvusServerError(f"could not enter the server's network namespace: {self._error}")

    def run(self) -> None:
        try:
            fd = os.open(self._netns, os.O_RDONLY)
            try:
                _check(_libc().setns(fd, _CLONE_NEWNET), "setns")
            finally:
                os.close(fd)
        except OSError as exc:  # reported by start_in_namespace
            self._error = exc
            self._joined.set()
            return
        self._joined.set()
        while not self._stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break  # listener closed by stop()
            try:
                upstream = socket.create_connection(("127.0.0.1", self._target_port), timeout=5)
            except OSError:
                client.close()  # the server is not (yet) listening: the client sees a reset
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._sockets.update((client, upstream))
            pending = [2]  # pumps of this pair still running; the last one closes both sockets
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst, pending), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, pending: list[int]) -> None:
        try:
            while data := src.recv(1 << 16):
                dst.sendall(data)
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)  # pass the half-close on
        except OSError:  # reset or stop(): end the other direction too
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        with self._lock:
            pending[0] -= 1
            if pending[0] == 0:
                for sock in (src, dst):
                    sock.close()
                    self._sockets.discard(sock)

    def stop(self) -> None:
        self._stopping.set()
        self.listener.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self.is_alive():
            self.join(timeout=2)


_spawner_lock = threading.Lock()
_spawner_requests: queue.Queue[tuple[list[str], dict[str, Any], Future[subprocess.Popen[bytes]]]] = queue.Queue()


def spawn_from_long_lived_thread(argv: list[str], **popen_kwargs: Any) -> subprocess.Popen[bytes]:
    """Popen from one daemon thread that lives as long as this process.

    PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the process: a
    server started from a short-lived thread (a thread pool, a test helper) would be killed as
    soon as that thread ended. Forking from a thread that ends only with the process makes the
    signal mean "the launcher process died".
    """
    with _spawner_lock:
        if not any(t.name == "milvus-spawner" for t in threading.enumerate()):
            threading.Thread(target=_spawner, name="milvus-spawner", daemon=True).start()
    result: Future[subprocess.Popen[bytes]] = Future()
    _spawner_requests.put((argv, popen_kwargs, result))
    return result.result(timeout=30)


def _spawner() -> None:
    while True:
        argv, popen_kwargs, result = _spawner_requests.get()
        try:
            result.set_result(subprocess.Popen(argv, **popen_kwargs))
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            result.set_exception(exc)


if __name__ == "__main__" and sys.argv[1:2] == ["--exec-in-private-netns"]:  # the child side of in_private_netns
    exec_in_private_netns(sys.argv[2:])

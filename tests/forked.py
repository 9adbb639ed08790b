"""The test helpers' other processes (``fake_process.py``, ``store_process.py``), forked from one warm
process instead of each starting Python anew.

Each such process used to spend about 1.5 s of CPU before doing anything: importing the library and
loading jieba's dictionary and the English glossary (``Assistant.load`` warms both), and the tests
of several processes on one collection start 15 of them. Here a *zygote*, started once per pytest
process, imports the library, warms both and then only forks: each child is a process of its own as
before (its own pid, memory, file descriptors, locks and mappings; killed by a signal like any other),
which runs the script as ``python SCRIPT ARG…`` would, with the environment, working folder and
standard streams given. The zygote opens no collection: a child inherits no state of a store, only
the imported modules and those two tables.

``popen`` returns a ``Forked`` with the parts of ``subprocess.Popen`` the tests use (``stdin``,
``stdout``, ``stderr``, ``pid``, ``returncode``, ``poll``, ``wait``, ``communicate``, ``send_signal``,
``kill``), and ``run`` mirrors ``subprocess.run(..., capture_output=True, text=True)``.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
# what the zygote imports and warms before it forks (what every helper script imports)
PRELOAD = """
import fakes
from rag import Assistant, ChunkSettings, RagError, Settings
from rag.corpus import CorpusFolder
from rag.expand import cedict_glosses
from rag.lexical import warm_up
warm_up()
cedict_glosses()
"""
MAX_MESSAGE = 1 << 20


class Forked:
    """A child of the zygote, as much of ``subprocess.Popen`` as the tests use (text streams)."""

    def __init__(self, args: list[str], pid: int, stdin: int, stdout: int, stderr: int) -> None:
        self.args = args
        self.pid = pid
        self.returncode: int | None = None
        self.stdin = open(stdin, "w", encoding="utf-8")
        self.stdout = open(stdout, encoding="utf-8")
        self.stderr = open(stderr, encoding="utf-8", errors="backslashreplace")
        self._exited = threading.Event()
        self._output: dict[str, str] = {}
        self._readers: list[threading.Thread] = []

    def _set_status(self, status: int) -> None:
        self.returncode = os.waitstatus_to_exitcode(status)
        self._exited.set()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._exited.wait(timeout):
            raise subprocess.TimeoutExpired(self.args, timeout)  # type: ignore[arg-type]
        return self.returncode  # type: ignore[return-value]

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:  # the zygote reaps its children at once: an unreported pid is this child
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def communicate(self, input: str | None = None, timeout: float | None = None) -> tuple[str, str]:
        """Send ``input``, close stdin, read stdout and stderr to their end and wait for the exit."""
        if not self._readers:
            if not self.stdin.closed:
                try:
                    if input:
                        self.stdin.write(input)
                    self.stdin.close()
                except BrokenPipeError:
                    pass
            for name in ("stdout", "stderr"):
                stream = getattr(self, name)
                reader = threading.Thread(target=lambda name=name, stream=stream: self._output.__setitem__(name, stream.read()), daemon=True)
                reader.start()
                self._readers.append(reader)
        for reader in self._readers:
            reader.join(timeout)
            if reader.is_alive():
                raise subprocess.TimeoutExpired(self.args, timeout)  # type: ignore[arg-type]
        self.wait(timeout)
        for stream in (self.stdout, self.stderr):
            stream.close()
        return self._output["stdout"], self._output["stderr"]


class Zygote:
    """The warm process and the thread that reads what it reports (children started and exited)."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
        self.process = subprocess.Popen([sys.executable, __file__, str(theirs.fileno())], pass_fds=[theirs.fileno()], env=env,
                                        stdin=subprocess.DEVNULL)  # fmt: skip
        theirs.close()
        self.socket = ours
        self.lock = threading.Lock()  # one request at a time
        self.serial = itertools.count()
        self.started: dict[int, int] = {}  # request → pid
        self.children: dict[int, Forked] = {}  # pid → the child not yet reported exited
        self.early: dict[int, int] = {}  # pid → status reported before the child was registered
        self.changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.socket.makefile("r", encoding="utf-8"):
            message = json.loads(line)
            with self.changed:
                if "started" in message:
                    self.started[message["request"]] = message["started"]
                else:
                    child = self.children.pop(message["exited"], None)
                    if child is None:
                        self.early[message["exited"]] = message["status"]
                    else:
                        child._set_status(message["status"])
                self.changed.notify_all()
        with self.changed:  # the zygote died: nothing more will be reported
            for child in self.children.values():
                child._set_status(255 << 8)
            self.children.clear()
            self.changed.notify_all()

    def popen(self, script: Path, args: Sequence[str], env: Mapping[str, str], cwd: str) -> Forked:
        pipes = [os.pipe() for _ in range(3)]
        theirs = [pipes[0][0], pipes[1][1], pipes[2][1]]
        ours = [pipes[0][1], pipes[1][0], pipes[2][0]]
        request = next(self.serial)
        payload = json.dumps({"request": request, "argv": [str(script), *args], "env": dict(env), "cwd": cwd}).encode()
        with self.lock:  # one request in flight: the zygote reads each with its three descriptors alone
            try:
                socket.send_fds(self.socket, [len(payload).to_bytes(4, "big") + payload], theirs)
            finally:
                for fd in theirs:
                    os.close(fd)
            with self.changed:
                if not self.changed.wait_for(lambda: request in self.started or self.process.poll() is not None, timeout=60):
                    raise RuntimeError("the zygote did not start the process")
                if request not in self.started:
                    raise RuntimeError(f"the zygote exited ({self.process.returncode})")
                pid = self.started.pop(request)
                child = Forked([sys.executable, str(script), *args], pid, *ours)
                if pid in self.early:
                    child._set_status(self.early.pop(pid))
                else:
                    self.children[pid] = child
        return child

    def close(self) -> None:
        self.socket.shutdown(socket.SHUT_RDWR)  # the zygote exits when its socket closes
        self.socket.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


_zygote: Zygote | None = None
_zygote_lock = threading.Lock()


def popen(script: Path, args: Sequence[str], env: Mapping[str, str] | None = None) -> Forked:
    """``subprocess.Popen([sys.executable, script, *args], stdin=PIPE, stdout=PIPE, stderr=PIPE, text=True, env=env)``,
    forked from the warm process (started on first use, once per pytest process)."""
    global _zygote
    with _zygote_lock:
        if _zygote is None or _zygote.process.poll() is not None:
            _zygote = Zygote()
            atexit.register(_zygote.close)
        zygote = _zygote
    return zygote.popen(script, list(args), os.environ if env is None else env, os.getcwd())


def run(script: Path, args: Sequence[str], env: Mapping[str, str] | None = None, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """``subprocess.run([sys.executable, script, *args], capture_output=True, text=True, env=env, timeout=timeout)``, forked."""
    child = popen(script, args, env)
    try:
        out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        raise
    return subprocess.CompletedProcess(child.args, child.returncode, out, err)  # type: ignore[arg-type]


# ---- the zygote


def _serve(channel: socket.socket) -> None:
    import runpy
    import selectors
    import tempfile

    exec(PRELOAD, {})
    woken, wake = os.pipe()
    os.set_blocking(wake, False)
    os.set_blocking(woken, False)
    signal.set_wakeup_fd(wake)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector = selectors.DefaultSelector()
    selector.register(channel, selectors.EVENT_READ)
    selector.register(woken, selectors.EVENT_READ)
    buffer = b""
    fds: list[int] = []

    def report(message: dict[str, object]) -> None:
        channel.sendall(json.dumps(message).encode() + b"\n")

    def reap() -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            report({"exited": pid, "status": status})

    while True:
        for key, _ in selector.select():
            if key.fileobj == woken:
                try:
                    os.read(woken, 4096)
                except BlockingIOError:
                    pass
                reap()
                continue
            data, received, _flags, _address = socket.recv_fds(channel, MAX_MESSAGE, 3)
            if not data:
                return  # the tests' process closed its end (or died): stop
            buffer += data
            fds += received
            while len(buffer) >= 4 and len(buffer) >= 4 + int.from_bytes(buffer[:4], "big"):
                size = int.from_bytes(buffer[:4], "big")
                request, buffer = json.loads(buffer[4 : 4 + size]), buffer[4 + size :]
                streams, fds = fds[:3], fds[3:]
                pid = os.fork()
                if pid == 0:
                    selector.close()
                    _child(channel, (woken, wake), streams, request, runpy, tempfile)
                for fd in streams:
                    os.close(fd)
                report({"request": request["request"], "started": pid})
        reap()


def _child(channel, wakeup, streams, request, runpy, tempfile) -> None:  # noqa: ANN001
    """In the forked child: become ``python SCRIPT ARG…`` with the given streams, environment and folder."""
    code = 1
    try:
        channel.close()
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in wakeup:
            os.close(fd)
        for target, fd in enumerate(streams):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        tempfile.tempdir = None  # from $TMPDIR again, as a new process finds it
        sys.stdin = open(0, encoding="utf-8", closefd=False)
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)
        sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False, buffering=1)
        sys.argv = list(request["argv"])
        try:
            runpy.run_path(sys.argv[0], run_name="__main__")
            code = 0
        except SystemExit as exit:
            if exit.code is None or isinstance(exit.code, int):
                code = exit.code or 0
            else:
                print(exit.code, file=sys.stderr)
        except BaseException:
            import traceback

            traceback.print_exc()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
    finally:
        os._exit(code)


if __name__ == "__main__":
    _serve(socket.socket(fileno=int(sys.argv[1])))

"""Network audit harness: run a scenario where it cannot reach the network, and report every try.

``run(argv)`` starts the command in fresh network, mount and PID namespaces (``unshare``), where
the only interface is loopback, so nothing can leave the machine whatever the scenario does. Three
layers record what it tried:

1. DNS: ``/etc/resolv.conf`` is bind-mounted (in the private mount namespace only) to point at
   127.0.0.1, where a logging responder (UDP and TCP, port 53) records every queried name and
   answers NXDOMAIN. It sees each look-up that any resolver in the namespace sends (glibc,
   Chromium's own DNS client, c-ares, Go) whatever the process. ``/etc/nsswitch.conf`` gets
   ``hosts: files dns``, and nscd's socket folder is masked, so that no look-up goes to a daemon
   outside the namespace over a Unix socket, where neither layer would see it.
2. Syscalls: ``strace -f`` records connect/sendto/sendmsg/sendmmsg of every process and thread of
   the scenario: Python, native libraries (ONNX Runtime's curl), subprocesses (Playwright's
   driver, Chromium and its helpers). Each one naming a non-loopback address is reported, with
   the program that made it (followed through clone and execve); DNS queries sent to 127.0.0.1
   are decoded from the payload, which attributes each looked-up name to a program. A hard-coded
   IP address (no DNS) or DNS-over-HTTPS to a literal address is caught here only.
3. Python (optional): a scenario that calls ``audit_python()`` logs socket.getaddrinfo/connect
   audit events with the calling frames, which says *which library* did it. Native code and
   other processes are invisible to this layer; it only explains, it does not decide.

A scenario marks its steps with ``step("label")``; every event is attributed to the step that
was running when it happened (same wall clock for all layers).

What it cannot see: traffic that never uses these syscalls (io_uring's connect; write() on a
socket, which needs a connect first, and every non-loopback connect fails here), and look-ups
handed over a Unix socket to a daemon outside the namespace (nscd, systemd-resolved: masked
above). A UDP connect sends nothing by itself, but is reported like any other: here it fails, so
whatever the program would have sent on it next cannot be seen.

What runs inside the namespaces (their set-up, the DNS responder, strace over the scenario) is
``netaudit_inside.py``, which ``run`` starts as a script: scenarios import this module alone.

It needs root (or CAP_SYS_ADMIN), ``unshare`` and ``strace``; ``unavailable()`` says why not.
Everything is bounded: the scenario is killed at its timeout, and since it runs as the children
of PID 1 of its own PID namespace, no process of it outlives ``run``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

STEPS_ENV = "NETAUDIT_STEPS"  # file a scenario appends "time<TAB>label" lines to
PYLOG_ENV = "NETAUDIT_PYLOG"  # file the Python audit hook appends JSON lines to
INSIDE = Path(__file__).resolve().with_name("netaudit_inside.py")  # run as PID 1 of the namespaces


# ---------------------------------------------------------------- helpers for scenarios


def step(label: str) -> None:
    """Mark the start of a scenario step (no-op outside the harness)."""
    path = os.environ.get(STEPS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"{time.time():.6f}\t{label}\n")


def audit_python() -> None:
    """Log this interpreter's socket look-ups and connects with their calling frames."""
    path = os.environ.get(PYLOG_ENV)
    if not path:
        return
    out = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - open for the process' life
    lock = threading.Lock()
    watched = {"socket.getaddrinfo", "socket.connect", "socket.sendto"}

    def hook(event: str, args: tuple) -> None:
        if event not in watched:
            return
        target = args[0] if event == "socket.getaddrinfo" else args[1]
        host = target[0] if isinstance(target, tuple) else target
        if not isinstance(host, (str, bytes)) or _is_local_host(host if isinstance(host, str) else host.decode(errors="replace")):
            return
        frames = []
        frame = sys._getframe(1)
        while frame is not None and len(frames) < 8:
            name = frame.f_code.co_filename
            if "site-packages" in name or "/rag/" in name or "/ui/" in name or "/tests/" in name:
                short = name.split("site-packages/")[-1]
                frames.append(f"{short}:{frame.f_lineno} {frame.f_code.co_name}")
            frame = frame.f_back
        record = {"t": time.time(), "event": event, "target": repr(target), "thread": threading.current_thread().name, "frames": frames}
        with lock:
            out.write(json.dumps(record) + "\n")

    sys.addaudithook(hook)


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class Lookup:
    name: str
    qtype: str
    time: float
    step: str
    program: str  # which program sent the query, from the syscall trace ("?" when not matched)

    def __str__(self) -> str:
        return f"DNS look-up {self.name} ({self.qtype}) by {self.program} during {self.step!r}"


@dataclass(frozen=True)
class Connect:
    syscall: str
    socket: str  # as strace -yy names it: TCP, UDP, TCPv6, UDPv6
    address: str
    port: int
    pid: int
    program: str
    time: float
    step: str
    result: str

    def __str__(self) -> str:
        where = f"{self.address} port {self.port}"
        return f"{self.syscall} ({self.socket}) to {where} by {self.program} (pid {self.pid}) during {self.step!r}: {self.result}"


@dataclass(frozen=True)
class PythonEvent:
    event: str
    target: str
    thread: str
    frames: tuple[str, ...]
    time: float
    step: str

    def __str__(self) -> str:
        where = " <- ".join(self.frames[:4]) or "(stdlib only)"
        return f"python {self.event} {self.target} in thread {self.thread} during {self.step!r} at {where}"


@dataclass
class Report:
    returncode: int | None
    timed_out: bool
    seconds: float
    stdout: str
    stderr: str
    steps: list[tuple[float, str]] = field(default_factory=list)
    lookups: list[Lookup] = field(default_factory=list)
    connects: list[Connect] = field(default_factory=list)
    python: list[PythonEvent] = field(default_factory=list)
    setup: list[str] = field(default_factory=list)  # what the harness did (or could not do) inside

    @property
    def leaks(self) -> list[str]:
        """Every DNS look-up and every connect/send to a non-loopback address, one line each."""
        return [str(item) for item in [*self.lookups, *self.connects]]

    def summary(self) -> str:
        lines = [f"exit {self.returncode}, {self.seconds:.1f} s{' (TIMED OUT)' if self.timed_out else ''}"]
        lines += [f"step {label!r} at +{t - self.steps[0][0]:.1f} s" for t, label in self.steps] if self.steps else []
        lines += [f"LEAK {leak}" for leak in self.leaks] or ["no DNS look-up, no non-loopback connect"]
        lines += [f"  {event}" for event in self.python]
        return "\n".join(lines)


# ---------------------------------------------------------------- running


def unavailable() -> str | None:
    """Why the harness cannot run here, or None."""
    if os.geteuid() != 0:
        return "the network audit needs root (unshare of the network and mount namespaces)"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    probe = subprocess.run(["unshare", "--net", "--mount", "true"], capture_output=True, timeout=30)
    if probe.returncode != 0:
        return f"unshare --net --mount fails here: {probe.stderr.decode(errors='replace').strip()}"
    return None


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 300,
    keep: Path | None = None,
) -> Report:
    """Run ``argv`` with no network but loopback; every DNS look-up and outbound try is reported.

    ``env``: the scenario's whole environment (default: this process'). ``keep``: a folder to copy
    the raw logs to (strace.log, dns.jsonl, python.jsonl, steps.tsv)."""
    strace = shutil.which("strace")
    if strace is None:
        raise RuntimeError("strace is not installed (`make test` installs it: apt-get install strace)")
    with tempfile.TemporaryDirectory(prefix="netaudit-") as folder:
        work = Path(folder)
        config = {
            "argv": list(argv),
            "env": {**(os.environ if env is None else env), STEPS_ENV: str(work / "steps.tsv"), PYLOG_ENV: str(work / "python.jsonl")},
            "cwd": str(cwd or os.getcwd()),
            "timeout": timeout,
            "work": str(work),
            "strace": strace,
        }
        (work / "config.json").write_text(json.dumps(config))
        namespaces = ["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc"]
        command = [*namespaces, sys.executable, str(INSIDE), "--inside", str(work / "config.json")]
        started = time.time()
        # a new session: on our timeout the whole group goes; --kill-child takes the namespace down
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, text=True)
        try:
            stdout, stderr = process.communicate(timeout=timeout + 30)  # the inside enforces `timeout`
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate(timeout=30)
            timed_out = True
        seconds = time.time() - started
        if keep is not None:
            shutil.copytree(work, keep, dirs_exist_ok=True)
        inside = _read_json(work / "inside.json") or {}
        report = Report(
            returncode=inside.get("returncode", process.returncode),
            timed_out=timed_out or inside.get("timed_out", False),
            seconds=seconds,
            stdout=stdout,
            stderr=stderr,
            setup=inside.get("setup", []),
        )
        report.steps = _read_steps(work / "steps.tsv")
        trace = _parse_strace(work / "strace.log")
        report.connects = [Connect(**c, step=_step_at(report.steps, c["time"])) for c in trace.connects]
        report.lookups = [
            Lookup(q["name"], q["qtype"], q["t"], _step_at(report.steps, q["t"]), trace.program_for_query(q["name"], q["t"]))
            for q in _read_jsonl(work / "dns.jsonl")
        ]
        report.python = [
            PythonEvent(e["event"], e["target"], e["thread"], tuple(e["frames"]), e["t"], _step_at(report.steps, e["t"]))
            for e in _read_jsonl(work / "python.jsonl")
        ]
        return report


def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def _read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _read_steps(path: Path) -> list[tuple[float, str]]:
    if not path.exists():
        return []
    return [(float(t), label) for t, label in (line.split("\t", 1) for line in path.read_text(encoding="utf-8").splitlines())]


def _step_at(steps: list[tuple[float, str]], t: float) -> str:
    label = "start-up"
    for started, name in steps:
        if started <= t:
            label = name
    return label


def _is_local_host(host: str) -> bool:
    host = host.strip("[]").split("%")[0]
    if host in ("localhost", "") or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


# ---------------------------------------------------------------- strace output

_LINE = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(?:<\.\.\. (\w+) resumed>|(\w+)\()(.*)$")
_INET = re.compile(r'sa_family=AF_INET, sin_port=htons\((\d+)\), sin_addr=inet_addr\("([^"]+)"\)')
_INET6 = re.compile(r'sa_family=AF_INET6, sin6_port=htons\((\d+)\),.*?inet_pton\(AF_INET6, "([^"]+)"')
_PEER = re.compile(r"<(?:UDP|TCP)v?6?:\[.*?->\[?([0-9a-fA-F.:]+?)\]?:(\d+)\]>")
_RESULT = re.compile(r"\)\s+=\s+(-?\d+)(?:\s+(\w+))?")
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_SOCKET = re.compile(r"^\d+<([A-Za-z0-9-]+):")


@dataclass
class _Trace:
    connects: list[dict] = field(default_factory=list)
    queries: list[tuple[float, str, str]] = field(default_factory=list)  # (time, name, program)

    def program_for_query(self, name: str, t: float) -> str:
        near = [(abs(qt - t), program) for qt, qname, program in self.queries if qname.rstrip(".").lower() == name.lower()]
        return min(near)[1] if near else "?"


def _unescape(text: str) -> bytes:
    """strace's C-style string (with -x: \\xNN for non-printable bytes) back to bytes."""
    out = bytearray()
    i = 0
    simple = {"n": 10, "t": 9, "r": 13, "v": 11, "f": 12, "\\": 92, '"': 34}
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "x":
                out.append(int(text[i + 2 : i + 4], 16))
                i += 4
                continue
            if nxt.isdigit():
                digits = re.match(r"[0-7]{1,3}", text[i + 1 :]).group(0)  # type: ignore[union-attr]
                out.append(int(digits, 8))
                i += 1 + len(digits)
                continue
            out.append(simple.get(nxt, ord(nxt)))
            i += 2
            continue
        out += char.encode()
        i += 1
    return bytes(out)


def _dns_question(payload: bytes) -> str | None:
    """The first question's name of a DNS query (UDP form, or TCP with its 2-byte length)."""
    for start in (0, 2):
        data = payload[start:]
        if len(data) < 17:
            continue
        labels, at = [], 12
        try:
            while data[at]:
                length = data[at]
                labels.append(data[at + 1 : at + 1 + length].decode("ascii"))
                at += 1 + length
        except (IndexError, UnicodeDecodeError):
            continue
        if labels:
            return ".".join(labels)
    return None


def _calls(path: Path) -> list[tuple[int, float, str, str]]:
    """(pid, time, syscall, arguments and result) per call, its two halves joined when another
    thread's call interrupted it (``<unfinished ...>`` … ``<... name resumed>``)."""
    calls: list[tuple[int, float, str, str]] = []
    unfinished: dict[int, tuple[float, str, str]] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        pid, t, resumed, call, rest = int(match[1]), float(match[2]), match[3], match[4], match[5]
        if call and rest.endswith("<unfinished ...>"):
            unfinished[pid] = (t, call, rest.removesuffix("<unfinished ...>"))
            continue
        if resumed:
            if pid not in unfinished or unfinished[pid][1] != resumed:
                continue
            t, call, first = unfinished.pop(pid)
            rest = first + rest
        calls.append((pid, t, call, rest))
    calls += [(pid, t, call, rest) for pid, (t, call, rest) in unfinished.items()]  # never returned
    return calls


def _parse_strace(path: Path) -> _Trace:
    trace = _Trace()
    if not path.exists():
        return trace
    program: dict[int, str] = {}
    for pid, t, call, rest in _calls(path):
        results = _RESULT.findall(rest)
        result = results[-1] if results else None
        if call == "execve":
            strings = _STRING.findall(rest)
            if strings and result and result[0] == "0":
                executable = _unescape(strings[0]).decode(errors="replace")
                if executable != "/proc/self/exe":  # Chromium's zygote and helpers re-run their own binary
                    program[pid] = Path(executable).name
            continue
        if call in ("clone", "clone3", "fork", "vfork"):
            if result and int(result[0]) > 0:  # the child (a thread or a process) runs the same program
                program[int(result[0])] = program.get(pid, "?")
            continue
        who = program.get(pid, "?")
        outcome = (result[1] or "error") if result and result[0].startswith("-") else "ok" if result else "no return"
        peers = [(a, int(p)) for p, a in _INET.findall(rest)] + [(a, int(p)) for p, a in _INET6.findall(rest)]
        if not peers:  # a send on a connected socket: -yy shows its peer with the descriptor
            peers = [(a, int(p)) for a, p in _PEER.findall(rest)]
        for address, port in peers:
            if _is_local_host(address):
                if port == 53 and call.startswith("send"):
                    for text in _STRING.findall(rest):
                        qname = _dns_question(_unescape(text))
                        if qname:
                            trace.queries.append((t, qname, who))
                continue
            trace.connects.append(
                {"syscall": call, "socket": kind[1] if (kind := _SOCKET.match(rest)) else "?", "address": address,
                 "port": port, "pid": pid, "program": who, "time": t, "result": outcome}
            )
    return trace

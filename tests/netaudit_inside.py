"""The inside of the network audit (``netaudit.py``): run as a script, ``netaudit_inside.py --inside
CONFIG``, as PID 1 of the fresh network, mount and PID namespaces that ``netaudit.run`` creates. It
checks that the namespace holds loopback alone and brings it up, points ``/etc/resolv.conf`` and
``/etc/nsswitch.conf`` (bind mounts, in its own mount namespace) at a DNS responder on 127.0.0.1
that logs every question and answers NXDOMAIN, masks the resolver daemons' sockets, and runs the
scenario under ``strace -f``, killed at its timeout; what it finds goes to files in the work folder,
which ``netaudit.run`` reads.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

TRACED = "connect,sendto,sendmsg,sendmmsg,execve,clone,clone3,fork,vfork"


class _DnsLog:
    """A DNS responder on 127.0.0.1:53 that logs each question and answers NXDOMAIN."""

    TYPES = {1: "A", 28: "AAAA", 5: "CNAME", 12: "PTR", 15: "MX", 16: "TXT", 33: "SRV", 64: "SVCB", 65: "HTTPS"}

    def __init__(self, log: Path) -> None:
        self.out = log.open("a", encoding="utf-8", buffering=1)
        self.lock = threading.Lock()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 53))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", 53))
        self.tcp.listen(16)
        for target in (self._serve_udp, self._serve_tcp):
            threading.Thread(target=target, daemon=True).start()

    def _answer(self, query: bytes, proto: str) -> bytes | None:
        if len(query) < 12:
            return None
        labels, at = [], 12
        try:
            while query[at]:
                labels.append(query[at + 1 : at + 1 + query[at]].decode("ascii", errors="replace"))
                at += 1 + query[at]
            qtype = struct.unpack("!H", query[at + 1 : at + 3])[0]
        except (IndexError, struct.error):
            return None
        record = {"t": time.time(), "name": ".".join(labels), "qtype": self.TYPES.get(qtype, str(qtype)), "proto": proto}
        with self.lock:
            self.out.write(json.dumps(record) + "\n")
        flags = struct.unpack("!H", query[2:4])[0]
        reply_flags = 0x8000 | (flags & 0x7900) | 0x0080 | 3  # QR, opcode and RD copied, RA, NXDOMAIN
        question = query[12 : at + 5]
        return query[:2] + struct.pack("!HHHHH", reply_flags, 1, 0, 0, 0) + question

    def _serve_udp(self) -> None:
        while True:
            query, client = self.udp.recvfrom(4096)
            reply = self._answer(query, "udp")
            if reply:
                self.udp.sendto(reply, client)

    def _serve_tcp(self) -> None:
        while True:
            connection, _ = self.tcp.accept()
            threading.Thread(target=self._serve_tcp_client, args=(connection,), daemon=True).start()

    def _serve_tcp_client(self, connection: socket.socket) -> None:
        connection.settimeout(10)
        with connection:
            try:
                while header := connection.recv(2):
                    length = struct.unpack("!H", header.rjust(2, b"\0"))[0]
                    query = b""
                    while len(query) < length and (chunk := connection.recv(length - len(query))):
                        query += chunk
                    reply = self._answer(query, "tcp")
                    if not reply:
                        return
                    connection.sendall(struct.pack("!H", len(reply)) + reply)
            except OSError:
                return


def _loopback_up() -> None:
    """``ip link set lo up`` with an ioctl, so that iproute2 need not be installed."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    import fcntl

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, siocgifflags, request))[1]
        fcntl.ioctl(sock, siocsifflags, struct.pack("16sH14x", b"lo", flags | iff_up))


def _bind_mount(source: Path, target: str, setup: list[str]) -> None:
    real = os.path.realpath(target)
    if not os.path.exists(real):
        setup.append(f"{target} does not exist: the resolver's default, 127.0.0.1, applies")
        return
    subprocess.run(["mount", "--bind", str(source), real], check=True, timeout=30)
    setup.append(f"bind-mounted over {real}")


def _inside(config_path: str) -> int:
    config = json.loads(Path(config_path).read_text())
    work = Path(config["work"])
    setup: list[str] = []
    # refuse to run anything unless this really is an empty network namespace
    interfaces = [name for _, name in socket.if_nameindex()]
    if interfaces != ["lo"]:
        raise SystemExit(f"netaudit: not in an empty network namespace (interfaces {interfaces}); not running the scenario")
    _loopback_up()
    (work / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    _bind_mount(work / "resolv.conf", "/etc/resolv.conf", setup)
    nsswitch = Path("/etc/nsswitch.conf")
    lines = nsswitch.read_text().splitlines() if nsswitch.exists() else []
    lines = [line for line in lines if not line.startswith("hosts:")] + ["hosts: files dns"]
    (work / "nsswitch.conf").write_text("\n".join(lines) + "\n")
    _bind_mount(work / "nsswitch.conf", "/etc/nsswitch.conf", setup)
    for folder in ("/run/nscd", "/var/run/nscd", "/run/systemd/resolve"):
        if os.path.isdir(folder):
            subprocess.run(["mount", "-t", "tmpfs", "none", folder], check=True, timeout=30)
            setup.append(f"masked {folder}")
    _DnsLog(work / "dns.jsonl")

    command = [
        config["strace"], "-f", "-qq", "-ttt", "-yy", "-x", "-s", "512", "--seccomp-bpf",
        "-e", f"trace={TRACED}", "-e", "signal=none", "-o", str(work / "strace.log"), "--", *config["argv"],
    ]  # fmt: skip
    process = subprocess.Popen(command, env=config["env"], cwd=config["cwd"], start_new_session=True)
    timed_out = False
    try:
        returncode: int | None = process.wait(timeout=config["timeout"])
    except subprocess.TimeoutExpired:
        timed_out, returncode = True, None
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    time.sleep(0.2)  # let the responder log a last query in flight
    (work / "inside.json").write_text(json.dumps({"returncode": returncode, "timed_out": timed_out, "setup": setup}))
    return 0  # leaving PID 1 ends every process left in the namespace


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "--inside":
    sys.exit(_inside(sys.argv[2]))

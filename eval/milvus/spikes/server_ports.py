"""Where the launched server listens: on the host, and inside its network namespace.

PYTHONPATH=. python eval/milvus/spikes/server_ports.py
"""

from __future__ import annotations

import os
import subprocess

from rag_eval.milvus_server import MilvusServerProcess


def run(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()


server = MilvusServerProcess(timeout_s=180)
with server as uri:
    pid = str(server.pid)
    print(f"## {uri}: started in {server.start_seconds:.1f} s; launcher pid {os.getpid()}, server pid {pid}")
    print("### host: TCP listeners of the launcher and the server (ss -ltnp), UDP (ss -lunp)")
    print(
        "\n".join(
            line for line in run("ss", "-ltnp").splitlines() if f"pid={pid}," in line or f"pid={os.getpid()}," in line
        )
    )
    print("\n".join(line for line in run("ss", "-lunp").splitlines() if f"pid={pid}," in line) or "(no UDP)")
    print("### inside the server's namespace: interfaces, then TCP listeners")
    print(run("nsenter", "-t", pid, "-n", "ip", "-brief", "addr"))
    print(run("nsenter", "-t", pid, "-n", "ss", "-ltn"))
print(f"stopped in {server.stop_seconds:.1f} s, exit code {server.proc.returncode if server.proc else None}")

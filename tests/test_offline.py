"""Nothing leaves the machine: no DNS look-up of another host, no connect to a non-loopback address.

The scenarios (tests/offline_scenario.py) run inside tests/netaudit.py's empty network namespace,
in the environment of a user who never heard of these switches: none of the offline variables
that the Makefile exports, and Gradio analytics explicitly on, so that the product has to turn
everything off itself. ``RAG_AUDIT_CODE=/path/to/checkout`` audits another checkout's code.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

import netaudit
from offline_scenario import FORECAST

REASON = netaudit.unavailable()
pytestmark = [pytest.mark.model, pytest.mark.browser, pytest.mark.skipif(REASON is not None, reason=REASON or "")]

REPO = Path(__file__).resolve().parent.parent
SCENARIO = Path(__file__).with_name("offline_scenario.py")
# what a user's environment does not have (the Makefile and conftest set some of them)
UNSET = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY", "DISABLE_TELEMETRY", "ORT_DISABLE_TELEMETRY")


def chromium_ipv6_probe(connect: netaudit.Connect) -> bool:
    """Chromium's IPv6 reachability probe: it connects a UDP socket to Google's public DNS address
    only to ask the kernel for a route; a UDP connect sends no datagram, and Chromium has no switch
    for it. Allowed for this one address, port, socket type and program only."""
    return (connect.program, connect.syscall, connect.socket, connect.address, connect.port) == (
        "chromium", "connect", "UDPv6", "2001:4860:4860::8888", 443,
    )  # fmt: skip


def audit(news, tmp_path: Path, *args: str) -> tuple[netaudit.Report, dict, Path]:
    from rag import Settings

    root, home = tmp_path / "project", tmp_path / "home"
    shutil.copytree(Settings().corpus_dir, root / "corpus")
    shutil.copytree(Settings().index_dir, root / "index" / "news", ignore=shutil.ignore_patterns(".staging-*", "LOCK"))
    home.mkdir()
    env = {key: value for key, value in os.environ.items() if key not in UNSET}
    code = Path(os.environ.get("RAG_AUDIT_CODE", str(REPO)))
    env |= {
        # rag_ui lives in ui/: without it there, the installed (editable) package's copy would be audited
        "PYTHONPATH": os.pathsep.join([str(code), str(code / "ui")]),
        "RAG_HOME": str(root),
        "RAG_CACHE": str(Settings().cache_dir),  # the prepared model; everything else goes to HOME
        "HOME": str(home),
        "GRADIO_ANALYTICS_ENABLED": "True",
    }
    report = netaudit.run([sys.executable, str(SCENARIO), *args], env=env, cwd=root, timeout=420)
    failed = f"the scenario failed:\n{report.summary()}\n{report.stdout[-2000:]}\n{report.stderr[-4000:]}"
    assert report.returncode == 0 and not report.timed_out, failed
    seen = json.loads(report.stdout.strip().splitlines()[-1])
    return report, seen, home


def assert_nothing_left(report: netaudit.Report, home: Path) -> None:
    leaks = [str(c) for c in report.connects if not chromium_ipv6_probe(c)] + [str(q) for q in report.lookups]
    assert not leaks, "traffic that would have left the machine:\n" + "\n".join(leaks) + "\n\n" + report.summary()
    # ONNX Runtime's uploader also queues events on disk for a later process to send
    assert not (home / ".cache" / "Microsoft").exists(), "ONNX Runtime stored telemetry under HOME"


def test_api_page_uploads_and_crafted_requests_stay_on_this_machine(news, tmp_path):
    report, seen, home = audit(news, tmp_path)
    assert_nothing_left(report, home)
    assert seen["api_answer"] == seen["api_cited"][0] and FORECAST in seen["api_cited"] and FORECAST in seen["browser_answer"]
    assert "1 added" in seen["client_status"] and seen["browser_status_images"] == 0
    assert all(seen[step].startswith("400") for step in ("e1", "e2", "e3")), seen  # refused, not fetched
    assert seen["e4"].startswith("403"), seen


def test_rag_serve_stays_quiet(news, tmp_path):
    report, seen, home = audit(news, tmp_path, "serve")
    assert_nothing_left(report, home)
    assert seen["served"] and seen["seconds"] >= 15

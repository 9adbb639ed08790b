"""The network audit harness catches what it must (negative controls) and nothing else (a loopback control).

Every scenario here runs inside its own empty network namespace: the addresses below are never
reached, the connects fail with ENETUNREACH inside the namespace and are only recorded."""

from __future__ import annotations

import sys
import textwrap

import pytest

import netaudit

REASON = netaudit.unavailable()
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")


def python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def test_python_lookup_is_reported_with_its_name_and_program():
    report = netaudit.run(python("""
        import socket
        try:
            socket.getaddrinfo("example.com", 80)
        except OSError:
            pass
    """), timeout=60)
    assert report.returncode == 0, report.stderr
    names = {lookup.name for lookup in report.lookups}
    assert "example.com" in names, report.summary()
    assert all(lookup.program.startswith("python") for lookup in report.lookups if lookup.name == "example.com"), report.summary()


def test_python_connect_to_an_address_is_reported():
    report = netaudit.run(python("""
        import socket
        for family, address in ((socket.AF_INET, ("93.184.216.34", 80)), (socket.AF_INET6, ("2606:2800:220:1:248:1893:25c8:1946", 443))):
            try:
                socket.socket(family).connect(address)
            except OSError:
                pass
    """), timeout=60)
    assert report.returncode == 0, report.stderr
    seen = {(c.address, c.port, c.result) for c in report.connects}
    assert ("93.184.216.34", 80, "ENETUNREACH") in seen, report.summary()
    assert ("2606:2800:220:1:248:1893:25c8:1946", 443, "ENETUNREACH") in seen, report.summary()
    assert not report.lookups


def test_native_subprocess_and_udp_are_reported_with_steps():
    """Native code in a child process (bash's /dev/tcp, getent through glibc) and a UDP send."""
    report = netaudit.run(python("""
        import socket, subprocess, sys
        sys.path.insert(0, ".")
        from tests.netaudit import step
        step("bash")
        subprocess.run(["bash", "-c", "echo > /dev/tcp/198.51.100.7/8080"], stderr=subprocess.DEVNULL)
        step("getent")
        subprocess.run(["getent", "hosts", "native.example"], stdout=subprocess.DEVNULL)
        step("udp")
        try:
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("224.0.0.251", 5353))
        except OSError:
            pass
    """), timeout=60)
    assert report.returncode == 0, report.stderr
    by_address = {c.address: c for c in report.connects}
    assert by_address["198.51.100.7"].program == "bash" and by_address["198.51.100.7"].step == "bash", report.summary()
    assert by_address["224.0.0.251"].syscall == "sendto" and by_address["224.0.0.251"].step == "udp", report.summary()
    lookup = next(lookup for lookup in report.lookups if lookup.name == "native.example")
    assert lookup.program == "getent" and lookup.step == "getent", report.summary()


def test_loopback_traffic_is_not_reported():
    report = netaudit.run(python("""
        import socket, threading
        server = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=lambda: server.accept()[0].sendall(b"ok"), daemon=True).start()
        with socket.create_connection(("127.0.0.1", server.getsockname()[1])) as client:
            assert client.recv(2) == b"ok"
        socket.getaddrinfo("localhost", 80)
    """), timeout=60)
    assert report.returncode == 0, report.stderr
    assert report.leaks == [], report.summary()


def test_timeout_kills_the_scenario_and_its_children():
    report = netaudit.run(["bash", "-c", "sleep 300 & sleep 300"], timeout=3)
    assert report.timed_out and report.seconds < 30

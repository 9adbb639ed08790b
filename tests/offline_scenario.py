"""What a user and an attacker do with the product, as one script for the network audit.

Run by tests/test_offline.py inside ``netaudit.run`` (no network but loopback), with the code under
test on PYTHONPATH and the project root (corpus and built index) in RAG_HOME. Steps:

a. load the model and answer a question through the Python API;
b. start the page on 127.0.0.1 in this process;
c. upload, through gradio_client, an article whose first line is a Markdown image of a remote URL;
d. open the page in Chromium, upload such an article there too, ask a question, wait for the answer;
e. send crafted requests that name URLs where Gradio expects an uploaded file.

With the argument ``serve`` it runs ``rag serve`` instead, as a user would, and keeps it up.

It prints one JSON line of what it observed, and exits non-zero when the product did not work
(an unanswered question, an upload not added), so that a quiet run cannot pass by doing nothing.
"""

from __future__ import annotations

import json
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import netaudit  # beside this file
from browser import CHROMIUM, FLAGS

QUESTION = "OpenAI这轮融资后估值将达到多少?"
# the forecast the articles give; the answer, or a supporting sentence after it (tests/rag/test_assistant.py)
FORECAST = "此轮融资后,OpenAI的估值将达到1500亿美元。"
# each crafted input names a different host, so the audit tells which one leaked
CRAFTED_PATHS = {
    "e1": "http://evil.example/crafted.txt",  # an unresolvable name: a DNS look-up
    "e2": "http://127.0.0.1:9/local.txt",  # a private address: safehttpx's DNS-over-HTTPS fallback
    "e3": "http://93.184.216.34/public.txt",  # a public address: a direct connect
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def article(folder: Path, name: str, first_line: str, body: str) -> Path:
    path = folder / name
    path.write_text(f"{first_line}\n{body}\n", encoding="utf-8")
    return path


def browser_step(url: str, upload: Path, seen: dict[str, Any]) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True, timeout=60_000)
        try:
            page = browser.new_page()
            page.set_default_timeout(60_000)
            remote: list[str] = []
            page.on("request", lambda request: remote.append(request.url) if not request.url.startswith(url) else None)
            page.goto(url, wait_until="domcontentloaded")  # never "networkidle": Gradio keeps a stream open
            page.wait_for_selector("#question textarea")
            page.set_input_files("#upload input[type=file]", str(upload))
            page.wait_for_function("document.querySelector('#upload-status').innerText.includes('added')")
            seen["browser_status_images"] = page.locator("#upload-status img").count()
            page.fill("#question textarea", QUESTION)
            page.click("#ask")
            page.wait_for_selector("#conversation .bubble.answer")
            seen["browser_answer"] = page.locator("#conversation .bubble.answer").first.inner_text()[:1000]  # with the supporting sentences
            seen["browser_remote_requests"] = remote
        finally:
            browser.close()


def crafted_requests(url: str, seen: dict[str, Any]) -> None:
    """Requests no page sends: FileData naming a URL instead of an uploaded file, and /file=<URL>."""
    import httpx

    for label, path in CRAFTED_PATHS.items():
        netaudit.step(f"{label}: crafted /add_files with path={path}")
        payload = {"data": [[{"path": path, "orig_name": "x.txt", "meta": {"_type": "gradio.FileData"}}]]}
        try:
            started = httpx.post(f"{url}gradio_api/call/add_files", json=payload, timeout=30)
            event = started.json().get("event_id") if started.status_code == 200 else None
            result = httpx.get(f"{url}gradio_api/call/add_files/{event}", timeout=60).text if event else ""
            seen[label] = f"{started.status_code} {result[:160]}"
        except httpx.HTTPError as error:
            seen[label] = f"error {error!r}"
    netaudit.step("e4: crafted GET /gradio_api/file=http://evil.example/file-route.txt")
    response = httpx.get(f"{url}gradio_api/file=http://evil.example/file-route.txt", timeout=60)
    seen["e4"] = f"{response.status_code} {response.text[:160]}"


def main() -> int:
    netaudit.audit_python()
    seen: dict[str, Any] = {}
    netaudit.step("a: load the model and answer through the Python API")
    from rag import Assistant

    assistant = Assistant.load()
    answer = assistant.ask(QUESTION)
    seen["api_answer"] = answer.text
    seen["api_cited"] = [citation.text for citation in answer.citations]

    netaudit.step("b: start the page")
    from rag_ui.server import start

    running = start(assistant)  # in this process, as tests/ui/rag_ui/test_page.py does
    url = running.url
    try:
        with tempfile.TemporaryDirectory() as folder:
            netaudit.step("c: upload through gradio_client")
            from gradio_client import Client, handle_file

            client = Client(url, verbose=False)
            moon = "月球基地计划公布。航天局宣布,月球南极基地将于2031年建成。"
            first = article(Path(folder), "client.txt", "![t](http://evil.example/x.png)", moon)
            seen["client_status"] = client.predict([handle_file(str(first))], api_name="/add_files")[0]

            netaudit.step("d: the page in Chromium: upload, ask, answer")
            panda = "熊猫保护中心发布年度报告。卧龙保护区今年新生大熊猫幼崽11只。"
            second = article(Path(folder), "browser.txt", "![t](http://evil.example/browser.png)", panda)
            browser_step(url, second, seen)

            crafted_requests(url, seen)
    finally:
        netaudit.step("f: shut down")
        # gradio_client's heartbeat stream is still open (its thread only stops between heartbeats): uvicorn
        # cancels it after its graceful-shutdown timeout and logs a CancelledError traceback, which passes
        # through rag_ui.guard's counting_receive. Harmless: the return code says whether the scenario worked.
        running.close()
    print(json.dumps(seen, ensure_ascii=False))
    checks = {"the API's answer cites the forecast": FORECAST in seen["api_cited"], "gradio_client's upload was added": "1 added" in seen["client_status"],
              "the page's answer shows the forecast": FORECAST in seen["browser_answer"]}  # fmt: skip
    failed = [what for what, held in checks.items() if not held]
    if failed:  # said last, after any shutdown noise, where the test's failure message shows stderr's tail
        print("the product did not work; this did not hold: " + "; ".join(failed), file=sys.stderr)
    return 1 if failed else 0


def serve_main(quiet_seconds: float = 15) -> int:
    """`rag serve` as a user starts it, kept up past ONNX Runtime's first upload (about 9 s after import)."""
    import signal
    import subprocess
    import urllib.request

    port = free_port()
    netaudit.step("rag serve: start")
    started = time.time()
    server = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--port", str(port)])
    served = False
    try:
        while not served and time.time() - started < 120 and server.poll() is None:
            try:
                served = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).status == 200
            except OSError:
                time.sleep(0.5)
        netaudit.step("rag serve: page up, idle")
        time.sleep(max(0.0, quiet_seconds - (time.time() - started)))
    finally:
        netaudit.step("rag serve: stop")
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)
    print(json.dumps({"served": served, "seconds": round(time.time() - started, 1)}))
    return 0 if served else 1


if __name__ == "__main__":
    started = time.time()
    code = serve_main() if sys.argv[1:] == ["serve"] else main()
    print(f"scenario took {time.time() - started:.1f} s", file=sys.stderr)
    sys.exit(code)

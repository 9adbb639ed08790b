"""Regenerates ui/screenshot.png, the README's picture of the page: a Traditional-Chinese question,
its cited answer and the source viewer, on a copy of the seed articles served on 127.0.0.1.

    python ui/screenshot.py        # needs the prepared model, the `ui` extra, Playwright and /usr/bin/chromium
"""

from __future__ import annotations

import io
import shutil
import sys
import tempfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the browser flags the tests use

from browser import CHROMIUM, FLAGS  # noqa: E402

from rag import Assistant, Settings  # noqa: E402
from rag_ui.server import start  # noqa: E402

QUESTION = "哪位OpenAI首席技術官宣布離職?"
MAX_BYTES = 400_000


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="rag-screenshot-") as folder:
        root = Path(folder)
        shutil.copytree(REPO / "corpus", root / "corpus")
        if (REPO / "index" / "news").is_dir():  # a head start; opening checks it and rebuilds it if stale
            shutil.copytree(REPO / "index" / "news", root / "index" / "news", ignore=shutil.ignore_patterns(".staging-*", "LOCK"))
        running = start(Assistant.load(Settings(root=root)))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(running.url)
                page.fill("#question textarea", QUESTION)
                page.click("#ask")
                page.wait_for_selector("#conversation .bubble.answer")
                page.locator("#conversation .card").first.locator("button.cite").click()
                page.locator("#source-viewer mark#cited-span").wait_for()
                png = page.screenshot()
                browser.close()
        finally:
            running.close()
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=128)  # a page is few colours: small and sharp
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    if out.tell() > MAX_BYTES:
        raise SystemExit(f"the screenshot is {out.tell():,} bytes, over {MAX_BYTES:,}")
    (REPO / "docs" / "screenshot.png").write_bytes(out.getvalue())
    print(f"ui/screenshot.png: {out.tell():,} bytes")


if __name__ == "__main__":
    main()

"""The chat page: a server-level test through gradio_client, and browser tests with Chromium."""

from __future__ import annotations

import json
import shutil
import socket
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from rag import Assistant, Settings
from browser import CHROMIUM, FLAGS

from rag_ui import render

SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"  # tests/screenshots (ignored by git)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, news, encoder):
    """The page over a throw-away copy of the seed corpus and index, on a free localhost port."""
    from rag_ui.server import start

    root = tmp_path_factory.mktemp("ui")
    shutil.copytree(Settings().corpus_dir, root / "corpus")
    shutil.copytree(Settings().index_dir, root / "index" / "news", ignore=shutil.ignore_patterns(".staging-*", "LOCK"))
    assistant = Assistant.load(Settings(root=root), encoder=encoder)
    running = start(assistant)
    yield running.url, assistant, running.uploads
    running.close()


def test_the_answer_span_is_marked_inside_the_cited_sentence_and_escaped():
    from rag import Answer, Citation, Passage, Span

    # the passage is characters 10-34 of its document; the sentence 3-22 of it, the span 10-17
    passage = Passage(1, "d", "t", None, "前文。估值<b>达到1500亿美元</b>。后文", 10, 34, 0.9, (3, 22))
    answer = Answer("q", "估值<b>达到1500亿美元</b>。", [passage], [Citation(1, "d", 13, 32, 3, 22)], False, 0.9,
                    span=Span("1500亿美元", "d", 20, 27, 0.8))  # fmt: skip
    html = render.answer_bubble(answer)
    assert '<strong class="span">1500亿美元</strong> — ' in html  # the exact answer first
    assert '<mark>估值&lt;b&gt;达到<strong class="span">1500亿美元</strong>&lt;/b&gt;。</mark>' in html  # inside its sentence


def test_dates_are_shown_on_every_citation_passage_and_list_entry():
    from rag import Answer, Citation, DocumentSummary, Passage

    passage = Passage(1, "d", "t", "虎嗅網", "估值。后文", 0, 5, 0.9, (0, 3), "2023-11-21")
    answer = Answer("q", "估值。", [passage], [Citation(1, "d", 0, 3, 0, 3, "估值。", "2023-11-21", "2023-11-21"),
                                              Citation(2, "e", 0, 3, 0, 3, "估值。", None, None)], False, 0.9)  # fmt: skip
    html = render.answer_bubble(answer)
    assert '[1]</button> <span class="cite-date" title="the publication date of the article">2023-11-21</span>' in html
    assert '[2]</button> <span class="cite-date unknown" title="the article states no date">no date</span>' in html
    assert ' · 虎嗅網 · <span class="date">2023-11-21</span>' in html
    listed = render.library([DocumentSummary("d", "d.txt", "txt", "标题", "zh-Hant", None, "2023 年 11 月 21 日", 10, "2023-11-21", "stated in the text"),
                             DocumentSummary("e", "e.txt", "txt", "无日期", "zh-Hans", None, None, 10)], "m")  # fmt: skip
    assert '<span class="date" title="stated in the text">2023-11-21</span>' in listed
    assert '<span class="date" title="the article states no date">no date</span>' in listed


def test_rendering_escapes_text_before_marking_it():
    from rag import Answer, Passage

    passage = Passage(1, "d", "<b>title</b>", None, "a<script>x</script>b", 0, 20, 0.5, (1, 18))
    html = render.answer_bubble(Answer("q", "<script>x</script>", [passage], [], True, 0.1, "<i>why</i>"))
    assert "<script>" not in html and "<i>" not in html and "&lt;i&gt;why" in html and "&lt;script&gt;" in html and "<mark>" in html
    assert render.NOT_FOUND in html and "closest match" in html
    assert "<script>" not in render.conversation([("<img src=x onerror=alert(1)>", "oops")])


def test_a_follow_up_shows_the_question_it_was_answered_as():
    from rag import Answer

    resolved = Answer("林泽宇是从哪所大学毕业的?", None, [], [], True, 0.1, "not said")
    assert '<div class="asked-as">Answered as: 林泽宇是从哪所大学毕业的?</div>' in render.conversation([("他是从哪所大学毕业的?", resolved)])
    alone = Answer("谁是CTO?", None, [], [], True, 0.1, "not said")
    assert "asked-as" not in render.conversation([(" 谁是CTO? ", alone)])  # the question as typed, stripped
    assert "<b>" not in render.conversation([("他呢?", Answer("<b>x</b>呢?", None, [], [], True, 0.1))])


def test_server_answers_and_upload_makes_a_document_answerable(server, tmp_path):
    from gradio_client import Client, handle_file

    url, assistant, _ = server
    client = Client(url, verbose=False)
    chat_html, _ = client.predict("OpenAI这轮融资后估值将达到多少?", 5, api_name="/respond")
    assert "1500" in chat_html and 'class="cite"' in chat_html and "<mark>" in chat_html

    article = tmp_path / "lunar.txt"
    article.write_text("月球基地计划公布。\n航天局宣布,月球南极基地将于2031年建成,首批驻留人员为6名宇航员。\n", encoding="utf-8")
    status, library_html, *_ = client.predict([handle_file(str(article))], "news", "2025-02-03", api_name="/add_files")
    assert "2025-02-03" in library_html  # the date field beside the upload
    assert "1 added" in status and "月球基地计划公布" in library_html
    chat_html, _ = client.predict("月球南极基地哪一年建成?", 3, api_name="/respond")
    assert "2031" in chat_html and "月球基地计划公布" in chat_html
    assert any(doc.title.startswith("月球基地计划公布") for doc in assistant.documents())

    empty = tmp_path / "empty.txt"
    empty.write_text("   \n", encoding="utf-8")
    before = len(assistant.documents())
    status, *_ = client.predict([handle_file(str(empty))], api_name="/add_files")
    assert "Could not add" in status and len(assistant.documents()) == before


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: `make browser` (or apt-get install chromium fonts-noto-cjk)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture()
def page(browser, server):
    url, _, _ = server
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urlparse(request.url).hostname or ""))
    page.goto(url)
    page.wait_for_selector("#question textarea")
    yield page
    context.close()
    assert hosts <= {"127.0.0.1"}, f"the page fetched from other hosts: {hosts}"  # works offline


def ask(page, question: str) -> float:
    cards_before = page.locator("#conversation .bubble.answer").count()
    page.fill("#question textarea", question)
    started = time.perf_counter()
    page.click("#ask")
    page.wait_for_function(f"document.querySelectorAll('#conversation .bubble.answer').length > {cards_before}")
    return time.perf_counter() - started


def test_traditional_question_shows_cited_card_and_source(page):
    SCREENSHOTS.mkdir(exist_ok=True)
    seconds = ask(page, "哪位OpenAI首席技術官宣布離職?")
    first = page.locator("#conversation .card").first
    assert "穆拉蒂" in first.inner_text() or "Murati" in first.inner_text()
    assert page.locator("#conversation .card mark").count() >= 1
    page.screenshot(path=str(SCREENSHOTS / "answer.png"), full_page=True)

    highlighted = first.locator("mark").inner_text()
    first.locator("button.cite").click()
    cited = page.locator("#source-viewer mark#cited-span")
    cited.wait_for()
    assert cited.inner_text() == highlighted
    assert cited.is_visible() and cited.bounding_box()["height"] > 0
    page.screenshot(path=str(SCREENSHOTS / "source.png"), full_page=True)
    (SCREENSHOTS / "timing.json").write_text(json.dumps({"question_to_rendered_answer_s": round(seconds, 3)}))


def test_uploaded_text_becomes_answerable(page, tmp_path):
    article = tmp_path / "panda.txt"
    article.write_text("熊猫保护中心发布年度报告。\n报告显示,卧龙保护区今年新生大熊猫幼崽11只,创下历史新高。\n", encoding="utf-8")
    page.set_input_files("#upload input[type=file]", str(article))
    page.wait_for_function("document.querySelector('#upload-status').innerText.includes('added')", timeout=60_000)
    assert "熊猫保护中心发布年度报告" in page.locator("#library").inner_text()
    ask(page, "卧龙保护区今年新生了多少只大熊猫幼崽?")
    assert "熊猫保护中心发布年度报告" in page.locator("#conversation .card").first.inner_text()
    assert "11" in page.locator("#conversation .bubble.answer").last.inner_text()


def test_script_in_question_renders_as_text(page):
    attack = "<script>window.__xss = 1</script><img src=x onerror=\"window.__xss = 2\">"
    ask(page, attack)
    assert page.evaluate("window.__xss") is None
    assert attack in page.locator("#conversation .bubble.question").last.inner_text()


def test_offtopic_question_says_not_found(page):
    ask(page, "红烧肉怎么做才好吃?")
    last = page.locator("#conversation .bubble.answer").last.inner_text()
    assert render.NOT_FOUND in last and "None of the passages is close enough" in last
    assert page.locator("#conversation .card").count() >= 1  # closest matches still listed


def test_uploaded_pdf_becomes_answerable_and_a_bad_one_is_refused(page, tmp_path):
    from documents import hanzi_pdf

    article = tmp_path / "lab.pdf"
    article.write_bytes(hanzi_pdf(["量子实验室发布年度报告。", "报告显示,实验室今年研制出了拥有72个量子比特的新型处理器。"]))
    page.set_input_files("#upload input[type=file]", str(article))
    page.wait_for_function("document.querySelector('#upload-status').innerText.includes('added')", timeout=60_000)
    assert "lab.pdf" in page.locator("#library").inner_text()
    ask(page, "实验室今年研制出了拥有多少个量子比特的处理器?")
    assert "72" in page.locator("#conversation .bubble.answer").last.inner_text()
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(article.read_bytes()[:1500])
    page.set_input_files("#upload input[type=file]", str(broken))
    page.wait_for_function("document.querySelector('#upload-status').innerText.includes('Could not add')", timeout=60_000)
    assert "broken.pdf: the PDF is truncated" in page.locator("#upload-status").inner_text()


def test_removing_a_document_asks_first_then_removes_it(page, tmp_path):
    article = tmp_path / "ferry.txt"
    article.write_text("渡轮公司宣布新航线。\n新航线将于明年三月开通,每天往返八班。\n", encoding="utf-8")
    page.set_input_files("#upload input[type=file]", str(article))
    page.wait_for_function("document.querySelector('#upload-status').innerText.includes('added')", timeout=60_000)
    entry = page.locator("#library li", has_text="渡轮公司宣布新航线")
    page.once("dialog", lambda dialog: dialog.dismiss())
    entry.locator("button.remove").click()
    page.wait_for_timeout(1000)
    assert entry.count() == 1  # dismissed: nothing removed
    page.once("dialog", lambda dialog: dialog.accept())
    entry.locator("button.remove").click()
    page.wait_for_function("document.querySelector('#upload-status').innerText.includes('Removed')", timeout=60_000)
    assert page.locator("#library li", has_text="渡轮公司宣布新航线").count() == 0
    ask(page, "渡轮新航线每天往返几班?")
    assert "渡轮公司" not in page.locator("#conversation .bubble.answer").last.inner_text()


def test_a_new_collection_on_the_page_answers_from_its_own_articles(page, tmp_path):
    dropdown = page.locator("#collection input")
    dropdown.fill("beat-sport")
    dropdown.press("Enter")
    page.wait_for_function("document.querySelector('#library').innerText.includes('0 documents')", timeout=60_000)
    article = tmp_path / "final.txt"
    article.write_text("足球联赛决赛昨晚举行。\n红队以三比一战胜蓝队夺得冠军。\n", encoding="utf-8")
    page.set_input_files("#upload input[type=file]", str(article))
    page.wait_for_function("document.querySelector('#upload-status').innerText.includes('added')", timeout=60_000)
    ask(page, "哪支球队夺得了冠军?")
    cards = page.locator("#conversation .card")
    assert cards.count() == 1 and "足球联赛决赛" in cards.first.inner_text()  # the only article of this collection
    dropdown.fill("news")
    dropdown.press("Enter")
    page.wait_for_function("!document.querySelector('#library').innerText.includes('足球联赛')", timeout=60_000)
    ask(page, "哪位OpenAI首席技术官宣布离职?")
    assert "穆拉蒂" in page.locator("#conversation .card").first.inner_text()


@pytest.mark.parametrize(("question", "top_k", "message"), [
    ("估值多少?", "abc", "top_k must be a whole number"), ("估值多少?", None, "top_k must be a whole number"),
    ("估值多少?", 5.5, "top_k must be a whole number"), (None, 5, "the question must be text"), ("", 5, "the question is empty"),
])  # fmt: skip
def test_crafted_page_calls_get_the_clis_message_not_a_traceback(server, question, top_k, message, capfd):
    from gradio_client import Client

    url, _, _ = server
    html, turns = Client(url, verbose=False).predict(question, top_k, api_name="/respond")
    assert message in html.replace("&#x27;", "'") and 'class="bubble answer error"' in html
    assert "Traceback" not in capfd.readouterr().err


def secret_files(tmp_path: Path) -> list[Path]:
    """Files the server process can read and must never serve: one of each readable type, and others."""
    folder = tmp_path / "private"
    folder.mkdir()
    secrets = []
    for suffix in (".md", ".txt", ".html", ".htm", ".pdf", ".docx", ".key"):
        path = folder / f"notes{suffix}"
        path.write_text("机密笔记:服务器密码是 hunter2,明天发布。\n" * 3, encoding="utf-8")
        secrets.append(path)
    return secrets


def test_no_event_of_the_page_reads_a_file_named_by_its_path(server, tmp_path):
    """The exploit of issue 23: a queue request naming a server path, for every event of the page, as a
    FileData or a bare {"path"}, directly or through a symlink in the upload folder or a ../ way out."""
    import httpx

    from gradio_queue import event_inputs, join

    url, assistant, running_uploads = server
    secrets = secret_files(tmp_path)
    link = running_uploads.path / "link.md"
    link.symlink_to(secrets[0])
    named = [str(p) for p in secrets] + [str(link), f"{running_uploads.path}/../private/notes.md", "/etc/passwd"]
    before = {d.id for d in assistant.documents()}
    with httpx.Client(base_url=url, timeout=60) as client:
        inputs = event_inputs(client)
        assert "add_files" in inputs
        for number, (api_name, count) in enumerate(inputs.items()):
            for path in named:
                for entry in ({"path": path, "meta": {"_type": "gradio.FileData"}}, {"path": path}):
                    reply = join(client, api_name, [[entry]] + ["news"] * (count - 1), f"attacker-{number}")
                    assert isinstance(reply, httpx.Response), (api_name, path, reply)
                    assert reply.status_code == 400 and reply.json()["error"]["type"] == "FileRefused", reply.text
        assert client.get(f"/gradio_api/file={secrets[0]}").status_code in (403, 404)
    assert {d.id for d in assistant.documents()} == before
    assert [p for p in running_uploads.files() if p.name.startswith("notes")] == []
    link.unlink()


def test_the_exploit_sent_from_the_page_in_chromium_reads_nothing(page, server, tmp_path):
    """The same request, sent by the page's own origin in the browser (as a script injected into it would)."""
    _, assistant, running_uploads = server
    (secret, *_) = secret_files(tmp_path)
    before = {d.id for d in assistant.documents()}
    reply = page.evaluate(
        """async (path) => {
            const config = await (await fetch('/config')).json();
            const index = config.dependencies.findIndex((d) => d.api_name === 'add_files');
            const body = {data: [[{path, meta: {_type: 'gradio.FileData'}}], 'news'], fn_index: index,
                          session_hash: 'in-page', event_data: null, trigger_id: config.dependencies[index].targets[0][0]};
            const response = await fetch('/gradio_api/queue/join', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                                                    body: JSON.stringify(body)});
            return {status: response.status, body: await response.json()};
        }""",
        str(secret),
    )
    assert reply["status"] == 400 and reply["body"]["error"]["type"] == "FileRefused"
    page.wait_for_timeout(500)
    assert {d.id for d in assistant.documents()} == before and not any(p.name == secret.name for p in running_uploads.files())


def test_the_answer_shows_its_sentence_its_exact_span_and_a_confidence_word_with_the_number_on_hover(page, server):
    _, assistant, _ = server
    question = "OpenAI這輪融資後估值將達到多少?"
    expected = assistant.ask(question)
    ask(page, question)
    bubble = page.locator("#conversation .bubble.answer").last
    assert bubble.locator(".answer-text").inner_text() == expected.text  # one sentence, as the library chose it
    assert expected.span is not None and bubble.locator("strong.span").first.inner_text() == expected.span.text
    label = bubble.locator(".confidence")
    assert label.inner_text() in {"可靠", "可能", "不确定"}
    assert label.get_attribute("title").startswith(f"confidence {expected.confidence:.2f}")
    assert bubble.locator(".supporting li").count() == len(expected.supporting)
    page.screenshot(path=str(SCREENSHOTS / "answer-confidence.png"), full_page=True)


def test_dates_are_listed_and_a_filtered_question_answers_from_the_chosen_articles_only(page, server, tmp_path):
    """The document list and the citations show dates; the upload's date field dates the files; the
    filter controls (since, until, sources, documents) narrow the search; a bad date is said as such."""
    library = page.locator("#library")
    assert "2023-11-21" in library.locator("li", has_text="OpenAI 員工公開信").inner_text()
    article = tmp_path / "ferry.txt"
    article.write_text("渡轮公司宣布夜间航线。\n新航线每晚十点从北港出发,全程两小时。\n", encoding="utf-8")
    page.fill("#upload-date textarea, #upload-date input", "2025-01-15")
    page.set_input_files("#upload input[type=file]", str(article))
    page.wait_for_function("document.querySelector('#upload-status').innerText.includes('added')", timeout=60_000)
    assert "2025-01-15" in library.locator("li", has_text="渡轮公司宣布夜间航线").inner_text()

    page.locator("#filters").get_by_text("Only some articles (filters)").click()
    page.fill("#since textarea, #since input", "2024-09-20")
    page.fill("#until textarea, #until input", "2024-12-31")
    ask(page, "哪位OpenAI首席技术官宣布离职?")
    dates = [card.locator(".date").inner_text() for card in page.locator("#conversation .cards").last.locator(".card").all()]
    assert len(dates) == 5 and set(dates) == {"2024-09-26"}  # 004 alone is that recent, and holds five passages
    assert page.locator("#conversation .bubble.answer").last.locator(".cite-date").first.inner_text() == "2024-09-26"

    page.fill("#since textarea, #since input", "2024-02-30")
    ask(page, "哪位OpenAI首席技术官宣布离职?")
    assert "since: '2024-02-30' is no date of the calendar" in page.locator("#conversation .bubble.answer").last.inner_text()

    page.fill("#since textarea, #since input", "")
    page.fill("#until textarea, #until input", "")
    page.locator("#only-sources input").click()
    page.get_by_role("option", name="虎嗅網").click()
    page.keyboard.press("Escape")
    page.locator("#only-sources", has_text="虎嗅網").wait_for()
    ask(page, "OpenAI员工的公开信说了什么?")
    titles = {card.locator(".title").inner_text() for card in page.locator("#conversation .cards").last.locator(".card").all()}
    assert titles == {"OpenAI 員工公開信!發生什麼事?Sam Altman 會回到 OpenAI 嗎?"}
    page.screenshot(path=str(SCREENSHOTS / "filters.png"), full_page=True)


def test_a_follow_up_is_answered_about_the_conversations_earlier_question(page):
    # asked alone, "她是哪一年加入OpenAI的?" abstains (no year about "her" in the closest passages)
    ask(page, "OpenAI的首席技术官宣布离职了,她叫什么名字?")
    ask(page, "她是哪一年加入OpenAI的?")
    last = page.locator("#conversation .bubble.answer").last
    assert render.NOT_FOUND not in last.inner_text()
    assert last.locator("strong.span").first.inner_text().replace(" ", "") == "2018年"  # the exact answer, shown first

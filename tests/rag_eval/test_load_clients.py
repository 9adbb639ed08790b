"""The load probe's clients against a stand-in API on 127.0.0.1 (no model): questions go to the
collections in turn, marked so no answer comes from a cache, stop when told, and a bad answer is an error."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rag_eval.load_clients import ask_all, percentile

GOOD = {"passages": [{"doc_id": "a", "start": 3, "end": 5, "text": "ab"}]}
BAD = {"passages": [{"doc_id": "a", "start": 3, "end": 5, "text": "abc"}]}  # the text does not fit its offsets


@pytest.fixture()
def stand_in() -> Iterator[tuple[str, list[dict]]]:
    """A server answering ``/api/v1/ask``: GOOD, BAD for a question with "bad" in it; it keeps what it was sent."""
    received: list[dict] = []

    class Answer(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append(body)
            data = json.dumps(BAD if "bad" in body["question"] else GOOD).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()


def test_questions_go_to_the_collections_in_turn_each_marked_and_timed(stand_in):
    url, received = stand_in
    errors: list[str] = []
    asked = ask_all(url, ["q0", "q1", "q2", "q3"], clients=2, errors=errors, run="x ", collections=("one", "two"))
    assert errors == [] and len(asked) == 4 and all(a.seconds > 0 and a.answered == a.started + a.seconds for a in asked)
    sent = sorted((body["question"], body.get("collection")) for body in received)
    assert sent == [("q0 (x 0)", "one"), ("q1 (x 1)", "two"), ("q2 (x 2)", "one"), ("q3 (x 3)", "two")]
    ask_all(url, ["q"], clients=1, errors=errors)
    assert "collection" not in received[-1]  # the default collection


def test_no_question_is_sent_once_told_to_stop_and_a_bad_answer_is_an_error(stand_in):
    url, received = stand_in
    stop, errors = threading.Event(), []
    stop.set()
    assert ask_all(url, ["q"] * 50, clients=4, errors=errors, stop=stop) == [] and received == []
    ask_all(url, ["a bad one"], clients=1, errors=errors)
    assert len(errors) == 1 and "do not fit" in errors[0]


def test_percentiles_of_the_latencies():
    assert percentile([], 0.95) == 0.0
    assert percentile([float(n) for n in range(1, 101)], 0.95) == 96.0

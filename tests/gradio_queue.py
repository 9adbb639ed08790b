"""Drive the page's events the way any HTTP client can: ``POST /gradio_api/queue/join``, then the event
stream. Tests use it to send what the page itself never would."""

from __future__ import annotations

import json
from typing import Any

import httpx


def event_index(client: httpx.Client, api_name: str) -> tuple[int, int]:
    """(fn_index, trigger id) of the page's event named ``api_name``."""
    dependencies = client.get("/config").json()["dependencies"]
    index, found = next((i, d) for i, d in enumerate(dependencies) if d.get("api_name") == api_name)
    return index, found["targets"][0][0]


def event_inputs(client: httpx.Client) -> dict[str, int]:
    """The page's named events and how many inputs each takes."""
    return {d["api_name"]: len(d["inputs"]) for d in client.get("/config").json()["dependencies"] if d.get("api_name")}


def join(client: httpx.Client, api_name: str, data: list[Any], session: str) -> httpx.Response | dict[str, Any]:
    """The refusal (a response other than 200), or the event's last message once it completed."""
    index, trigger = event_index(client, api_name)
    payload = {"data": data, "fn_index": index, "session_hash": session, "event_data": None, "trigger_id": trigger}
    # json.dumps escapes what UTF-8 cannot carry (a lone surrogate becomes \ud800), as a browser's JSON does
    joined = client.post("/gradio_api/queue/join", content=json.dumps(payload), headers={"content-type": "application/json"})
    if joined.status_code != 200:
        return joined
    with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") in ("process_completed", "close_stream"):
                    return message
    raise AssertionError("the event stream ended without completing")

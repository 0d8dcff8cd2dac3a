"""The thin client on its own: what it imports, how it parses and resumes SSE streams."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx2
import pytest
from runq_client import ApiError, Client, protocol
from runq_client.sse import parse_lines

CLIENT_DIR = Path(__file__).parents[2] / "clients" / "python"


def test_the_client_imports_nothing_of_runq_celery_sqlmodel_or_the_simulator():
    script = "import sys, runq_client; print('\\n'.join(sorted(sys.modules)))"
    loaded = set(
        subprocess.run(
            [sys.executable, "-c", script], check=True, capture_output=True, text=True, cwd="/"
        ).stdout.split()
    )
    roots = {name.split(".")[0] for name in loaded}
    forbidden = {"config", "workers", "tasks", "gateway", "simulator", "devstack"}
    assert roots.isdisjoint(forbidden | {"celery", "kombu", "sqlmodel", "sqlalchemy", "openai"})
    dependencies = tomllib.loads((CLIENT_DIR / "pyproject.toml").read_text())["project"]
    assert [d.split(">")[0] for d in dependencies["dependencies"]] == ["httpx2", "pydantic"]


def test_sse_lines_become_events_and_comments_are_skipped():
    lines = [
        ": keep-alive",
        "",
        "id: 1-0",
        "event: run.status",
        'data: {"status": "in_progress"}',
        "",
        "id: 2-0",
        "event: run.completed",
        'data: {"id": "run_1", "status": "completed"}',
        "",
    ]
    events = list(parse_lines(lines))
    assert [(e.id, e.type, e.is_terminal) for e in events] == [
        ("1-0", "run.status", False),
        ("2-0", "run.completed", True),
    ]


class DroppedStream(httpx2.SyncByteStream):
    """Sends some bytes, then the connection drops."""

    def __init__(self, sent: bytes) -> None:
        self.sent = sent

    def __iter__(self):
        yield self.sent
        raise httpx2.ReadError("connection reset")


def sse(event_id: str, event_type: str, data: dict) -> bytes:
    return f"id: {event_id}\nevent: {event_type}\ndata: {json.dumps(data)}\n\n".encode()


def test_events_resume_after_a_dropped_stream_from_the_last_event_id(monkeypatch):
    monkeypatch.setattr(protocol, "RECONNECT_S", 0)
    asked_after: list[str | None] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        asked_after.append(request.headers.get("last-event-id"))
        headers = {"content-type": "text/event-stream"}
        if len(asked_after) == 1:
            first = sse("1-0", "run.status", {"status": "in_progress"})
            return httpx2.Response(200, headers=headers, stream=DroppedStream(first))
        final = sse("2-0", "run.completed", {"status": "completed"})
        return httpx2.Response(200, headers=headers, content=final)

    with Client("http://runq.test", "rq_k", transport=httpx2.MockTransport(handler)) as client:
        events = list(client.events("run_1"))

    assert [e.id for e in events] == ["1-0", "2-0"]
    assert asked_after == [None, "1-0"]


def test_an_error_answer_raises_with_runqs_message():
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(404, json={"error": "no run with id 'run_x'"})

    transport = httpx2.MockTransport(handler)
    with (
        Client("http://runq.test", "rq_k", transport=transport) as client,
        pytest.raises(ApiError) as raised,
    ):
        client.get("run_x")
    assert raised.value.status_code == 404 and "run_x" in raised.value.message

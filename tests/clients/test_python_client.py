"""The thin client on its own: what it imports, how it parses and resumes SSE streams."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import httpx2
import pytest
from runq_client import ApiError, AsyncClient, Client, protocol
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


def run_json(status: str, calls: list[dict] | None = None) -> dict:
    return {
        "id": "run_1",
        "agent": "support",
        "status": status,
        "input": "refund o1",
        "created_at": "2026-12-01T12:00:00Z",
        "tool_calls": calls or [],
    }


REFUND_CALL = {
    "call_id": "call_r",
    "name": "refund",
    "arguments": "{}",
    "status": "awaiting_approval",
}
LOOKUP_CALL = {
    "call_id": "call_l",
    "name": "lookup",
    "arguments": "{}",
    "status": "awaiting_output",
}


class Recorder:
    """A MockTransport handler that records each request and answers with the next reply."""

    def __init__(self, *replies: httpx2.Response) -> None:
        self.replies = list(replies)
        self.requests: list[tuple[str, str, object]] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content) if request.content else None
        self.requests.append((request.method, request.url.path, body))
        return self.replies.pop(0)


def test_approve_reject_and_submit_outputs_post_what_the_api_takes():
    decided = {**REFUND_CALL, "status": "pending", "decision": "approved"}
    handler = Recorder(
        httpx2.Response(200, json=run_json("requires_tools", [decided])),
        httpx2.Response(200, json=run_json("requires_tools")),
        httpx2.Response(200, json=run_json("submitting")),
    )
    with Client("http://runq.test", "rq_k", transport=httpx2.MockTransport(handler)) as client:
        approved = client.approve_tool_call("run_1", "call_r")
        client.reject_tool_call("run_1", "call_x", reason="too much")
        client.submit_tool_outputs("run_1", {"call_l": "shipped", "call_m": '{"ok": true}'})

    assert approved.tool_calls[0].decision == "approved" and not approved.is_waiting
    assert handler.requests == [
        ("POST", "/v1/runs/run_1/tool_calls/call_r/approve", {}),
        ("POST", "/v1/runs/run_1/tool_calls/call_x/reject", {"reason": "too much"}),
        (
            "POST",
            "/v1/runs/run_1/submit_tool_outputs",
            {
                "tool_outputs": [
                    {"tool_call_id": "call_l", "output": "shipped"},
                    {"tool_call_id": "call_m", "output": '{"ok": true}'},
                ]
            },
        ),
    ]


def test_the_async_client_has_the_same_actions():
    handler = Recorder(
        httpx2.Response(200, json=run_json("requires_action", [LOOKUP_CALL])),
        httpx2.Response(409, json={"error": "tool call call_r was already approved"}),
        httpx2.Response(200, json=run_json("submitting")),
    )

    async def scenario():
        transport = httpx2.MockTransport(handler)
        async with AsyncClient("http://runq.test", "rq_k", transport=transport) as client:
            still = await client.approve_tool_call("run_1", "call_r", reason="fine")
            with pytest.raises(ApiError) as conflict:
                await client.reject_tool_call("run_1", "call_r")
            await client.submit_tool_outputs("run_1", {"call_l": "x"})
        return still, conflict.value

    still, conflict = asyncio.run(scenario())
    assert [c.call_id for c in still.waiting_calls] == ["call_l"] and still.is_waiting
    assert conflict.status_code == 409 and "already approved" in conflict.message
    assert [path for _, path, _ in handler.requests] == [
        "/v1/runs/run_1/tool_calls/call_r/approve",
        "/v1/runs/run_1/tool_calls/call_r/reject",
        "/v1/runs/run_1/submit_tool_outputs",
    ]
    assert handler.requests[0][2] == {"reason": "fine"}


def test_create_passes_caller_tools_and_wait_stops_when_the_run_waits_for_you():
    tool = {"name": "lookup", "description": "Find an order.", "parameters": {"type": "object"}}
    handler = Recorder(
        httpx2.Response(201, json=run_json("pending")),
        httpx2.Response(200, json=run_json("requires_action", [REFUND_CALL, LOOKUP_CALL])),
    )
    with Client("http://runq.test", "rq_k", transport=httpx2.MockTransport(handler)) as client:
        client.create("support", "refund o1", tools=[tool])
        waiting = client.wait("run_1", timeout_s=600)

    assert handler.requests[0] == (
        "POST",
        "/v1/runs",
        {"agent": "support", "input": "refund o1", "tools": [tool]},
    )
    assert len(handler.requests) == 2  # one long poll: it does not poll on until the timeout
    assert [(c.call_id, c.status) for c in waiting.waiting_calls] == [
        ("call_r", "awaiting_approval"),
        ("call_l", "awaiting_output"),
    ]


def test_the_client_posts_to_the_routes_runq_serves():
    from gateway.http.routes_actions import router

    served = {(method, route.path) for route in router.routes for method in route.methods}
    asked = {
        ("POST", protocol.decision_path("{run_id}", "{call_id}", "approve")),
        ("POST", protocol.decision_path("{run_id}", "{call_id}", "reject")),
        ("POST", protocol.outputs_path("{run_id}")),
    }
    assert asked <= served

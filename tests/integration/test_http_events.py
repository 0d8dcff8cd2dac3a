"""Following runs over HTTP: the SSE stream (and its resume) and cheap long-polls."""

from __future__ import annotations

import asyncio
import json

import httpx2
import pytest

from tests.integration.test_http_api import create

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def read_events(api, run_id: str, last_event_id: str | None = None) -> list[dict]:
    """Every event of the stream until the server ends it."""
    headers = api.auth() | ({"last-event-id": last_event_id} if last_event_id else {})
    events, current = [], {}
    url = f"{api.url}/v1/runs/{run_id}/events"
    with httpx2.stream("GET", url, headers=headers, timeout=60) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        for line in reply.iter_lines():
            if not line:
                if current:
                    events.append(current)
                current = {}
            elif not line.startswith(":"):
                field, _, value = line.partition(": ")
                current[field] = json.loads(value) if field == "data" else value
    return events


def test_the_event_stream_ends_with_the_result_and_resumes_from_last_event_id(api):
    run_id = create(api).json()["id"]

    events = read_events(api, run_id)

    types = [e["event"] for e in events]
    assert types[-1] == "run.completed"
    assert events[-1]["data"]["output_text"].startswith("Here is what I found")
    for expected in ("tool_calls.requested", "tool_call.started", "tool_call.finished"):
        assert expected in types
    assert {"status": "in_progress"} in [e["data"] for e in events if e["event"] == "run.status"]
    ids = [e["id"] for e in events]
    assert len(set(ids)) == len(ids)

    resumed = read_events(api, run_id, last_event_id=ids[1])
    assert [e["id"] for e in resumed] == ids[2:]


def test_two_hundred_waiters_share_one_subscription_and_read_the_run_at_most_twice(api):
    watch, reader = api.app.state.watch, api.app.state.reader
    subscriptions, reads, wakes = watch.subscriptions, reader.reads, watch.wakes
    # A turn long enough that the waiters are all parked before the run ends.
    run_id = create(api, input="What's the weather in Paris? #slow=2000").json()["id"]

    async def wait_all() -> list[dict]:
        limits = httpx2.Limits(max_connections=250)
        async with httpx2.AsyncClient(limits=limits, timeout=60, headers=api.auth()) as client:
            url = f"{api.url}/v1/runs/{run_id}/wait"
            replies = await asyncio.gather(
                *(client.get(url, params={"timeout_s": 50}) for _ in range(200))
            )
        return [r.json() for r in replies]

    results = asyncio.run(wait_all())

    assert {r["status"] for r in results} == {"completed"}
    # 200 waiters added no subscription (a Redis restarted earlier in the session has made
    # the process subscribe once more, so the count is compared, not taken as 1)
    assert watch.subscriptions == subscriptions >= 1
    assert reader.reads - reads <= 2 * 200
    assert watch.wakes > wakes  # they slept until the end event, not on a timer
    assert watch.waiting() == 0


def test_wait_answers_the_current_state_at_its_timeout(api):
    run_id = create(api, input="Think about this for a long time. #slow=10000").json()["id"]
    reply = httpx2.get(
        f"{api.url}/v1/runs/{run_id}/wait", params={"timeout_s": 0}, headers=api.auth(), timeout=10
    )
    assert reply.status_code == 200 and reply.json()["id"] == run_id
    httpx2.post(f"{api.url}/v1/runs/{run_id}/cancel", headers=api.auth(), timeout=10)

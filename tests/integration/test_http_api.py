"""The HTTP API end to end: real uvicorn, real workers, Redis, the simulator, PostgreSQL."""

from __future__ import annotations

import json
import uuid

import httpx2
import pytest

from tests.integration.api_server import Api

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

WEATHER = "What's the weather in Paris?"


def create(api: Api, key: str | None = None, **body) -> httpx2.Response:
    body = {"agent": "responses-agent", "input": WEATHER} | body
    headers = api.auth(key)
    idempotency_key = body.pop("idempotency_key", None)
    if idempotency_key:
        headers["idempotency-key"] = idempotency_key
    return httpx2.post(f"{api.url}/v1/runs", json=body, headers=headers, timeout=10)


def wait(api: Api, run_id: str, key: str | None = None, timeout_s: float = 60) -> dict:
    reply = httpx2.get(
        f"{api.url}/v1/runs/{run_id}/wait",
        params={"timeout_s": timeout_s},
        headers=api.auth(key),
        timeout=timeout_s + 10,
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_a_run_is_created_followed_and_read_back(api):
    reply = create(api, metadata={"order": "A-1"}, thread_key=f"user-{uuid.uuid4().hex[:6]}")
    assert reply.status_code == 201, reply.text
    created = reply.json()
    assert created["status"] == "pending" and created["metadata"] == {"order": "A-1"}

    done = wait(api, created["id"])

    assert done["status"] == "completed", done
    assert done["output_text"].startswith("Here is what I found")
    assert [c["name"] for c in done["tool_calls"]] == ["get_weather"]
    assert done["tool_calls"][0]["status"] == "succeeded"
    assert done["usage"]["input_tokens"] > 0
    assert done["thread_key"] == created["thread_key"]
    got = httpx2.get(f"{api.url}/v1/runs/{created['id']}", headers=api.auth(), timeout=10)
    assert got.json() == done


def test_keys_see_only_their_own_runs(api):
    run_id = create(api).json()["id"]
    url = f"{api.url}/v1/runs/{run_id}"

    assert httpx2.get(url, timeout=10).status_code == 401
    assert httpx2.get(url, headers=api.auth("rq_not-a-key"), timeout=10).status_code == 401
    for path in ("", "/wait?timeout_s=0", "/events"):
        assert (
            httpx2.get(url + path, headers=api.auth(api.other_key), timeout=10).status_code == 404
        )
    cancel = httpx2.post(f"{url}/cancel", headers=api.auth(api.other_key), timeout=10)
    assert cancel.status_code == 404
    listed = httpx2.get(f"{api.url}/v1/runs", headers=api.auth(api.other_key), timeout=10)
    assert run_id not in {r["id"] for r in listed.json()["data"]}
    wait(api, run_id)


def test_a_revoked_key_is_refused(api):
    from workers.db import key_store
    from workers.wiring import new_session

    with new_session() as session:
        row, key = key_store.create_key(session, name=f"short-lived-{uuid.uuid4().hex[:6]}")
        key_store.revoke_key(session, name=row.name)
    assert httpx2.get(f"{api.url}/v1/runs", headers=api.auth(key), timeout=10).status_code == 401


def test_idempotency_same_body_same_run_other_body_conflict(api):
    key = f"order-{uuid.uuid4().hex[:8]}"
    first = create(api, idempotency_key=key)
    again = create(api, idempotency_key=key)
    other_body = create(api, idempotency_key=key, input="What's the weather in Oslo?")
    other_tenant = create(api, key=api.other_key, idempotency_key=key)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert other_body.status_code == 409 and "different body" in other_body.json()["error"]
    assert other_tenant.status_code == 201 and other_tenant.json()["id"] != first.json()["id"]
    wait(api, first.json()["id"])
    wait(api, other_tenant.json()["id"], key=api.other_key)


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"agent": "responses-agent", "input": "hi", "colour": "red"}, 422, "colour"),
        ({"agent": "responses-agent", "input": 42}, 422, "input"),
        ({"agent": "responses-agent", "input": "hi", "deadline_s": "soon"}, 422, "deadline_s"),
        ({"agent": "no-such-agent", "input": "hi"}, 422, "unknown agent 'no-such-agent'"),
        ({"agent": "responses-agent"}, 422, "input"),
        ({"agent": "responses-agent", "input": "hi", "metadata": {"k": 1}}, 422, "metadata"),
        ({"agent": "responses-agent", "input": "x" * 300_000}, 413, "body over"),
    ],
)
def test_bad_bodies_answer_4xx_saying_what_to_fix(api, body, status, says):
    reply = httpx2.post(f"{api.url}/v1/runs", json=body, headers=api.auth(), timeout=10)
    assert reply.status_code == status, reply.text
    assert says in reply.json()["error"]


def test_malformed_json_answers_400(api):
    headers = api.auth() | {"content-type": "application/json"}
    reply = httpx2.post(f"{api.url}/v1/runs", content=b'{"agent": ', headers=headers, timeout=10)
    assert reply.status_code == 400
    assert "not valid JSON" in reply.json()["error"]


def test_list_pages_newest_first_and_filters(api):
    agent_runs = [
        create(api, key=api.other_key, input=f"Tell me about {i}").json() for i in range(3)
    ]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, "agent": "responses-agent"} | ({"cursor": cursor} if cursor else {})
        page = httpx2.get(
            f"{api.url}/v1/runs", params=params, headers=api.auth(api.other_key), timeout=10
        ).json()
        seen += [r["id"] for r in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen[:3] == [r["id"] for r in reversed(agent_runs)]
    assert len(seen) == len(set(seen))
    bad = httpx2.get(
        f"{api.url}/v1/runs", params={"cursor": "nope"}, headers=api.auth(), timeout=10
    )
    assert bad.status_code == 400
    for run in agent_runs:
        wait(api, run["id"], key=api.other_key)
    done = httpx2.get(
        f"{api.url}/v1/runs",
        params={"status": "completed", "limit": 100},
        headers=api.auth(api.other_key),
        timeout=10,
    ).json()
    assert {r["id"] for r in agent_runs} <= {r["id"] for r in done["data"]}


def test_cancel_then_cancel_again_is_a_conflict(api):
    run_id = create(api, input="Think about this for a long time. #slow=10000").json()["id"]
    first = httpx2.post(f"{api.url}/v1/runs/{run_id}/cancel", headers=api.auth(), timeout=10)
    second = httpx2.post(f"{api.url}/v1/runs/{run_id}/cancel", headers=api.auth(), timeout=10)
    assert first.status_code == 202 and first.json()["status"] == "cancelled"
    assert second.status_code == 409


def test_thread_history_lists_the_threads_runs(api):
    thread_key = f"user-{uuid.uuid4().hex[:6]}"
    ids = []
    for text in ("Remember the word apple.", "What word did I ask you to remember?"):
        run_id = create(api, thread_key=thread_key, input=text).json()["id"]
        wait(api, run_id)
        ids.append(run_id)
    history = httpx2.get(f"{api.url}/v1/threads/{thread_key}", headers=api.auth(), timeout=10)
    assert history.status_code == 200
    assert [r["id"] for r in history.json()["runs"]] == ids
    foreign = httpx2.get(
        f"{api.url}/v1/threads/{thread_key}", headers=api.auth(api.other_key), timeout=10
    )
    assert foreign.status_code == 404


def test_health_and_readiness(api):
    assert httpx2.get(f"{api.url}/healthz", timeout=10).json() == {"status": "ok"}
    ready = httpx2.get(f"{api.url}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    assert json.loads(ready.text) == {"status": "ready"}  # the public probe says no more
    detailed = httpx2.get(f"{api.url}/readyz", headers=api.auth(), timeout=10)
    assert json.loads(detailed.text)["checks"] == {"database": "ok", "redis": "ok"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/runs/run_%00", None),
        ("GET", "/v1/runs?agent=a%00b", None),
        ("GET", "/v1/threads/user%00", None),
        ("POST", "/v1/runs", {"agent": "responses-agent", "input": "nul \u0000 here"}),
    ],
)
def test_a_nul_character_is_a_client_error_not_a_crash(api, method, path, body):
    reply = httpx2.request(method, f"{api.url}{path}", json=body, headers=api.auth(), timeout=10)
    assert 400 <= reply.status_code < 500, reply.text

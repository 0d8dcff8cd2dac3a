"""The bad-input catalogue, tenants' part: thread names, scopes, keys and rates at every door
(HTTP, the thin client, `send_task`, the CLI), each answered with one clear error that
states the rule, and nothing recorded for it but what the door promises (a failed run for
`send_task`)."""

from __future__ import annotations

import time
import uuid

import httpx2
import pytest

from tests.integration.api_server import Api
from workers.public.thread_names import THREAD_NAME_RULE

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

_RUN = {"agent": "responses-agent", "input": "What's the weather in Oslo?"}
BAD_THREAD_KEYS = {
    "tenant-scope": "key_0123abcd/user-1",
    "thread-id": "thr_0123abcd",
    "space": "user 42",
    "empty-part": "team//user",
    "dot-dot-part": "team/../user",
    "leading-slash": "/user",
    "too-long": "u" * 129,
    "non-ascii": "usér",
    "empty": "",
}


def new_key(scopes: tuple[str, ...]) -> str:
    from workers.db import key_store
    from workers.wiring import new_session

    with new_session() as session:
        _, key = key_store.create_key(
            session, name=f"catalogue-{uuid.uuid4().hex[:8]}", scopes=scopes
        )
    return key


@pytest.mark.parametrize("name", BAD_THREAD_KEYS.values(), ids=BAD_THREAD_KEYS.keys())
def test_http_body_bad_thread_key_is_422_with_the_rule(api: Api, name: str):
    reply = httpx2.post(f"{api.url}/v1/runs", json=_RUN | {"thread_key": name}, headers=api.auth())
    assert reply.status_code == 422, reply.text
    assert THREAD_NAME_RULE in reply.json()["error"]


@pytest.mark.parametrize(
    "name", ["key_0123abcd/user-1", "thr_0123abcd", "user 42", "u" * 129], ids=str.__len__
)
def test_http_list_filter_bad_thread_key_is_422_with_the_rule(api: Api, name: str):
    reply = httpx2.get(f"{api.url}/v1/runs", params={"thread_key": name}, headers=api.auth())
    assert reply.status_code == 422 and THREAD_NAME_RULE in reply.json()["error"]


def test_thin_client_bad_thread_key_is_an_api_error_with_the_rule(api: Api):
    from runq_client import ApiError, Client

    with Client(api.url, api.key) as client, pytest.raises(ApiError) as raised:
        client.create("responses-agent", "hello", thread_key="key_0123abcd/user-1")
    assert raised.value.status_code == 422 and THREAD_NAME_RULE in str(raised.value)


@pytest.mark.parametrize(
    ("scopes", "method", "path", "missing"),
    [
        (("read",), "POST", "/v1/runs", "submit"),
        (("read",), "POST", "/v1/runs/run_x/cancel", "submit"),
        (("submit",), "GET", "/v1/runs", "read"),
        (("submit",), "GET", "/v1/runs/run_x", "read"),
        (("submit",), "GET", "/v1/threads/user-1", "read"),
    ],
)
def test_http_call_outside_the_keys_scopes_is_403_naming_the_scope(
    api: Api, scopes, method, path, missing
):
    key = new_key(scopes)
    body = _RUN if method == "POST" and path == "/v1/runs" else None
    reply = httpx2.request(
        method, f"{api.url}{path}", json=body, headers={"authorization": f"Bearer {key}"}
    )
    assert reply.status_code == 403, reply.text
    assert f"'{missing}' scope" in reply.json()["error"]


def test_http_revoked_key_is_401(api: Api):
    from workers.db import key_store
    from workers.wiring import new_session

    with new_session() as session:
        row, key = key_store.create_key(session, name=f"gone-{uuid.uuid4().hex[:8]}")
        key_store.revoke_key(session, name=row.name)
    reply = httpx2.get(f"{api.url}/v1/runs", headers={"authorization": f"Bearer {key}"})
    assert reply.status_code == 401 and "revoked" in reply.json()["error"]


@pytest.mark.parametrize("name", ["key_0123abcd/user-1", "team//user", "u" * 129])
def test_send_task_bad_thread_key_is_a_failed_run_with_the_rule(api: Api, name: str):
    from celery import Celery

    from workers.db import store
    from workers.wiring import new_session

    producer = Celery("producer", broker=api.app.state.broker_url)
    job_key = f"bad-thread-{uuid.uuid4().hex[:8]}"
    producer.send_task(
        "runq.runs.submit_job",
        kwargs=_RUN | {"thread_key": name, "idempotency_key": job_key},
        queue="runs",
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with new_session() as session:
            run = store.find_idempotent_run(session, owner_key_id="", idempotency_key=job_key)
        # The job records the run, then fails it: wait for the second write too.
        if run is not None and run.status != "pending":
            break
        time.sleep(0.2)
    assert run is not None, "the refused job left no failed run"
    assert run.status == "failed" and run.thread_id is None
    assert THREAD_NAME_RULE in (run.error or "")


@pytest.mark.parametrize("name", ["key_0123abcd/user-1", "thr_0123abcd", "a//b"])
def test_cli_enqueue_bad_thread_key_exits_2_with_the_rule(fleet, name: str):
    from typer.testing import CliRunner

    from gateway.cli import app

    args = ["enqueue", "--agent", "responses-agent", "--input", "hi", "--thread-key", name]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())  # rich wraps long lines
    assert "invalid --thread-key" in said and THREAD_NAME_RULE in said


def test_cli_keys_create_unknown_scope_exits_2_naming_the_choices(fleet):
    from typer.testing import CliRunner

    from gateway.cli import app

    result = CliRunner().invoke(app, ["keys", "create", "x-bad-scope", "--scope", "writer"])
    assert result.exit_code == 2 and "submit, read, admin" in result.output

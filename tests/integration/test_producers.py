"""Producers without HTTP: the Celery `submit_job` contract, and enqueueing from a thread
Celery never saw (a web server's worker thread)."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import httpx2
import pytest

from tests.integration.test_http_api import wait

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def find_by_idempotency_key(api, key: str, timeout_s: float = 30) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        page = httpx2.get(
            f"{api.url}/v1/runs", params={"idempotency_key": key}, headers=api.auth(), timeout=10
        ).json()
        if page["data"]:
            return page["data"][0]
        time.sleep(0.1)
    raise AssertionError(f"no run with idempotency key {key}")


def test_send_task_records_and_starts_a_run_owned_by_the_named_key(api):
    from celery import Celery

    # A producer's own Celery app, sharing nothing with runq but the broker URL.
    producer = Celery("producer", broker=api.app.state.broker_url)
    key = f"job-{uuid.uuid4().hex[:8]}"
    producer.send_task(
        "runq.runs.submit_job",
        kwargs={
            "agent": "responses-agent",
            "input": "What's the weather in Lima?",
            "metadata": {"source": "celery"},
            "idempotency_key": key,
            "api_key_name": api.key_name,
        },
        queue="runs",
    )

    run = wait(api, find_by_idempotency_key(api, key)["id"])
    assert run["status"] == "completed", run["error"]
    assert run["metadata"] == {"source": "celery"}


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"agent": "responses-agent", "input": "hi", "colour": "red"}, "colour"),
        ({"agent": "nobody", "input": "hi"}, "unknown agent 'nobody'"),
        ({"agent": "responses-agent", "input": ["not", "text"]}, "input"),
    ],
)
def test_an_invalid_payload_becomes_a_failed_run_that_says_why(api, payload, reason):
    from celery import Celery

    producer = Celery("producer", broker=api.app.state.broker_url)
    key = f"bad-{uuid.uuid4().hex[:8]}"
    producer.send_task(
        "runq.runs.submit_job",
        kwargs=payload | {"idempotency_key": key, "api_key_name": api.key_name},
        queue="runs",
    )

    run = wait(api, find_by_idempotency_key(api, key)["id"])
    assert run["status"] == "failed"
    assert "invalid job" in run["error"] and reason in run["error"]


def test_enqueue_from_a_plain_thread_reaches_the_configured_broker(api):
    from workers import wiring
    from workers.public.enqueue import enqueue_run
    from workers.public.schemas import JobCreate

    created: list[str] = []
    errors: list[BaseException] = []

    def enqueue_in_thread() -> None:
        try:
            with wiring.new_session() as session:
                job = JobCreate(agent="responses-agent", input="What's the weather in Rome?")
                created.append(enqueue_run(session, job, default_deadline_s=60).id)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=enqueue_in_thread)
    thread.start()
    thread.join(timeout=30)

    assert errors == [] and len(created) == 1
    with wiring.new_session() as session:
        from workers.db import store

        deadline = time.monotonic() + 60
        while store.get_run(session, run_id=created[0]).status != "completed":
            assert time.monotonic() < deadline, "the run never started: message lost"
            time.sleep(0.2)


def test_a_payload_with_a_nul_character_is_recorded_without_it(api):
    from celery import Celery

    producer = Celery("producer", broker=api.app.state.broker_url)
    key = f"nul-{uuid.uuid4().hex[:8]}"
    producer.send_task(
        "runq.runs.submit_job",
        kwargs={"agent": "responses-agent", "input": "a\x00b", "idempotency_key": key},
        queue="runs",
    )
    from workers import wiring
    from workers.db import run_pages

    deadline = time.monotonic() + 30
    while True:
        with wiring.new_session() as session:
            page = run_pages.RunFilter(owner_key_id="", idempotency_key=key)
            found = run_pages.list_owned_runs(session, page=page)
        if found and found[0].status == "failed":
            break
        assert time.monotonic() < deadline, "the refused payload was not recorded"
        time.sleep(0.1)
    assert found[0].input == "ab" and "NUL" in (found[0].error or "")


def test_a_nul_in_the_idempotency_key_is_a_clear_refusal_not_a_database_error(api):
    from celery import Celery

    # On PostgreSQL, looking the key up was a DataError: no run, a traceback in the worker.
    producer = Celery("producer", broker=api.app.state.broker_url, backend=api.app.state.broker_url)
    sent = producer.send_task(
        "runq.runs.submit_job",
        kwargs={
            "agent": "responses-agent",
            "input": "hi",
            "idempotency_key": "order\x00-1",
            "api_key_name": api.key_name,
        },
        queue="runs",
    )
    run = wait(api, sent.get(timeout=30), timeout_s=10)
    assert run["status"] == "failed"
    assert "idempotency_key must not contain NUL" in run["error"]


def test_a_refused_job_replayed_with_another_body_conflicts_like_http(api):
    from celery import Celery

    producer = Celery("producer", broker=api.app.state.broker_url, backend=api.app.state.broker_url)
    key = f"refused-{uuid.uuid4().hex[:8]}"

    def send(agent: str) -> Any:
        return producer.send_task(
            "runq.runs.submit_job",
            kwargs={
                "agent": agent,
                "input": "hi",
                "idempotency_key": key,
                "api_key_name": api.key_name,
            },
            queue="runs",
        )

    # Given a job refused (unknown agent) under a key
    refused = wait(api, send("nobody").get(timeout=30), timeout_s=10)
    assert refused["status"] == "failed"

    # When the key comes back with another body, by send_task or over HTTP
    with pytest.raises(Exception, match="different body"):
        send("responses-agent").get(timeout=30)
    reply = httpx2.post(
        f"{api.url}/v1/runs",
        json={"agent": "responses-agent", "input": "hi"},
        headers=api.auth() | {"idempotency-key": key},
        timeout=10,
    )

    # Then both conflict, and the refused run is the only run under the key
    assert reply.status_code == 409, reply.text
    assert find_by_idempotency_key(api, key)["id"] == refused["id"]

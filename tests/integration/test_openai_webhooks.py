"""OpenAI webhooks in: the simulator signs and posts `response.*` events to the API, which
wakes the run's poll at once; polling stays the fallback."""

from __future__ import annotations

import base64
import json
import time

import httpx2
import pytest
from pydantic import SecretStr

from config.settings import get_settings
from simulator.webhooks import signature_headers
from tests.integration.fleet import (
    configure_simulator,
    enqueue_batch,
    simulator_stats,
    wait_for_batch,
)
from workers import wiring
from workers.db import store

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SECRET = "whsec_" + base64.b64encode(b"openai-webhook-test-secret-32byte").decode()
RUNS = 4
# Turns longer than the fleet's 1 s poll cap: the simulator's exact poll-after hint can no
# longer save the poller from polling more than once per turn, as with a real provider.
TWO_TURNS = "What's the weather in Paris? #slow=1500"


def polls_per_run(fleet, agent: str) -> float:
    before = simulator_stats(fleet)["responses_retrieved"]
    batch_id = enqueue_batch([TWO_TURNS] * RUNS, agent=agent)
    wait_for_batch(batch_id, RUNS, timeout_s=60)
    with wiring.new_session() as session:
        runs = store.list_runs(session, batch_id=batch_id)
    assert {r.status for r in runs} == {"completed"}, [r.error for r in runs]
    return (simulator_stats(fleet)["responses_retrieved"] - before) / RUNS


def test_webhook_driven_runs_poll_less_than_polled_ones(fleet, api, monkeypatch):
    monkeypatch.setattr(get_settings().webhooks, "secret", SecretStr(SECRET))
    polled = polls_per_run(fleet, "responses-agent")
    webhook_url = f"{api.url}/v1/webhooks/openai"
    configure_simulator(fleet, webhook_url=webhook_url, webhook_secret=SECRET)
    try:
        sent_before = simulator_stats(fleet)["webhooks_sent"]
        woken = polls_per_run(fleet, "responses-webhook")
        sent = simulator_stats(fleet)["webhooks_sent"] - sent_before
    finally:
        configure_simulator(fleet, webhook_url="", webhook_secret="")

    assert sent >= 2 * RUNS  # one per turn
    assert woken <= 2.5, (woken, polled)  # two turns: one woken poll each, and some slack
    assert woken < polled


def post_event(api, body: bytes, headers: dict[str, str]) -> httpx2.Response:
    return httpx2.post(f"{api.url}/v1/webhooks/openai", content=body, headers=headers, timeout=10)


def test_a_forged_or_stale_webhook_is_refused(api, monkeypatch):
    monkeypatch.setattr(get_settings().webhooks, "secret", SecretStr(SECRET))
    now_s = int(time.time())
    event = {
        "id": "evt_1",
        "object": "event",
        "type": "response.completed",
        "created_at": now_s,
        "data": {"id": "resp_unknown"},
    }
    body = json.dumps(event).encode()
    forger = "whsec_" + base64.b64encode(b"not-the-secret-not-the-secret-!!").decode()

    forged = post_event(
        api, body, signature_headers(forger, body, message_id="evt_1", timestamp_s=now_s)
    )
    stale = post_event(
        api, body, signature_headers(SECRET, body, message_id="evt_1", timestamp_s=now_s - 3600)
    )
    unsigned = post_event(api, body, {"content-type": "application/json"})
    genuine = post_event(
        api, body, signature_headers(SECRET, body, message_id="evt_1", timestamp_s=now_s)
    )

    assert [r.status_code for r in (forged, stale, unsigned)] == [400, 400, 400]
    assert "webhook refused" in forged.json()["error"]
    assert genuine.status_code == 200
    assert genuine.json() == {"event": "response.completed", "woken": None}


def test_a_replayed_webhook_id_is_processed_once(api, monkeypatch):
    # Issue 16: the same signed event posted twice woke the run twice. The real API server,
    # the real Redis; only the wake-up is counted instead of sent.
    from gateway.http import webhooks

    monkeypatch.setattr(get_settings().webhooks, "secret", SecretStr(SECRET))
    woken: list[str] = []
    monkeypatch.setattr(webhooks, "wake_run", lambda response_id: woken.append(response_id))
    now_s = int(time.time())
    message_id = f"evt_replay_{time.monotonic_ns()}"

    def deliver(event_id: str, response_id: str) -> httpx2.Response:
        event = {
            "id": event_id,
            "object": "event",
            "type": "response.completed",
            "created_at": now_s,
            "data": {"id": response_id},
        }
        body = json.dumps(event).encode()
        headers = signature_headers(SECRET, body, message_id=event_id, timestamp_s=now_s)
        return post_event(api, body, headers)

    first = deliver(message_id, "resp_once")
    replay = deliver(message_id, "resp_once")
    other = deliver(f"{message_id}_b", "resp_twice")

    assert [r.status_code for r in (first, replay, other)] == [200, 200, 200]
    assert woken == ["resp_once", "resp_twice"]
    assert replay.json() == {"event": "response.completed", "woken": None, "replay": "ignored"}


def test_a_delivery_that_failed_is_processed_when_the_provider_sends_it_again(api, monkeypatch):
    # The id is remembered only once the run was woken: a delivery that failed (a database
    # error, so a 500) comes back with the same id and must not be taken for a replay.
    from gateway.http import webhooks

    monkeypatch.setattr(get_settings().webhooks, "secret", SecretStr(SECRET))
    woken: list[str] = []

    def fail_once(response_id: str) -> str:
        if not woken:
            woken.append("failed")
            raise RuntimeError("database unavailable")
        woken.append(response_id)
        return "run_x"

    monkeypatch.setattr(webhooks, "wake_run", fail_once)
    now_s = int(time.time())
    event_id = f"evt_retry_{time.monotonic_ns()}"
    event = {
        "id": event_id,
        "object": "event",
        "type": "response.completed",
        "created_at": now_s,
        "data": {"id": "resp_retry"},
    }
    body = json.dumps(event).encode()
    headers = signature_headers(SECRET, body, message_id=event_id, timestamp_s=now_s)

    first = post_event(api, body, headers)
    again = post_event(api, body, headers)

    assert first.status_code == 500
    assert again.status_code == 200 and again.json()["woken"] == "run_x"
    assert woken == ["failed", "resp_retry"]

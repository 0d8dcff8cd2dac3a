"""Signed callbacks at the end of a run: delivered once, retried on failure, never private
without the flag. The receiver is a real HTTP server verifying with `standardwebhooks`."""

from __future__ import annotations

import time

import pytest
from standardwebhooks.webhooks import Webhook

from config.settings import get_settings
from tests.integration.test_http_api import create, wait
from workers import wiring
from workers.db import callback_store, store

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def wait_for_callback_state(run_id: str, timeout_s: float = 30) -> str | None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with wiring.new_session() as session:
            state = store.get_run(session, run_id=run_id).callback_state
        if state in ("delivered", "gave_up"):
            return state
        time.sleep(0.1)
    return state


def test_a_finished_run_is_called_back_once_with_a_valid_signature(api, receiver):
    state, url = receiver
    run_id = create(api, callback_url=url).json()["id"]
    wait(api, run_id)

    assert wait_for_callback_state(run_id) == "delivered"
    time.sleep(0.5)  # a duplicate, if any, would arrive now
    assert len(state.deliveries) == 1
    headers, body = state.deliveries[0]
    event = Webhook(get_settings().callbacks.secret.get_secret_value()).verify(body, headers)
    assert event["type"] == "run.completed"
    assert event["data"]["id"] == run_id and event["data"]["status"] == "completed"


@pytest.mark.parametrize("receiver", [2], indirect=True)
def test_a_failing_receiver_is_retried_until_it_answers(api, receiver):
    state, url = receiver
    run_id = create(api, callback_url=url).json()["id"]
    wait(api, run_id)

    assert wait_for_callback_state(run_id) == "delivered"
    with wiring.new_session() as session:
        attempts = callback_store.list_attempts(session, run_id=run_id)
    assert [(a.attempt, a.status_code) for a in attempts] == [(1, 500), (2, 500), (3, 200)]
    assert all(a.duration_ms >= 0 for a in attempts) and attempts[0].error == "HTTP 500"
    assert {h["webhook-id"] for h, _ in state.deliveries} == {f"msg_{run_id}"}


def test_private_callback_urls_are_refused_without_the_flag(api, monkeypatch):
    monkeypatch.setattr(get_settings().callbacks, "allow_private", False)
    reply = create(api, callback_url="http://127.0.0.1:9/hook")
    assert reply.status_code == 422
    assert "not a public address" in reply.json()["error"]

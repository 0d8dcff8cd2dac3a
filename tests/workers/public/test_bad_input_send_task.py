"""Bad send_task payloads for the runs door (`runq.runs.submit_job`): each one becomes a
failed run that says why in one line, nothing crashes on the database (PostgreSQL refuses
NUL in text with a DataError), and nothing is started."""

from __future__ import annotations

import pytest

import workers.demo_agent  # noqa: F401  (registered once at import)
from workers.db import store
from workers.public.jobs import accept_job

OK = {"agent": "assistant", "input": "Weather in Oslo?"}


@pytest.fixture
def sent(tmp_path, monkeypatch):
    import workers.public.enqueue
    from workers import wiring

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'runq.db'}")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("RUNQ_AGENT_MODULES", raising=False)
    monkeypatch.delenv("RUNQ_MODEL_PRICES", raising=False)
    wiring.reset()
    messages: list = []
    monkeypatch.setattr(workers.public.enqueue, "send_start", messages.append)
    yield messages
    wiring.reset()


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({**OK, "idempotency_key": "order\x00-1"}, "idempotency_key must not contain NUL"),
        ({**OK, "batch_id": "nightly\x00"}, "batch_id must not contain NUL"),
        ({**OK, "api_key_name": "billing\x00"}, "api_key_name must not contain NUL"),
        ({**OK, "idempotency_key": ""}, "idempotency_key"),
        ({**OK, "idempotency_key": "k" * 257}, "idempotency_key"),
        ({**OK, "idempotency_key": 42}, "idempotency_key"),
        ({**OK, "deadline_s": -1}, "deadline_s"),
        ({**OK, "thread_key": "user\x00"}, "a thread key is 1-128 characters"),
        ({**OK, "max_cost_usd": -1}, "max_cost_usd must be a positive number"),
        ({**OK, "max_cost_usd": 5}, "has no price in RUNQ_MODEL_PRICES"),
    ],
    ids=[
        "nul-in-key",
        "nul-in-batch",
        "nul-in-key-name",
        "empty-key",
        "long-key",
        "key-not-text",
        "negative-deadline",
        "nul-in-thread-key",
        "negative-budget",
        "budget-without-price",
    ],
)
def test_a_bad_send_task_payload_is_a_failed_run_that_says_why(sent, payload, reason):
    from workers import wiring

    run_id = accept_job(payload, message_id="m-1")
    with wiring.new_session() as session:
        run = store.get_run(session, run_id=run_id)
    assert run.status == "failed" and reason in (run.error or "")
    assert len((run.error or "").splitlines()) <= 2
    assert sent == []

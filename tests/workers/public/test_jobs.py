"""The send_task door (`accept_job`) on a real SQLite store: a redelivered message never
records a second run, a refused job keeps its body so another body under its key
conflicts (here and over HTTP), and the start message is captured instead of sent."""

from __future__ import annotations

import pytest

import workers.demo_agent  # noqa: F401  (registered once at import)
from workers.db import store
from workers.db.models import Run
from workers.errors import IdempotencyConflict
from workers.public.enqueue import record_run
from workers.public.jobs import accept_job, message_key
from workers.public.schemas import JobCreate

JOB = {"agent": "assistant", "input": "Weather in Oslo?"}


@pytest.fixture
def sent(tmp_path, monkeypatch):
    """A fresh SQLite store; the start messages the door would send, in a list."""
    import workers.public.enqueue
    from workers import wiring

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'runq.db'}")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("RUNQ_AGENT_MODULES", raising=False)
    wiring.reset()
    messages: list = []
    monkeypatch.setattr(workers.public.enqueue, "send_start", messages.append)
    yield messages
    wiring.reset()


def all_runs() -> list[Run]:
    from sqlmodel import select

    from workers import wiring

    with wiring.new_session() as session:
        return list(session.exec(select(Run)).all())


def test_a_redelivered_job_without_a_key_records_one_run(sent):
    first = accept_job(dict(JOB), message_id="3f1c-msg")
    again = accept_job(dict(JOB), message_id="3f1c-msg")  # its worker died before the ack
    other = accept_job(dict(JOB), message_id="9a2b-msg")  # a second message is a second job
    assert first == again != other
    assert len(all_runs()) == 2 and len(sent) == 2
    assert {r.idempotency_key for r in all_runs()} == {
        message_key("3f1c-msg"),
        message_key("9a2b-msg"),
    }


def test_a_refused_job_replayed_with_another_body_conflicts_at_both_doors(sent):
    refused = accept_job({"agent": "nobody", "input": "hi", "idempotency_key": "order-7"})
    [run] = all_runs()
    assert (run.id, run.status) == (refused, "failed") and "unknown agent" in run.error

    # the same refused body again is the same refusal
    assert accept_job({"agent": "nobody", "input": "hi", "idempotency_key": "order-7"}) == refused
    # another body under the key is a conflict at the send_task door ...
    with pytest.raises(IdempotencyConflict, match="different body"):
        accept_job({**JOB, "idempotency_key": "order-7"})
    # ... and over HTTP (409), never the refused run as if it were this job
    from workers import wiring

    with wiring.new_session() as session, pytest.raises(IdempotencyConflict):
        record_run(session, JobCreate(**JOB, idempotency_key="order-7"), default_deadline_s=60)
    assert [r.id for r in all_runs()] == [refused] and sent == []


def test_a_refusal_of_a_valid_body_is_the_same_job_over_http(sent):
    # A job refused for an unknown agent, replayed over HTTP with the same body, is that run
    refused = accept_job({"agent": "nobody", "input": "hi", "idempotency_key": "order-8"})
    from workers import wiring

    with wiring.new_session() as session:
        job = JobCreate(agent="nobody", input="hi", idempotency_key="order-8")
        run, created = record_run(session, job, default_deadline_s=60)
    assert (run.id, created) == (refused, False)
    with wiring.new_session() as session:
        assert store.get_run(session, run_id=refused).status == "failed"


def test_a_job_with_a_run_at_in_the_past_is_a_failed_run_that_says_why(sent):
    refused = accept_job({**JOB, "run_at": "2020-01-01T00:00:00Z", "idempotency_key": "late-1"})
    [run] = all_runs()
    assert (run.id, run.status) == (refused, "failed") and sent == []
    assert run.error is not None and "run_at 2020-01-01 00:00:00Z is in the past" in run.error


def test_a_job_with_a_run_at_years_away_is_refused_the_same_way(sent):
    accept_job({**JOB, "run_at": "2099-01-01T00:00:00Z"}, message_id="far")
    [run] = all_runs()
    assert run.status == "failed" and run.error is not None and "RUNQ_MAX_RUN_AT_DAYS" in run.error


def test_a_job_with_a_run_at_ahead_waits_parked_without_a_start_message(sent):
    from datetime import UTC, datetime, timedelta

    run_at = datetime.now(UTC) + timedelta(hours=2)
    accept_job({**JOB, "run_at": run_at.isoformat()}, message_id="later")
    [run] = all_runs()
    assert (run.status, run.parked, run.run_at, sent) == ("pending", True, run_at, [])

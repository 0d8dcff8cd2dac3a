"""Recording jobs: idempotency keys promise the same body, per owner; callback URLs are
checked at submit; the body hash ignores what is not the job."""

from __future__ import annotations

import json

import pydantic
import pytest
from sqlmodel import Session

from config.settings import get_settings
from tests.workers.steps_fixtures import memory_engine
from workers.errors import CallbackRefused, IdempotencyConflict, ToolNameTaken
from workers.public.enqueue import record_run
from workers.public.schemas import JobCreate, RunCreate


@pytest.fixture
def session():
    with Session(memory_engine()) as session:
        yield session


def record(session, owner="", **job):
    job = {"agent": "assistant", "input": "Weather in Oslo?"} | job
    return record_run(session, JobCreate(**job), default_deadline_s=60, owner_key_id=owner)


def test_the_same_key_and_body_is_the_same_run_and_another_body_a_conflict(session):
    first, created = record(session, idempotency_key="order-1", metadata={"a": "b"})
    again, created_again = record(session, idempotency_key="order-1", metadata={"a": "b"})
    assert (created, created_again, again.id) == (True, False, first.id)
    with pytest.raises(IdempotencyConflict, match="different body"):
        record(session, idempotency_key="order-1", input="Weather in Rome?")
    other_owner, created_other = record(session, owner="key_b", idempotency_key="order-1")
    assert created_other and other_owner.id != first.id


def test_threads_are_per_owner(session):
    mine, _ = record(session, owner="key_a", thread_key="user-42")
    theirs, _ = record(session, owner="key_b", thread_key="user-42")
    assert mine.thread_id != theirs.thread_id


def test_a_private_callback_url_is_refused_at_submit(session, monkeypatch):
    monkeypatch.setattr(get_settings().callbacks, "allow_private", False)
    with pytest.raises(CallbackRefused, match="not a public address"):
        record(session, callback_url="http://127.0.0.1:8080/hook")


def test_the_body_hash_ignores_the_key_and_batch_and_key_order():
    one = JobCreate(agent="a", input="x", metadata={"k": "1", "j": "2"}, idempotency_key="i")
    two = JobCreate(agent="a", input="x", metadata={"j": "2", "k": "1"}, batch_id="b")
    assert one.request_hash() == two.request_hash()
    assert one.request_hash() != JobCreate(agent="a", input="y").request_hash()


@pytest.mark.parametrize(
    "body",
    [
        {"agent": "a", "input": "x", "metadata": {f"k{i}": "v" for i in range(17)}},
        {"agent": "a", "input": "x", "metadata": {"k" * 65: "v"}},
        {"agent": "a", "input": "x", "metadata": {"k": "v" * 513}},
        {"agent": "a", "input": "x", "callback_url": "not a url"},
        {"agent": "a", "input": "x", "batch_id": "only for the CLI"},
        {"agent": "a", "input": "x", "metadata": {"k": "v\x00"}},
        {"agent": "a", "input": "nul \x00"},
    ],
    ids=["too many labels", "long key", "long value", "bad url", "internal field", "nul", "nul2"],
)
def test_the_public_body_is_bounded(body):
    with pytest.raises(pydantic.ValidationError):
        RunCreate.model_validate(body)


def test_a_run_may_bring_its_own_caller_tools_and_each_bad_one_is_refused_in_one_line(session):
    lookup = {"name": "crm_lookup", "description": "CRM.", "parameters": {"type": "object"}}
    run, _ = record(session, tools=[lookup])
    assert json.loads(run.caller_tools) == [lookup]

    refusals = {
        "String should match pattern": {"name": "bad name!"},
        "not a valid JSON schema": {"name": "t", "parameters": {"type": "objekt"}},
        '"type": "object"': {"name": "t", "parameters": {"type": "string"}},
        "Extra inputs are not permitted": {"name": "t", "code": "import os"},
    }
    for message, tool in refusals.items():
        with pytest.raises(pydantic.ValidationError, match=message):
            JobCreate(agent="assistant", input="x", tools=[tool])
    with pytest.raises(pydantic.ValidationError, match="given twice: t"):
        JobCreate(agent="assistant", input="x", tools=[{"name": "t"}, {"name": "t"}])
    with pytest.raises(ToolNameTaken, match="get_weather are already agent 'assistant'"):
        record(session, tools=[{"name": "get_weather"}])


def test_a_run_without_caller_tools_keeps_the_body_hash_it_had():
    # Idempotency keys recorded before caller tools existed still match their replays.
    job = JobCreate(agent="assistant", input="Weather in Oslo?")
    assert (
        job.request_hash()
        == JobCreate(agent="assistant", input="Weather in Oslo?", tools=[]).request_hash()
    )
    assert (
        job.request_hash()
        != JobCreate(
            agent="assistant", input="Weather in Oslo?", tools=[{"name": "t"}]
        ).request_hash()
    )


def test_with_fair_shares_on_a_new_run_waits_for_its_share_and_a_later_one_for_its_time(
    session, monkeypatch
):
    from datetime import UTC, datetime, timedelta

    monkeypatch.setattr(get_settings().runs, "in_flight_target", 10)
    now_run, _ = record(session)
    assert now_run.share_waiting and now_run.next_due_at is None
    later = datetime.now(UTC) + timedelta(hours=1)
    later_run, _ = record(session, run_at=later.isoformat())
    assert later_run.parked and not later_run.share_waiting


def test_with_fair_shares_off_a_new_run_never_waits_for_a_share(session, monkeypatch):
    monkeypatch.setattr(get_settings().runs, "in_flight_target", 0)
    run, _ = record(session)
    assert not run.share_waiting and run.next_due_at is not None

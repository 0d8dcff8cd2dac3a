"""Threads: one run at a time, opened once at the provider, history replayed for Chat."""

import pytest
from sqlmodel import Session

from tests.workers.steps_fixtures import Clock, make_context, memory_engine
from workers.agents import Agent, BusyThreadPolicy, register_agent
from workers.db import store, thread_store
from workers.db.changes import RunChanges
from workers.db.statuses import RunStatus
from workers.errors import ThreadBusy
from workers.providers.fake import scripted
from workers.providers.interface import ProviderState, ProviderStatus
from workers.public.enqueue import record_run
from workers.public.schemas import JobCreate
from workers.runs import ledger
from workers.runs.context import Later, StepName
from workers.runs.steps import poll_run, start_run
from workers.runs.turn_requests import build_turn_request

S = ProviderStatus
register_agent(Agent(name="thread-responses", model="m"))
register_agent(Agent(name="thread-chat", model="m", provider="chat", thread_token_budget=60))
register_agent(Agent(name="thread-strict", model="m", busy_thread_policy=BusyThreadPolicy.REJECT))


def enqueue(engine, agent, text, key):
    with Session(engine) as session:
        run, _ = record_run(
            session, JobCreate(agent=agent, input=text, thread_key=key), default_deadline_s=600
        )
        return run.id


def test_a_second_run_waits_for_the_first_and_the_conversation_opens_once():
    engine = memory_engine()
    provider = scripted(
        [
            ProviderState(S.QUEUED, "resp_1"),
            ProviderState(S.COMPLETED, "resp_1", output_text="hi"),
            ProviderState(S.QUEUED, "resp_2"),
        ]
    )
    ctx = make_context(engine, provider, Clock())
    first = enqueue(engine, "thread-responses", "one", "user-1")
    second = enqueue(engine, "thread-responses", "two", "user-1")
    start_run(ctx, first)
    assert start_run(ctx, second) == Later(StepName.START, (second,), ctx.policy.poll.cap_s)
    poll_run(ctx, first, 1)
    start_run(ctx, second)
    assert provider.methods() == ["open_thread", "create", "retrieve", "create"]
    creates = [c.request for c in provider.calls if c.method == "create"]
    assert [r.conversation_ref for r in creates] == ["conv_1", "conv_1"]


def test_chat_threads_replay_earlier_runs_trimmed_to_the_budget():
    engine = memory_engine()
    ctx = make_context(engine, scripted([]), Clock())
    run_ids = [enqueue(engine, "thread-chat", f"question {i} " + "x" * 60, "u") for i in range(3)]
    with Session(engine) as session:
        for run_id in run_ids[:2]:
            ledger.move(
                session,
                run_id=run_id,
                from_statuses=[RunStatus.PENDING],
                to=RunStatus.COMPLETED,
                changes=RunChanges(result_text=f"answer to {run_id}"),
            )
        last = store.get_run(session, run_id=run_ids[2])
        from workers.agents import get_agent

        request = build_turn_request(ctx, session, last, get_agent("thread-chat"))
    # Only the newest earlier run fits in 60 tokens; it is kept whole (question + answer).
    assert [m["role"] for m in request.prior_messages] == ["user", "assistant"]
    assert request.prior_messages[0]["content"].startswith("question 1")


def test_the_reject_policy_refuses_a_run_on_a_busy_thread():
    engine = memory_engine()
    enqueue(engine, "thread-strict", "one", "user-2")
    with pytest.raises(ThreadBusy, match="already has an active run"):
        enqueue(engine, "thread-strict", "two", "user-2")


def test_idle_threads_are_archived_and_the_key_starts_afresh():
    engine = memory_engine()
    enqueue(engine, "thread-responses", "one", "user-3")
    with Session(engine) as session:
        [thread] = thread_store.archive_idle_threads(session, idle_before=store.utcnow())
        assert thread.archived_at is not None
    second = enqueue(engine, "thread-responses", "two", "user-3")
    with Session(engine) as session:
        assert store.get_run(session, run_id=second).thread_id != thread.id

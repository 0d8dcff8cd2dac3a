"""A tool call's lease: the start time a claim writes is the token of every later write, so
a worker whose lease was taken over can neither run the call again nor record an output."""

from datetime import timedelta

from sqlmodel import Session

from tests.workers.steps_fixtures import NOW, insert_run, record_tool_turn
from workers.db import recovery_store, store
from workers.db.models import ToolCall
from workers.db.statuses import RunStatus
from workers.providers.interface import ToolCallRequest
from workers.runs import ledger


def running_call(engine):
    run_id = insert_run(engine)
    with Session(engine) as session:
        ledger.move(
            session, run_id=run_id, from_statuses=[RunStatus.PENDING], to=RunStatus.IN_PROGRESS
        )
        record_tool_turn(
            session,
            run_id=run_id,
            at_step=0,
            turn=1,
            calls=[ToolCallRequest("call_1", "get_weather", "{}")],
            usage=None,
        )
        assert store.claim_tool_call(session, run_id=run_id, call_id="call_1", now=NOW)
    return run_id


def test_a_worker_whose_lease_was_taken_over_records_nothing(engine):
    run_id = running_call(engine)
    later = NOW + timedelta(seconds=30)
    with Session(engine) as session:
        call = store.get_tool_call(session, run_id=run_id, call_id="call_1")
        # Another worker takes the call over after the first lease ran out ...
        assert recovery_store.reclaim_tool_call(session, call=call, now=later)
        # ... so the first worker can neither renew its lease nor record its late output.
        assert not recovery_store.renew_tool_call(session, call=call, lease=NOW, now=later)
        late = {"output": "late", "error": None, "duration_ms": 1}
        assert not store.finish_tool_call(
            session, run_id=run_id, call_id="call_1", lease=NOW, **late
        )
        assert store.finish_tool_call(
            session, run_id=run_id, call_id="call_1", lease=later, output="ok", error=None,
            duration_ms=1,
        )  # fmt: skip
        stored = store.get_tool_call(session, run_id=run_id, call_id="call_1")
        assert (stored.status, stored.output) == ("succeeded", "ok")


def test_each_attempt_renews_the_lease(engine):
    run_id = running_call(engine)
    later = NOW + timedelta(seconds=5)
    with Session(engine) as session:
        call = store.get_tool_call(session, run_id=run_id, call_id="call_1")
        assert recovery_store.renew_tool_call(session, call=call, lease=NOW, now=later)
        stored = store.get_tool_call(session, run_id=run_id, call_id="call_1")
        assert stored.started_at == later
        # A copy that saw the old start time cannot take it over any more.
        stale = ToolCall(id=call.id, run_id=run_id, call_id="call_1", turn=1, name="x",
                         arguments="{}", started_at=NOW)  # fmt: skip
        assert not recovery_store.reclaim_tool_call(session, call=stale, now=later)

"""After a transition the session's own copy of the run shows it, so steps never reload."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, create_engine

from tests.workers.steps_fixtures import record_tool_turn
from workers.db import store
from workers.db.changes import RunChanges
from workers.db.statuses import RunStatus, ToolCallStatus
from workers.providers.interface import ToolCallRequest, Usage
from workers.runs import ledger

DEADLINE = datetime(2030, 1, 1, tzinfo=UTC)


def memory_session() -> Session:
    import workers.db.models  # noqa: F401

    engine = create_engine("sqlite://", poolclass=StaticPool)
    SQLModel.metadata.create_all(engine)
    return Session(engine, expire_on_commit=False)


def test_a_transition_shows_in_the_loaded_run_counters_included() -> None:
    with memory_session() as session:
        run, _ = ledger.open_run(
            session, agent="a", input_text="hi", provider="responses", model="m",
            deadline_at=DEADLINE,
        )  # fmt: skip
        loaded = store.get_run(session, run_id=run.id)
        ledger.move(
            session,
            run_id=run.id,
            from_statuses=[RunStatus.PENDING],
            to=RunStatus.IN_PROGRESS,
            usage=Usage(input_tokens=30, output_tokens=5),
            changes=RunChanges(provider_ref="resp_1", turn_polls=0, step_seq=4),
        )
        assert (loaded.status, loaded.provider_ref, loaded.step_seq) == ("in_progress", "resp_1", 4)
        assert (loaded.input_tokens, loaded.output_tokens) == (30, 5)  # read again, not guessed
        assert loaded.updated_at > datetime.now(UTC) - timedelta(minutes=1)


def test_claiming_and_finishing_a_call_show_in_the_loaded_call() -> None:
    with memory_session() as session:
        run, _ = ledger.open_run(
            session, agent="a", input_text="hi", provider="responses", model="m",
            deadline_at=DEADLINE,
        )  # fmt: skip
        ledger.move(
            session, run_id=run.id, from_statuses=[RunStatus.PENDING], to=RunStatus.IN_PROGRESS
        )
        record_tool_turn(
            session, run_id=run.id, at_step=0, turn=1,
            calls=[ToolCallRequest("call_a", "t", "{}")], usage=None,
        )  # fmt: skip
        call = store.get_tool_call(session, run_id=run.id, call_id="call_a")
        assert call is not None
        assert store.claim_tool_call(session, run_id=run.id, call_id="call_a")
        assert (call.status, call.attempts) == (ToolCallStatus.RUNNING, 1)
        store.finish_tool_call(
            session, run_id=run.id, call_id="call_a", output="ok", error=None, duration_ms=3
        )
        assert (call.status, call.output, call.duration_ms) == ("succeeded", "ok", 3)

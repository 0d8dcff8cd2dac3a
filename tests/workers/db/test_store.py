import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import event
from sqlmodel import Session

from tests.workers.steps_fixtures import NOW, insert_run, record_tool_turn
from workers.db import store
from workers.db.changes import RunChanges
from workers.db.models import Run
from workers.db.statuses import RunStatus
from workers.errors import IllegalTransition, RunNotFound
from workers.providers.interface import ToolCallRequest, Usage
from workers.runs import ledger
from workers.wiring import build_engine


def test_transition_is_compare_and_set_on_status(engine):
    run_id = insert_run(engine)
    with Session(engine) as session:
        ledger.move(
            session, run_id=run_id, from_statuses=[RunStatus.PENDING], to=RunStatus.IN_PROGRESS
        )
        with pytest.raises(IllegalTransition, match="found in_progress"):
            ledger.move(
                session, run_id=run_id, from_statuses=[RunStatus.PENDING], to=RunStatus.FAILED
            )
        assert store.get_run(session, run_id=run_id).status == "in_progress"


def test_a_transition_sends_its_statuses_in_the_sql_not_as_a_list_to_expand(engine):
    # A bound IN list is re-rendered into the SQL on every execution; the statuses are
    # written in once, so a step's UPDATE goes out as the same cached SQL every time.
    sent: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
    run_id = insert_run(engine)
    with Session(engine) as session:
        ledger.move(
            session,
            run_id=run_id,
            from_statuses=[RunStatus.PENDING, RunStatus.IN_PROGRESS],
            to=RunStatus.IN_PROGRESS,
        )
    updates = [sql for sql in sent if sql.startswith("UPDATE run ")]
    assert len(updates) == 1
    assert "status IN ('in_progress', 'pending')" in updates[0]


def test_only_status_names_are_written_into_the_sql():
    with pytest.raises(ValueError, match="not a status name"):
        store.status_among(Run.status, ["pending', 'x"])


def test_transition_checks_the_step_sequence_and_adds_usage(engine):
    run_id = insert_run(engine)
    with Session(engine) as session:
        ledger.move(
            session, run_id=run_id, from_statuses=[RunStatus.PENDING], to=RunStatus.IN_PROGRESS
        )
        ledger.move(
            session,
            run_id=run_id,
            from_statuses=[RunStatus.IN_PROGRESS],
            to=RunStatus.IN_PROGRESS,
            at_step=0,
            usage=Usage(3, 4, 1),
            changes=RunChanges(step_seq=1),
        )
        with pytest.raises(IllegalTransition, match="at step 0"):
            ledger.move(
                session,
                run_id=run_id,
                from_statuses=[RunStatus.IN_PROGRESS],
                to=RunStatus.IN_PROGRESS,
                at_step=0,
                changes=RunChanges(step_seq=1),
            )
        run = store.get_run(session, run_id=run_id)
        assert (run.step_seq, run.input_tokens, run.output_tokens, run.cached_tokens) == (
            1,
            3,
            4,
            1,
        )


def test_record_tool_turn_never_resets_a_call_that_ran(engine):
    run_id = insert_run(engine)
    call = ToolCallRequest("call_1", "get_weather", "{}")
    with Session(engine) as session:
        ledger.move(
            session, run_id=run_id, from_statuses=[RunStatus.PENDING], to=RunStatus.IN_PROGRESS
        )
        record_tool_turn(session, run_id=run_id, at_step=0, turn=1, calls=[call], usage=None)
        assert store.claim_tool_call(session, run_id=run_id, call_id="call_1")
        store.finish_tool_call(
            session, run_id=run_id, call_id="call_1", output="ok", error=None, duration_ms=1
        )
        # A replayed poll of the same step loses the compare-and-set and inserts nothing.
        with pytest.raises(IllegalTransition):
            record_tool_turn(session, run_id=run_id, at_step=0, turn=1, calls=[call], usage=None)
        [stored] = store.list_tool_calls(session, run_id=run_id)
        assert (stored.status, stored.output, stored.attempts) == ("succeeded", "ok", 1)


@pytest.mark.parametrize("on_conflict", [True, False], ids=["insert-skips", "ids-read-first"])
def test_a_later_turn_that_reuses_a_call_id_keeps_the_recorded_call_and_adds_the_rest(
    engine, on_conflict, monkeypatch
):
    # Some OpenAI-compatible servers number their calls per turn: call_1 again in turn 2.
    if not on_conflict:  # as on a database without ON CONFLICT
        monkeypatch.setattr(ledger, "_insert_new_calls_statement", lambda dialect: None)
    run_id = insert_run(engine)
    with Session(engine) as session:
        ledger.move(
            session, run_id=run_id, from_statuses=[RunStatus.PENDING], to=RunStatus.IN_PROGRESS
        )
        first = ToolCallRequest("call_1", "get_weather", '{"city": "Oslo"}')
        record_tool_turn(session, run_id=run_id, at_step=0, turn=1, calls=[first], usage=None)
        assert store.claim_tool_call(session, run_id=run_id, call_id="call_1")
        store.finish_tool_call(
            session, run_id=run_id, call_id="call_1", output="ok", error=None, duration_ms=1
        )
        ledger.move(
            session,
            run_id=run_id,
            from_statuses=[RunStatus.REQUIRES_TOOLS],
            to=RunStatus.IN_PROGRESS,
        )
        at_step = store.get_run(session, run_id=run_id).step_seq
        again = [
            ToolCallRequest("call_1", "get_weather", '{"city": "Rome"}'),
            ToolCallRequest("call_2", "get_time", "{}"),
        ]
        record_tool_turn(session, run_id=run_id, at_step=at_step, turn=2, calls=again, usage=None)
        stored = {c.call_id: c for c in store.list_tool_calls(session, run_id=run_id)}
    assert set(stored) == {"call_1", "call_2"}
    kept = stored["call_1"]
    assert (kept.turn, kept.arguments, kept.status, kept.output) == (
        1,
        '{"city": "Oslo"}',
        "succeeded",
        "ok",
    )
    assert (stored["call_2"].turn, stored["call_2"].status) == (2, "pending")


def test_a_call_is_claimed_once(engine):
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
        assert store.claim_tool_call(session, run_id=run_id, call_id="call_1") is True
        assert store.claim_tool_call(session, run_id=run_id, call_id="call_1") is False


def test_idempotency_key_returns_the_same_run(engine):
    with Session(engine) as session:
        first, created = ledger.open_run(
            session,
            agent="assistant",
            input_text="x",
            provider="responses",
            model="m",
            deadline_at=NOW,
            idempotency_key="job-1",
        )
        second, created_again = ledger.open_run(
            session,
            agent="assistant",
            input_text="y",
            provider="responses",
            model="m",
            deadline_at=NOW,
            idempotency_key="job-1",
        )
    assert created and not created_again and first.id == second.id


def test_unknown_run_is_a_clear_error(engine):
    with Session(engine) as session, pytest.raises(RunNotFound, match="run_nope"):
        store.get_run(session, run_id="run_nope")


def test_threads_are_created_once_per_key_and_usage_sums_per_thread(engine):
    from workers.db import thread_store

    with Session(engine) as session:
        first = thread_store.get_or_create_thread(session, external_key="user-1", agent="a")
        again = thread_store.get_or_create_thread(session, external_key="user-1", agent="a")
        assert first.id == again.id
        for tokens in (10, 20):
            run, _ = ledger.open_run(
                session,
                agent="a",
                input_text="x",
                provider="responses",
                model="m",
                deadline_at=NOW,
                thread_id=first.id,
            )
            ledger.move(
                session,
                run_id=run.id,
                from_statuses=[RunStatus.PENDING],
                to=RunStatus.COMPLETED,
                usage=Usage(tokens, 1),
                changes=RunChanges(cost_usd=0.5),
            )
        totals = thread_store.usage_totals(session, thread_id=first.id)
    assert totals == {
        "runs": 2,
        "input_tokens": 30,
        "output_tokens": 2,
        "cached_tokens": 0,
        "cost_usd": 1.0,
    }


def _turn_of_calls(engine, call_ids):
    run_id = insert_run(engine)
    calls = [ToolCallRequest(call_id, "get_weather", "{}") for call_id in call_ids]
    with Session(engine) as session:
        ledger.move(
            session, run_id=run_id, from_statuses=[RunStatus.PENDING], to=RunStatus.IN_PROGRESS
        )
        record_tool_turn(session, run_id=run_id, at_step=0, turn=1, calls=calls, usage=None)
        for call_id in call_ids:
            assert store.claim_tool_call(session, run_id=run_id, call_id=call_id)
    return run_id


def _finish(engine, run_id, call_id):
    with Session(engine) as session:
        return store.finish_tool_call(
            session, run_id=run_id, call_id=call_id, output="ok", error=None, duration_ms=1
        )


def test_the_call_that_records_the_last_output_of_its_turn_is_told_so(engine):
    # Given a turn of two running calls
    run_id = _turn_of_calls(engine, ["call_1", "call_2"])
    # When they finish one after the other, and a copy of the first records again
    first, second, again = (_finish(engine, run_id, c) for c in ("call_1", "call_2", "call_1"))
    # Then only the second finished the turn, and the copy recorded nothing
    assert (first.left_in_turn, second.left_in_turn, again) == (1, 0, None)


@pytest.mark.integration
def test_of_calls_finishing_at_once_exactly_one_finishes_the_turn(engine):
    # PostgreSQL reads committed data: without the lock on the run's row, two calls that
    # finish together could each count the other as running, and no submit would be sent.
    if engine.dialect.name != "postgresql":
        pytest.skip("in-memory SQLite shares one connection: see the file-backed test")
    _race_to_finish_a_turn(engine)


def test_on_a_sqlite_file_calls_finishing_at_once_need_no_lock_for_one_to_finish_the_turn(
    tmp_path,
):
    # SQLite has one writer at a time: a finish's UPDATE counts the turn's other calls
    # itself (RETURNING), so a second one runs after the first and counts its output. No
    # row lock is taken there.
    _race_to_finish_a_turn(build_engine(f"sqlite:///{tmp_path / 'race.db'}"))


def _race_to_finish_a_turn(engine) -> None:
    for _ in range(10):
        run_id = _turn_of_calls(engine, ["call_1", "call_2", "call_3"])
        start = threading.Barrier(3)

        def finish(call_id, run_id=run_id, start=start):
            start.wait()
            return _finish(engine, run_id, call_id)

        with ThreadPoolExecutor(3) as pool:
            results = list(pool.map(finish, ["call_1", "call_2", "call_3"]))
        assert sorted(r.left_in_turn for r in results) == [0, 1, 2]

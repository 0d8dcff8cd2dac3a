"""The front door's SQL on both databases: API keys, owner-scoped runs and idempotency,
pages, the callback claim, and the events the store announces after its commits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session

from tests.workers.steps_fixtures import NOW
from workers.db import callback_store, key_store, run_pages, session_hooks, store
from workers.db.changes import RunChanges
from workers.db.statuses import RunStatus
from workers.errors import ConfigError, RunNotFound
from workers.runs import ledger


def new_run(session: Session, *, owner: str = "", key: str | None = None, **fields):
    return ledger.open_run(
        session,
        agent="assistant",
        input_text=fields.pop("input_text", "hi"),
        provider="responses",
        model="m",
        deadline_at=NOW + timedelta(minutes=5),
        idempotency_key=key,
        owner_key_id=owner,
        **fields,
    )


class RecordingSink:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict]] = []

    def append(self, run_id, event_type, data) -> None:
        self.events.append((run_id, event_type, dict(data)))

    def append_all(self, run_id, events) -> None:
        for event_type, data in events:
            self.append(run_id, event_type, data)


def test_keys_are_stored_hashed_found_by_key_and_revoked(engine):
    with Session(engine) as session:
        row, key = key_store.create_key(session, name="billing")
        assert key.startswith(row.prefix) and key not in (row.key_hash, row.prefix)
        assert key_store.find_active_key(session, key=key).id == row.id
        assert key_store.find_active_key(session, key=key + "x") is None
        with pytest.raises(ConfigError, match="already exists"):
            key_store.create_key(session, name="billing")
        assert key_store.revoke_key(session, name="billing")
        assert key_store.find_active_key(session, key=key) is None
        assert not key_store.revoke_key(session, name="billing")
        assert [k.name for k in key_store.list_keys(session)] == ["billing"]


def test_idempotency_keys_are_scoped_per_owner(engine):
    with Session(engine) as session:
        first, created = new_run(session, owner="key_a", key="order-1")
        again, created_again = new_run(session, owner="key_a", key="order-1")
        other, created_other = new_run(session, owner="key_b", key="order-1")
        assert (created, created_again, created_other) == (True, False, True)
        assert again.id == first.id and other.id != first.id


def test_an_owner_reads_and_pages_only_its_own_runs(engine):
    with Session(engine) as session:
        mine = [new_run(session, owner="key_a", input_text=f"q{i}")[0].id for i in range(5)]
        theirs = new_run(session, owner="key_b")[0].id
        with pytest.raises(RunNotFound):
            run_pages.get_owned_run(session, owner_key_id="key_a", run_id=theirs)
        seen: list[str] = []
        page = run_pages.RunFilter(owner_key_id="key_a", limit=2)
        while True:
            runs = run_pages.list_owned_runs(session, page=page)
            seen += [r.id for r in runs]
            if len(runs) < 2:
                break
            page = run_pages.RunFilter(
                owner_key_id="key_a", limit=2, after=(runs[-1].created_at, runs[-1].id)
            )
    assert sorted(seen) == sorted(mine) and len(seen) == 5
    assert theirs not in seen


def test_a_run_with_a_callback_owes_exactly_one_when_it_ends(engine):
    sent: list[str] = []
    with Session(engine, info={session_hooks.CALLBACK_SENDER: sent.append}) as session:
        run, _ = new_run(session, callback_url="https://hooks.example.com/runq")
        plain, _ = new_run(session)
        for run_id in (run.id, plain.id):
            ledger.move(
                session,
                run_id=run_id,
                from_statuses=[RunStatus.PENDING],
                to=RunStatus.FAILED,
                changes=RunChanges(error="boom"),
            )
        assert sent == [run.id]
        assert store.get_run(session, run_id=run.id).callback_state == "pending"
        assert callback_store.claim_attempt(session, run_id=run.id, attempt=1)
        assert not callback_store.claim_attempt(session, run_id=run.id, attempt=1)
        callback_store.finish_attempt(
            session, run_id=run.id, attempt=1, status_code=200, duration_ms=5, error=None
        )
        [made] = callback_store.list_attempts(session, run_id=run.id)
        assert (made.status_code, made.error) == (200, None)
        assert ledger.settle_callback(session, run_id=run.id, state="delivered")
        assert not ledger.settle_callback(session, run_id=run.id, state="gave_up")
        assert callback_store.attempts_made(session, run_id=run.id) == 1


def test_the_store_announces_what_it_committed(engine):
    sink = RecordingSink()
    with Session(engine, info={session_hooks.EVENT_SINK: sink}) as session:
        run, _ = new_run(session)
        ledger.move(
            session, run_id=run.id, from_statuses=[RunStatus.PENDING], to=RunStatus.IN_PROGRESS
        )
        ledger.move(  # a poll that saw no change is not announced
            session,
            run_id=run.id,
            from_statuses=[RunStatus.IN_PROGRESS],
            to=RunStatus.IN_PROGRESS,
            changes=RunChanges(step_seq=1),
        )
        ledger.move(
            session,
            run_id=run.id,
            from_statuses=[RunStatus.IN_PROGRESS],
            to=RunStatus.COMPLETED,
            changes=RunChanges(result_text="done"),
        )
    assert [(t, d) for _, t, d in sink.events] == [
        ("run.status", {"status": "in_progress"}),
        ("run.completed", {"status": "completed"}),
    ]


def test_owed_callbacks_gone_quiet_are_found_with_their_next_attempt(engine):
    with Session(engine) as session:
        lost, _ = new_run(session, callback_url="https://hooks.example.com/a")
        retrying, _ = new_run(session, callback_url="https://hooks.example.com/b")
        for run in (lost, retrying):
            ledger.move(
                session, run_id=run.id, from_statuses=[RunStatus.PENDING], to=RunStatus.FAILED
            )
        callback_store.claim_attempt(session, run_id=retrying.id, attempt=1)
        later = NOW.replace(year=NOW.year + 1)
        assert callback_store.stalled_callbacks(session, quiet_since=NOW) == []
        assert sorted(callback_store.stalled_callbacks(session, quiet_since=later)) == sorted(
            [(lost.id, 1), (retrying.id, 2)]
        )

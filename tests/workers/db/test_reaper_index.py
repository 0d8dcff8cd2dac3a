"""The reaper's query is served by an index, not a scan of every run ever recorded."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, create_engine

from workers.db import store


def test_stalled_runs_are_found_through_the_status_and_progress_index(monkeypatch):
    import workers.db.models  # noqa: F401

    engine = create_engine("sqlite://", poolclass=StaticPool)
    SQLModel.metadata.create_all(engine)
    plans: list[str] = []
    with Session(engine) as session:
        real_exec = session.exec

        def explain_first(statement, **kwargs):
            compiled = statement.compile(engine, compile_kwargs={"literal_binds": True})
            rows = session.connection().execute(text(f"EXPLAIN QUERY PLAN {compiled}"))
            plans.extend(str(row[-1]) for row in rows)
            return real_exec(statement, **kwargs)

        monkeypatch.setattr(session, "exec", explain_first)
        assert store.find_stalled_runs(session, updated_before=datetime.now(UTC)) == []
    assert any("USING INDEX ix_run_status_updated_at" in plan for plan in plans), plans

"""The sweep's query reads the next_due_at index, so its cost follows the overdue runs,
not the runs in the table (checked from the plan, never from a timing)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session, select

from tests.workers.steps_fixtures import memory_engine
from workers.db import recovery_store
from workers.db.models import Run


def test_the_sweep_query_is_an_index_range_scan():
    engine = memory_engine()
    query = (
        select(Run)
        .where(Run.next_due_at < datetime(2026, 1, 1, tzinfo=UTC))  # type: ignore[operator]
        .order_by(Run.next_due_at)  # type: ignore[arg-type]
        .limit(500)
    )
    compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as connection:
        plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").fetchall()
    details = " ".join(str(row[-1]) for row in plan)
    assert "USING INDEX ix_run_next_due_at" in details
    assert "SCAN run" not in details.replace("USING INDEX", "")  # no full scan


def test_find_overdue_runs_on_an_empty_table_is_empty():
    with Session(memory_engine()) as session:
        assert (
            recovery_store.find_overdue_runs(session, due_before=datetime.now(UTC), limit=5) == []
        )

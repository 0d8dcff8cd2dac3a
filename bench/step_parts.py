"""The CPU of a run step's parts, runq's way beside the alternative, in one process.

    python -m bench.step_parts [--calls 2000] [--repeats 5]

A 200-run batch cannot show a change of a few percent of a worker's CPU: the same code
measures 32 to 47 ms a run within one series on this machine. Here each part is timed alone
(process CPU, so the redis-server's own time is left out), runq's way and the alternative
interleaved, on a real redis-server and a SQLite file, as a worker uses them:

- sending a step: `tasks.next_step.send` (`send_task`, runq's own argsrepr) against a
  signature's `apply_async` (Celery's `saferepr` of the arguments);
- the ledger's compare-and-set UPDATE, statuses written into its SQL, against the same
  statement with the statuses bound as an IN list (re-rendered on every execution);
- reading a run: `store.get_run` (an ORM load, what the steps use) against a Core select of
  the same row (no object), the lever the profile still shows;
- reading a tool call with its run's status and agent, as every tool task does first:
  `store.get_call_of_run` (a row of values) against the ORM join it replaced (a `ToolCall`
  object in the session).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000, help="calls per timing")
    parser.add_argument("--repeats", type=int, default=5, help="timings per part (median)")
    args = parser.parse_args()

    from devstack.embedded_redis import start_embedded_redis

    server = start_embedded_redis()
    workdir = tempfile.mkdtemp(prefix="runq-step-parts-")
    # Before runq's settings are read: the app and the engine are built from them.
    os.environ["REDIS_URL"] = server.url
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir}/parts.db"
    try:
        rows = _measure(args.calls, args.repeats)
    finally:
        server.stop()
    print("| part (process CPU per call, median) | runq | alternative | alternative ÷ runq |")
    print("|---|---|---|---|")
    for label, ours, theirs in rows:
        print(f"| {label} | {ours:.1f} µs | {theirs:.1f} µs | {theirs / ours:.2f} |")


def _measure(calls: int, repeats: int) -> list[tuple[str, float, float]]:
    import redis
    from sqlalchemy import bindparam, select, update
    from sqlmodel import Session

    import tasks.runs  # noqa: F401  (registered, as in a worker: apply_async goes through it)
    from config.celery_app import app
    from tasks.next_step import send, task_label
    from workers import wiring
    from workers.db import store
    from workers.db.models import Run, ToolCall, utcnow
    from workers.runs import ledger
    from workers.runs.context import Later, StepName

    broker = redis.Redis.from_url(os.environ["REDIS_URL"])
    engine = wiring.build_engine(os.environ["DATABASE_URL"])
    with Session(engine) as session:
        run, _ = ledger.open_run(
            session,
            agent="bench",
            input_text="hello",
            provider="responses",
            model="gpt-bench",
            deadline_at=utcnow() + timedelta(hours=1),
        )
        run_id = run.id
        session.add(ToolCall(run_id=run_id, call_id="call_1", turn=1, name="w", arguments="{}"))
        session.commit()

    def ours_send(index: int) -> None:
        send(Later(StepName.POLL, (run_id, index), after_s=0))

    def celery_send(index: int) -> None:
        name = StepName.POLL.value
        app.signature(name, args=(run_id, index)).apply_async(
            countdown=0, shadow=task_label(name, (run_id, index))
        )

    table = Run.__table__  # type: ignore[attr-defined]
    statuses = ("in_progress", "requires_tools")
    values = {"step_seq": bindparam("set_step_seq", type_=table.c.step_seq.type)}
    written_in = update(table).where(
        table.c.id == bindparam("run_id"), store.status_among(table.c.status, statuses)
    )
    bound = update(table).where(table.c.id == bindparam("run_id"), table.c.status.in_(statuses))
    core_read = select(*table.c).where(table.c.id == bindparam("run_id"))

    # One session for every call, as a step's statements share its session: the parts
    # compared are the statements, not the session's begin and end.
    session = Session(engine)

    def statement(query: Any) -> Callable[[int], None]:
        query = query.values(values)

        def execute(index: int) -> None:
            params = {"run_id": run_id, "set_step_seq": index}
            session.connection().execute(query, params)

        return execute

    def orm_read(_index: int) -> None:
        store.get_run(session, run_id=run_id)

    def core_row(_index: int) -> None:
        session.connection().execute(core_read, {"run_id": run_id}).first()

    parts: list[tuple[str, Callable[[int], None], Callable[[int], None]]] = [
        ("send a step (`send` vs a signature's `apply_async`)", ours_send, celery_send),
        (
            "compare-and-set UPDATE (statuses in the SQL vs a bound IN list)",
            statement(written_in),
            statement(bound),
        ),
        ("read a run (ORM `get_run` vs a Core row, no object)", orm_read, core_row),
        _read_a_call(session, run_id),
    ]
    rows = []
    for label, ours, theirs in parts:
        timings: dict[str, list[float]] = {"ours": [], "theirs": []}
        for _ in range(repeats):
            for side, call in (("ours", ours), ("theirs", theirs)):
                broker.delete("runs")
                timings[side].append(_cpu_per_call_us(call, calls))
        rows.append(
            (label, statistics.median(timings["ours"]), statistics.median(timings["theirs"]))
        )
    session.rollback()
    session.close()
    return rows


def _read_a_call(
    session: Any, run_id: str
) -> tuple[str, Callable[[int], None], Callable[[int], None]]:
    """What a tool task reads first: its call with the run's status and agent."""
    from sqlalchemy import bindparam, select

    from workers.db import store
    from workers.db.models import Run, ToolCall

    orm_join = (
        select(ToolCall, Run.status, Run.agent)  # type: ignore[call-overload]
        .join(Run, Run.id == ToolCall.run_id)
        .where(ToolCall.run_id == bindparam("run_id"), ToolCall.call_id == bindparam("call_id"))
        .execution_options(populate_existing=True)
    )

    def call_row(_index: int) -> None:
        store.get_call_of_run(session, run_id=run_id, call_id="call_1")

    def call_object(_index: int) -> None:
        session.execute(orm_join, {"run_id": run_id, "call_id": "call_1"}).first()

    label = "read a tool call and its run (`get_call_of_run`'s row vs an ORM join)"
    return label, call_row, call_object


def _cpu_per_call_us(call: Callable[[int], None], calls: int) -> float:
    for index in range(100):  # warm: statement caches, the producer pool, the connection
        call(index)
    started = time.process_time()
    for index in range(calls):
        call(index)
    return 1e6 * (time.process_time() - started) / calls


if __name__ == "__main__":
    main()

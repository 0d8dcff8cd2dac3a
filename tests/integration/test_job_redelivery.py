"""A send_task job whose worker is SIGKILLed before it records the run is redelivered and
recorded soon after the worker's death: within the broker's visibility timeout (20 s by
default; long waits live in the database), the workers' restore scan (every 5 s) and the
replacement worker's start, plus a 5 s margin for a loaded machine. Real Redis, real
workers, PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid

import psycopg
import pytest

from workers import wiring
from workers.db import run_pages

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(150)]

QUEUE = "doomed-jobs"


def find(key: str):
    with wiring.new_session() as session:
        page = run_pages.RunFilter(owner_key_id="", idempotency_key=key)
        found = run_pages.list_owned_runs(session, page=page)
    return found[0] if found else None


def test_a_job_whose_worker_is_killed_before_recording_it_comes_back_and_is_recorded(fleet):
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgresql"):
        pytest.skip("holds the run table with a PostgreSQL lock")
    from config.celery_app import RESTORE_EVERY_S, app
    from config.settings import get_settings

    # Given a worker that has taken a job and is stuck before it records the run (the run
    # table is locked), with nobody else serving its queue
    fleet.env["RUNQ_EXTRA_QUEUES"] = json.dumps([QUEUE])  # a producer's own queue
    fleet.start_worker(QUEUE, concurrency=2, name="doomed")
    doomed = fleet.workers[-1]
    fleet.wait_for_workers(len(fleet.workers))
    key = f"doomed-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as lock:
        lock.execute("LOCK TABLE run IN ACCESS EXCLUSIVE MODE")
        app.send_task(
            "runq.runs.submit_job",
            kwargs={"agent": "responses-agent", "input": "hi", "idempotency_key": key},
            queue=QUEUE,
        )
        deadline = time.monotonic() + 30
        while not lock.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()[0]:
            assert time.monotonic() < deadline, "the worker never took the job"
            time.sleep(0.1)

        # When that worker is killed without warning (and a supervisor starts another)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)
        died_at = time.monotonic()
        lock.rollback()
    fleet.workers.remove(doomed)
    fleet.start_worker(QUEUE, concurrency=2, name="doomed-again")
    again = fleet.workers[-1]
    try:
        # Then the job comes back from the broker and its run is recorded: the message is back
        # in the queue within the visibility timeout and one restore scan of the worker's
        # death, and taken as soon as the replacement consumes (its start is the supervisor's
        # time, not the broker's, so the allowance counts from whichever is later).
        fleet.wait_for_workers(len(fleet.workers))
        ready_at = time.monotonic()
        back_by = get_settings().runs.visibility_timeout_s + RESTORE_EVERY_S
        deadline = max(died_at + back_by, ready_at) + 5
        while find(key) is None:
            late = time.monotonic() - died_at
            assert time.monotonic() < deadline, f"the job was not redelivered ({late:.0f} s)"
            time.sleep(0.2)
        assert find(key).agent == "responses-agent"
    finally:
        # The shared fleet goes back to its own workers (later modules count them).
        fleet.workers.remove(again)
        again.terminate()
        again.wait(timeout=30)
        fleet.env.pop("RUNQ_EXTRA_QUEUES", None)

"""A send_task job whose worker is SIGKILLed before it records the run is redelivered and
recorded within 30 s of the worker's death (the broker's visibility timeout is short; long
waits live in the database). Real Redis, real workers, PostgreSQL."""

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


def test_a_job_whose_worker_is_killed_before_recording_it_is_recorded_in_30_s(fleet):
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgresql"):
        pytest.skip("holds the run table with a PostgreSQL lock")
    from config.celery_app import app

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
        # Then the job comes back from the broker and its run is recorded within 30 s
        while find(key) is None:
            assert time.monotonic() - died_at < 30, "the job was not redelivered within 30 s"
            time.sleep(0.2)
        assert find(key).agent == "responses-agent"
    finally:
        # The shared fleet goes back to its own workers (later modules count them).
        fleet.workers.remove(again)
        again.terminate()
        again.wait(timeout=30)
        fleet.env.pop("RUNQ_EXTRA_QUEUES", None)

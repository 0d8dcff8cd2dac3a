"""The sweep runs on time under a backlog: with 10,000 run messages queued in Redis, a run
whose start was lost still gets it re-sent within the sweep's interval, long before the
backlog drains (beat's jobs have their own queue; on the runs queue they waited behind the
backlog and expired). Real Redis, real workers and beat."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import timedelta

import pytest
import redis

from workers import wiring
from workers.db import store
from workers.db.models import utcnow
from workers.runs import ledger

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(150)]

BACKLOG = 10_000


def poll_message(run_id: str) -> bytes:
    """A `runq.runs.poll` message as Celery puts it on the runs list (a run that does not
    exist: each costs a worker a lookup, then is dropped)."""
    body = base64.b64encode(json.dumps([[run_id, 0], {}, {}]).encode()).decode()
    return json.dumps(
        {
            "body": body,
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": {"lang": "py", "task": "runq.runs.poll", "id": str(uuid.uuid4())},
            "properties": {
                "correlation_id": str(uuid.uuid4()),
                "body_encoding": "base64",
                "delivery_tag": str(uuid.uuid4()),
                "delivery_info": {"exchange": "", "routing_key": "runs"},
                "priority": 0,
            },
        }
    ).encode()


def test_a_sweep_runs_on_time_under_a_ten_thousand_message_backlog(fleet):
    client = redis.Redis.from_url(fleet.redis.url)

    # Given 10,000 run messages queued ahead of everything
    pipe = client.pipeline(transaction=False)
    for index in range(BACKLOG):
        pipe.lpush("runs", poll_message(f"run_backlog_{index}"))
    pipe.execute()

    # When a run's start message is lost (recorded, never sent)
    with wiring.new_session() as session:
        run, _ = ledger.open_run(
            session,
            agent="responses-agent",
            input_text="hi",
            provider="responses",
            model="gpt-test",
            deadline_at=utcnow() + timedelta(minutes=5),
        )

    # Then the sweep re-sends it while the backlog is still there
    while True:
        with wiring.new_session() as session:
            recoveries = store.get_run(session, run_id=run.id).recoveries
        queued = client.llen("runs")
        if recoveries >= 1:
            break
        assert queued > 0, "the backlog drained before any sweep ran"
        time.sleep(0.1)
    assert queued > BACKLOG // 10

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
MARK = "backlog-"
"""The start of every backlog message's task id, so the test can take its leftovers away."""

# Keeps every message of the list but the backlog's, atomically (workers pop meanwhile).
DROP_BACKLOG = """
local kept = {}
for _, item in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if not string.find(item, ARGV[1], 1, true) then table.insert(kept, item) end
end
redis.call('DEL', KEYS[1])
for _, item in ipairs(kept) do redis.call('RPUSH', KEYS[1], item) end
"""


def poll_message(run_id: str) -> bytes:
    """A `runq.runs.poll` message as Celery puts it on the runs list (a run that does not
    exist: each costs a worker a lookup, then is dropped)."""
    body = base64.b64encode(json.dumps([[run_id, 0], {}, {}]).encode()).decode()
    return json.dumps(
        {
            "body": body,
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": {"lang": "py", "task": "runq.runs.poll", "id": f"{MARK}{uuid.uuid4()}"},
            "properties": {
                "correlation_id": str(uuid.uuid4()),
                "body_encoding": "base64",
                "delivery_tag": str(uuid.uuid4()),
                "delivery_info": {"exchange": "", "routing_key": "runs"},
                "priority": 0,
            },
        }
    ).encode()


@pytest.fixture
def client(fleet):
    """Redis, and after the test the backlog's leftovers taken off the runs list: the fleet
    is shared, and the next test's steps would wait behind them (47 s on a loaded machine,
    long enough for the sweep to give a start step up)."""
    client = redis.Redis.from_url(fleet.redis.url)
    yield client
    client.eval(DROP_BACKLOG, 1, "runs", f'"id": "{MARK}')
    assert not [item for item in client.lrange("runs", 0, -1) if MARK.encode() in item]


def test_a_sweep_runs_on_time_under_a_ten_thousand_message_backlog(client):
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

"""Nothing lost: workers killed with SIGKILL in the middle of a batch; every run still ends
completed, no call of a non-idempotent tool runs twice, and no idempotent tool's result is
lost (it is run again instead)."""

from __future__ import annotations

import signal
import time
import uuid

import pytest

import tests.integration.agents  # noqa: F401  (registered once at import, as the workers do)
from tests.integration.fleet import TERMINAL, enqueue_batch, wait_for_batch
from workers import wiring
from workers.db import store

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(180)]


def test_killed_workers_lose_nothing_and_run_no_tool_twice(fleet):
    # Given a batch in flight
    prompts = ["What's the weather in Paris and London? #turns=2", "Search for celery chords."]
    batch_id = enqueue_batch([prompts[i % 2] for i in range(30)])
    time.sleep(1.0)

    # When every worker but the one running the sweep's beat is killed without warning
    beat_worker, *others = fleet.workers
    for process in others:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    fleet.workers[:] = [beat_worker]
    fleet.start_worker("runs,tools", concurrency=16, name="replacement")
    fleet.wait_for_workers(2)

    # Then the sweep finishes every run within seconds, and the demo tools (idempotent) cut
    # off mid-call ran again instead of answering "interrupted"
    wait_for_batch(batch_id, 30, timeout_s=60)
    with wiring.new_session() as session:
        runs = store.list_runs(session, batch_id=batch_id)
        calls = store.batch_tool_calls(session, batch_id=batch_id)
    assert [r.error for r in runs if r.status != "completed"] == []
    assert {c.status for c in calls} == {"succeeded"}


def finished(batch_id: str) -> int:
    with wiring.new_session() as session:
        counts = store.count_runs_by_status(session, batch_id=batch_id)
    return sum(n for status, n in counts.items() if status in TERMINAL)


def test_a_redis_restart_that_loses_every_message_still_ends_every_run(fleet):
    from devstack.embedded_redis import start_embedded_redis

    # Given a batch in flight
    batch_id = enqueue_batch(["What's the weather in Paris and London? #turns=2"] * 20)
    time.sleep(1.0)

    # When Redis dies and comes back empty (no persistence): queued messages, countdowns,
    # chord counters and limiter state are all gone
    port = fleet.redis.port
    fleet.redis.process.send_signal(signal.SIGKILL)
    fleet.redis.process.wait(timeout=10)
    fleet.redis = start_embedded_redis(port=port, data_dir=fleet.redis.data_dir)

    # Then, with crashed workers restarted as a supervisor would (kombu can kill a
    # threads-pool worker on a broker reset), the sweep re-sends each overdue run's step
    # from the database, and every run completes with no tool result lost
    deadline = time.monotonic() + 60
    while finished(batch_id) < 20 and time.monotonic() < deadline:
        fleet.revive_workers()
        time.sleep(1.0)
    wait_for_batch(batch_id, 20, timeout_s=5)
    with wiring.new_session() as session:
        runs = store.list_runs(session, batch_id=batch_id)
        calls = store.batch_tool_calls(session, batch_id=batch_id)
    assert [r.error for r in runs if r.status != "completed"] == []
    assert {c.status for c in calls} == {"succeeded"}


def test_sdk_agent_runs_survive_killed_workers_and_a_redis_restart_calling_each_tool_once(fleet):
    # Here, at the end of the tier, because it restarts Redis under every other test's clients
    pytest.importorskip("agents", reason="the openai-agents extra is not installed")
    from devstack.embedded_redis import start_embedded_redis
    from tests.integration.test_sdk_agents import executions, question

    # Given SDK agent runs in flight, each looking up its own invoice
    ids = [f"inv_{uuid.uuid4().hex[:8]}" for _ in range(12)]
    batch_id = enqueue_batch([question(i) for i in ids], agent="sdk_triage")
    time.sleep(1.0)

    # When every worker but the beat's is killed without warning, and Redis dies and comes
    # back empty (queued messages, countdowns and chord counters gone)
    beat_worker, *others = fleet.workers
    for process in others:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    fleet.workers[:] = [beat_worker]
    port = fleet.redis.port
    fleet.redis.process.send_signal(signal.SIGKILL)
    fleet.redis.process.wait(timeout=10)
    fleet.redis = start_embedded_redis(port=port, data_dir=fleet.redis.data_dir)
    fleet.start_worker("runs,tools", concurrency=16, name="sdk-replacement")

    # Then the sweep finishes every run from the database, and each lookup ran once
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        fleet.revive_workers()
        with wiring.new_session() as session:
            runs = store.list_runs(session, batch_id=batch_id)
        if all(r.status in TERMINAL for r in runs):
            break
        time.sleep(1.0)
    assert [(r.status, r.error) for r in runs if r.status != "completed"] == []
    assert {r.agent for r in runs} == {"sdk_billing"}
    ran = [i for i in executions(fleet) if i in ids]
    assert len(ran) == len(set(ran))  # none twice
    # A lookup not run at all is one whose worker was killed between its claim and the tool:
    # the lookup is not idempotent, so that call is answered "interrupted", never run again.
    with wiring.new_session() as session:
        calls = store.batch_tool_calls(session, batch_id=batch_id)
    interrupted = [
        c.arguments for c in calls if (c.error or "").startswith("interrupted: worker lost")
    ]
    for missing in set(ids) - set(ran):
        assert any(missing in arguments for arguments in interrupted), missing

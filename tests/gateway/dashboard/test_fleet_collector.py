"""The scrape-time families: queue depth from Redis, active runs from the database."""

import fakeredis
from prometheus_client import CollectorRegistry, generate_latest
from sqlmodel import Session

from gateway.dashboard.fleet_collector import FleetCollector, queue_depth
from tests.workers.steps_fixtures import insert_run, memory_engine
from workers.db.statuses import RunStatus
from workers.errors import ConfigError
from workers.runs import ledger


def test_queue_depth_counts_every_priority_list():
    client = fakeredis.FakeRedis()
    client.rpush("runs", b"a", b"b")
    client.rpush("runs\x06\x163", b"c")
    assert queue_depth(client, "runs") == 3
    assert queue_depth(client, "tools") == 0


def test_the_collector_reads_queues_and_active_runs_at_scrape_time():
    engine = memory_engine()
    client = fakeredis.FakeRedis()
    client.rpush("tools", b"x")
    insert_run(engine)
    moving, done = insert_run(engine), insert_run(engine)
    with Session(engine) as session:
        ledger.move(
            session, run_id=moving, from_statuses=[RunStatus.PENDING], to=RunStatus.IN_PROGRESS
        )
        ledger.move(session, run_id=done, from_statuses=[RunStatus.PENDING], to=RunStatus.FAILED)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(lambda: client, lambda: Session(engine)))
    text = generate_latest(registry).decode()
    assert 'runq_queue_depth{queue="tools"} 1.0' in text
    assert 'runq_queue_depth{queue="runs"} 0.0' in text
    assert 'runq_runs_active{status="pending"} 1.0' in text
    assert 'runq_runs_active{status="in_progress"} 1.0' in text
    assert 'runq_runs_active{status="requires_tools"} 0.0' in text
    assert 'runq_queue_depth{queue="callbacks"} 0.0' in text
    # Terminal runs of the whole fleet, from the database; runs still moving are not counted.
    assert 'runq_runs_total{agent="assistant",status="failed"} 1.0' in text
    assert text.count("runq_runs_total{") == 1


def test_without_a_broker_the_queue_family_is_empty_not_an_error():
    engine = memory_engine()

    def no_broker():
        raise ConfigError("REDIS_URL is not set")

    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(no_broker, lambda: Session(engine)))
    text = generate_latest(registry).decode()
    assert "runq_queue_depth{" not in text
    assert 'runq_runs_active{status="pending"} 0.0' in text

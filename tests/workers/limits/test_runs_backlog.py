"""The backlog the budget counts is kombu's own keys on a real redis-server: the list of the
queue runq routes run steps to, and the hash of the messages workers hold unacknowledged. A
renamed queue or a new key layout would silently read 0."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from celery import Celery
from redis.backoff import NoBackoff
from redis.retry import Retry

from config.celery_app import app
from devstack.embedded_redis import EmbeddedRedis
from workers.wiring import runs_backlog


@pytest.fixture
def producer(redis_server: EmbeddedRedis) -> Iterator[Celery]:
    """A producer on the broker with runq's own transport and routes, and no worker yet."""
    producer = Celery(broker=redis_server.url)
    producer.conf.task_serializer = "json"
    producer.conf.task_routes = app.conf.task_routes
    producer.conf.broker_transport = app.conf.broker_transport
    yield producer
    producer.close()


def test_steps_sent_to_the_runs_queue_are_counted_until_a_worker_takes_them(
    producer: Celery, real_redis: redis.Redis
) -> None:
    assert runs_backlog(real_redis) == 0
    # When three run steps and a tool call are sent
    for run_id in ("r1", "r2", "r3"):
        producer.send_task("runq.runs.start", args=[run_id])
    producer.send_task("runq.tools.execute", args=["r1", "c1"])
    # Then the three steps wait on the runs queue (a waiting tool call is not a run step)
    assert runs_backlog(real_redis) == 3


def test_a_step_a_worker_holds_counts_until_it_is_acknowledged(
    producer: Celery, real_redis: redis.Redis
) -> None:
    # Given three run steps on the runs queue
    for run_id in ("r1", "r2", "r3"):
        producer.send_task("runq.runs.start", args=[run_id])
    with producer.connection_for_read() as connection:
        # kombu's stubs type the channel as the abstract StdChannel, without basic_get.
        channel: Any = connection.default_channel
        # When a worker takes one, as a late-acking worker does (or holds it for a countdown)
        held = channel.basic_get("runs", no_ack=False)
        assert held is not None
        # Then it still counts: it is about to ask for a request
        assert real_redis.llen("runs") == 2
        assert runs_backlog(real_redis) == 3
        # And once it is acknowledged (its step done), it no longer does
        held.ack()
        assert runs_backlog(real_redis) == 2


def test_a_broker_that_does_not_answer_counts_as_no_backlog() -> None:
    # A port nobody listens on: the budget's own take reports the outage, not this read
    # (no retries: redis-py's default backs off for seconds before it gives up)
    silent = redis.Redis(port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    assert runs_backlog(silent) == 0

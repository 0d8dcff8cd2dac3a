"""The backlog the budget counts is kombu's own list of the queue runq routes run steps to,
on a real redis-server: a renamed queue or a new key layout would silently read 0."""

from __future__ import annotations

import redis
from celery import Celery

from config.celery_app import app
from devstack.embedded_redis import EmbeddedRedis
from workers.wiring import runs_backlog


def test_steps_sent_to_the_runs_queue_are_counted_until_a_worker_takes_them(
    redis_server: EmbeddedRedis, real_redis: redis.Redis
) -> None:
    # Given a producer on the broker with runq's own routes, and no worker yet
    producer = Celery(broker=redis_server.url)
    producer.conf.task_serializer = "json"
    producer.conf.task_routes = app.conf.task_routes
    assert runs_backlog(real_redis) == 0
    # When three run steps and a tool call are sent
    for run_id in ("r1", "r2", "r3"):
        producer.send_task("runq.runs.start", args=[run_id])
    producer.send_task("runq.tools.execute", args=["r1", "c1"])
    # Then the three steps wait on the runs queue (the tool call is not a run step)
    assert runs_backlog(real_redis) == 3
    producer.close()


def test_a_broker_that_does_not_answer_counts_as_no_backlog() -> None:
    # A port nobody listens on: the budget's own take reports the outage, not this read
    silent = redis.Redis(port=1, socket_connect_timeout=0.2)
    assert runs_backlog(silent) == 0

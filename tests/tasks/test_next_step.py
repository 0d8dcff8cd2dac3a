"""What `send` puts on a real redis-server: each step on the queue its task routes to, under
the label Flower shows, with its arguments written as they are (ids and counters)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
from kombu import Connection

from config.celery_app import app
from devstack.embedded_redis import EmbeddedRedis
from tasks import next_step
from workers.runs.context import FanOut, Later, Nothing, StepName


@pytest.fixture
def broker(
    monkeypatch: pytest.MonkeyPatch, redis_server: EmbeddedRedis, real_redis: redis.Redis
) -> Iterator[redis.Redis]:
    """runq's app, its producer pointed at the real server (the unit tier runs no broker)."""
    connection = Connection(redis_server.url, transport=app.conf.broker_transport)

    @contextmanager
    def on_the_real_server(producer: Any = None) -> Iterator[Any]:
        yield producer or app.amqp.Producer(connection, auto_declare=True)

    monkeypatch.setattr(app, "producer_or_acquire", on_the_real_server)
    yield real_redis
    connection.release()


def _messages(client: redis.Redis, queue: str) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in reversed(client.lrange(queue, 0, -1))]


def test_a_later_step_goes_to_the_runs_queue_with_its_label_and_countdown(
    broker: redis.Redis,
) -> None:
    next_step.send(Later(StepName.POLL, ("run_1", 3), after_s=2.5))
    [message] = _messages(broker, "runs")
    headers = message["headers"]
    assert headers["task"] == "runq.runs.poll"
    assert headers["shadow"] == "runq.runs.poll run_1"
    assert headers["argsrepr"] == "('run_1', 3)"
    assert headers["eta"] is not None  # the countdown
    assert json.loads(_body(message))[0] == ["run_1", 3]


def test_a_fan_out_sends_one_tool_call_each_to_the_tools_queue(broker: redis.Redis) -> None:
    next_step.send(FanOut("run_1", 1, ("call_a", "call_b")))
    sent = _messages(broker, "tools")
    assert [m["headers"]["shadow"] for m in sent] == [
        "runq.tools.execute run_1 call_a",
        "runq.tools.execute run_1 call_b",
    ]
    assert [m["headers"]["eta"] for m in sent] == [None, None]
    assert broker.llen("runs") == 0


def test_nothing_sends_nothing(broker: redis.Redis) -> None:
    next_step.send(Nothing("stale"))
    assert broker.llen("runs") == broker.llen("tools") == 0


def _body(message: dict[str, Any]) -> str:
    return base64.b64decode(message["body"]).decode()

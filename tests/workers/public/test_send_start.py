"""The front door sends a run's first step (and a run's callbacks) without asking Celery to
keep a result: with a Redis result backend, a kept result SUBSCRIBEs the sending process to
a channel per message. Checked on a real redis-server, from a producer process of its own
(Celery keeps its broker pools once it has sent, so the test process cannot be repointed)."""

from __future__ import annotations

import subprocess
import sys

import redis

from devstack.embedded_redis import EmbeddedRedis

PRODUCER = """
import sys
from config.celery_app import point_at_broker
point_at_broker(sys.argv[1])
from workers import wiring
from workers.public.enqueue import send_start
send_start("run_1")
wiring.send_callback("run_1")
wiring.send_action_callback("run_1", 3)
"""


def _calls(client: redis.Redis, command: str) -> int:
    stats = client.info("commandstats").get(f"cmdstat_{command}")
    return int(stats["calls"]) if stats else 0


def test_messages_the_front_door_sends_subscribe_to_no_result(
    redis_server: EmbeddedRedis, real_redis: redis.Redis
) -> None:
    subscribed = _calls(real_redis, "subscribe")
    subprocess.run(
        [sys.executable, "-c", PRODUCER, redis_server.url], check=True, capture_output=True
    )
    assert _calls(real_redis, "subscribe") == subscribed
    # the messages themselves went out: the start to `runs`, both callbacks to `callbacks`
    assert (real_redis.llen("runs"), real_redis.llen("callbacks")) == (1, 2)

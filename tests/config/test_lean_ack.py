"""The broker's ack emulation without MULTI/EXEC: a delivered message is still parked in the
unacked set, an ack still removes it, and an unacked one still comes back after the
visibility timeout (on a real redis-server, through kombu with runq's transport)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from kombu import Connection, Exchange, Queue

from config.transport import TolerantChannel, TolerantRedisTransport
from devstack.embedded_redis import EmbeddedRedis

QUEUE = Queue("lean", Exchange("lean", type="direct"), routing_key="lean")


@pytest.fixture
def connection(redis_server: EmbeddedRedis, real_redis: redis.Redis) -> Iterator[Connection]:
    with Connection(
        redis_server.url,
        transport=TolerantRedisTransport,
        transport_options={"visibility_timeout": 1},
    ) as conn:
        yield conn


def _commands(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


def _deliver_one(conn: Connection) -> object:
    with conn.Producer() as producer:
        producer.publish({"n": 1}, exchange=QUEUE.exchange, routing_key="lean", declare=[QUEUE])
    simple = conn.SimpleQueue(QUEUE)
    return simple.get(timeout=5)


def test_an_ack_removes_the_parked_message_without_a_transaction(
    connection: Connection, real_redis: redis.Redis
) -> None:
    message = _deliver_one(connection)
    assert real_redis.hlen("unacked") == 1 and real_redis.zcard("unacked_index") == 1
    before = _commands(real_redis)
    message.ack()  # type: ignore[attr-defined]
    after = _commands(real_redis)
    assert real_redis.hlen("unacked") == 0 and real_redis.zcard("unacked_index") == 0
    assert after.get("multi", 0) == before.get("multi", 0), "the ack used MULTI"
    assert after["zrem"] == before.get("zrem", 0) + 1


def test_parking_a_delivered_message_uses_no_transaction(
    connection: Connection, real_redis: redis.Redis
) -> None:
    """What a worker does per message it pops: park it in the unacked hash and index."""
    message = _deliver_one(connection)
    message.ack()  # type: ignore[attr-defined]
    qos = connection.default_channel.qos
    before = _commands(real_redis)
    qos.append(message, "tag-1")
    after = _commands(real_redis)
    assert real_redis.hexists("unacked", "tag-1") and real_redis.zscore("unacked_index", "tag-1")
    assert after.get("multi", 0) == before.get("multi", 0), "parking used MULTI"


def test_an_unacked_message_comes_back_after_the_visibility_timeout(
    connection: Connection, real_redis: redis.Redis
) -> None:
    _deliver_one(connection)  # delivered, never acked: its consumer "died"
    time.sleep(1.2)
    channel = connection.default_channel
    channel.qos.restore_visible(num=10, interval=1)
    assert real_redis.hlen("unacked") == 0
    again = connection.SimpleQueue(QUEUE).get(timeout=5)
    assert again.payload == {"n": 1}


def test_a_channel_keeps_one_client_for_its_publishes_and_acks(
    connection: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # kombu built a redis-py client per publish and per ack; one per channel is enough
    created: list[bool] = []
    original = TolerantChannel._create_client

    def counting(self: TolerantChannel, asynchronous: bool = False) -> object:
        created.append(asynchronous)
        return original(self, asynchronous=asynchronous)

    monkeypatch.setattr(TolerantChannel, "_create_client", counting)
    with connection.Producer() as producer:
        for n in range(5):
            producer.publish({"n": n}, exchange=QUEUE.exchange, routing_key="lean", declare=[QUEUE])
    simple = connection.SimpleQueue(QUEUE)
    received = [simple.get(timeout=5) for _ in range(5)]
    for message in received:
        message.ack()  # type: ignore[attr-defined]
    assert sorted(message.payload["n"] for message in received) == [0, 1, 2, 3, 4]  # type: ignore[attr-defined]
    assert created.count(False) <= 2, created  # the producer's channel and the consumer's

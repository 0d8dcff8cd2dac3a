"""The families read at scrape time: `runq_queue_depth{queue}` from the broker Redis, and
`runq_runs_active{status}` and `runq_runs_total{agent,status}` from the database.

They describe the whole fleet, not one process, so only the gateway's `/metrics` serves
them (a worker exporting them too would multiply every sum by the number of workers).
`runq_runs_total` is counted where runs end, in the workers; the gateway's copy of that
counter stays 0, so its `/metrics` serves the fleet's count from the database instead.
`runq_runs_active` is the signal to autoscale on: a polling run waits as a countdown
message held unacked inside a worker, so the queue length under-counts the work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from workers.errors import ConfigError
from workers.public.records import fleet_store

log = logging.getLogger("runq.metrics")

QUEUES = ("runs", "tools", "callbacks", "sweeps")
ACTIVE_STATUSES = ("pending", "in_progress", "requires_tools", "submitting", "requires_action")
# kombu's Redis transport keeps one list per priority step; all of them are waiting work.
_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


def queue_depth(client: redis.Redis, queue: str) -> int:
    """Messages waiting in `queue` (every priority list of it)."""
    return sum(int(client.llen(queue + suffix)) for suffix in _PRIORITY_SUFFIXES)


class FleetCollector(Collector):
    """Reads queue depths and active runs each time Prometheus scrapes."""

    def __init__(
        self,
        redis_client: Callable[[], redis.Redis],
        sessions: Callable[[], Session],
        queues: Iterable[str] = QUEUES,
    ) -> None:
        self._redis = redis_client
        self._sessions = sessions
        self._queues = tuple(queues)

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "runq_queue_depth", "Messages waiting in each broker queue.", labels=["queue"]
        )
        try:
            client = self._redis()
            for queue in self._queues:
                depth.add_metric([queue], queue_depth(client, queue))
        except (redis.RedisError, ConfigError) as exc:
            # No broker configured or reachable: the family is served empty, never a 500.
            log.warning("runq_queue_depth not read: %s", exc)
        yield depth
        active = GaugeMetricFamily(
            "runq_runs_active", "Runs not yet terminal, by status.", labels=["status"]
        )
        ended = CounterMetricFamily(
            "runq_runs",
            "Runs that reached a terminal status, fleet-wide (from the database).",
            labels=["agent", "status"],
        )
        try:
            with self._sessions() as session:
                counts = fleet_store.count_active_runs(session)
                for (agent, status), count in sorted(fleet_store.count_ended_runs(session).items()):
                    ended.add_metric([agent, status], count)
            for status in ACTIVE_STATUSES:
                active.add_metric([status], counts.get(status, 0))
        except SQLAlchemyError as exc:
            log.warning("runq_runs_active and runq_runs_total not read: %s", exc)
        yield active
        yield ended

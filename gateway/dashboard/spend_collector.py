"""`runq_spend_usd`, `runq_spend_held_usd` and `runq_spend_limit_usd`, by counter (`scope`),
read from the shared Redis counters at scrape time (fleet-wide, so the gateway serves them).

Day counters live three days and month counters 35, so the label set stays bounded."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import redis
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from workers.errors import ConfigError
from workers.public.spend import SpendLine, fleet_spend

log = logging.getLogger("runq.metrics")


class SpendCollector(Collector):
    """Reads every key's and agent's dollar counters each time Prometheus scrapes."""

    def __init__(self, sessions: Callable[[], Session]) -> None:
        self._sessions = sessions

    def collect(self) -> Iterator[Metric]:
        spent = GaugeMetricFamily("runq_spend_usd", "Dollars spent, by counter.", labels=["scope"])
        held = GaugeMetricFamily(
            "runq_spend_held_usd", "Dollars held by model turns in flight.", labels=["scope"]
        )
        limit = GaugeMetricFamily(
            "runq_spend_limit_usd", "The counter's dollar limit, if any.", labels=["scope"]
        )
        for line in self._lines():
            spent.add_metric([line.scope], line.spent_usd)
            held.add_metric([line.scope], line.held_usd)
            if line.limit_usd is not None:
                limit.add_metric([line.scope], line.limit_usd)
        yield from (spent, held, limit)

    def _lines(self) -> list[SpendLine]:
        try:
            with self._sessions() as session:
                return fleet_spend(session)
        except (redis.RedisError, SQLAlchemyError, ConfigError) as exc:
            # No broker or store reachable: the families are served empty, never a 500.
            log.warning("runq_spend_* not read: %s", exc)
            return []

"""`GET /metrics` for the gateway: this process's families plus the fleet-wide ones read at
scrape time (`runq_queue_depth`, `runq_runs_active`, and `runq_runs_total` from the database
in place of this process's own counter, which no run ever ends in). Behind operators' basic
auth (Prometheus: `basic_auth` in the scrape config)."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from gateway.dashboard.auth import Operator
from gateway.dashboard.fleet_collector import FleetCollector
from gateway.dashboard.spend_collector import SpendCollector
from workers.public import runtime


def build_metrics_router() -> APIRouter:
    """A router with `/metrics`; include it in the gateway app."""
    served = CollectorRegistry(auto_describe=False)
    served.register(_ProcessFamiliesExcept(FLEET_FAMILIES))
    served.register(FleetCollector(runtime.get_redis, runtime.new_session))
    served.register(SpendCollector(runtime.new_session))
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    def metrics(_: Operator) -> Response:
        return Response(generate_latest(served), media_type=CONTENT_TYPE_LATEST)

    return router


# Families the fleet collector serves for the whole fleet: this process's copy is left out,
# or the scrape would hold the family twice.
FLEET_FAMILIES = frozenset({"runq_runs"})


class _ProcessFamiliesExcept(Collector):
    """This process's default registry, less the named families."""

    def __init__(self, left_out: frozenset[str]) -> None:
        self._left_out = left_out

    def collect(self) -> Iterator[Metric]:
        for family in REGISTRY.collect():
            if family.name not in self._left_out:
                yield family

"""`GET /metrics` for the gateway: this process's families plus the fleet-wide gauges read at
scrape time (`runq_queue_depth`, `runq_runs_active`). Behind operators' basic auth
(Prometheus: `basic_auth` in the scrape config)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from gateway.dashboard.auth import Operator
from workers import wiring
from workers.observability.fleet_collector import FleetCollector


def build_metrics_router() -> APIRouter:
    """A router with `/metrics`; include it in the gateway app."""
    fleet = CollectorRegistry(auto_describe=False)
    fleet.register(FleetCollector(wiring.get_redis, wiring.new_session))
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    def metrics(_: Operator) -> Response:
        body = generate_latest(REGISTRY) + generate_latest(fleet)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return router

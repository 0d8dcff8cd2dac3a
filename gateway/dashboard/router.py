"""The operators' dashboard: `GET /` and `GET /runs/{run_id}`, HTML, behind operators'
basic auth, and the run page's decision forms (`decisions`). The gateway app includes
`build_dashboard_router()`."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from gateway.dashboard.auth import Operator
from gateway.dashboard.decisions import add_decision_routes, run_page
from gateway.dashboard.pages import render_overview
from gateway.dashboard.snapshot import read_overview
from workers.public import runtime


def build_dashboard_router() -> APIRouter:
    """A router with the dashboard pages."""
    router = APIRouter(include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    def overview(_: Operator) -> str:
        with runtime.new_session() as session:
            return render_overview(read_overview(session, datetime.now(UTC)))

    @router.get("/runs/{run_id}", response_class=HTMLResponse)
    def run_detail(run_id: str, _: Operator) -> HTMLResponse:
        return run_page(run_id)

    add_decision_routes(router)
    return router

"""The read-only operators' dashboard: `GET /` and `GET /runs/{run_id}`, HTML, behind
operators' basic auth. The gateway app includes `build_dashboard_router()`."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse

from gateway.dashboard.auth import Operator
from gateway.dashboard.pages import render_overview, render_run
from gateway.dashboard.snapshot import read_overview, read_run
from workers.errors import RunNotFound
from workers.public import runtime


def build_dashboard_router() -> APIRouter:
    """A router with the dashboard pages."""
    router = APIRouter(include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    def overview(_: Operator) -> str:
        with runtime.new_session() as session:
            return render_overview(read_overview(session, datetime.now(UTC)))

    @router.get("/runs/{run_id}", response_class=HTMLResponse)
    def run_detail(run_id: str, _: Operator) -> str:
        with runtime.new_session() as session:
            try:
                run, calls = read_run(session, run_id)
            except RunNotFound:
                raise HTTPException(404, f"no run {run_id}") from None
            return render_run(run, calls)

    return router

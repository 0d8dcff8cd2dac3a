"""/_sim: health, counters and live retuning. Outside /v1, so never authenticated or limited."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from simulator.config import apply_overrides
from simulator.errors import bad_request
from simulator.gate import read_json, state_of

router = APIRouter(prefix="/_sim")


@router.get("/health")
async def health() -> JSONResponse:
    """Liveness for compose healthchecks and test fixtures."""
    return JSONResponse({"status": "ok", "simulator": True})


@router.get("/stats")
async def stats(request: Request) -> JSONResponse:
    """Counters since start or the last reset."""
    state = state_of(request)
    with state.lock:
        return JSONResponse(state.stats.as_json())


@router.post("/reset")
async def reset(request: Request) -> JSONResponse:
    """Forget every response, conversation, counter and rate-limit bucket."""
    state = state_of(request)
    with state.lock:
        state.reset()
    return JSONResponse({"reset": True})


@router.get("/config")
async def read_config(request: Request) -> JSONResponse:
    """The config in force."""
    state = state_of(request)
    with state.lock:
        return JSONResponse(dataclasses.asdict(state.config))


@router.post("/config")
async def update_config(request: Request) -> JSONResponse:
    """Change any SimulatorConfig field at runtime; the reply is the new config."""
    changes = await read_json(request)
    state = state_of(request)
    with state.lock:
        try:
            config = apply_overrides(state.config, changes)
        except ValueError as exc:
            raise bad_request(str(exc)) from exc
        state.retune(config)
        return JSONResponse(dataclasses.asdict(config))

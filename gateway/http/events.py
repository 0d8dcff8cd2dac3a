"""Following a run: long-poll `/wait` and the Server-Sent Events stream `/events`.

Neither polls the database per client: both sleep on the process's `RunWatch` and re-read
the run once per wake (and once at a timeout, in case an event was lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from gateway.http import event_log
from gateway.http.auth import Caller, ReaderDep
from gateway.http.key_watch import KeyWatch
from gateway.http.run_watch import RunWatch
from workers.public.records import TERMINAL_EVENT_TYPES, TERMINAL_STATUSES, run_pages
from workers.public.runtime import new_session
from workers.public.schemas import RunPublic
from workers.public.views import runs_public

router = APIRouter(prefix="/v1/runs", tags=["runs"])

KEEPALIVE_S = 15.0
REVOKED = "API key revoked: this stream or wait was ended"
TERMINAL = {s.value for s in TERMINAL_STATUSES}


class RunReader:
    """Reads one owned run in a worker thread; counts reads so tests can check the cost."""

    def __init__(self) -> None:
        self.reads = 0

    async def read(self, caller: Caller, run_id: str) -> RunPublic:
        """The run as the API shows it; RunNotFound if the caller does not own it."""
        self.reads += 1
        return await run_in_threadpool(_read_owned, caller.key_id, run_id)


def _read_owned(owner_key_id: str, run_id: str) -> RunPublic:
    with new_session() as session:
        run = run_pages.get_owned_run(session, owner_key_id=owner_key_id, run_id=run_id)
        return runs_public(session, [run])[0]


@router.get("/{run_id}/wait", response_model=RunPublic)
async def wait_for_run(
    run_id: str,
    request: Request,
    caller: ReaderDep,
    timeout_s: Annotated[float, Query(ge=0, le=600, description="Longest wait.")] = 30.0,
) -> RunPublic:
    """Answers as soon as the run is terminal or waits in requires_action (for an approval
    or your tool outputs), or with its current state at the timeout."""
    watch: RunWatch = request.app.state.watch
    reader: RunReader = request.app.state.reader
    keys: KeyWatch = request.app.state.key_watch
    async with (
        watch.watching(run_id, terminal_only=True) as waiter,
        keys.holding(caller.key_id, waiter.woken) as hold,
    ):
        run = await reader.read(caller, run_id)
        if run.status in TERMINAL or run.status == "requires_action" or timeout_s == 0:
            return run
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter.woken.wait(), timeout_s)
        if hold.revoked:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, REVOKED, headers={"WWW-Authenticate": "Bearer"}
            )
        return await reader.read(caller, run_id)


@router.get("/{run_id}/events")
async def stream_events(
    run_id: str,
    request: Request,
    caller: ReaderDep,
    last_event_id: Annotated[str | None, Header(description="Resume after this event.")] = None,
) -> StreamingResponse:
    """Server-Sent Events of the run's progress; ends after the terminal event."""
    reader: RunReader = request.app.state.reader
    await reader.read(caller, run_id)  # 404 before the stream starts, not inside it
    events = _follow(request, caller, run_id, last_event_id or "0-0")
    headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
    return StreamingResponse(events, media_type="text/event-stream", headers=headers)


async def _follow(
    request: Request, caller: Caller, run_id: str, after_id: str
) -> AsyncIterator[bytes]:
    watch: RunWatch = request.app.state.watch
    reader: RunReader = request.app.state.reader
    keys: KeyWatch = request.app.state.key_watch
    log = request.app.state.event_log
    async with (
        watch.watching(run_id, terminal_only=False) as waiter,
        keys.holding(caller.key_id, waiter.woken) as hold,
    ):
        while True:
            waiter.woken.clear()
            if hold.revoked:
                # The stream ends; a client that reconnects gets the 401.
                yield _sse("revoked", "error", {"error": REVOKED})
                return
            batch = await log.read_after(run_id, after_id)
            for event_id, event_type, data in batch:
                after_id = event_id
                if event_type in TERMINAL_EVENT_TYPES:
                    final = await reader.read(caller, run_id)
                    yield _sse(event_id, event_type, final.model_dump(mode="json"))
                    return
                yield _sse(event_id, event_type, data)
            if len(batch) >= event_log.PAGE:
                continue  # a full page: read the next one now, not after the wait
            if await _timed_out(waiter.woken):
                final = await reader.read(caller, run_id)
                if final.status in TERMINAL:
                    # The stream expired or an event was lost: the database still knows.
                    yield _sse("end", f"run.{final.status}", final.model_dump(mode="json"))
                    return
                yield b": keep-alive\n\n"


async def _timed_out(woken: asyncio.Event) -> bool:
    try:
        await asyncio.wait_for(woken.wait(), KEEPALIVE_S)
    except TimeoutError:
        return True
    return False


def _sse(event_id: str, event_type: str, data: Any) -> bytes:
    return f"id: {event_id}\nevent: {event_type}\ndata: {json.dumps(data)}\n\n".encode()

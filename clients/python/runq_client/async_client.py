"""The asynchronous client: the same methods as `Client`, awaited."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx2
from runq_client import protocol
from runq_client.models import Event, Run, RunPage
from runq_client.sse import EventParser


class AsyncClient:
    """runq over HTTP from asyncio code."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = 30.0,
        transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx2.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=protocol.headers_for(api_key),
            timeout=timeout_s,
            transport=transport,
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def create(
        self, agent: str, input: str, *, idempotency_key: str | None = None, **fields: Any
    ) -> Run:
        """Submit a run; see `Client.create`."""
        body, headers = protocol.create_request(agent, input, idempotency_key, fields)
        reply = await self._http.post("/v1/runs", json=body, headers=headers)
        return Run.model_validate(protocol.checked(reply))

    async def get(self, run_id: str) -> Run:
        """The run now."""
        return Run.model_validate(protocol.checked(await self._http.get(f"/v1/runs/{run_id}")))

    async def wait(self, run_id: str, timeout_s: float = 300.0) -> Run:
        """Long-poll until the run ends, waits for you (`requires_action`: see
        `run.waiting_calls`) or `timeout_s` passes; returns the run either way. The server
        answers a long poll early only when the run ends, so a run that starts to wait is
        seen at the next poll (within 30 s)."""
        deadline = time.monotonic() + timeout_s
        while True:
            step_s = max(0.0, min(protocol.LONG_POLL_S, deadline - time.monotonic()))
            reply = await self._http.get(
                f"/v1/runs/{run_id}/wait", params={"timeout_s": step_s}, timeout=step_s + 30
            )
            run = Run.model_validate(protocol.checked(reply))
            if run.is_terminal or run.is_waiting or time.monotonic() >= deadline:
                return run

    async def list(
        self,
        *,
        status: str | None = None,
        agent: str | None = None,
        thread_key: str | None = None,
        idempotency_key: str | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> RunPage:
        """One page of your runs, newest first."""
        params = protocol.list_params(
            status=status,
            agent=agent,
            thread_key=thread_key,
            idempotency_key=idempotency_key,
            limit=limit,
            cursor=cursor,
        )
        reply = await self._http.get("/v1/runs", params=params)
        return RunPage.model_validate(protocol.checked(reply))

    async def cancel(self, run_id: str) -> Run:
        """Cancel the run (ApiError 409 if it already ended)."""
        reply = await self._http.post(f"/v1/runs/{run_id}/cancel")
        return Run.model_validate(protocol.checked(reply))

    async def approve_tool_call(self, run_id: str, call_id: str, reason: str | None = None) -> Run:
        """Approve a call that waits for a person; see `Client.approve_tool_call`."""
        return await self._decide(run_id, call_id, "approve", reason)

    async def reject_tool_call(self, run_id: str, call_id: str, reason: str | None = None) -> Run:
        """Reject a call that waits for a person; see `Client.reject_tool_call`."""
        return await self._decide(run_id, call_id, "reject", reason)

    async def submit_tool_outputs(self, run_id: str, outputs: Mapping[str, str]) -> Run:
        """The outputs of every call the run waits for you to run; see
        `Client.submit_tool_outputs`."""
        body = protocol.outputs_body(outputs)
        reply = await self._http.post(protocol.outputs_path(run_id), json=body)
        return Run.model_validate(protocol.checked(reply))

    async def _decide(self, run_id: str, call_id: str, verdict: str, reason: str | None) -> Run:
        path = protocol.decision_path(run_id, call_id, verdict)
        reply = await self._http.post(path, json=protocol.decision_body(reason))
        return Run.model_validate(protocol.checked(reply))

    async def events(
        self, run_id: str, *, last_event_id: str | None = None
    ) -> AsyncIterator[Event]:
        """The run's events until its terminal one, resuming after a dropped stream."""
        while True:
            headers = {"last-event-id": last_event_id} if last_event_id else {}
            try:
                async with self._http.stream(
                    "GET", f"/v1/runs/{run_id}/events", headers=headers, timeout=None
                ) as reply:
                    if not reply.is_success:
                        await reply.aread()
                        protocol.checked(reply)
                    parser = EventParser()
                    async for line in reply.aiter_lines():
                        event = parser.feed(line)
                        if event is None:
                            continue
                        last_event_id = event.id
                        yield event
                        if event.is_terminal:
                            return
            except httpx2.TransportError:
                await asyncio.sleep(protocol.RECONNECT_S)

"""The synchronous client."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx2
from runq_client import protocol
from runq_client.models import Event, Run, RunPage
from runq_client.sse import EventParser


class Client:
    """runq over HTTP: `create`, `get`, `wait`, `list`, `cancel`, `events`."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = 30.0,
        transport: httpx2.BaseTransport | None = None,
    ) -> None:
        self._http = httpx2.Client(
            base_url=base_url.rstrip("/"),
            headers=protocol.headers_for(api_key),
            timeout=timeout_s,
            transport=transport,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def create(
        self, agent: str, input: str, *, idempotency_key: str | None = None, **fields: Any
    ) -> Run:
        """Submit a run (fields: thread_key, metadata, deadline_s, callback_url, cache,
        model_hint, run_at: an aware datetime to start at). The same idempotency key and
        body give back the same run."""
        body, headers = protocol.create_request(agent, input, idempotency_key, fields)
        return Run.model_validate(
            protocol.checked(self._http.post("/v1/runs", json=body, headers=headers))
        )

    def get(self, run_id: str) -> Run:
        """The run now."""
        return Run.model_validate(protocol.checked(self._http.get(f"/v1/runs/{run_id}")))

    def wait(self, run_id: str, timeout_s: float = 300.0) -> Run:
        """Long-poll until the run ends or `timeout_s` passes; returns the run either way."""
        deadline = time.monotonic() + timeout_s
        while True:
            step_s = max(0.0, min(protocol.LONG_POLL_S, deadline - time.monotonic()))
            reply = self._http.get(
                f"/v1/runs/{run_id}/wait", params={"timeout_s": step_s}, timeout=step_s + 30
            )
            run = Run.model_validate(protocol.checked(reply))
            if run.is_terminal or time.monotonic() >= deadline:
                return run

    def list(
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
        return RunPage.model_validate(protocol.checked(self._http.get("/v1/runs", params=params)))

    def cancel(self, run_id: str) -> Run:
        """Cancel the run (ApiError 409 if it already ended)."""
        return Run.model_validate(protocol.checked(self._http.post(f"/v1/runs/{run_id}/cancel")))

    def events(self, run_id: str, *, last_event_id: str | None = None) -> Iterator[Event]:
        """The run's events until its terminal one; a dropped stream is resumed from the
        last event seen (Last-Event-ID), so nothing is missed or repeated."""
        while True:
            headers = {"last-event-id": last_event_id} if last_event_id else {}
            try:
                with self._http.stream(
                    "GET", f"/v1/runs/{run_id}/events", headers=headers, timeout=None
                ) as reply:
                    if not reply.is_success:
                        reply.read()
                        protocol.checked(reply)
                    parser = EventParser()
                    for line in reply.iter_lines():
                        event = parser.feed(line)
                        if event is None:
                            continue
                        last_event_id = event.id
                        yield event
                        if event.is_terminal:
                            return
            except httpx2.TransportError:
                time.sleep(protocol.RECONNECT_S)

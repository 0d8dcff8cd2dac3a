"""The synchronous client."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx2
from runq_client import protocol
from runq_client.models import Event, Run, RunPage
from runq_client.sse import EventParser


class Client:
    """runq over HTTP: `create`, `get`, `wait`, `list`, `cancel`, `events`, and for a run
    that waits (`requires_action`): `approve_tool_call`, `reject_tool_call`,
    `submit_tool_outputs`."""

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
        model_hint, tools, lane, run_at: an aware datetime to start at). The same idempotency
        key and body give back the same run.

        `tools` are function tools you run yourself, each `{"name", "description",
        "parameters"}` (a JSON schema): a call to one pauses the run in `requires_action`
        until you `submit_tool_outputs`."""
        body, headers = protocol.create_request(agent, input, idempotency_key, fields)
        return Run.model_validate(
            protocol.checked(self._http.post("/v1/runs", json=body, headers=headers))
        )

    def get(self, run_id: str) -> Run:
        """The run now."""
        return Run.model_validate(protocol.checked(self._http.get(f"/v1/runs/{run_id}")))

    def wait(self, run_id: str, timeout_s: float = 300.0) -> Run:
        """Long-poll until the run ends, waits for you (`requires_action`: see
        `run.waiting_calls`) or `timeout_s` passes; returns the run either way. The server
        answers a long poll early only when the run ends, so a run that starts to wait is
        seen at the next poll (within 30 s)."""
        deadline = time.monotonic() + timeout_s
        while True:
            step_s = max(0.0, min(protocol.LONG_POLL_S, deadline - time.monotonic()))
            reply = self._http.get(
                f"/v1/runs/{run_id}/wait", params={"timeout_s": step_s}, timeout=step_s + 30
            )
            run = Run.model_validate(protocol.checked(reply))
            if run.is_terminal or run.is_waiting or time.monotonic() >= deadline:
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

    def approve_tool_call(self, run_id: str, call_id: str, reason: str | None = None) -> Run:
        """Approve a call that waits for a person (`awaiting_approval`): it runs. ApiError
        404 for an unknown run or call, 409 if it no longer waits."""
        return self._decide(run_id, call_id, "approve", reason)

    def reject_tool_call(self, run_id: str, call_id: str, reason: str | None = None) -> Run:
        """Reject a call that waits for a person: it never runs, and the model is told so
        (with `reason`). ApiError 404 for an unknown run or call, 409 if it no longer waits."""
        return self._decide(run_id, call_id, "reject", reason)

    def submit_tool_outputs(self, run_id: str, outputs: Mapping[str, str]) -> Run:
        """The outputs, {call id: output}, of every call the run waits for you to run
        (`awaiting_output`), all at once. ApiError 422 if they are not exactly those calls,
        409 if the run does not wait for outputs."""
        body = protocol.outputs_body(outputs)
        reply = self._http.post(protocol.outputs_path(run_id), json=body)
        return Run.model_validate(protocol.checked(reply))

    def _decide(self, run_id: str, call_id: str, verdict: str, reason: str | None) -> Run:
        path = protocol.decision_path(run_id, call_id, verdict)
        reply = self._http.post(path, json=protocol.decision_body(reason))
        return Run.model_validate(protocol.checked(reply))

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

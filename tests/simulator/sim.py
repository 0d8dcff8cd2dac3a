"""Drive the simulator in-process with the official (sync) SDK.

httpx2 ships only an async ASGI transport, and the SDK client under test is sync, so
`PortalTransport` runs each request on an anyio blocking portal: real ASGI, no sockets, no
sleeps. Time moves only when a test calls `clock.advance(...)`.
"""

from __future__ import annotations

from typing import Any

import httpx2
from anyio.from_thread import BlockingPortal
from fastapi import FastAPI
from openai import OpenAI

from simulator.app import create_app
from simulator.config import SimulatorConfig

START_S = 1_763_800_000.0


class FakeClock:
    """A clock that stands still until told to move."""

    def __init__(self, now_s: float = START_S) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


class PortalTransport(httpx2.BaseTransport):
    """A sync httpx2 transport that hands each request to an ASGI app through a portal."""

    def __init__(self, app: FastAPI, portal: BlockingPortal) -> None:
        self._asgi = httpx2.ASGITransport(app=app)
        self._portal = portal

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        content = request.read()

        async def call() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            forwarded = httpx2.Request(
                request.method, request.url, headers=request.headers, content=content
            )
            reply = await self._asgi.handle_async_request(forwarded)
            body = await reply.aread()
            return reply.status_code, reply.headers.raw, body

        status, headers, body = self._portal.call(call)
        return httpx2.Response(status, headers=headers, content=body, request=request)


class Sim:
    """One simulator under test: its app, clock, SDK client and a raw HTTP client."""

    def __init__(self, config: SimulatorConfig, portal: BlockingPortal) -> None:
        self.clock = FakeClock()
        self.app = create_app(config, clock=self.clock)
        self.transport = PortalTransport(self.app, portal)
        self.http = httpx2.Client(transport=self.transport, base_url="http://sim")
        self.client = self.sdk()

    def sdk(self, api_key: str = "sk-test") -> OpenAI:
        """An official SDK client on this simulator, validating every reply strictly."""
        return OpenAI(
            api_key=api_key,
            base_url="http://sim/v1",
            max_retries=0,
            http_client=httpx2.Client(transport=self.transport),
            _strict_response_validation=True,
        )

    def configure(self, **changes: Any) -> None:
        """Retune the running simulator through its control endpoint."""
        self.http.post("/_sim/config", json=changes).raise_for_status()

    def stats(self) -> dict[str, Any]:
        reply = self.http.get("/_sim/stats")
        reply.raise_for_status()
        stats: dict[str, Any] = reply.json()
        return stats

    def close(self) -> None:
        self.client.close()
        self.http.close()

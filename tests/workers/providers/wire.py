"""A scripted HTTP server for driving the official SDK in-process (no sockets, no sleeps).

Queue the replies in call order; every request is recorded, so tests can assert exactly what
went over the wire. The SDK client is built with strict response validation and no retries.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx2
from openai import OpenAI

BASE_URL = "http://sim/v1"


@dataclass(frozen=True)
class Sent:
    """One request the SDK sent."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Reply:
    """One scripted answer."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ScriptedServer:
    """Answers each request with the next queued reply and records it."""

    replies: deque[Reply] = field(default_factory=deque)
    sent: list[Sent] = field(default_factory=list)

    def reply(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.replies.append(Reply(status, body, headers or {}))

    def error(
        self, status: int, *, code: str | None, type_: str, message: str, **headers: str
    ) -> None:
        envelope = {"error": {"message": message, "type": type_, "param": None, "code": code}}
        self.reply(envelope, status, {k.replace("_", "-"): v for k, v in headers.items()})

    def client(self, base_url: str = BASE_URL) -> OpenAI:
        return OpenAI(
            api_key="sk-test",
            base_url=base_url,
            max_retries=0,
            http_client=httpx2.Client(transport=httpx2.MockTransport(self._handle)),
            _strict_response_validation=True,
        )

    def paths(self) -> list[str]:
        return [f"{s.method} {s.path}" for s in self.sent]

    def _handle(self, request: httpx2.Request) -> httpx2.Response:
        content = request.read()
        self.sent.append(
            Sent(
                method=request.method,
                path=request.url.path,
                query=dict(request.url.params),
                headers=dict(request.headers),
                body=json.loads(content) if content else None,
            )
        )
        assert self.replies, f"no reply scripted for {request.method} {request.url}"
        reply = self.replies.popleft()
        headers = {"x-request-id": "req_test", **reply.headers}
        return httpx2.Response(reply.status, json=reply.body, headers=headers)

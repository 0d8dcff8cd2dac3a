"""Refuse oversized bodies with 413 before anything parses them (pure ASGI middleware).

The body is read here first, whole (the limit is small), and handed to the app from memory:
a body that passes the limit, declared (Content-Length) or streamed (chunked), is answered
413 by this middleware itself. Raising from inside the app's `receive` instead let FastAPI
turn it into a 400 "error parsing the body".

Before answering 413 the rest of the body is read and dropped (up to `DRAIN_LIMIT_BYTES`): a
client that sends `Connection: close` (Python's urllib) writes its whole body before
reading the answer, and a server that closes with unread bytes makes the kernel reset the
connection, so the client saw a reset instead of the 413.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Past this much, a client streaming a huge body gets the reset: reading gigabytes to be
# polite would be the attack. Socket buffers hide the reset below a few MB; this covers an
# honest client's mistake well past that.
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024


class BodyLimit:
    """Answers 413 for a body over `max_bytes`, declared or streamed."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._drain(receive, already=0)
            await self._refuse(send)
            return
        body, complete = await self._read(receive)
        if len(body) > self.max_bytes:
            if not complete:
                await self._drain(receive, already=len(body))
            await self._refuse(send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive) -> tuple[bytes, bool]:
        """The body, up to just past the limit; and whether the client sent all of it."""
        chunks: list[bytes] = []
        size = 0
        while size <= self.max_bytes:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks), True  # the client left; the app will see it
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), True
        return b"".join(chunks), False

    async def _drain(self, receive: Receive, *, already: int) -> None:
        seen = already
        while seen <= DRAIN_LIMIT_BYTES:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                return
            seen += len(message.get("body", b""))

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {"error": f"request body over {self.max_bytes} bytes; send a smaller input"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the body read already, then the client's own messages
    (a disconnect, which streaming answers listen for)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed

"""One signed callback POST: pinned to the checked address, no redirects, one deadline for
the whole delivery, a capped read, and an outcome instead of an error.

The address is checked again right before sending (DNS may have changed since submit), and
the connection goes to exactly the address that was checked (see `address_guard`), with the
URL's name kept for the Host header, TLS SNI and the certificate check.

A receiver decides nothing but its own delivery: `timeout_s` bounds connect + send + read
together (not each read: a receiver dripping a byte every half second would pass any
per-read timeout for ever), and at most `MAX_RESPONSE_BYTES` of its answer are read (only
the status matters; a 100 MB answer must not grow the worker).
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from workers.backoff import Schedule, grow_delay_s
from workers.callbacks.address_guard import PinnedTarget, pin_callback_url
from workers.callbacks.signing import signed_headers
from workers.errors import CallbackRefused

RETRY_SCHEDULE_CAP_S = 300.0
MAX_RESPONSE_BYTES = 64 * 1024
"""The most of a receiver's answer that is read; the rest is never received."""
_READ_CHUNK = 16 * 1024


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one POST got: a status code (None if no answer), its duration and any error."""

    status_code: int | None
    duration_ms: int
    error: str | None

    @property
    def is_delivered(self) -> bool:
        """A 2xx answer: the receiver has it."""
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def is_final(self) -> bool:
        """Delivered, or refused by the address guard (a retry would be refused again)."""
        return self.is_delivered or (self.error or "").startswith("refused:")


@dataclass(frozen=True, slots=True)
class Delivery:
    """Everything one POST needs."""

    url: str
    body: bytes
    message_id: str
    secret: str
    timeout_s: float
    """The whole delivery: resolve, connect, send and read."""
    allow_private: bool


def post_signed(delivery: Delivery, *, now_s: int) -> Attempt:
    """POST `delivery.body` signed the Standard Webhooks way; never raises."""
    started = time.monotonic()
    deadline = started + delivery.timeout_s
    try:
        target = pin_callback_url(delivery.url, allow_private=delivery.allow_private)
    except CallbackRefused as exc:
        return Attempt(None, 0, f"refused: {exc}")
    headers = signed_headers(
        delivery.secret, message_id=delivery.message_id, timestamp_s=now_s, body=delivery.body
    )
    try:
        status = _post_pinned(target, delivery.body, headers, deadline)
    except _DeadlinePassed:
        late = f"timed out: the delivery took more than {delivery.timeout_s:g}s in all"
        return Attempt(None, _ms_since(started), late)
    except (OSError, http.client.HTTPException) as exc:
        # One line: the text may quote whatever bytes the receiver sent.
        said = " ".join(f"{type(exc).__name__}: {exc}".split())
        return Attempt(None, _ms_since(started), said[:500])
    error = None if 200 <= status < 300 else f"HTTP {status}"
    return Attempt(status, _ms_since(started), error)


def retry_delay_s(attempt: int, first_s: float) -> float:
    """Wait before try `attempt + 1`: doubling from `first_s`, at most five minutes."""
    return grow_delay_s(attempt - 1, Schedule(first_s, 2.0, RETRY_SCHEDULE_CAP_S))


class _DeadlinePassed(Exception):
    """The delivery's deadline passed before the receiver's status line arrived."""


class _PinnedHTTP(http.client.HTTPConnection):
    """HTTP to `address`, whatever `host` resolves to now (Host: stays `host`)."""

    def __init__(self, target: PinnedTarget, timeout_s: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout_s)
        self.address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to `address`, with SNI and the certificate checked for `host`."""

    def __init__(self, target: PinnedTarget, timeout_s: float, context: ssl.SSLContext) -> None:
        super().__init__(target.host, target.port, timeout=timeout_s, context=context)
        self.address = target.address
        self.tls = context

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(raw, server_hostname=self.host)


def tls_context() -> ssl.SSLContext:
    """The system's trust store, hostname checked (a seam for tests with their own CA)."""
    return ssl.create_default_context()


def _post_pinned(
    target: PinnedTarget, body: bytes, headers: dict[str, str], deadline: float
) -> int:
    """POST to the pinned address; the status code. A watchdog shuts the socket at the
    deadline, which ends any read in progress however slowly the receiver drips."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _DeadlinePassed
    connection: http.client.HTTPConnection = (
        _PinnedHTTPS(target, remaining, tls_context())
        if target.scheme == "https"
        else _PinnedHTTP(target, remaining)
    )
    expired = threading.Event()

    def cut() -> None:
        expired.set()
        if connection.sock is not None:
            with contextlib.suppress(OSError):  # already closed
                connection.sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(remaining, cut)
    watchdog.daemon = True
    watchdog.start()
    try:
        try:
            connection.request("POST", target.path, body=body, headers=headers)
            reply = connection.getresponse()
        except (OSError, http.client.HTTPException):
            if expired.is_set() or time.monotonic() >= deadline:
                raise _DeadlinePassed from None
            raise
        _read_capped(reply, expired)
        return reply.status
    finally:
        watchdog.cancel()
        connection.close()


def _read_capped(reply: http.client.HTTPResponse, expired: threading.Event) -> None:
    """Read at most MAX_RESPONSE_BYTES of the answer, and nothing after the deadline. The
    status is already known, so a cut-off body changes nothing about the outcome."""
    left = MAX_RESPONSE_BYTES
    while left > 0 and not expired.is_set():
        try:
            chunk = reply.read(min(_READ_CHUNK, left))
        except (OSError, http.client.HTTPException):
            return
        if not chunk:
            return
        left -= len(chunk)


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)

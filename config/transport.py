"""kombu's Redis transport, hardened against messages no producer of ours would send.

kombu decodes each item it pops from a queue list before Celery sees it: an item that is
not JSON, a JSON value that is not a message envelope, or a body whose base64 does not
decode raises out of the consumer loop, and the worker exits ("Unrecoverable error"). One
bad producer could then take a fleet down one worker at a time. Here such an item is logged
and dropped instead: it was already popped, it cannot be delivered, and requeueing it would
only kill the next worker. Everything Celery can decode still reaches Celery, which has its
own handling for unknown tasks, wrong arguments and refused content types.
"""

from __future__ import annotations

import logging
from queue import Empty
from typing import Any

from kombu.transport import redis as kombu_redis
from kombu.transport.virtual import Message

log = logging.getLogger("runq.broker")

# What decoding a malformed item raises: json (ValueError), base64 (binascii.Error is a
# ValueError), an envelope without `properties` (KeyError) or one that is not an object.
UNDECODABLE = (ValueError, KeyError, TypeError, AttributeError)


class TolerantMessage(Message):
    """A kombu message whose envelope has been checked before Celery sees it."""

    def __init__(self, payload: Any, channel: Any = None, **kwargs: Any) -> None:
        if not isinstance(payload, dict) or not isinstance(payload.get("properties"), dict):
            raise TypeError(f"not a message envelope: {str(payload)[:200]!r}")
        super().__init__(payload, channel=channel, **kwargs)


class TolerantChannel(kombu_redis.Channel):
    """A Redis channel that drops (and logs) items it cannot decode instead of dying."""

    Message = TolerantMessage

    def _brpop_read(self, **options: Any) -> bool:
        try:
            # The kombu stubs (celery-types) leave out this private method.
            return bool(super()._brpop_read(**options))  # type: ignore[misc]
        except UNDECODABLE as exc:
            log.error("dropped an undecodable item from a queue: %s: %s", type(exc).__name__, exc)
            return True

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        try:
            return super()._get(queue)
        except UNDECODABLE as exc:
            log.error("dropped an undecodable item from %s: %s: %s", queue, type(exc).__name__, exc)
            raise Empty from exc


class TolerantRedisTransport(kombu_redis.Transport):
    """`redis://` with `TolerantChannel`; selected by `broker_transport` in the Celery app."""

    Channel = TolerantChannel

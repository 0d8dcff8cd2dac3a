"""kombu's Redis transport, hardened against messages no producer of ours would send.

kombu decodes each item it pops from a queue list before Celery sees it: an item that is
not JSON, a JSON value that is not a message envelope, or a body whose base64 does not
decode raises out of the consumer loop, and the worker exits ("Unrecoverable error"). One
bad producer could then take a fleet down one worker at a time. Here such an item is logged
and dropped instead: it was already popped, it cannot be delivered, and requeueing it would
only kill the next worker. Everything Celery can decode still reaches Celery, which has its
own handling for unknown tasks, wrong arguments and refused content types.

Two limits keep a hostile item from hurting the worker after it decodes: JSON nested deeper
than MAX_DEPTH (json.loads, Celery's repr and argument checks all recurse: 100,000 levels
raised RecursionError out of the consumer loop and killed the worker), and an item larger than
MAX_MESSAGE_BYTES (runq's own messages are ids and small payloads; the HTTP door caps bodies at
256 KiB). Both are checked before the message is handed to Celery, so a refused item is
never parked in the unacked set for redelivery: it is dropped like an undecodable one.
"""

from __future__ import annotations

import base64
import binascii
import functools
import inspect
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from queue import Empty
from typing import Any

from kombu.transport import redis as kombu_redis
from kombu.transport.virtual import Message

log = logging.getLogger("runq.broker")

MAX_DEPTH = 64
"""Deepest JSON nesting accepted in a message (envelope or task body). Celery's own messages,
chords included, stay under 10 levels; Python's recursion limit is 1,000."""

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
"""Largest task body accepted, after base64 decoding."""


class RefusedMessage(ValueError):
    """A message that decodes but is refused: nested too deep or too large."""


# What decoding a malformed item raises: json (ValueError), base64 (binascii.Error is a
# ValueError), an envelope without `properties` (KeyError) or one that is not an object,
# and json's RecursionError on nesting deeper than the interpreter's stack allows.
UNDECODABLE = (ValueError, KeyError, TypeError, AttributeError, RecursionError)


def nesting_depth(value: object) -> int:
    """How deep lists and dicts nest in a decoded JSON value; iterative, so any depth is safe."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in item)
    return deepest


def check_message(payload: object) -> None:
    """Raise TypeError or RefusedMessage for an envelope that must not reach Celery."""
    if not isinstance(payload, dict) or not isinstance(payload.get("properties"), dict):
        raise TypeError(f"not a message envelope: {str(payload)[:200]!r}")
    if nesting_depth(payload) > MAX_DEPTH:
        raise RefusedMessage(f"message envelope nested deeper than {MAX_DEPTH} levels")
    body = payload.get("body")
    if isinstance(body, str):
        _check_body(_raw_body(body, payload["properties"]), payload)


def _raw_body(body: str, properties: dict[str, Any]) -> bytes:
    raw = body.encode()
    if properties.get("body_encoding") == "base64":
        try:
            raw = base64.b64decode(raw, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"task body is not valid base64: {exc}") from None
    if len(raw) > MAX_MESSAGE_BYTES:
        raise RefusedMessage(
            f"task body of {len(raw):,} bytes is larger than {MAX_MESSAGE_BYTES:,} bytes"
        )
    return raw


def _check_body(raw: bytes, payload: dict[str, Any]) -> None:
    if payload.get("content-type") != "application/json":
        return  # Celery refuses other content types itself (accept_content)
    try:
        decoded = json.loads(raw)
    except RecursionError:
        raise RefusedMessage(f"task body nested deeper than {MAX_DEPTH} levels") from None
    if nesting_depth(decoded) > MAX_DEPTH:
        raise RefusedMessage(f"task body nested deeper than {MAX_DEPTH} levels")
    headers = payload.get("headers")
    if isinstance(headers, dict) and "task" in headers:
        if not _is_task_body(decoded):
            # Celery's task protocol 2; anything else fails inside Celery after the message
            # was parked for acknowledgement, so it would come back to the next worker.
            raise RefusedMessage("task body is not a JSON array [args, kwargs, embed]")
        _check_argument_types(str(headers["task"]), decoded[0])


def _check_argument_types(task_name: str, args: list[Any]) -> None:
    """runq's tasks take ids and counters: an argument of another type (only a foreign
    producer sends one) would crash the step again on every retry, with a traceback."""
    for (name, annotation), value in zip(_positional_types(task_name), args, strict=False):
        expected = _SCALARS.get(annotation)
        if expected is not None and type(value) is not expected:
            raise RefusedMessage(
                f"{task_name}: argument {name} must be {annotation}, not {type(value).__name__}"
            )


_SCALARS: dict[str, type] = {"str": str, "int": int}


def _positional_types(task_name: str) -> tuple[tuple[str, str], ...]:
    """(name, annotation) of a runq task's positional parameters; () for any other task."""
    if not task_name.startswith("runq."):
        return ()  # a producer's own name: never cached, so hostile names cannot grow it
    return _runq_positional_types(task_name)


@functools.lru_cache(maxsize=256)
def _runq_positional_types(task_name: str) -> tuple[tuple[str, str], ...]:
    from celery import current_app  # the worker's app; imported late, it imports this module

    task = current_app.tasks.get(task_name)
    if task is None:
        return ()
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return tuple(
        (parameter.name, str(parameter.annotation))
        for parameter in inspect.signature(task.run).parameters.values()
        if parameter.kind in positional
    )


def _is_task_body(decoded: object) -> bool:
    return (
        isinstance(decoded, list)
        and len(decoded) == 3
        and isinstance(decoded[0], list)
        and isinstance(decoded[1], dict)
        and isinstance(decoded[2], dict | None)
    )


class TolerantMessage(Message):
    """A kombu message whose envelope has been checked before Celery sees it."""

    def __init__(self, payload: Any, channel: Any = None, **kwargs: Any) -> None:
        check_message(payload)
        super().__init__(payload, channel=channel, **kwargs)


class LeanQoS(kombu_redis.QoS):
    """kombu's ack emulation, its two index writes sent as a plain pipeline, not MULTI/EXEC.

    Each delivered message is written to the unacked hash and its index (on delivery), and
    removed from both (on ack): kombu wraps each pair in MULTI/EXEC, four of a task's ten
    Redis commands. The pair needs no transaction. A restore only takes an index entry older
    than the visibility timeout, never one written a moment ago, and stays itself a
    transaction (WATCH, HGET, MULTI, remove, push back, EXEC: `restore_by_tag` passes its own
    pipe, which is used as is). An ack racing a restore at the visibility timeout can lose to
    it with or without MULTI; the run's step fencing makes that redelivery harmless. The pipe
    still goes out in one write, in order, on one connection.
    """

    @contextmanager
    def pipe_or_acquire(self, pipe: Any = None, client: Any = None) -> Iterator[Any]:
        if pipe:
            yield pipe
        else:
            # The kombu stubs (celery-types) leave out the channel's connection helpers.
            with self.channel.conn_or_acquire(client) as conn:  # type: ignore[attr-defined]
                yield conn.pipeline(transaction=False)


class TolerantChannel(kombu_redis.Channel):
    """A Redis channel that drops (and logs) items it cannot decode instead of dying."""

    Message = TolerantMessage
    QoS = LeanQoS

    _shared_client: Any = None

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        """kombu builds a new redis-py client for every publish and ack (over the same
        connection pool), and building one costs more than the command it sends: 4% of a
        runs worker's CPU. A client is safe to share between threads (each command takes a
        connection from the pool), so one is kept per channel, and per pool in case kombu
        replaces the pool."""
        if client:
            yield client
            return
        shared = self._shared_client
        pool = self.pool
        if shared is None or shared.connection_pool is not pool:
            shared = self._shared_client = self._create_client()  # type: ignore[attr-defined]
        yield shared

    def _brpop_read(self, **options: Any) -> bool:
        try:
            # The kombu stubs (celery-types) leave out this private method.
            return bool(super()._brpop_read(**options))  # type: ignore[misc]
        except UNDECODABLE as exc:
            log.error("dropped an undecodable item from a queue: %s", _describe(exc))
            return True

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        try:
            return super()._get(queue)
        except UNDECODABLE as exc:
            log.error("dropped an undecodable item from %s: %s", queue, _describe(exc))
            raise Empty from exc


class TolerantRedisTransport(kombu_redis.Transport):
    """`redis://` with `TolerantChannel`; selected by `broker_transport` in the Celery app."""

    Channel = TolerantChannel


def _describe(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        # json's own message ("maximum recursion depth exceeded ...") names no message.
        return f"RefusedMessage: message nested deeper than {MAX_DEPTH} levels"
    return f"{type(exc).__name__}: {str(exc)[:300]}"

"""The queue door's checks as pure functions: each bad envelope is refused with one clear
reason before Celery sees it (the real-worker table is tests/integration/
test_bad_input_queue.py)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from config.transport import MAX_DEPTH, RefusedMessage, check_message, nesting_depth


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth - 1):
        value = [value]
    return [value] if depth else value


def envelope(body: Any, *, raw: bytes | None = None, task: str = "runq.x") -> dict[str, Any]:
    text = raw if raw is not None else json.dumps(body).encode()
    return {
        "body": base64.b64encode(text).decode(),
        "content-type": "application/json",
        "headers": {"task": task, "id": "1"},
        "properties": {"body_encoding": "base64", "delivery_tag": "t"},
    }


def test_nesting_depth_is_iterative_so_any_depth_is_safe() -> None:
    assert nesting_depth(nested(100_000)) == 100_000
    assert nesting_depth({"a": [{"b": 1}]}) == 3
    assert nesting_depth("flat") == 0


def test_a_celery_message_passes() -> None:
    check_message(envelope([["run_1", 2], {}, {"chord": None, "callbacks": None}]))


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (envelope(nested(MAX_DEPTH + 1)), f"task body nested deeper than {MAX_DEPTH} levels"),
        (envelope(None, raw=b"[" * 100_000 + b"]" * 100_000), "nested deeper"),
        (
            {**envelope([[], {}, {}]), "headers": {"task": "runq.x", "x": nested(MAX_DEPTH)}},
            "envelope nested deeper",
        ),
        (envelope(None, raw=b"x" * (5 * 1024 * 1024)), "larger than 4,194,304 bytes"),
        (envelope("just a string"), "not a JSON array [args, kwargs, embed]"),
        (envelope([{"run_id": "x"}, {}, {}]), "not a JSON array [args, kwargs, embed]"),
        (envelope([[], {}]), "not a JSON array [args, kwargs, embed]"),
        (envelope([[], [], {}]), "not a JSON array [args, kwargs, embed]"),
    ],
    ids=[
        "body-one-level-too-deep",
        "body-deeper-than-the-recursion-limit",
        "headers-too-deep",
        "body-over-4-MiB",
        "body-a-string",
        "args-a-dict",
        "body-of-two-items",
        "kwargs-a-list",
    ],
)
def test_a_refused_message_says_why(payload: dict[str, Any], reason: str) -> None:
    with pytest.raises(RefusedMessage, match=reason.replace("[", r"\[")):
        check_message(payload)


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ([1, 2, 3], TypeError),
        ({}, TypeError),
        ({"properties": "nope"}, TypeError),
        ({**envelope([[], {}, {}]), "body": "!!not base64"}, ValueError),
        (envelope(None, raw=b'[["run_x", "call_'), ValueError),
    ],
    ids=["a-json-array", "an-empty-object", "properties-not-an-object", "bad-base64", "truncated"],
)
def test_an_undecodable_message_is_refused(payload: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        check_message(payload)

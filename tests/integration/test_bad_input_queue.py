"""The queue door's bad-input table: raw items pushed onto the Redis queue lists as a broken
or hostile producer would. Each is answered with one clear log line, taken off the queue
(never redelivered to the next worker), and the worker lives to run the next message."""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

import tests.integration.agents  # noqa: F401  (registered once at import, as the workers do)
from tests.integration.fleet import enqueue_batch, wait_for_batch
from workers import wiring
from workers.db import store

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(120)]

NESTED = 100_000
"""Far deeper than Python's recursion limit: json.loads raises RecursionError on it."""


def envelope(body: str, *, task: str = "runq.runs.poll", queue: str = "runs") -> bytes:
    """A kombu message envelope as a producer would put it on a Redis list."""
    return json.dumps(
        {
            "body": body,
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": {"lang": "py", "task": task, "id": str(uuid.uuid4()), "argsrepr": "()"},
            "properties": {
                "correlation_id": str(uuid.uuid4()),
                "body_encoding": "base64",
                "delivery_tag": str(uuid.uuid4()),
                "delivery_info": {"exchange": "", "routing_key": queue},
                "priority": 0,
            },
        }
    ).encode()


def body_of(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def celery_body(args: list[object]) -> str:
    return body_of(json.dumps([args, {}, {}]))


@dataclass(frozen=True)
class QueueCase:
    """Push `raw` onto `queue`; the worker must log one line holding `needle`."""

    queue: str
    raw: bytes
    needle: str


TOO_DEEP = "nested deeper than"
UNDECODABLE = "dropped an undecodable item"
NOT_A_TASK_BODY = "task body is not a JSON array [args, kwargs, embed]"
WRONG_ARGS = "runq.tools.execute: argument run_id must be str, not dict"
CASES = {
    "queue-nested-envelope-runs": QueueCase("runs", b"[" * NESTED + b"]" * NESTED, TOO_DEEP),
    "queue-nested-envelope-tools": QueueCase(
        "tools", b'{"a":' * NESTED + b"1" + b"}" * NESTED, TOO_DEEP
    ),
    "queue-nested-task-arguments": QueueCase(
        "runs", envelope(body_of("[[" + "[" * NESTED + "]" * NESTED + "], {}, {}]")), TOO_DEEP
    ),
    "queue-nested-under-the-recursion-limit": QueueCase(
        "tools",
        envelope(
            body_of("[[" + "[" * 900 + "]" * 900 + "], {}, {}]"),
            task="runq.tools.execute",
            queue="tools",
        ),
        TOO_DEEP,
    ),
    "queue-nested-headers": QueueCase(
        "runs",
        envelope(celery_body([])).replace(
            b'"argsrepr": "()"', b'"argsrepr": ' + b"[" * 5000 + b"]" * 5000
        ),
        TOO_DEEP,
    ),
    "queue-truncated-envelope": QueueCase(
        "runs", envelope(celery_body(["run_x", 0]))[:-40], UNDECODABLE
    ),
    "queue-truncated-task-body": QueueCase(
        "tools",
        envelope(body_of('[["run_x", "call_'), task="runq.tools.execute", queue="tools"),
        UNDECODABLE,
    ),
    "queue-huge-message": QueueCase(
        "tools",
        envelope(
            celery_body(["x" * (9 * 1024 * 1024), "call_1"]),
            task="runq.tools.execute",
            queue="tools",
        ),
        "larger than",
    ),
    "queue-tool-arguments-of-wrong-types": QueueCase(
        "tools",
        envelope(celery_body([{"run": 1}, ["call"]]), task="runq.tools.execute", queue="tools"),
        WRONG_ARGS,
    ),
    "queue-step-arguments-of-wrong-types": QueueCase(
        "runs",
        envelope(celery_body(["run_x", "seven"])),
        "runq.runs.poll: argument step_seq must be int, not str",
    ),
    "queue-tool-missing-arguments": QueueCase(
        "tools",
        envelope(celery_body([]), task="runq.tools.execute", queue="tools"),
        "positional argument",
    ),
    "queue-unknown-task-on-tools": QueueCase(
        "tools",
        envelope(celery_body([]), task="runq.tools.nope", queue="tools"),
        "unregistered task",
    ),
    "queue-body-not-an-array": QueueCase(
        "tools",
        envelope(body_of('"just a string"'), task="runq.tools.execute", queue="tools"),
        NOT_A_TASK_BODY,
    ),
    "queue-args-not-a-list": QueueCase(
        "runs", envelope(body_of('[{"run_id": "run_x"}, {}, {}]')), NOT_A_TASK_BODY
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_a_bad_queue_message_gets_one_line_and_the_worker_runs_the_next(name, fleet):
    case = CASES[name]
    before = worker_logs(fleet).count(case.needle)
    broker = redis.Redis.from_url(fleet.redis.url)
    broker.lpush(case.queue, case.raw)

    deadline = time.monotonic() + 20
    while worker_logs(fleet).count(case.needle) <= before:
        assert time.monotonic() < deadline, f"no {case.needle!r} in the worker logs"
        assert [p.args for p in fleet.workers if p.poll() is not None] == []
        time.sleep(0.2)

    # The worker lives and takes the next message (a run with tool calls uses both queues),
    # and the bad item is not parked for redelivery to the next worker.
    batch_id = enqueue_batch(["What's the weather in Paris?"])
    wait_for_batch(batch_id, 1, timeout_s=60)
    with wiring.new_session() as session:
        runs = store.list_runs(session, batch_id=batch_id)
    assert [r.status for r in runs] == ["completed"], [r.error for r in runs]
    assert [p.args for p in fleet.workers if p.poll() is not None] == []
    assert not any(case.raw[:200] in item for item in broker.hvals("unacked"))


def worker_logs(fleet) -> str:
    return "".join(p.read_text(errors="replace") for p in Path(fleet.workdir).glob("*.log"))

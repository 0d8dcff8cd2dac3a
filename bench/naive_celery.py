"""Contender (a): the Celery pattern a team writes first. One task per run creates a
background response, polls it with time.sleep, runs the tools one after another and submits
the outputs, holding its worker slot for the whole run.

    celery -A bench.naive_celery worker -Q naive --pool threads -c 32
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

import redis
from celery import Celery
from openai import OpenAI

from bench.workload import DONE_KEY, INSTRUCTIONS, MODEL, TOOL_S, TOOL_SCHEMA, record_call

POLL_S = 0.5

app = Celery("naive", broker=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
app.conf.update(task_default_queue="naive", task_ignore_result=True, worker_prefetch_multiplier=1)
_local = threading.local()


def _client() -> OpenAI:
    if not hasattr(_local, "client"):
        _local.client = OpenAI(max_retries=2)
    return _local.client  # type: ignore[no-any-return]


def weather(location: str) -> str:
    """The same tool body as every contender's."""
    time.sleep(TOOL_S)
    return record_call(location)


@app.task(name="naive.run", acks_late=True)
def run(text: str) -> None:
    """One whole run in one task."""
    client = _client()
    response = client.responses.create(
        model=MODEL, instructions=INSTRUCTIONS, input=text, tools=[TOOL_SCHEMA], background=True
    )
    while True:
        while response.status in ("queued", "in_progress"):
            time.sleep(POLL_S)
            response = client.responses.retrieve(response.id)
        calls = [item for item in response.output if item.type == "function_call"]
        if not calls:
            break
        outputs: list[Any] = [
            {
                "type": "function_call_output",
                "call_id": call.call_id,
                "output": weather(json.loads(call.arguments)["location"]),
            }
            for call in calls
        ]
        response = client.responses.create(
            model=MODEL,
            instructions=INSTRUCTIONS,
            previous_response_id=response.id,
            input=outputs,
            tools=[TOOL_SCHEMA],
            background=True,
        )
    redis.Redis.from_url(app.conf.broker_url).rpush(DONE_KEY, time.time())

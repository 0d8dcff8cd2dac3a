"""Contenders (b) and (c): the OpenAI Agents SDK's `Runner` on the same workload.

(c) one asyncio process running every run at once:  python -m bench.agents_sdk RUNS
(b) one Celery task per run, each thread with its own event loop and client:
    celery -A bench.agents_sdk worker -Q agents --pool threads -c 32
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import threading
import time
from typing import Any

import redis
from agents import Agent, OpenAIResponsesModel, Runner, function_tool, set_tracing_disabled
from celery import Celery
from openai import AsyncOpenAI

from bench.workload import DONE_KEY, INSTRUCTIONS, MODEL, TOOL_NAME, TOOL_S, prompt, record_call

set_tracing_disabled(True)


@function_tool(name_override=TOOL_NAME)
async def bench_weather(location: str) -> str:
    """Get the current weather for a city."""
    await asyncio.sleep(TOOL_S)
    return record_call(location)


def build_agent(client: AsyncOpenAI) -> Agent[Any]:
    """The same agent as runq's `peer`, on `client`."""
    model = OpenAIResponsesModel(model=MODEL, openai_client=client)
    return Agent(name="peer", instructions=INSTRUCTIONS, model=model, tools=[bench_weather])


app = Celery("agents", broker=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
app.conf.update(task_default_queue="agents", task_ignore_result=True, worker_prefetch_multiplier=1)
_local = threading.local()


@app.task(name="agents.run", acks_late=True)
def run(text: str) -> None:
    """One whole run in one task, on this thread's own event loop."""
    if not hasattr(_local, "loop"):
        _local.loop = asyncio.new_event_loop()
        _local.agent = build_agent(AsyncOpenAI(max_retries=2))
    _local.loop.run_until_complete(Runner.run(_local.agent, text))
    redis.Redis.from_url(app.conf.broker_url).rpush(DONE_KEY, time.time())


async def run_all(agent: Agent[Any], indexes: range) -> tuple[list[float], list[str]]:
    """Every run at once; returns when each finished (time.time()) and why others failed."""
    finished: list[float] = []
    failures: list[str] = []

    async def one(index: int) -> None:
        try:
            await Runner.run(agent, prompt(index))
        except Exception as exc:  # a run the SDK gave up on (e.g. 429 after its retries)
            failures.append(type(exc).__name__)
            return
        finished.append(time.time())

    await asyncio.gather(*(one(index) for index in indexes))
    return finished, failures


def _forget_tool_log() -> None:
    log_path = os.environ.get("RUNQ_BENCH_TOOL_LOG")
    if log_path and os.path.exists(log_path):
        os.unlink(log_path)


async def warm_then_measure(runs: int, warm_up_runs: int) -> dict[str, Any]:
    """A warm-up batch (not measured; its tool calls are forgotten), then the batch."""
    agent = build_agent(AsyncOpenAI(max_retries=2))
    await run_all(agent, range(1_000_000, 1_000_000 + warm_up_runs))
    _forget_tool_log()
    started, cpu_before = time.time(), time.process_time()
    finished, failures = await run_all(agent, range(runs))
    cpu_s = time.process_time() - cpu_before
    return {"started": started, "finished": finished, "cpu_s": cpu_s, "failures": failures}


def main() -> None:
    """Run the batch and print what the benchmark reads: finish times, CPU, peak RSS."""
    runs, warm_up_runs = int(sys.argv[1]), int(sys.argv[2])
    report = asyncio.run(warm_then_measure(runs, warm_up_runs))
    report["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(report))


if __name__ == "__main__":
    main()

"""What both benchmarks need: a local fleet per configuration, a batch, and the simulator's
counters sampled over time."""

from __future__ import annotations

import json
import os
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.local_stack import LocalStack, start_local_stack

TERMINAL = {"completed", "failed", "cancelled", "expired"}


@dataclass(frozen=True)
class Sample:
    """Simulator counters and finished runs at one moment."""

    t_s: float
    requests: int
    rejected_429: int
    tokens: int
    finished: int

    @property
    def accepted(self) -> int:
        return self.requests - self.rejected_429


@contextmanager
def fleet(
    env: dict[str, str], *, runs_workers: int, tools_workers: int = 1, latency_ms: int = 300
) -> Iterator[LocalStack]:
    """A fresh local fleet (Redis, simulator, workers) for one configuration."""
    saved = dict(os.environ)
    workdir = Path(tempfile.mkdtemp(prefix="runq-bench-"))
    base_env = {"RUNQ_POLL_FIRST_S": "0.2", "RUNQ_POLL_CAP_S": "1.0", "RUNQ_RETRY_FIRST_S": "0.5"}
    stack = start_local_stack(workdir, latency_ms=latency_ms, extra_env=base_env | env)
    try:
        for index in range(runs_workers):
            stack.start_worker("runs", concurrency=16, name=f"runs{index}", beat=index == 0)
        for index in range(tools_workers):
            stack.start_worker("tools", concurrency=8, name=f"tools{index}")
        stack.wait_for_workers(runs_workers + tools_workers)
        yield stack
    finally:
        stack.stop()
        os.environ.clear()
        os.environ.update(saved)


def simulator(stack: LocalStack, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """GET (or POST `body` to) a simulator control endpoint."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{stack.simulator_url}{path}", data=data, headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        return dict(json.load(reply))


def enqueue(
    inputs: list[str],
    *,
    cache: bool | None = None,
    agent: str = "assistant",
    batch_id: str | None = None,
    lane: str | None = None,
) -> str:
    """Enqueue one run of `agent` (the demo agent by default) per input, into `batch_id` (a
    new batch by default); returns the batch id."""
    from config.settings import get_settings
    from workers import wiring
    from workers.agent_modules import load_agent_modules
    from workers.agents import DEMO_AGENT_MODULE
    from workers.public.enqueue import enqueue_run
    from workers.public.schemas import JobCreate

    # The producer checks the agent exists, so it loads what the workers load (and the demo
    # agent, which the benchmarks use by default).
    load_agent_modules([DEMO_AGENT_MODULE, *get_settings().runs.agent_modules])
    batch_id = batch_id or f"bench-{uuid.uuid4().hex[:8]}"
    with wiring.new_session() as session:
        for text in inputs:
            job = JobCreate(agent=agent, input=text, batch_id=batch_id, cache=cache, lane=lane)
            enqueue_run(session, job, default_deadline_s=900)
    return batch_id


def finished_count(batch_id: str) -> int:
    """How many runs of the batch are terminal."""
    from workers import wiring
    from workers.db import store

    with wiring.new_session() as session:
        counts = store.count_runs_by_status(session, batch_id=batch_id)
    return sum(n for status, n in counts.items() if status in TERMINAL)


def sample_until_done(
    stack: LocalStack, batch_id: str, total: int, timeout_s: float, started: float
) -> list[Sample]:
    """Sample the simulator's counters every 0.25 s until the batch is finished; times are
    seconds since `started` (a time.monotonic() reading taken before enqueueing)."""
    samples: list[Sample] = []
    while time.monotonic() - started < timeout_s:
        stats = simulator(stack, "/_sim/stats")
        done = finished_count(batch_id)
        samples.append(
            Sample(
                t_s=time.monotonic() - started,
                requests=stats["requests_total"],
                rejected_429=stats["http_429"],
                tokens=stats["tokens_charged"],
                finished=done,
            )
        )
        if done >= total:
            break
        time.sleep(0.25)
    return samples

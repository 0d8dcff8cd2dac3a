"""`runq`: the command line. Thin: parse flags, set up logging, hand off."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(
    help="runq runs LLM agent runs on a Celery fleet, with a shared Redis rate limiter, "
    "response cache and a SQL record of every run and tool call.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


@app.command()
def demo(
    runs: Annotated[int, typer.Option(help="How many demo runs to enqueue.")] = 100,
    workers: Annotated[int, typer.Option(help="Worker processes (one for runs, rest tools).")] = 2,
    concurrency: Annotated[int, typer.Option(help="Threads per worker process.")] = 16,
    latency_ms: Annotated[int, typer.Option(help="Simulated model latency per turn.")] = 300,
    timeout_s: Annotated[float, typer.Option(help="Give up on the batch after this.")] = 300.0,
    workdir: Annotated[Path, typer.Option(help="Where the database and logs go.")] = Path(
        ".runq/demo"
    ),
) -> None:
    """Run a batch of agent runs on a local fleet: embedded Redis, SQLite, the OpenAI
    simulator and real Celery workers. No API key, Redis or database needed."""
    from gateway.demo import render_summary, run_demo

    logging.basicConfig(level=logging.WARNING)
    for variable in ("REDIS_URL", "OPENAI_BASE_URL", "OPENAI_API_KEY", "DATABASE_URL"):
        os.environ.pop(variable, None)  # the demo is the embedded setup, always
    workdir = workdir / time.strftime("%Y%m%d-%H%M%S")
    summary = run_demo(
        runs=runs,
        workers=workers,
        concurrency=concurrency,
        latency_ms=latency_ms,
        timeout_s=timeout_s,
        workdir=workdir,
    )
    console.print(render_summary(summary))
    if summary.completed != summary.runs:
        console.print(f"[red]{summary.runs - summary.completed} runs did not complete[/]")
        if summary.first_error:
            console.print(f"first error: {summary.first_error}")
        raise typer.Exit(1)


@app.command()
def worker(
    queues: Annotated[str, typer.Option(help="Queues to consume: runs, tools or both.")] = (
        "runs,tools"
    ),
    concurrency: Annotated[int, typer.Option(help="Threads in the pool.")] = 16,
    beat: Annotated[bool, typer.Option(help="Also run the reaper schedule (one per fleet).")] = (
        False
    ),
) -> None:
    """Start a Celery worker (same as `celery -A config worker -Q runs,tools --pool threads`).
    Needs REDIS_URL; scale out by starting more, on any machine."""
    if not os.environ.get("REDIS_URL"):
        console.print(
            "[red]REDIS_URL is not set.[/] Point it at the Redis all workers share, e.g. "
            "REDIS_URL=redis://localhost:6379/0 runq worker (or try `runq demo`)."
        )
        raise typer.Exit(2)
    args = [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queues]
    args += ["--pool", "threads", "-c", str(concurrency), "--loglevel", "INFO"]
    if beat:
        args.append("-B")
    os.execv(sys.executable, args)


@app.command()
def enqueue(
    agent: Annotated[str, typer.Option(help="Name of a declared agent, e.g. assistant.")],
    input: Annotated[str, typer.Option("--input", help="The user message for the run.")],
    idempotency_key: Annotated[str | None, typer.Option(help="Same key, same run.")] = None,
    thread_key: Annotated[
        str | None, typer.Option(help="Continue (or start) the thread of this user key.")
    ] = None,
    wait: Annotated[bool, typer.Option(help="Wait for the run to finish.")] = False,
    timeout_s: Annotated[float, typer.Option(help="How long --wait waits.")] = 300.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Enqueue one run and print its id (or, with --wait, its result)."""
    from pydantic import ValidationError

    from config.settings import get_settings
    from gateway.enqueue import RunCreate, enqueue_run
    from workers.agents import load_agent_modules
    from workers.errors import ThreadBusy, UnknownAgent
    from workers.wiring import new_session

    settings = get_settings()
    load_agent_modules(settings.runs.agent_modules)
    try:
        job = RunCreate(
            agent=agent, input=input, idempotency_key=idempotency_key, thread_key=thread_key
        )
        with new_session() as session:
            run = enqueue_run(session, job, default_deadline_s=settings.runs.deadline_s)
    except (ValidationError, UnknownAgent, ThreadBusy) as exc:
        console.print(f"[red]cannot enqueue:[/] {exc}")
        raise typer.Exit(2) from exc
    if wait:
        _wait_for(run.id, timeout_s)
    _print_run(run.id, as_json)


@app.command()
def status(
    run_id: Annotated[str, typer.Argument(help="The run id printed by enqueue.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a run: status, result or error, usage, polls and tool calls."""
    from workers.errors import RunNotFound

    try:
        _print_run(run_id, as_json)
    except RunNotFound as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc


@app.command()
def simulator(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8800,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    latency_ms: Annotated[int, typer.Option(help="Time a background turn takes.")] = 300,
    rpm: Annotated[int, typer.Option(help="Requests per minute per key (0 = no limit).")] = 0,
    tpm: Annotated[int, typer.Option(help="Tokens per minute per key (0 = no limit).")] = 0,
) -> None:
    """Serve the OpenAI simulator: a TEST DOUBLE of the OpenAI API (Responses, Conversations)
    with a deterministic scripted model. Not the real provider."""
    from simulator.__main__ import main as simulator_main

    simulator_main(
        [
            "--host",
            host,
            "--port",
            str(port),
            "--latency-ms",
            str(latency_ms),
            "--rpm",
            str(rpm),
            "--tpm",
            str(tpm),
        ]
    )


@app.command()
def cancel(run_id: Annotated[str, typer.Argument(help="The run to cancel.")]) -> None:
    """Cancel a run: recorded at once (pending polls and tools stop), and at the provider."""
    from workers.errors import RunNotFound
    from workers.runs.outcomes import cancel_run
    from workers.wiring import get_step_context

    try:
        cancelled = cancel_run(get_step_context(), run_id)
    except RunNotFound as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    console.print("cancelled" if cancelled else "the run had already ended; nothing to cancel")


@app.command()
def thread(
    key: Annotated[str, typer.Argument(help="The thread's external key (or its id).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a thread's history: every run with its input, answer, tool calls and usage."""
    from gateway.run_view import thread_history
    from workers.errors import RunNotFound

    try:
        history = thread_history(key)
    except RunNotFound as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    if as_json:
        print(json.dumps(history, indent=2, default=str))
        return
    console.print(
        f"[bold]thread {history['id']}[/] ({history['external_key']}): {history['usage']}"
    )
    for run in history["runs"]:
        console.print(f"[dim]{run['created_at']}[/] user: {run['input']}")
        for call in run["tool_calls"]:
            console.print(f"  tool {call['name']}({call['arguments']}) -> {call['status']}")
        console.print(f"  assistant ({run['status']}): {run['result'] or run['error']}")


@app.command()
def usage(
    agent: Annotated[str | None, typer.Option(help="Only runs of this agent.")] = None,
    thread_id: Annotated[str | None, typer.Option(help="Only runs of this thread id.")] = None,
) -> None:
    """Tokens and cost summed over runs (per agent and/or thread)."""
    from workers.db import thread_store
    from workers.wiring import new_session

    with new_session() as session:
        totals = thread_store.usage_totals(session, agent=agent, thread_id=thread_id)
    print(json.dumps(totals, indent=2))


@app.command()
def cache() -> None:
    """Response-cache hits and misses, shared by every worker (needs REDIS_URL)."""
    from workers.wiring import get_response_cache

    stats = get_response_cache().stats()
    total = stats.hits + stats.misses
    rate = f"{stats.hits / total:.0%}" if total else "n/a"
    print(json.dumps({"hits": stats.hits, "misses": stats.misses, "hit_rate": rate}))


@app.command()
def migrate() -> None:
    """Migrate DATABASE_URL to the current schema (Alembic); run once per deploy."""
    from config.settings import get_settings
    from workers.db.migrate import upgrade_to_head

    url = get_settings().database.url
    upgrade_to_head(url)
    console.print(f"schema up to date in {url.split('@')[-1]}")


def _wait_for(run_id: str, timeout_s: float) -> None:
    from workers.db import store
    from workers.db.statuses import RunStatus, is_terminal
    from workers.wiring import new_session

    deadline = time.monotonic() + timeout_s
    with console.status(f"waiting for {run_id}…"):
        while time.monotonic() < deadline:
            with new_session() as session:
                run = store.get_run(session, run_id=run_id)
            if is_terminal(RunStatus(run.status)):
                return
            time.sleep(0.5)


def _print_run(run_id: str, as_json: bool) -> None:
    from gateway.run_view import describe_run

    described = describe_run(run_id)
    if as_json:
        print(json.dumps(described, indent=2, default=str))
        return
    for key, value in described.items():
        if key != "tool_calls":
            console.print(f"[bold]{key}[/]: {value}")
    for call in described["tool_calls"]:
        console.print(f"  tool {call['name']}({call['arguments']}) -> {call['status']}")


if __name__ == "__main__":
    app()

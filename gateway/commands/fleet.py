"""`runq demo`, `worker`, `simulator`, `migrate`, `cache`: start and look after the fleet."""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from config.exit_codes import ExitCode
from gateway.entry_errors import guarded
from gateway.output import console, print_json, print_table, print_transcript

if TYPE_CHECKING:
    from gateway.demo import DemoSummary

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
# Unknown options after the known ones are handed to `celery worker` as they are.
PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}
DEMO_AGENT = "assistant"


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command()(guarded(demo))
    app.command(context_settings=PASS_THROUGH)(guarded(worker))
    app.command()(guarded(simulator))
    app.command()(guarded(migrate))
    app.command()(guarded(cache))


DemoAgentOption = Annotated[
    str, typer.Option(help="Agent to run: the demo's, or yours (from RUNQ_AGENT_MODULES).")
]
WorkdirOption = Annotated[Path, typer.Option(help="Where the database and logs go.")]


def demo(
    agent: DemoAgentOption = DEMO_AGENT,
    runs: Annotated[int, typer.Option(help="How many runs to enqueue.")] = 100,
    workers: Annotated[
        int,
        typer.Option(help="Worker processes (one for runs, rest tools; callbacks get one more)."),
    ] = 2,
    concurrency: Annotated[int, typer.Option(help="Threads per worker process.")] = 16,
    latency_ms: Annotated[int, typer.Option(help="Simulated model latency per turn.")] = 300,
    timeout_s: Annotated[float, typer.Option(help="Give up on the batch after this.")] = 300.0,
    workdir: WorkdirOption = Path(".runq/demo"),
    as_json: JsonOption = False,
    http: Annotated[
        bool, typer.Option(help="Submit and follow the runs through the HTTP API, with a key.")
    ] = False,
) -> None:
    """Run a batch of runs on a local fleet, offline: no key, Redis or database needed.

    Embedded Redis, SQLite, the OpenAI simulator and real Celery workers. With --agent YOURS,
    the simulator calls every tool your agent declares, with arguments generated from their
    schemas. Exit 0 only if every run completed."""
    from config.settings import DEV_ENVIRONMENT, get_settings
    from gateway.demo import run_demo
    from gateway.preflight import load_agents
    from workers.public.catalog import DEMO_AGENT_MODULE, get_agent

    # The demo is a developer's embedded fleet (simulator key, placeholder callback secret),
    # so it asks for dev itself: the quickstart needs no configuration.
    os.environ["RUNQ_ENVIRONMENT"] = DEV_ENVIRONMENT
    get_settings.cache_clear()
    logging.basicConfig(level=logging.WARNING)
    modules = [DEMO_AGENT_MODULE] if agent == DEMO_AGENT else get_settings().runs.agent_modules
    load_agents(modules)
    get_agent(agent)  # an unknown agent fails now, before any process starts
    for variable in ("REDIS_URL", "OPENAI_BASE_URL", "OPENAI_API_KEY", "DATABASE_URL"):
        os.environ.pop(variable, None)  # the demo is the embedded setup, always
    summary = run_demo(
        agent=agent,
        modules=modules,
        runs=runs,
        workers=workers,
        concurrency=concurrency,
        latency_ms=latency_ms,
        timeout_s=timeout_s,
        workdir=workdir / time.strftime("%Y%m%d-%H%M%S"),
        via_http=http,
    )
    if as_json:
        print_json(asdict(summary) | {"runs_per_s": summary.runs_per_s})
    else:
        _print_demo(summary)
    if summary.completed != summary.runs:
        raise typer.Exit(ExitCode.RUN_FAILED)


def _print_demo(summary: DemoSummary) -> None:
    from gateway.demo import render_summary

    if summary.first_run is not None:
        console.print(f"[bold]The first run ({summary.first_run['id']}), in full:[/]")
        print_transcript(summary.first_run, full=True)
    console.print(render_summary(summary))
    if summary.completed != summary.runs:
        console.print(f"[red]{summary.runs - summary.completed} runs did not complete[/]")
        if summary.first_error:
            console.print(f"first error: {summary.first_error}", markup=False)


def worker(
    ctx: typer.Context,
    queues: Annotated[str, typer.Option(help="Queues to consume: runs, tools, callbacks.")] = (
        "runs,tools,callbacks"
    ),
    concurrency: Annotated[int, typer.Option(help="Threads in the pool.")] = 16,
    beat: Annotated[bool, typer.Option(help="Also run the sweep's beat (one per fleet).")] = (
        False
    ),
    hostname: Annotated[
        str | None, typer.Option(help="Node name; default runq-<queues>-<pid>@<host>.")
    ] = None,
) -> None:
    """Start a Celery worker on REDIS_URL, named runq-<queues>-<pid>@<host>.

    Same as `celery -A config worker --pool threads`, after checking the settings, the agent
    modules and Redis. Scale out by starting more, on any machine. Options runq does not know go
    to celery as they are, e.g. `runq worker --queues tools --max-tasks-per-child 1000`."""
    from gateway.preflight import load_agents, require_deployable, require_redis

    require_deployable()
    load_agents()
    require_redis()
    node = hostname or worker_node_name(queues, os.getpid())
    args = [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queues]
    args += ["--pool", "threads", "-c", str(concurrency), "--loglevel", "INFO"]
    args += ["--hostname", node, *(["-B"] if beat else []), *ctx.args]
    os.execv(sys.executable, args)


def worker_node_name(queues: str, pid: int) -> str:
    """A node name unique per process, so Flower shows each worker (and each one that died):
    `runq-runs-tools-4242@%h` (celery expands %h to the host name)."""
    label = "-".join(queue.strip() for queue in queues.split(",") if queue.strip())
    return f"runq-{label}-{pid}@%h"


def simulator(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8800,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    latency_ms: Annotated[int, typer.Option(help="Time a background turn takes.")] = 300,
    rpm: Annotated[int, typer.Option(help="Requests per minute per key (0 = no limit).")] = 0,
    tpm: Annotated[int, typer.Option(help="Tokens per minute per key (0 = no limit).")] = 0,
) -> None:
    """Serve the OpenAI simulator: a TEST DOUBLE of the OpenAI API, not the real provider.

    Its scripted model is deterministic; `#call=TOOL {"arg": 1}`, `#call=TOOL` (arguments from
    the schema) and `#call_all` in a message make it call your agent's tools."""
    from simulator.__main__ import main as simulator_main

    options = {"--host": host, "--port": port, "--latency-ms": latency_ms, "--rpm": rpm}
    simulator_main([str(part) for pair in (options | {"--tpm": tpm}).items() for part in pair])


def migrate() -> None:
    """Migrate DATABASE_URL to the current schema (Alembic); run once per deploy."""
    from config.settings import get_settings
    from gateway.entry_errors import redact_url
    from workers.public.runtime import upgrade_to_head

    url = get_settings().database.url
    upgrade_to_head(url)
    console.print(f"schema up to date in {redact_url(url)}", markup=False)


def cache(as_json: JsonOption = False) -> None:
    """Response-cache hits and misses, shared by every worker (needs REDIS_URL)."""
    from gateway.preflight import require_redis
    from workers.public.runtime import get_response_cache

    require_redis()
    stats = get_response_cache().stats()
    total = stats.hits + stats.misses
    rate = round(stats.hits / total, 4) if total else None
    data = {"hits": stats.hits, "misses": stats.misses, "hit_rate": rate}
    if as_json:
        print_json(data)
        return
    shown = "n/a" if rate is None else f"{rate:.0%}"
    print_table(("hits", "misses", "hit rate"), [(stats.hits, stats.misses, shown)])

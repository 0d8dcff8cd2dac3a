"""Each contender of `bench.peers`: start its workers on the stack, send the batch, measure."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis

from bench.peer_fleet import (
    Outcome,
    Watch,
    command_mix_per_run,
    provider_counts,
    redis_command_counts,
    redis_commands,
    redis_peak_mb,
    spawn_celery,
    start_profilers,
    stop_profilers,
    tool_counts,
    wait_for_done,
    wait_for_pings,
)
from bench.workload import DONE_KEY, prompt
from devstack.local_stack import LocalStack

TIMEOUT_S = 600.0
WARM_UP_RUNS = 10
"""Runs each contender does before the measured batch, so first-use costs (lazy imports, the
SDK's model adapters, connection pools) are not counted: steady state is what we compare."""
# The README's worker lines; RUNQ_BENCH_RUNS_THREADS and RUNQ_BENCH_TOOLS_THREADS try another -c.
RUNS_THREADS = int(os.environ.get("RUNQ_BENCH_RUNS_THREADS", "32"))
TOOLS_THREADS = int(os.environ.get("RUNQ_BENCH_TOOLS_THREADS", "32"))
WARM_UP_FROM = 1_000_000  # prompt numbers of the warm-up runs (their places are unique too)


def celery_peer(
    stack: LocalStack, runs: int, module: str, task: str, name: str, app: Any
) -> Outcome:
    """A contender that runs each whole run inside one Celery task, on two workers."""
    queue = task.split(".")[0]
    app.conf.broker_url = stack.env["REDIS_URL"]
    pids = [spawn_celery(stack, module, queue, f"{queue}{i}", 32) for i in range(2)]
    wait_for_pings(app, 2)
    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    for index in range(WARM_UP_RUNS):
        app.send_task(task, args=(prompt(WARM_UP_FROM + index),), queue=queue)
    wait_for_done(lambda: int(client.llen(DONE_KEY)), WARM_UP_RUNS, None, TIMEOUT_S)
    client.delete(DONE_KEY)
    _forget_tool_log(stack)
    before = provider_counts(stack)
    watch = Watch(pids)
    started = time.time()
    for index in range(runs):
        app.send_task(task, args=(prompt(index),), queue=queue)
    wait_for_done(lambda: int(client.llen(DONE_KEY)), runs, watch, TIMEOUT_S)
    finished = [float(t) for t in client.lrange(DONE_KEY, 0, -1)]
    return _outcome(stack, name, runs, started, finished, watch, before, "1 per run")


def _forget_tool_log(stack: LocalStack) -> None:
    (stack.workdir / "tools.log").unlink(missing_ok=True)


def _outcome(
    stack: LocalStack,
    name: str,
    runs: int,
    started: float,
    finished: list[float],
    watch: Watch,
    before: dict[str, int],
    slots_held: str,
) -> Outcome:
    after = provider_counts(stack)
    calls, twice = tool_counts(stack.workdir / "tools.log")
    return Outcome(
        name=name,
        runs=runs,
        started=started,
        finished=finished,
        cpu_s=watch.cpu_used_s(),
        peak_rss_mb=watch.peak_rss_mb,
        tool_calls=calls,
        tools_twice=twice,
        slots_held=slots_held,
        **{key: after[key] - before.get(key, 0) for key in after},
    )


def naive_celery(stack: LocalStack, runs: int) -> Outcome:
    from bench import naive_celery as module

    return celery_peer(stack, runs, module.__name__, "naive.run", "naive-celery", module.app)


def agents_celery(stack: LocalStack, runs: int) -> Outcome:
    from bench import agents_sdk as module

    return celery_peer(stack, runs, module.__name__, "agents.run", "agents-celery", module.app)


def agents_asyncio(stack: LocalStack, runs: int) -> Outcome:
    """The Agents SDK in one process of its own; it reports its own CPU and memory."""
    import json
    import subprocess
    import sys

    before = provider_counts(stack)
    argv = [sys.executable, "-m", "bench.agents_sdk", str(runs), str(WARM_UP_RUNS)]
    done = subprocess.run(argv, env=stack.env, capture_output=True, text=True, check=True)
    report = json.loads(done.stdout.splitlines()[-1])
    after = provider_counts(stack)
    calls, twice = tool_counts(stack.workdir / "tools.log")
    return Outcome(
        name="agents-asyncio",
        runs=runs,
        started=report["started"],
        finished=report["finished"],
        cpu_s=report["cpu_s"],
        peak_rss_mb=report["peak_rss_mb"],
        tool_calls=calls,
        tools_twice=twice,
        slots_held="none (a coroutine)",
        notes={"failed_runs": len(report["failures"]), "failures": sorted(set(report["failures"]))},
        **{key: after[key] - before[key] for key in after},
    )


def runq(
    stack: LocalStack,
    runs: int,
    agent: str = "peer",
    name: str = "runq",
    threads: int = RUNS_THREADS,
    both_queues: bool = False,
) -> Outcome:
    """runq as the README starts it: one runs worker (-c 32), one tools worker (-c 32); or,
    with `both_queues`, two workers that each take both queues (one process per core)."""
    if both_queues:
        for index in range(2):
            stack.start_worker(
                "runs,tools", concurrency=threads, name=f"both{index}", beat=index == 0
            )
    else:
        # With beat, as the README starts it: a step throttled for longer than a broker
        # countdown may be is parked, and only the sweep sends it.
        stack.start_worker("runs", concurrency=threads, name="runs0", beat=True)
        stack.start_worker("tools", concurrency=TOOLS_THREADS, name="tools0")
    stack.wait_for_workers(2)
    warm_up = _enqueue(agent, WARM_UP_RUNS, first=WARM_UP_FROM)
    wait_for_done(lambda: _finished_count(warm_up), WARM_UP_RUNS, None, TIMEOUT_S)
    _forget_tool_log(stack)
    before = provider_counts(stack)
    watch = Watch([p.pid for p in stack.workers])
    cpu_before, commands_before = watch.cpu_by_process_s(), redis_commands(stack)
    mix_before = redis_command_counts(stack)
    children_before = watch.children_cpu_by_process_s()
    faults_before = watch.minor_faults_by_process()
    profilers = start_profilers(stack)
    started = time.time()
    batch_id = _enqueue(agent, runs)
    wait_for_done(lambda: _finished_count(batch_id), runs, watch, TIMEOUT_S)
    stop_profilers(profilers)
    pss_mb = watch.pss_mb_with_children()
    finished = _finish_times(batch_id)
    _dump_timeline(stack, batch_id)
    outcome = _outcome(stack, name, runs, started, finished, watch, before, "none")
    cpu_after = watch.cpu_by_process_s()
    cpu_ms = [1000 * (b - a) / runs for a, b in zip(cpu_before, cpu_after, strict=True)]
    children_after = watch.children_cpu_by_process_s()
    children_ms = [
        1000 * (b - a) / runs for a, b in zip(children_before, children_after, strict=True)
    ]
    faults = [
        round((b - a) / runs)
        for a, b in zip(faults_before, watch.minor_faults_by_process(), strict=True)
    ]
    outcome.notes = {
        "cpu_ms_per_run_runs_tools": [round(ms, 1) for ms in cpu_ms],
        "minor_faults_per_run_runs_tools": faults,
        "pss_mb_with_children_runs_tools": pss_mb,
        "children_cpu_ms_per_run_runs_tools": [round(ms, 1) for ms in children_ms],
        "redis_commands_per_run": round((redis_commands(stack) - commands_before) / runs, 1),
        "redis_command_mix_per_run": command_mix_per_run(
            mix_before, redis_command_counts(stack), runs
        ),
        "redis_peak_mb": round(redis_peak_mb(stack), 1),
        "rss_mb_per_worker": watch.peak_rss_by_process_mb,
    }
    return outcome


def runq_sync(stack: LocalStack, runs: int) -> Outcome:
    # A synchronous turn holds its thread for the turn: more threads, or turns queue.
    return runq(stack, runs, agent="peer-sync", name="runq-sync", threads=128)


def runq_both(stack: LocalStack, runs: int) -> Outcome:
    return runq(stack, runs, name="runq-2x-both-queues", both_queues=True)


def noop(stack: LocalStack, tasks: int) -> Outcome:
    """The raw ceiling: no-op Celery tasks through runq's two workers, half on each queue."""
    from config.celery_app import app

    stack.start_worker("runs", concurrency=RUNS_THREADS, name="runs0")
    stack.start_worker("tools", concurrency=TOOLS_THREADS, name="tools0")
    stack.wait_for_workers(2)
    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    watch = Watch([p.pid for p in stack.workers])
    started = time.time()
    for index in range(tasks):
        queue = "runs" if index % 2 else "tools"
        app.send_task("celery.accumulate", args=(index,), queue=queue, ignore_result=True)
    wait_for_done(lambda: tasks - _queued(client), tasks, watch, TIMEOUT_S)
    return _outcome(stack, "no-op tasks", tasks, started, [time.time()], watch, {}, "-")


def runq_turn_latency(stack: LocalStack, runs: int, agent: str = "peer") -> Outcome:
    """runq's own time per model turn: `runs` runs one at a time on the README's two workers
    (zero model latency in `bench.ceiling`). Each run's wall (its own recorded times) less its
    tool phases (first call started to last call finished, per turn), per model turn."""
    stack.start_worker("runs", concurrency=RUNS_THREADS, name="runs0", beat=True)
    stack.start_worker("tools", concurrency=TOOLS_THREADS, name="tools0")
    stack.wait_for_workers(2)
    warm_up = _enqueue(agent, WARM_UP_RUNS, first=WARM_UP_FROM)
    wait_for_done(lambda: _finished_count(warm_up), WARM_UP_RUNS, None, TIMEOUT_S)
    watch = Watch([p.pid for p in stack.workers])
    started = time.time()
    per_turn_ms: list[float] = []
    for index in range(runs):
        batch_id = _enqueue(agent, 1, first=index)
        while _finished_count(batch_id) < 1:
            time.sleep(0.005)
        per_turn_ms.append(_own_ms_per_turn(batch_id))
    name = f"runq ({agent}), one run at a time"
    outcome = _outcome(stack, name, runs, started, [time.time()], watch, {}, "none")
    outcome.notes = {"own_ms_per_turn": [round(ms, 2) for ms in per_turn_ms]}
    return outcome


def _own_ms_per_turn(batch_id: str) -> float:
    from sqlmodel import select

    from workers import wiring
    from workers.db.models import Run, ToolCall

    with wiring.new_session() as session:
        run = session.exec(select(Run).where(Run.batch_id == batch_id)).one()
        calls = session.exec(select(ToolCall).where(ToolCall.run_id == run.id)).all()
    if run.status != "completed" or run.finished_at is None:
        raise RuntimeError(f"run {run.id} ended {run.status}: {run.error}")
    tool_s = 0.0
    for turn in {call.turn for call in calls}:
        of_turn = [c for c in calls if c.turn == turn and c.started_at and c.finished_at]
        if of_turn:
            first = min(c.started_at for c in of_turn if c.started_at is not None)
            last = max(c.finished_at for c in of_turn if c.finished_at is not None)
            tool_s += (last - first).total_seconds()
    wall_s = (run.finished_at - run.created_at).total_seconds()
    # `turn` counts the turns that asked for tools; the turn that answered comes after them.
    return 1000 * (wall_s - tool_s) / (run.turn + 1)


def sdk_request_latency(stack: LocalStack, requests: int) -> Outcome:
    """The floor under a model turn at zero latency: one official-SDK request to this
    simulator at a time, from a process of its own (a create that answers at once, and a
    retrieve), with no worker, queue or database. A synchronous turn sends one create, a
    polled turn a create and a retrieve: runq's own time per turn includes them."""
    import openai

    client = openai.OpenAI(base_url=stack.env["OPENAI_BASE_URL"], api_key="sk-bench")
    watch = Watch([])
    started = time.time()
    creates_ms: list[float] = []
    retrieves_ms: list[float] = []
    for index in range(requests + 10):  # the first ten warm the connection and the SDK
        sent = time.perf_counter()
        response = client.responses.create(model="gpt-4o-mini", input=prompt(index))
        created = time.perf_counter()
        client.responses.retrieve(response.id)
        if index >= 10:
            creates_ms.append(1000 * (created - sent))
            retrieves_ms.append(1000 * (time.perf_counter() - created))
    client.close()
    name = "one SDK request at a time"
    outcome = _outcome(stack, name, requests, started, [time.time()], watch, {}, "-")
    outcome.notes = {
        "create_ms": [round(ms, 2) for ms in creates_ms],
        "retrieve_ms": [round(ms, 2) for ms in retrieves_ms],
    }
    return outcome


def noop_latency(stack: LocalStack, tasks: int) -> Outcome:
    """One no-op Celery task at a time through the runs worker: sent, run, acknowledged."""
    from config.celery_app import app

    stack.start_worker("runs", concurrency=RUNS_THREADS, name="runs0")
    stack.wait_for_workers(1)
    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    watch = Watch([p.pid for p in stack.workers])
    started = time.time()
    round_trips_ms: list[float] = []
    for index in range(tasks):
        sent = time.perf_counter()
        app.send_task("celery.accumulate", args=(index,), queue="runs", ignore_result=True)
        while _queued(client):
            time.sleep(0.0002)
        round_trips_ms.append(1000 * (time.perf_counter() - sent))
    outcome = _outcome(stack, "no-op, one at a time", tasks, started, [time.time()], watch, {}, "-")
    outcome.notes = {"round_trip_ms": [round(ms, 2) for ms in round_trips_ms]}
    return outcome


def _queued(client: redis.Redis) -> int:
    """Messages not yet finished: waiting in a queue or delivered and unacked."""
    return int(client.llen("runs")) + int(client.llen("tools")) + int(client.hlen("unacked"))


def _enqueue(agent: str, runs: int, first: int = 0) -> str:
    import bench.peer_tools  # noqa: F401  (registers the agents this process enqueues for)
    from workers import wiring
    from workers.public.enqueue import enqueue_run
    from workers.public.schemas import JobCreate

    batch_id = f"peers-{uuid.uuid4().hex[:8]}"
    with wiring.new_session() as session:
        for index in range(first, first + runs):
            job = JobCreate(agent=agent, input=prompt(index), batch_id=batch_id)
            enqueue_run(session, job, default_deadline_s=900)
    return batch_id


def _dump_timeline(stack: LocalStack, batch_id: str) -> None:
    """With RUNQ_BENCH_TIMELINE=FILE, write each run's events (stream ids are ms times), to
    see where a run's wall goes (queue waits, poll overshoot) when the totals are not enough."""
    from sqlmodel import select

    from workers import wiring
    from workers.db.models import Run
    from workers.redis_keys import run_events_key

    path = os.environ.get("RUNQ_BENCH_TIMELINE")
    if not path:
        return
    client = redis.Redis.from_url(stack.env["REDIS_URL"], decode_responses=True)
    prefix = wiring.get_settings().redis.prefix
    with wiring.new_session() as session:
        rows = session.exec(select(Run).where(Run.batch_id == batch_id)).all()
        runs = {r.id: r.created_at.timestamp() for r in rows}
    timeline = {
        run_id: {
            "created": created,
            "events": [
                [int(event_id.split("-")[0]) / 1000, fields["type"], fields["data"]]
                for event_id, fields in client.xrange(run_events_key(prefix, run_id))
            ],
        }
        for run_id, created in runs.items()
    }
    with open(path, "w") as out:
        json.dump(timeline, out)


def _finished_count(batch_id: str) -> int:
    from bench.fleet import finished_count

    return finished_count(batch_id)


def _finish_times(batch_id: str) -> list[float]:
    from sqlmodel import select

    from workers import wiring
    from workers.db.models import Run

    with wiring.new_session() as session:
        rows = session.exec(select(Run).where(Run.batch_id == batch_id)).all()
        bad = [r.status for r in rows if r.status != "completed"]
        if bad:
            raise RuntimeError(f"{len(bad)} runs did not complete: {set(bad)}")
        return [r.finished_at.timestamp() for r in rows if r.finished_at is not None]


RUNNERS: dict[str, Callable[[LocalStack, int], Outcome]] = {
    "naive-celery": naive_celery,
    "agents-celery": agents_celery,
    "agents-asyncio": agents_asyncio,
    "runq": runq,
    "runq-sync": runq_sync,
    "runq-both": runq_both,
    "noop": noop,
    "runq-turn-latency": runq_turn_latency,
    "runq-sync-turn-latency": lambda stack, runs: runq_turn_latency(stack, runs, "peer-sync"),
    "noop-latency": noop_latency,
    "sdk-request-latency": sdk_request_latency,
}

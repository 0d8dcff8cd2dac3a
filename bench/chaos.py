"""Chaos benchmark: runs with parallel and sequential tool calls under injected faults.

Each scenario gets a fresh local fleet (Redis, simulator, two `runs` workers with the sweep's
beat on the first, one `tools` worker) and a batch of runs of the `chaos` agent arriving at
ARRIVALS_PER_S: two turns of two parallel calls each, one idempotent lookup and one payment
(never to run twice). A supervisor restarts any worker that exits, as systemd or compose
would. It prints one table: faults injected, runs completed / failed (with reason) / stuck,
payments run twice, idempotent re-runs, tool results lost, and run latency against the
no-fault scenario.

Besides the faults, two scenarios slow every provider request to 25 s and 60 s (turns sent
synchronously, so each request really is in flight that long, past the sweep's grace), and
one enqueues the whole batch at once under SIGKILLs (a backlog): in each, no step that is
still running may be sent again, so "extra provider creates" must stay 0. One more enqueues a
poison run beside the batch (its tool kills the tools worker each time): it must fail with
its reason, and no run of the batch with it.

    python -m bench.chaos [--runs 300] [--only-scenarios kill,slow25]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from bench.chaos_agents import EXECUTIONS_FILE_ENV
from bench.chaos_faults import (
    Faults,
    Injector,
    no_faults,
    poison_run_at,
    provider_storm,
    redis_restart_at,
    rolling_restart_from,
    sigkill_every,
    slow_provider,
)
from bench.fleet import TERMINAL, fleet
from bench.rounds import percentile

if TYPE_CHECKING:
    from workers.db.models import Run

ARRIVALS_PER_S = 5.0
"""Steady arrivals: 300 runs over a minute, a load the 2-core machine serves in ~5 s each."""

CHAOS_ENV = {
    "RUNQ_AGENT_MODULES": '["bench.chaos_agents"]',
    "RUNQ_PROVIDER_TIMEOUT_S": "3",
    "RUNQ_PROVIDER_MAX_ATTEMPTS": "8",
}


def chaos_inputs(count: int, prefix: str) -> list[str]:
    """Run inputs: two turns, each a lookup and a payment in parallel, unique keys per run."""
    return [
        f"use tool chaos_lookup with {prefix}L{i} and use tool chaos_charge with {prefix}C{i} "
        "#turns=2"
        for i in range(count)
    ]


@dataclass(frozen=True)
class Tally:
    """What happened to one batch."""

    runs: int
    completed: int
    failed: Counter[str]
    stuck: int
    payments_twice: int
    idempotent_reruns: int
    results_lost: int
    latencies_s: list[float]
    extra_creates: int = 0
    """Provider creates (first turns and submits) beyond one per turn the runs recorded."""


def tally(batch_id: str, executions_file: Path, creates: int = 0) -> Tally:
    """Count outcomes from the database, the tools' own execution log and the provider's
    count of `creates` (each turn of a run, its first and each tool submit, is one)."""
    from workers import wiring
    from workers.db import store

    with wiring.new_session() as session:
        runs = store.list_runs(session, batch_id=batch_id)
        calls = store.batch_tool_calls(session, batch_id=batch_id)
    executed = Counter(executions_file.read_text().splitlines()) if executions_file.exists() else {}
    rows = Counter(f"{c.name} {json.loads(c.arguments).get('key')}" for c in calls)
    # The log may hold other batches' keys (a shared test fleet): only this batch's count.
    extra = {line: n - rows[line] for line, n in executed.items() if 0 < rows[line] < n}
    return Tally(
        runs=len(runs),
        completed=sum(r.status == "completed" for r in runs),
        failed=Counter((r.error or "")[:70] for r in runs if r.status in TERMINAL - {"completed"}),
        stuck=sum(r.status not in TERMINAL for r in runs),
        payments_twice=sum(n for line, n in extra.items() if line.startswith("chaos_charge")),
        idempotent_reruns=sum(n for line, n in extra.items() if line.startswith("chaos_lookup")),
        results_lost=sum(c.name == "chaos_lookup" and c.status == "failed" for c in calls),
        latencies_s=[
            (r.finished_at - r.created_at).total_seconds()
            for r in runs
            if r.status == "completed" and r.finished_at
        ],
        extra_creates=creates - sum(1 + r.turn for r in runs if r.provider_ref),
    )


@dataclass(frozen=True)
class Scenario:
    """One row of the table: its faults, and how its batch differs from the baseline's."""

    name: str
    inject: Injector
    agent: str = "chaos"
    env: tuple[tuple[str, str], ...] = ()
    runs_divisor: int = 1
    """A slow scenario runs a tenth of the batch: each of its runs takes minutes."""
    arrivals_per_s: float = ARRIVALS_PER_S
    timeout_s: float = 300.0


def run_scenario(runs: int, scenario: Scenario) -> tuple[Faults, Tally]:
    """A fresh fleet, one batch, faults injected on a 0.25 s tick, workers supervised."""
    import bench.chaos_agents  # noqa: F401  (declares the chaos agent in this process too)
    from bench.fleet import enqueue

    executions = Path(tempfile.mkdtemp(prefix="runq-chaos-")) / "executions.log"
    os.environ[EXECUTIONS_FILE_ENV] = str(executions)
    faults = Faults()
    runs = max(10, runs // scenario.runs_divisor)
    env = CHAOS_ENV | dict(scenario.env) | {EXECUTIONS_FILE_ENV: str(executions)}
    with fleet(env, runs_workers=2) as stack:
        inputs, batch_id, sent = chaos_inputs(runs, "r"), f"chaos-{uuid.uuid4().hex[:8]}", 0
        creates_before = _creates(stack.simulator_url)
        started = time.monotonic()
        while time.monotonic() - started < scenario.timeout_s:
            t_s = time.monotonic() - started
            # Runs arrive at a steady rate, so latency measures recovery, not a backlog
            # (unless the scenario is the backlog).
            due = min(runs, int(t_s * scenario.arrivals_per_s) + 1)
            if due > sent:
                enqueue(inputs[sent:due], agent=scenario.agent, batch_id=batch_id)
                sent = due
            scenario.inject(stack, t_s, faults)
            stack.revive_workers()
            if sent == runs and _finished(batch_id) >= runs and _side_batches_ended(faults):
                break
            time.sleep(0.25)
        side_runs = _side_runs(faults)
        faults.side_outcomes.extend(
            f"that run {run.status}: {(run.error or '')[:120]}" for run in side_runs
        )
        # The side runs' own creates are theirs, not extra ones of the batch: one per tool
        # turn (a poison run ends in one), and one more for an answer.
        side_creates = sum(run.turn + (run.status == "completed") for run in side_runs)
        creates = _creates(stack.simulator_url) - creates_before - side_creates
        result = tally(batch_id, executions, creates)
    for key in [k for k in faults.counts if k.startswith(("phase", "term", "slow"))]:
        del faults.counts[key]
    return faults, result


def _creates(simulator_url: str) -> int:
    """The simulator's count of created responses (a tool submit creates one too)."""
    with urllib.request.urlopen(f"{simulator_url}/_sim/stats", timeout=5) as reply:
        return int(json.load(reply)["responses_created"])


def _side_batches_ended(faults: Faults) -> bool:
    return all(_finished(batch_id) >= 1 for batch_id in faults.side_batches)


def _side_runs(faults: Faults) -> list[Run]:
    """The runs a fault enqueued beside the batch (a poison run), as they ended."""
    from workers import wiring
    from workers.db import store

    with wiring.new_session() as session:
        return [
            run
            for batch_id in faults.side_batches
            for run in store.list_runs(session, batch_id=batch_id)
        ]


def _finished(batch_id: str) -> int:
    from bench.fleet import finished_count

    return finished_count(batch_id)


def render(rows: list[tuple[str, Faults, Tally]]) -> Table:
    """The one table: outcomes per scenario, latency added over the no-fault scenario."""
    table = Table(title="runq chaos benchmark")
    for column in ("scenario", "faults injected", "runs", "completed", "failed (reason)",
                   "stuck", "payments run twice", "idempotent re-runs", "tool results lost",
                   "extra provider creates", "added latency p50 / p99"):  # fmt: skip
        table.add_column(column)
    base = rows[0][2].latencies_s
    base_p50, base_p99 = statistics.median(base or [0.0]), percentile(base, 99)
    for name, faults, t in rows:
        p50, p99 = statistics.median(t.latencies_s or [0.0]), percentile(t.latencies_s, 99)
        failed = "; ".join(f"{n} x {reason}" for reason, n in t.failed.items()) or "0"
        latency = (
            f"{p50:.1f} s / {p99:.1f} s (base)"
            if name == rows[0][0]
            else f"{p50 - base_p50:+.1f} s / {p99 - base_p99:+.1f} s"
        )
        table.add_row(name, faults.describe(), str(t.runs), str(t.completed), failed,
                      str(t.stuck), str(t.payments_twice), str(t.idempotent_reruns),
                      str(t.results_lost), str(t.extra_creates), latency)  # fmt: skip
    return table


def scenarios() -> dict[str, Scenario]:
    """Every scenario by short name."""

    def slow(seconds: int) -> Scenario:
        # The request timeout must outlast the provider's answer, or the client gives up
        # and a retry sends the turn again by design (README: RUNQ_PROVIDER_TIMEOUT_S).
        return Scenario(
            f"(e) every provider request takes {seconds} s",
            slow_provider(seconds * 1000),
            agent="chaos-sync",
            env=(("RUNQ_PROVIDER_TIMEOUT_S", str(seconds * 2)),),
            runs_divisor=10,
            timeout_s=seconds * 8 + 120,
        )

    return {
        "none": Scenario("no faults", no_faults),
        "kill": Scenario("(a) SIGKILL random workers", sigkill_every(3.0, until_s=30.0)),
        "redis": Scenario("(b) Redis restart, empty", redis_restart_at(6.0)),
        "provider": Scenario("(c) provider 5xx / timeouts / 429s", provider_storm),
        "rolling": Scenario("(d) rolling SIGTERM restart", rolling_restart_from(5.0)),
        # A poison run beside the batch: the calls running beside its crashes must not be
        # failed with it (workers.tools.solo_gate).
        "poison": Scenario("(g) a poison run beside the batch", poison_run_at(5.0)),
        "slow25": slow(25),
        "slow60": slow(60),
        "backlog": Scenario(
            "(f) backlog: the whole batch at once, SIGKILLs",
            sigkill_every(3.0, until_s=30.0),
            arrivals_per_s=1e9,
            timeout_s=600.0,
        ),
    }


def run_isolated(key: str, runs: int) -> tuple[Faults, Tally]:
    """One scenario in a fresh interpreter (each needs its own broker, and Celery's producer
    keeps the first broker it connected to)."""
    command = [sys.executable, "-m", "bench.chaos", "--only", key, "--runs", str(runs)]
    Console(stderr=True).print(f"scenario {scenarios()[key].name}…")
    result = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    faults, counts = json.loads(result.stdout.strip().splitlines()[-1])
    counts["failed"] = Counter(counts["failed"])
    return Faults(Counter(faults["counts"]), side_outcomes=faults["side_outcomes"]), Tally(**counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=300, help="Runs per scenario.")
    parser.add_argument(
        "--only-scenarios",
        help="Comma-separated scenarios to run after the no-fault baseline "
        f"(default: all of {', '.join(scenarios())}).",
    )
    parser.add_argument("--only", choices=sorted(scenarios()), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only:
        faults, result = run_scenario(args.runs, scenarios()[args.only])
        injected = {"counts": dict(faults.counts), "side_outcomes": faults.side_outcomes}
        print(json.dumps([injected, asdict(result)]))
        return
    chosen = list(scenarios())
    if args.only_scenarios:
        wanted = args.only_scenarios.split(",")
        unknown = sorted(set(wanted) - set(chosen))
        if unknown:
            parser.error(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(chosen)}")
        chosen = ["none"] + [key for key in chosen if key in wanted and key != "none"]
    rows = []
    for key in chosen:
        faults, result = run_isolated(key, args.runs)
        rows.append((scenarios()[key].name, faults, result))
        Console(stderr=True).print(f"  {result.completed}/{result.runs} completed")
    Console(width=220).print(render(rows))


if __name__ == "__main__":
    main()

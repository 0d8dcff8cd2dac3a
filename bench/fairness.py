"""Fair shares: a small tenant's latency while another tenant floods the queue.

    python -m bench.fairness [--flood 2000 --small 10 --target 16]

Three configurations, each on its own fresh fleet (Redis, simulator, one runs and one tools
worker) in its own process: the small tenant's runs alone; after a flood tenant enqueued
`--flood` runs, with fair shares off; the same with fair shares on
(RUNQ_RUNS_IN_FLIGHT_TARGET=`--target`), each after `--warmup` runs have warmed the fleet
up. It prints the small tenant's p50 and p95 latency (created -> finished) in each, and the
ratios to its latency alone. The goal: on <= 1.5x.

`--scenario NAME` runs one configuration in this process and prints one JSON line: every
run's key, status and times, and the most runs in flight per key seen while it ran (the
integration test `tests/integration/test_fair_shares.py` reads it too).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Any

from bench.fleet import TERMINAL, fleet

SCENARIOS = ("alone", "flood-off", "flood-on")
_SAMPLE_S = 0.1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flood", type=int, default=2000, help="Runs the flood tenant enqueues.")
    parser.add_argument("--small", type=int, default=10, help="Runs the small tenant enqueues.")
    parser.add_argument("--target", type=int, default=16, help="RUNQ_RUNS_IN_FLIGHT_TARGET (on).")
    parser.add_argument("--flood-cap", type=int, default=0, help="The flood key's cap (0: none).")
    parser.add_argument("--latency-ms", type=int, default=300, help="Simulated model latency.")
    parser.add_argument("--all", action="store_true", help="Wait for the flood's runs too.")
    parser.add_argument(
        "--warmup", type=int, default=10, help="Runs (no key) finished before measuring."
    )
    parser.add_argument("--scenario", choices=SCENARIOS, help="Run one configuration here.")
    args = parser.parse_args()
    if args.scenario is not None:
        print(json.dumps(run_scenario(args)), flush=True)
        return
    results = {name: spawn(name, args) for name in SCENARIOS}
    print_table(results, args)


def spawn(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run one configuration in a child process (a process's Celery producer keeps its
    first broker) and read its JSON line."""
    argv = [sys.executable, "-m", "bench.fairness", "--scenario", name]
    argv += ["--flood", str(args.flood), "--small", str(args.small)]
    argv += ["--target", str(args.target), "--flood-cap", str(args.flood_cap)]
    argv += ["--latency-ms", str(args.latency_ms), "--warmup", str(args.warmup)]
    argv += ["--all"] if args.all else []
    done = subprocess.run(argv, capture_output=True, text=True, timeout=1800, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return dict(json.loads(lines[-1]))


def run_scenario(args: argparse.Namespace) -> dict[str, Any]:
    """One configuration on a fresh fleet: enqueue the flood (unless alone), then the small
    tenant's runs; wait for the small tenant's runs (and the flood's with `--all`)."""
    env = {"RUNQ_RUNS_IN_FLIGHT_TARGET": str(args.target if args.scenario == "flood-on" else 0)}
    env |= {"RUNQ_SWEEP_EVERY_S": "1", "RUNQ_RECOVERY_GRACE_S": "2"}
    with fleet(env, runs_workers=1, latency_ms=args.latency_ms):
        # Fresh workers are slow on their first runs (clients, connections, imports): every
        # configuration measures a warm fleet.
        wait_for(set(enqueue("", args.warmup, "warmup")), timeout_s=300.0)
        flood_key, small_key = make_keys(args.flood_cap)
        if args.scenario != "alone":
            enqueue(flood_key, args.flood, "flood")
        small_ids = enqueue(small_key, args.small, "small")
        wanted = None if args.all else set(small_ids)
        peak = wait_for(wanted, timeout_s=1500.0)
        runs = read_runs()
    return {
        "scenario": args.scenario,
        "keys": {flood_key: "flood", small_key: "small"},
        "runs": runs,
        "peak_in_flight": peak,
    }


def make_keys(flood_cap: int) -> tuple[str, str]:
    """The two tenants' API keys (ids); the flood's with its cap when one is given."""
    from workers import wiring
    from workers.db import key_store, share_store

    with wiring.new_session() as session:
        flood, _ = key_store.create_key(session, name="flood")
        small, _ = key_store.create_key(session, name="small")
        if flood_cap > 0:
            share_store.set_share(session, key=flood, weight=None, cap=flood_cap, clear_cap=False)
        return flood.id, small.id


def enqueue(owner_key_id: str, count: int, label: str) -> list[str]:
    """Enqueue `count` runs of the demo agent for the key; returns their ids."""
    from workers import wiring
    from workers.agent_modules import load_agent_modules
    from workers.agents import DEMO_AGENT_MODULE
    from workers.public.enqueue import enqueue_run
    from workers.public.schemas import JobCreate

    load_agent_modules([DEMO_AGENT_MODULE])
    with wiring.new_session() as session:
        return [
            enqueue_run(
                session,
                JobCreate(agent="assistant", input=f"Weather in Oslo? ({label} {index})"),
                default_deadline_s=1800,
                owner_key_id=owner_key_id,
            ).id
            for index in range(count)
        ]


def wait_for(run_ids: set[str] | None, timeout_s: float) -> dict[str, int]:
    """Wait until these runs (None: every run) are terminal; returns the most runs in
    flight seen per key while waiting."""
    from sqlmodel import col, select

    from workers import wiring
    from workers.db import share_store
    from workers.db.models import Run

    peak: dict[str, int] = {}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with wiring.new_session() as session:
            for key_id, count in share_store.in_flight_by_key(session).items():
                peak[key_id] = max(peak.get(key_id, 0), count)
            query = select(Run.id).where(col(Run.status).not_in(TERMINAL))
            open_ids = set(session.exec(query).all())
        if not (open_ids if run_ids is None else open_ids & run_ids):
            return peak
        time.sleep(_SAMPLE_S)
    raise RuntimeError(f"runs not finished in {timeout_s}s")


def read_runs() -> list[dict[str, Any]]:
    """Every tenant's run (not the warm-up's): key, status, created, started and finished
    (epoch seconds)."""
    from sqlmodel import select

    from workers import wiring
    from workers.db.models import Run

    def epoch(moment: Any) -> float | None:
        return None if moment is None else float(moment.timestamp())

    with wiring.new_session() as session:
        return [
            {
                "id": run.id,
                "key": run.owner_key_id,
                "status": run.status,
                "created": epoch(run.created_at),
                "started": epoch(run.started_at),
                "finished": epoch(run.finished_at),
            }
            for run in session.exec(select(Run)).all()
            if run.owner_key_id
        ]


def latencies_s(result: dict[str, Any], tenant: str) -> list[float]:
    """Created -> finished of the tenant's finished runs."""
    key_id = next(key for key, name in result["keys"].items() if name == tenant)
    return [
        run["finished"] - run["created"]
        for run in result["runs"]
        if run["key"] == key_id and run["finished"] is not None
    ]


def print_table(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    """The small tenant's latency per configuration, and its ratio to its latency alone."""
    alone = statistics.median(latencies_s(results["alone"], "small"))
    print(
        f"\nsmall tenant: {args.small} runs; flood tenant: {args.flood} runs; "
        f"target in flight (on): {args.target}; model latency {args.latency_ms} ms\n"
    )
    print("| configuration | small p50 | small p95 | p50 vs alone |")
    print("|---|---|---|---|")
    for name in SCENARIOS:
        small = sorted(latencies_s(results[name], "small"))
        p50 = statistics.median(small)
        p95 = small[min(len(small) - 1, int(0.95 * len(small)))]
        print(f"| {name} | {p50:.2f} s | {p95:.2f} s | {p50 / alone:.2f}x |", flush=True)


if __name__ == "__main__":
    main()

"""Limiter benchmark: how much of a shared budget the fleet uses, and how many 429s it earns.

Four worker processes run a few hundred agent runs (each with tool calls) against the
simulator, which enforces RPM and TPM per key like OpenAI (continuous buckets, one
minute's burst). The same limits are configured in runq. Two configurations, same run:

- runq: the shared Redis token buckets, SDK retries off (runq re-enqueues throttled steps);
- naive: no limiter, the SDK's own retries on (what most setups do).

Budget used = what the provider accepted / what it could have accepted, from the start until
90% of the runs have finished (the tail has too few runs left to fill a budget). What it could
have accepted is one full bucket (a minute's worth, the burst) plus the refill over that time:
a limiter that keeps the bucket empty from the first second scores 100%.

    python -m bench.limiter [--runs 300] [--rpm 1200] [--tpm 240000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass

from rich.console import Console
from rich.table import Table

from bench.fleet import Sample, enqueue, fleet, sample_until_done, simulator
from gateway.demo import DEMO_PROMPTS


@dataclass(frozen=True)
class Outcome:
    """One configuration's figures."""

    name: str
    completed: int
    runs: int
    wall_s: float
    rpm_used_pct: float
    tpm_used_pct: float
    http_429: int


def budget_window(samples: list[Sample], runs: int) -> Sample:
    """The sample at which 90% of the runs had finished."""
    return next((s for s in samples if s.finished >= 0.9 * runs), samples[-1])


def used_pct(spent: int, limit_per_min: int, window_s: float) -> float:
    """Spent / (one full bucket + the refill over the window), in percent."""
    return 100 * spent / (limit_per_min + limit_per_min / 60 * window_s)


def measure(name: str, env: dict[str, str], *, runs: int, rpm: int, tpm: int) -> Outcome:
    """Run the batch on a fresh fleet and read the simulator's counters over time."""
    with fleet(env, runs_workers=3, tools_workers=1) as stack:
        simulator(stack, "/_sim/config", {"rpm": rpm, "tpm": tpm})
        started = time.monotonic()
        batch_id = enqueue([DEMO_PROMPTS[i % len(DEMO_PROMPTS)] for i in range(runs)])
        samples = sample_until_done(stack, batch_id, runs, timeout_s=600, started=started)
        wall_s = time.monotonic() - started
        from workers import wiring
        from workers.db import store

        with wiring.new_session() as session:
            counts = store.count_runs_by_status(session, batch_id=batch_id)
    end = budget_window(samples, runs)
    return Outcome(
        name=name,
        completed=counts.get("completed", 0),
        runs=runs,
        wall_s=wall_s,
        rpm_used_pct=used_pct(end.accepted, rpm, end.t_s),
        tpm_used_pct=used_pct(end.tokens, tpm, end.t_s),
        http_429=samples[-1].rejected_429,
    )


def render(outcomes: list[Outcome], rpm: int, tpm: int) -> Table:
    """The benchmark table; the first row is runq, the second the naive baseline."""
    table = Table(title=f"shared budget: {rpm} RPM, {tpm} TPM, 4 worker processes")
    for column in ("configuration", "completed", "wall s", "RPM used", "TPM used", "429s"):
        table.add_column(column, justify="right")
    for o in outcomes:
        table.add_row(
            o.name,
            f"{o.completed}/{o.runs}",
            f"{o.wall_s:.1f}",
            f"{o.rpm_used_pct:.1f}%",
            f"{o.tpm_used_pct:.1f}%",
            str(o.http_429),
        )
    return table


CONFIGURATIONS = {"runq": "runq limiter", "naive": "naive (no limiter, SDK retries)"}


def configuration_env(name: str, rpm: int, tpm: int) -> dict[str, str]:
    """Worker settings of one configuration."""
    if name == "runq":
        return {"RUNQ_DEFAULT_REQUESTS_PER_MIN": str(rpm), "RUNQ_DEFAULT_TOKENS_PER_MIN": str(tpm)}
    return {"RUNQ_PROVIDER_SDK_RETRIES": "2"}


def run_isolated(name: str, args: argparse.Namespace) -> Outcome:
    """Measure one configuration in a fresh interpreter (each needs its own broker, and
    Celery's producer keeps the first broker it connected to)."""
    command = [sys.executable, "-m", "bench.limiter", "--only", name, "--runs", str(args.runs)]
    command += ["--rpm", str(args.rpm), "--tpm", str(args.tpm)]
    Console(stderr=True).print(f"measuring {CONFIGURATIONS[name]}…")
    result = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    return Outcome(**json.loads(result.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=300, help="agent runs per configuration")
    parser.add_argument("--rpm", type=int, default=1200, help="requests/min on both sides")
    parser.add_argument("--tpm", type=int, default=240_000, help="tokens/min on both sides")
    parser.add_argument("--only", choices=sorted(CONFIGURATIONS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only:
        env = configuration_env(args.only, args.rpm, args.tpm)
        name = CONFIGURATIONS[args.only]
        outcome = measure(name, env, runs=args.runs, rpm=args.rpm, tpm=args.tpm)
        print(json.dumps(asdict(outcome)))
        return
    outcomes = [run_isolated(name, args) for name in ("runq", "naive")]
    Console().print(render(outcomes, args.rpm, args.tpm))


if __name__ == "__main__":
    main()

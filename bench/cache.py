"""Response-cache benchmark: a batch where half the requests repeat earlier ones.

One fleet, two passes over the same batch (100 distinct questions, then the same 100 again):
with the cache bypassed (the baseline) and with the cache on. It prints the provider
requests each pass made (from the simulator's counters), the calls the cache saved, and the
run latency (enqueue to finish) of misses and hits.

    python -m bench.cache [--distinct 100]
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from bench.fleet import enqueue, finished_count, fleet, simulator


@dataclass(frozen=True)
class Pass:
    """One pass over the batch."""

    name: str
    runs: int
    provider_requests: int
    cache_hits: int
    miss_p50_ms: float
    hit_p50_ms: float | None
    wall_s: float


def run_batch(inputs: list[str], cache: bool) -> str:
    batch_id = enqueue(inputs, cache=cache)
    while finished_count(batch_id) < len(inputs):
        time.sleep(0.1)
    return batch_id


def measure(stack, name: str, questions: list[str], cache: bool) -> Pass:
    from workers import wiring
    from workers.db import store

    before = simulator(stack, "/_sim/stats")["requests_total"]
    started = time.monotonic()
    # The repeats go after the originals finished: only a finished answer can be cached.
    batches = [run_batch(questions, cache), run_batch(questions, cache)]
    wall_s = time.monotonic() - started
    after = simulator(stack, "/_sim/stats")["requests_total"]
    with wiring.new_session() as session:
        runs = [run for b in batches for run in store.list_runs(session, batch_id=b)]
    latency_ms = {
        run.id: (run.finished_at - run.created_at).total_seconds() * 1000
        for run in runs
        if run.finished_at
    }
    hits = [latency_ms[r.id] for r in runs if r.cache_hit]
    misses = [latency_ms[r.id] for r in runs if not r.cache_hit]
    return Pass(
        name=name,
        runs=len(runs),
        provider_requests=after - before,
        cache_hits=len(hits),
        miss_p50_ms=statistics.median(misses),
        hit_p50_ms=statistics.median(hits) if hits else None,
        wall_s=wall_s,
    )


def render(passes: list[Pass]) -> Table:
    baseline = passes[0].provider_requests
    table = Table(title="response cache: 50% repeated requests")
    columns = ("pass", "runs", "provider requests", "saved", "hits", "miss p50", "hit p50", "wall")
    for column in columns:
        table.add_column(column, justify="right")
    for p in passes:
        saved = 1 - p.provider_requests / baseline if baseline else 0.0
        hit = "-" if p.hit_p50_ms is None else f"{p.hit_p50_ms:.0f} ms"
        table.add_row(
            p.name,
            str(p.runs),
            str(p.provider_requests),
            f"{saved:.0%}",
            str(p.cache_hits),
            f"{p.miss_p50_ms:.0f} ms",
            hit,
            f"{p.wall_s:.1f} s",
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--distinct", type=int, default=100, help="distinct questions")
    args = parser.parse_args()
    questions = [f"What's the weather in City{i}?" for i in range(args.distinct)]
    with fleet({}, runs_workers=2, tools_workers=1) as stack:
        passes = [
            measure(stack, "cache bypassed (baseline)", questions, cache=False),
            measure(stack, "cache on", questions, cache=True),
        ]
    Console().print(render(passes))


if __name__ == "__main__":
    main()

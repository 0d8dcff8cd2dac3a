"""Cost benchmark: the same runs through each lane, priced the way runq prices them.

One fleet (embedded Redis, the simulator, real workers and beat), the same batch of runs of
the demo agent (a tool turn, then the answer) sent once per lane: interactive (priority
tier), standard, flex (service_tier="flex"; the simulator refuses a share of flex creates
for capacity and runq falls back to standard) and batch (turns collected into Batch API
batches by beat). It prints $ per 1,000 runs from the runs' recorded cost (list prices times
the lane's multiplier, cached input at the cached rate), the ratio to standard, the wall
time of the batch, the share of input tokens served from the prompt cache, and the flex
fallbacks.

    python -m bench.cost [--runs 1000] [--flex-unavailable 0.1]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from bench.fleet import enqueue, finished_count, fleet, simulator

LANES = ("interactive", "standard", "flex", "batch")
MODEL = "gpt-5.4-mini"
# List prices of the demo model, $ per million tokens (cached input at a tenth).
PRICES = {MODEL: {"input_per_mtok": 0.75, "output_per_mtok": 4.5, "cached_input_per_mtok": 0.075}}


@dataclass(frozen=True)
class LaneResult:
    """One lane's pass over the batch."""

    lane: str
    runs: int
    completed: int
    cost_usd: float
    wall_s: float
    input_tokens: int
    cached_tokens: int
    fallbacks: int

    @property
    def per_1000_usd(self) -> float:
        return self.cost_usd / self.runs * 1000

    @property
    def cache_share(self) -> float:
        return self.cached_tokens / self.input_tokens if self.input_tokens else 0.0


def run_lane(lane: str, questions: list[str], timeout_s: float) -> LaneResult:
    from workers import wiring
    from workers.db import store

    started = time.monotonic()
    batch_id = enqueue(questions, lane=lane, cache=False)
    while finished_count(batch_id) < len(questions) and time.monotonic() - started < timeout_s:
        time.sleep(0.2)
    wall_s = time.monotonic() - started
    with wiring.new_session() as session:
        runs = store.list_runs(session, batch_id=batch_id)
    return LaneResult(
        lane=lane,
        runs=len(runs),
        completed=sum(r.status == "completed" for r in runs),
        cost_usd=sum(r.cost_usd for r in runs),
        wall_s=wall_s,
        input_tokens=sum(r.input_tokens for r in runs),
        cached_tokens=sum(r.cached_tokens for r in runs),
        fallbacks=sum(r.lane_fallback is not None for r in runs),
    )


def render(results: list[LaneResult], runs: int) -> Table:
    standard = next(r for r in results if r.lane == "standard")
    table = Table(title=f"cost per lane: the same {runs} runs of the demo agent through each")
    columns = ("lane", "runs", "completed", "$ / 1,000 runs", "vs standard", "wall", "cache-hit")
    for column in (*columns, "fallbacks"):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(
            r.lane,
            str(r.runs),
            str(r.completed),
            f"${r.per_1000_usd:.4f}",
            f"{r.per_1000_usd / standard.per_1000_usd:.2f}x" if standard.cost_usd else "-",
            f"{r.wall_s:.1f} s",
            f"{r.cache_share:.0%}",
            str(r.fallbacks) if r.lane == "flex" else "-",
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=1000, help="runs per lane")
    parser.add_argument(
        "--flex-unavailable", type=float, default=0.1, help="share of flex creates refused"
    )
    parser.add_argument("--timeout-s", type=float, default=900.0, help="per lane")
    args = parser.parse_args()
    questions = [
        f"What's the weather in City{i}? Also search for lane {i}." for i in range(args.runs)
    ]
    env = {
        "RUNQ_MODEL_PRICES": json.dumps(PRICES),
        # Beat collects the batch lane's waiting turns every second (an hourly job in a
        # real fleet): the batch's wall time here is the simulator's, not the schedule's.
        "RUNQ_BATCH_COLLECT_EVERY_S": "1",
    }
    with fleet(env, runs_workers=2, tools_workers=1) as stack:
        simulator(
            stack,
            "/_sim/config",
            {"flex_unavailable_rate": args.flex_unavailable, "batch_latency_ms": 2000},
        )
        # Warm the workers up first (imports, pools, tool hosts): the first lane's wall time
        # should not carry the fleet's start.
        run_lane("standard", questions[:20], args.timeout_s)
        results = [run_lane(lane, questions, args.timeout_s) for lane in LANES]
    Console(width=120).print(render(results, args.runs))


if __name__ == "__main__":
    main()

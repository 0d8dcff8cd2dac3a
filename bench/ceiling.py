"""Target 5: runq at zero model latency against the raw ceiling of its own fleet.

    python -m bench.ceiling [--runs 200] [--noop-tasks 2000]

The ceiling is what the same Redis and the same two workers do with no-op tasks (tasks/s),
divided by the tasks one run needs (start, polls, two tools; the last tool submits). Each
side runs in its own child process with a fresh stack (see bench.peers).
"""

from __future__ import annotations

import argparse
import json

from bench.peers import OUT, spawn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--noop-tasks", type=int, default=2000)
    args = parser.parse_args()
    common = {"latency_ms": 0, "jitter": 0.0, "rpm": 0}
    noop = spawn("noop", argparse.Namespace(runs=args.noop_tasks, **common))
    runq = spawn("runq", argparse.Namespace(runs=args.runs, **common))
    noop_wall_s = max(noop["finished"]) - noop["started"]
    tasks_per_s = noop["runs"] / noop_wall_s
    # One start, one task per tool call, and every poll (the last tool call of a turn
    # submits it in its own task).
    tasks_per_run = 1 + runq["tool_calls"] / runq["runs"] + runq["polls"] / runq["runs"]
    ceiling = tasks_per_s / tasks_per_run
    runq_wall_s = max(runq["finished"]) - runq["started"]
    runs_per_s = runq["runs"] / runq_wall_s
    print("| no-op tasks/s | tasks per run | ceiling runs/s | runq runs/s | share of ceiling |")
    print("|---|---|---|---|---|")
    print(
        f"| {tasks_per_s:.0f} | {tasks_per_run:.2f} | {ceiling:.1f} | {runs_per_s:.1f} "
        f"| {100 * runs_per_s / ceiling:.0f}% |"
    )
    print(f"runq CPU/run: {1000 * runq['cpu_s'] / runq['runs']:.0f} ms; notes {runq['notes']}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "ceiling.json").write_text(json.dumps({"noop": noop, "runq": runq}, indent=1))


if __name__ == "__main__":
    main()

"""Target 5: runq at zero model latency against the raw ceiling of its own fleet.

    python -m bench.ceiling [--runs 200] [--noop-tasks 2000]

The ceiling is what the same Redis and the same two workers do with no-op tasks (tasks/s),
divided by the tasks one run needs (start, polls, two tools; the last tool submits). Each
side runs in its own child process with a fresh stack (see bench.peers).

Then latency: runs one at a time, each run's wall (from its own recorded times) less its tool
phases, per model turn, beside one no-op Celery task sent and acknowledged at a time.
"""

from __future__ import annotations

import argparse
import json
import statistics

from bench.peers import OUT, spawn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--noop-tasks", type=int, default=2000)
    parser.add_argument("--latency-runs", type=int, default=30, help="runs one at a time")
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
    trip = spawn("noop-latency", argparse.Namespace(runs=args.latency_runs * 4, **common))
    trip_ms = statistics.median(trip["notes"]["round_trip_ms"])
    latency = {"noop_latency": trip}
    print()
    print("| one run at a time | runq's own time per model turn, p50 | p90 | ÷ no-op round trip |")
    print("|---|---|---|---|")
    for contender, label in (
        ("runq-turn-latency", "background turns, polled (default)"),
        ("runq-sync-turn-latency", "`sync_turns`"),
    ):
        one = spawn(contender, argparse.Namespace(runs=args.latency_runs, **common))
        latency[contender] = one
        turn_ms = sorted(one["notes"]["own_ms_per_turn"])
        p50 = statistics.median(turn_ms)
        print(f"| {label} | {p50:.1f} ms | {_p90(turn_ms):.1f} ms | {p50 / trip_ms:.1f} |")
    print(f"| no-op Celery task, sent and acknowledged | {trip_ms:.1f} ms | | 1.0 |")
    sdk = spawn("sdk-request-latency", argparse.Namespace(runs=args.latency_runs * 4, **common))
    latency["sdk_request_latency"] = sdk
    for kind, label in (("create_ms", "create"), ("retrieve_ms", "retrieve")):
        request_ms = sorted(sdk["notes"][kind])
        p50 = statistics.median(request_ms)
        print(
            f"| one SDK {label} to the simulator, alone | {p50:.1f} ms "
            f"| {_p90(request_ms):.1f} ms | {p50 / trip_ms:.1f} |"
        )
    print("A synchronous turn sends one create, a polled turn a create and a retrieve: at")
    print("zero model latency, those requests are part of runq's own time per turn.")
    OUT.mkdir(parents=True, exist_ok=True)
    results = {"noop": noop, "runq": runq, **latency}
    (OUT / "ceiling.json").write_text(json.dumps(results, indent=1))


def _p90(values: list[float]) -> float:
    return values[min(len(values) - 1, int(0.9 * len(values)))]


if __name__ == "__main__":
    main()

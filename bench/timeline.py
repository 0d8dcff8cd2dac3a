"""Where a batch's wall goes: each run's phases, read from the events it recorded.

    RUNQ_BENCH_TIMELINE=/tmp/timeline.json python -m bench.peers --only runq
    python -m bench.timeline /tmp/timeline.json [--slowest 8] [--json]

A batch's wall is its last run's end, so the totals (CPU, requests) cannot say what made it
late. Each run's events (their stream ids are millisecond times) mark where its time went:

    queued            enqueued → its first turn is at the provider (the start step)
    turn N: model     the turn at the provider, until a poll saw it end (poll overshoot in it)
    turn N: to tools  the model asked for tools → the last of them started (tools queue wait)
    turn N: tools     the last call started → the last call finished
    turn N: to submit the last call finished → the submit claimed the run
    turn N: submit    the submit claimed the run → the next turn is at the provider

The first table gives each phase's p50, p90 and max over the runs; the second the runs that
ended last, phase by phase.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.rounds import percentile

_ENDS = {"run.completed", "run.failed", "run.expired", "run.cancelled"}
_TERMINAL = {"completed", "failed", "expired", "cancelled"}


@dataclass(frozen=True, slots=True)
class Run:
    """One run's phases: (name, seconds) in order, and when it was enqueued and ended."""

    run_id: str
    created: float
    ended: float | None
    phases: tuple[tuple[str, float], ...]


def run_phases(run_id: str, created: float, events: Iterable[Sequence[Any]]) -> Run:
    """A run's phases from its events (`[time, type, data as JSON]`, as the bench writes
    them). A run that has not ended has no end and no last phase."""
    marks: list[tuple[str, float]] = [("queued", created)]
    turn = 0
    started: list[float] = []
    finished: list[float] = []
    ended: float | None = None
    for at, kind, data in sorted(events, key=lambda event: float(event[0])):
        status = _status_of(data)
        if kind in _ENDS or (kind == "run.status" and status in _TERMINAL):
            _close_tools(marks, turn, started, finished)
            ended = float(at)
            break
        if kind == "tool_call.started":
            started.append(float(at))
        elif kind == "tool_call.finished":
            finished.append(float(at))
        elif kind == "run.status" and status == "in_progress":
            _close_tools(marks, turn, started, finished)
            turn += 1
            marks.append((f"turn {turn}: model", float(at)))
        elif kind == "run.status" and status in ("requires_tools", "requires_action"):
            marks.append((f"turn {turn}: to tools", float(at)))
        elif kind == "run.status" and status == "submitting":
            _close_tools(marks, turn, started, finished)
            marks.append((f"turn {turn}: submit", float(at)))
    if ended is not None:
        marks.append(("end", ended))
    phases = tuple(
        (name, round(next_at - at, 6)) for (name, at), (_, next_at) in itertools.pairwise(marks)
    )
    return Run(run_id, created, ended, phases)


def _close_tools(
    marks: list[tuple[str, float]], turn: int, started: list[float], finished: list[float]
) -> None:
    """Mark the turn's last tool start and last finish, once its tools are over."""
    if started:
        marks.append((f"turn {turn}: tools", max(started)))
    if finished:
        marks.append((f"turn {turn}: to submit", max(finished)))
    started.clear()
    finished.clear()


def _status_of(data: Any) -> str | None:
    try:
        decoded = json.loads(data) if isinstance(data, str) else data
    except json.JSONDecodeError:
        return None
    return decoded.get("status") if isinstance(decoded, dict) else None


def load(path: Path) -> list[Run]:
    """The runs of a file written with RUNQ_BENCH_TIMELINE."""
    raw = json.loads(path.read_text())
    return [run_phases(run_id, float(r["created"]), r["events"]) for run_id, r in raw.items()]


def phase_table(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """Each phase (in the order runs go through them) with its p50, p90 and max, in ms."""
    by_phase: dict[str, list[float]] = {}
    for run in runs:
        for name, seconds in run.phases:
            by_phase.setdefault(name, []).append(seconds)
    rows = []
    for name, values in by_phase.items():
        rows.append(
            {
                "phase": name,
                "runs": len(values),
                "p50_ms": round(1000 * statistics.median(values)),
                "p90_ms": round(1000 * percentile(values, 90)),
                "max_ms": round(1000 * max(values)),
            }
        )
    return rows


def slowest(runs: Sequence[Run], count: int) -> list[Run]:
    """The `count` runs that ended last (the batch's wall is the last one's end)."""
    done = [run for run in runs if run.ended is not None]
    return sorted(done, key=lambda run: run.ended or 0.0)[-count:]


def report(runs: Sequence[Run], count: int) -> str:
    """Both tables, as markdown."""
    if not runs:
        return "no runs in the timeline"
    start = min(run.created for run in runs)
    ends = [run.ended for run in runs if run.ended is not None]
    lines = [
        f"{len(runs)} runs, {len(ends)} ended; enqueued over "
        f"{max(run.created for run in runs) - start:.2f} s; the last ended at "
        f"{(max(ends) - start) if ends else float('nan'):.2f} s",
        "",
        "| phase | runs | p50 | p90 | max |",
        "|---|---|---|---|---|",
    ]
    table = phase_table(runs)
    for row in table:
        lines.append(
            f"| {row['phase']} | {row['runs']} | {row['p50_ms']} ms | {row['p90_ms']} ms "
            f"| {row['max_ms']} ms |"
        )
    last = slowest(runs, count)
    names = [row["phase"] for row in table]
    lines += ["", "The runs that ended last (seconds):", ""]
    lines.append("| enqueued at | ended at | " + " | ".join(names) + " |")
    lines.append("|---|---|" + "---|" * len(names))
    for run in last:
        seconds = dict(run.phases)
        cells = [f"{seconds[name]:.2f}" if name in seconds else "-" for name in names]
        lines.append(
            f"| {run.created - start:.2f} | {(run.ended or 0.0) - start:.2f} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("timeline", type=Path, help="the file RUNQ_BENCH_TIMELINE named")
    parser.add_argument("--slowest", type=int, default=8, help="runs in the second table")
    parser.add_argument("--json", action="store_true", help="the phase table as JSON")
    args = parser.parse_args(argv)
    try:
        runs = load(args.timeline)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"error: cannot read {args.timeline}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(phase_table(runs)))
    else:
        print(report(runs, args.slowest))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How long runq's SQLite statements take in a 200-run batch, the wait for the file's one
write lock included, by process and statement.

    python -m bench.sqlite_waits [--runs 200] [--repeat 3] [--before DIR]

Runs `bench.peers`' runq contender (the README's two workers, on the default SQLite file)
with `bench/sqlite_site` first on every process's PYTHONPATH: its `sitecustomize` times each
statement and commit. A write that finds the file locked waits in SQLite's busy handler,
which sleeps 1, 2, 5, 10 … 100 ms between tries, so the time of a write is mostly the time
it waited. With --repeat each figure is the median of the rounds; --before DIR runs the
checkout in DIR (a `git worktree` of an earlier commit) in the same rounds, interleaved.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.peers import parse_args as peers_args
from bench.peers import spawn
from bench.rounds import percentile

SITE = Path(__file__).resolve().parent / "sqlite_site"
_PROCESSES = (("-Q runs", "runs worker"), ("-Q tools", "tools worker"), ("bench", "enqueuer"))


def process_name(argv: Sequence[str]) -> str:
    """Which of the batch's processes wrote a file, from its command line."""
    line = " ".join(argv)
    return next((name for marker, name in _PROCESSES if marker in line), line[:40])


def summary(times: dict[str, dict[str, list[float]]]) -> list[dict[str, Any]]:
    """Per process and statement: how many, their total seconds, p50, p99 and max (ms)."""
    rows = []
    for process, by_kind in sorted(times.items()):
        for kind, values in sorted(by_kind.items(), key=lambda item: -sum(item[1])):
            rows.append(
                {
                    "process": process,
                    "statement": kind,
                    "count": len(values),
                    "total_s": round(sum(values), 2),
                    "p50_ms": round(1000 * statistics.median(values), 2),
                    "p99_ms": round(1000 * percentile(values, 99), 1),
                    "max_ms": round(1000 * max(values), 1),
                }
            )
    return rows


def median_rows(rounds: Sequence[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Each (process, statement)'s figures, the median over the rounds that had it."""
    keyed: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for rows in rounds:
        for row in rows:
            keyed.setdefault((row["process"], row["statement"]), []).append(row)
    merged = []
    for (process, kind), rows in keyed.items():
        merged.append(
            {"process": process, "statement": kind}
            | {
                field: statistics.median(row[field] for row in rows)
                for field in ("count", "total_s", "p50_ms", "p99_ms", "max_ms")
            }
        )
    return sorted(merged, key=lambda row: (row["process"], -row["total_s"]))


def one_batch(runs: int, checkout: Path | None) -> list[dict[str, Any]]:
    """One runq batch with every statement timed; its summary."""
    out = Path(tempfile.mkdtemp(prefix="runq-sqlite-waits-"))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SITE), env.get("PYTHONPATH")]))
    env["RUNQ_BENCH_SQLITE_TIMES"] = str(out / "times")
    spawn("runq", peers_args(["--runs", str(runs)]), checkout, env)  # the peers' workload
    times: dict[str, dict[str, list[float]]] = {}
    for path in out.glob("times.*.json"):
        written = json.loads(path.read_text())
        if written["times"]:
            name = process_name(written["argv"])
            for kind, values in written["times"].items():
                times.setdefault(name, {}).setdefault(kind, []).extend(values)
    return summary(times)


def table(rows: Sequence[dict[str, Any]], label: str) -> str:
    lines = [
        f"| {label}: process | statement | count | total | p50 | p99 | max |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if row["total_s"] < 0.05:  # statements that never waited: migrations, reads
            continue
        lines.append(
            f"| {row['process']} | {row['statement']} | {row['count']:.0f} | "
            f"{row['total_s']:.2f} s | {row['p50_ms']:.2f} ms | {row['p99_ms']:.1f} ms | "
            f"{row['max_ms']:.1f} ms |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--before", type=Path, help="another checkout, run in the same rounds")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.runs < 1:
        parser.error("--runs and --repeat must be at least 1")
    if args.before is not None and not (args.before / "workers").is_dir():
        parser.error(f"--before {args.before}: not a runq checkout")
    checkouts: list[tuple[str, Path | None]] = [("this checkout", None)]
    if args.before is not None:
        checkouts.insert(0, ("before", args.before))
    rounds: dict[str, list[list[dict[str, Any]]]] = {label: [] for label, _ in checkouts}
    for index in range(args.repeat):
        for label, checkout in checkouts:
            print(f"round {index + 1}/{args.repeat}: {label}", file=sys.stderr)
            rounds[label].append(one_batch(args.runs, checkout))
    for label, _ in checkouts:
        print(table(median_rows(rounds[label]), label))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

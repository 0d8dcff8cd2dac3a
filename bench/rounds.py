"""Medians over interleaved rounds of `bench.peers`, and ratios taken within each round.

One 200-run batch on a shared machine is not a figure: the same code measured 47 to 66 ms of
CPU a run within one hour here. What holds still is a ratio between contenders that ran
back to back, so each round runs every contender once, and the summary gives, per
contender, the median (and range) of its own figures and of its ratio to each reference
contender in the same round.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

BEFORE_SUFFIX = "@before"
"""A contender run from another checkout (`--before DIR`) is named `<contender>@before`."""


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


@dataclass(frozen=True, slots=True)
class Spread:
    """The median of a few measurements, with their range."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            raise ValueError("no measurements")
        return cls(statistics.median(values), min(values), max(values))

    def show(self, unit: str, digits: int) -> str:
        one = f"{self.median:.{digits}f}{unit}"
        if len({round(self.low, digits), round(self.high, digits)}) == 1:
            return one
        return f"{one} ({self.low:.{digits}f}-{self.high:.{digits}f})"


def wall_s(result: dict[str, Any]) -> float:
    """Seconds from the batch's send to its last finished run."""
    return float(max(result["finished"]) - result["started"])


def cpu_ms_per_run(result: dict[str, Any]) -> float:
    return 1000 * float(result["cpu_s"]) / int(result["runs"])


@dataclass(frozen=True, slots=True)
class Summary:
    """One contender over every round."""

    contender: str
    rounds: int
    failed_runs: int
    wall_s: Spread
    cpu_ms: Spread
    requests_per_run: Spread
    redis_per_run: Spread | None
    cpu_ms_per_worker: list[Spread]
    """runq's CPU per run by worker process (runs, tools), where the contender notes it."""
    wall_ratio: dict[str, Spread]
    """Per reference contender: this one's wall ÷ the reference's, in the same round."""
    cpu_ratio: dict[str, Spread]


def summarize(
    rounds: Sequence[dict[str, dict[str, Any]]], references: Sequence[str]
) -> list[Summary]:
    """`rounds`: per round, each contender's result by name. A reference missing from a
    round gives that round no ratio."""
    names = list(dict.fromkeys(name for one in rounds for name in one))
    summaries = []
    for name in names:
        results = [one[name] for one in rounds if name in one]
        redis = [
            r["notes"]["redis_commands_per_run"]
            for r in results
            if "redis_commands_per_run" in r["notes"]
        ]
        split = [
            r["notes"]["cpu_ms_per_run_runs_tools"]
            for r in results
            if "cpu_ms_per_run_runs_tools" in r["notes"]
        ]
        wall_ratio: dict[str, Spread] = {}
        cpu_ratio: dict[str, Spread] = {}
        for reference in references:
            if not _compares(name, reference):
                continue
            pairs = [
                (one[name], one[reference]) for one in rounds if name in one and reference in one
            ]
            if not pairs:
                continue
            wall_ratio[reference] = Spread.of([wall_s(a) / wall_s(b) for a, b in pairs])
            cpu_ratio[reference] = Spread.of(
                [cpu_ms_per_run(a) / cpu_ms_per_run(b) for a, b in pairs]
            )
        summaries.append(
            Summary(
                contender=name,
                rounds=len(results),
                failed_runs=sum(int(r["runs"]) - len(r["finished"]) for r in results),
                wall_s=Spread.of([wall_s(r) for r in results]),
                cpu_ms=Spread.of([cpu_ms_per_run(r) for r in results]),
                requests_per_run=Spread.of([r["requests"] / r["runs"] for r in results]),
                redis_per_run=Spread.of(redis) if redis else None,
                cpu_ms_per_worker=[Spread.of(list(worker)) for worker in zip(*split, strict=True)],
                wall_ratio=wall_ratio,
                cpu_ratio=cpu_ratio,
            )
        )
    return summaries


def _compares(name: str, reference: str) -> bool:
    """A contender is divided by every reference but itself; by an earlier checkout's run,
    only the same contender is (`runq` by `runq@before`)."""
    if reference.endswith(BEFORE_SUFFIX):
        return name == reference.removesuffix(BEFORE_SUFFIX)
    return name != reference


def table(summaries: Sequence[Summary], references: Sequence[str]) -> list[str]:
    """The Markdown table of the medians (ranges in brackets)."""
    header = ["contender", "rounds", "wall", "CPU/run", "runs + tools worker", "requests/run"]
    header += ["Redis commands/run"]
    for reference in references:
        header += [f"wall ÷ {reference}", f"CPU ÷ {reference}"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for summary in summaries:
        name = summary.contender
        if summary.failed_runs:
            name += f" ({summary.failed_runs} runs failed)"
        cells = [
            name,
            str(summary.rounds),
            summary.wall_s.show(" s", 1),
            summary.cpu_ms.show(" ms", 0),
            " + ".join(f"{worker.median:.1f}" for worker in summary.cpu_ms_per_worker) or "-",
            summary.requests_per_run.show("", 2),
            summary.redis_per_run.show("", 1) if summary.redis_per_run else "-",
        ]
        for reference in references:
            for ratios in (summary.wall_ratio, summary.cpu_ratio):
                cells.append(ratios[reference].show("x", 2) if reference in ratios else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return lines

"""Interleaved rounds of the peers benchmark: medians, and ratios taken within each round."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.peers import _plan, _references, parse_args
from bench.rounds import Spread, summarize, table


def result(
    wall_s: float, cpu_s: float, *, redis: float | None = None, failed: int = 0
) -> dict[str, Any]:
    notes: dict[str, Any] = {}
    if redis is not None:  # runq notes its Redis commands and its CPU by worker
        notes = {"redis_commands_per_run": redis, "cpu_ms_per_run_runs_tools": [redis / 2, 10.0]}
    return {
        "runs": 10,
        "started": 100.0,
        "finished": [100.0 + wall_s] * (10 - failed),
        "cpu_s": cpu_s,
        "requests": 40,
        "notes": notes,
    }


ROUNDS = [
    # The machine is slow in round 2: both contenders' figures move, their ratio does not.
    {"sdk": result(10.0, 0.25), "runq": result(14.0, 0.50, redis=58.0)},
    {"sdk": result(20.0, 0.50), "runq": result(28.0, 1.00, redis=60.0)},
    {"sdk": result(11.0, 0.30), "runq": result(15.0, 0.60, redis=57.0)},
]


def test_ratios_are_taken_within_each_round_and_their_median_reported() -> None:
    runq = {s.contender: s for s in summarize(ROUNDS, ["sdk"])}["runq"]
    assert runq.wall_s == Spread(15.0, 14.0, 28.0)
    assert runq.cpu_ms == Spread(60.0, 50.0, 100.0)
    assert runq.cpu_ratio["sdk"] == Spread(2.0, 2.0, 2.0)
    # 14/10, 28/20, 15/11: the slow round does not stretch the ratio.
    assert runq.wall_ratio["sdk"].median == pytest.approx(1.4)
    assert runq.redis_per_run == Spread(58.0, 57.0, 60.0)
    assert runq.cpu_ms_per_worker == [Spread(29.0, 28.5, 30.0), Spread(10.0, 10.0, 10.0)]


def test_a_reference_is_not_divided_by_itself_and_a_before_run_only_by_its_own_name() -> None:
    rounds = [
        {"runq@before": result(12.0, 0.6), "runq": result(11.0, 0.5), "sdk": result(8.0, 0.3)}
    ]
    summaries = {s.contender: s for s in summarize(rounds, ["sdk", "runq@before"])}
    assert set(summaries["runq"].cpu_ratio) == {"sdk", "runq@before"}
    assert summaries["runq"].cpu_ratio["runq@before"].median == pytest.approx(0.5 / 0.6)
    assert set(summaries["sdk"].cpu_ratio) == set()
    assert set(summaries["runq@before"].cpu_ratio) == {"sdk"}


def test_the_table_shows_medians_with_ranges_and_failed_runs() -> None:
    rounds = [*ROUNDS[:2], {"sdk": result(11.0, 0.30), "runq": result(15.0, 0.60, failed=2)}]
    lines = table(summarize(rounds, ["sdk"]), ["sdk"])
    assert lines[0] == (
        "| contender | rounds | wall | CPU/run | runs + tools worker | requests/run "
        "| Redis commands/run | wall ÷ sdk | CPU ÷ sdk |"
    )
    assert lines[2] == "| sdk | 3 | 11.0 s (10.0-20.0) | 30 ms (25-50) | - | 4.00 | - | - | - |"
    assert lines[3].startswith(
        "| runq (2 runs failed) | 3 | 15.0 s (14.0-28.0) | 60 ms (50-100) | 29.5 + 10.0 |"
    )
    assert lines[3].endswith("| 59.0 (58.0-60.0) | 1.40x (1.36-1.40) | 2.00x |")


def test_before_runs_each_runq_contender_from_the_other_checkout_next_to_its_own(
    tmp_path: Path,
) -> None:
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "peers.py").write_text("")
    args = parse_args(["--only", "agents-asyncio,runq", "--repeat", "3", "--before", str(tmp_path)])
    plan = _plan(args)
    assert plan == [("agents-asyncio", None), ("runq@before", tmp_path), ("runq", None)]
    assert _references(args, plan) == ["agents-asyncio", "runq@before"]


def test_bad_options_are_refused_with_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--before", str(tmp_path)])
    assert "not a runq checkout" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--repeat", "0"])
    args = parse_args(["--only", "runq", "--ratio-to", "agents-asyncio"])
    with pytest.raises(SystemExit, match="not run here"):
        _references(args, _plan(args))

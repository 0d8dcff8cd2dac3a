"""A batch's timeline: each run's phases from its events, and the tables made of them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.timeline import main, phase_table, report, run_phases, slowest


def status(at: float, value: str, **extra: object) -> list[object]:
    return [at, "run.status", json.dumps({"status": value, **extra})]


def tool(at: float, kind: str, call_id: str) -> list[object]:
    return [at, f"tool_call.{kind}", json.dumps({"call_id": call_id})]


TWO_TURNS = [
    status(10.5, "in_progress"),
    status(12.5, "requires_tools", turn=1),
    [12.5, "tool_calls.requested", json.dumps({"turn": 1, "calls": []})],
    tool(12.6, "started", "a"),
    tool(13.0, "started", "b"),
    tool(12.8, "finished", "a"),
    tool(13.2, "finished", "b"),
    status(13.25, "submitting"),
    status(13.3, "in_progress"),
    [15.0, "run.completed", json.dumps({"status": "completed"})],
]


def test_a_tool_turn_is_cut_at_the_last_start_and_the_last_finish() -> None:
    run = run_phases("run_1", 10.0, TWO_TURNS)
    assert run.ended == 15.0
    assert [(name, round(seconds, 3)) for name, seconds in run.phases] == [
        ("queued", 0.5),
        ("turn 1: model", 2.0),
        ("turn 1: to tools", 0.5),  # the second call waited for a thread
        ("turn 1: tools", 0.2),
        ("turn 1: to submit", 0.05),
        ("turn 1: submit", 0.05),
        ("turn 2: model", 1.7),
    ]


def test_events_out_of_order_are_read_in_time_order() -> None:
    assert run_phases("run_1", 10.0, reversed(TWO_TURNS)) == run_phases("run_1", 10.0, TWO_TURNS)


def test_a_run_answered_at_once_has_one_model_phase_and_one_still_running_has_no_end() -> None:
    answered = run_phases("run_1", 0.0, [status(0.2, "in_progress"), status(1.2, "completed")])
    assert answered.phases == (("queued", 0.2), ("turn 1: model", 1.0))
    running = run_phases("run_2", 0.0, [status(0.2, "in_progress")])
    assert (running.ended, running.phases) == (None, (("queued", 0.2),))


def test_a_failed_run_ends_where_it_failed() -> None:
    events = [status(0.1, "in_progress"), [0.9, "run.failed", json.dumps({"status": "failed"})]]
    assert run_phases("run_1", 0.0, events).phases == (("queued", 0.1), ("turn 1: model", 0.8))


def test_the_tables_give_each_phase_its_quantiles_and_the_runs_that_ended_last() -> None:
    runs = [
        run_phases(f"run_{i}", 0.0, [status(0.1 * i, "in_progress"), status(2.0 + i, "completed")])
        for i in range(1, 11)
    ]
    queued = phase_table(runs)[0]
    assert queued == {"phase": "queued", "runs": 10, "p50_ms": 550, "p90_ms": 900, "max_ms": 1000}
    assert [run.run_id for run in slowest(runs, 2)] == ["run_9", "run_10"]
    text = report(runs, 2)
    assert "10 runs, 10 ended; enqueued over 0.00 s; the last ended at 12.00 s" in text
    assert text.splitlines()[-1].startswith("| 0.00 | 12.00 | 1.00 | 11.00 |")


def test_the_command_reads_the_benchs_file_and_says_what_is_wrong_with_a_bad_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "timeline.json"
    path.write_text(json.dumps({"run_1": {"created": 10.0, "events": TWO_TURNS}}))
    assert main([str(path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["phase"] for row in rows][:3] == ["queued", "turn 1: model", "turn 1: to tools"]
    assert main([str(tmp_path / "missing.json")]) == 2
    assert capsys.readouterr().err.startswith("error: cannot read ")

"""Exit codes scripts can trust: 0 only when the run completed, one code per other outcome."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from config.exit_codes import ExitCode, exit_code_for_run
from gateway.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("completed", ExitCode.OK),
        ("failed", ExitCode.RUN_FAILED),
        ("cancelled", ExitCode.RUN_CANCELLED),
        ("expired", ExitCode.RUN_EXPIRED),
        ("pending", ExitCode.TIMED_OUT),
        ("in_progress", ExitCode.TIMED_OUT),
    ],
)
def test_status_exits_with_the_runs_code(seed_run, status, code):
    run_id = seed_run(status)
    result = runner.invoke(app, ["status", run_id])
    assert result.exit_code == code == exit_code_for_run(status)
    assert f"status: {status}" in result.output


def test_the_codes_are_distinct_and_documented():
    import config.exit_codes

    assert len({int(code) for code in ExitCode}) == len(ExitCode)
    doc = config.exit_codes.__doc__ or ""
    for code in ExitCode:
        assert f"\n{int(code)} " in doc


def test_status_wait_gives_up_with_timed_out(seed_run):
    run_id = seed_run("pending")
    result = runner.invoke(app, ["status", run_id, "--wait", "--timeout-s", "0.1"])
    assert result.exit_code == ExitCode.TIMED_OUT
    assert "timed out" in result.output and f"runq runs watch {run_id}" in result.output


def test_runs_watch_of_a_finished_run_returns_its_code(seed_run):
    assert runner.invoke(app, ["runs", "watch", seed_run("failed")]).exit_code == 3
    assert runner.invoke(app, ["runs", "watch", seed_run("completed")]).exit_code == 0


def test_status_of_an_unknown_run_is_not_found(seed_run):
    result = runner.invoke(app, ["status", "run_nope"])
    assert result.exit_code == ExitCode.NOT_FOUND
    assert result.output.strip() == "error: no run with id 'run_nope'"


def test_cancel_of_a_finished_run_says_so_and_exits_already_ended(seed_run):
    result = runner.invoke(app, ["cancel", seed_run("completed"), "--json"])
    assert result.exit_code == ExitCode.ALREADY_ENDED
    assert json.loads(result.output) | {"id": None} == {
        "id": None,
        "cancelled": False,
        "status": "completed",
    }


def test_cancel_of_an_active_run_cancels_it_and_again_is_still_ok(seed_run):
    run_id = seed_run("pending")
    first = runner.invoke(app, ["cancel", run_id])
    assert first.exit_code == 0 and f"cancelled {run_id}" in first.output
    again = runner.invoke(app, ["cancel", run_id])
    assert again.exit_code == 0 and "already ended (cancelled)" in again.output
    assert runner.invoke(app, ["status", run_id]).exit_code == ExitCode.RUN_CANCELLED


@pytest.mark.parametrize(
    "args",
    [
        ["enqueue", "--agent", "assistant"],
        ["enqueue", "--agent", "assistant", "--input", "a", "--input-file", "x.txt"],
        ["enqueue", "--agent", "assistant", "--input-file", "/nonexistent/input.txt"],
        ["enqueue", "--agent", "assistant", "--input", "a", "--model-hint", "huge"],
        ["enqueue", "--agent", "assistant", "--input", "a", "--deadline-s", "-1"],
        ["enqueue", "--agent", "assistant", "--input", "a", "--metadata", "no-equals-sign"],
        ["status"],
        ["runs", "list", "--limit", "0"],
    ],
)
def test_bad_usage_exits_2_with_one_line(seed_run, args):
    result = runner.invoke(app, args)
    assert result.exit_code == ExitCode.BAD_USAGE, result.output


def test_enqueue_of_an_unknown_agent_is_not_found_with_the_known_names(seed_run):
    result = runner.invoke(app, ["enqueue", "--agent", "nope", "--input", "hi"])
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "unknown agent 'nope'" in result.output and "assistant" in result.output


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(seed_run, monkeypatch):
    import gateway.run_view

    def broken(run_id: str) -> dict[str, object]:
        raise KeyError("boom")

    monkeypatch.setattr(gateway.run_view, "describe_run", broken)
    result = runner.invoke(app, ["status", "run_x"])
    assert result.exit_code == ExitCode.INTERNAL_ERROR
    assert len(result.output.strip().splitlines()) == 1 and "--debug" in result.output
    debug = runner.invoke(app, ["--debug", "status", "run_x"])
    assert isinstance(debug.exception, KeyError)

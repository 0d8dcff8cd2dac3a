"""`runq schedules …` and `runq enqueue --run-at`: JSON with every field, one-line refusals
with the exit code of their kind."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from config.exit_codes import ExitCode
from gateway.cli import app

runner = CliRunner()
CREATE = ["schedules", "create", "--agent", "assistant", "--input", "Daily report"]
SCHEDULE_KEYS = {
    "id", "agent", "run", "cron", "timezone", "missed", "overlap", "enabled", "next_fire_at",
    "last_fired_at", "last_run_id", "last_skip_reason", "created_at", "updated_at",
}  # fmt: skip


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_a_schedule_from_create_to_delete(seed_run):
    created = invoke(*CREATE, "--cron", "0 9 * * 1-5", "--timezone", "Europe/Oslo", "--json")
    assert created.exit_code == 0, created.output
    schedule = json.loads(created.output)
    assert set(schedule) == SCHEDULE_KEYS
    assert (schedule["cron"], schedule["timezone"], schedule["enabled"]) == (
        "0 9 * * 1-5",
        "Europe/Oslo",
        True,
    )
    sid = schedule["id"]

    listed = json.loads(invoke("schedules", "list", "--json").output)
    assert [row["id"] for row in listed] == [sid]
    assert "1 schedules" in invoke("schedules", "list").output

    paused = json.loads(invoke("schedules", "pause", sid, "--json").output)
    assert (paused["enabled"], paused["next_fire_at"]) == (False, None)
    resumed = json.loads(invoke("schedules", "resume", sid, "--json").output)
    assert resumed["enabled"] is True and resumed["next_fire_at"] is not None
    assert "cron: 0 9 * * 1-5" in invoke("schedules", "show", sid).output

    assert invoke("schedules", "delete", sid).exit_code == 0
    gone = invoke("schedules", "show", sid)
    assert gone.exit_code == ExitCode.NOT_FOUND and f"no schedule with id '{sid}'" in gone.output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--cron", "61 * * * *"], "invalid --cron: Value error, Bad minute"),
        (["--cron", "* *"], "invalid --cron: Value error, Wrong number of fields"),
        (["--cron", "* * * * *", "--timezone", "Mars/Base"], "invalid --timezone"),
        (["--cron", "* * * * *", "--missed", "later"], "invalid --missed"),
        (["--cron", "* * * * *", "--overlap", "queue"], "invalid --overlap"),
        (["--cron", "* * * * *", "--metadata", "nolabel"], "invalid --metadata"),
    ],
)
def test_a_bad_schedule_is_bad_usage_naming_the_flag(seed_run, args, says):
    result = invoke(*CREATE, *args)
    assert result.exit_code == ExitCode.BAD_USAGE and says in result.output, result.output
    assert json.loads(invoke("schedules", "list", "--json").output) == []


def test_a_schedule_of_an_unknown_agent_is_not_found_with_the_known_names(seed_run):
    result = invoke("schedules", "create", "--agent", "nope", "--input", "x", "--cron", "* * * * *")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert "unknown agent 'nope'" in result.output and "assistant" in result.output


@pytest.mark.parametrize("verb", ["show", "pause", "resume", "delete"])
def test_an_unknown_schedule_is_not_found(seed_run, verb):
    result = invoke("schedules", verb, "sch_nope")
    assert result.exit_code == ExitCode.NOT_FOUND and "no schedule with id" in result.output


def test_help_explains_the_group_and_the_policies():
    assert "schedules" in invoke("--help").output
    text = invoke("schedules", "create", "--help").output
    assert "catch_up_once" in text and "enqueue" in text and "--cron" in text


def test_enqueue_refuses_a_run_at_without_a_time_zone(seed_run):
    result = invoke(
        "enqueue", "--agent", "assistant", "--input", "hi", "--run-at", "2030-01-01T09:00:00"
    )
    assert result.exit_code == ExitCode.BAD_USAGE
    assert "invalid --run-at" in result.output and "time zone" in result.output


def test_a_runs_json_view_shows_its_run_at(seed_run):
    from datetime import UTC, datetime

    run_at = datetime(2030, 1, 1, 9, tzinfo=UTC)
    run_id = seed_run("pending", run_at=run_at)
    shown = json.loads(invoke("status", run_id, "--json").output)
    assert shown["run_at"] == "2030-01-01 09:00:00+00:00"

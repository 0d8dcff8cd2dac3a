"""`runq thread NAME`: a thread is found by the name its caller used, whoever owns it."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from config.exit_codes import ExitCode
from gateway.cli import app

runner = CliRunner()


def shown_run_ids(args: list[str]) -> list[str]:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == ExitCode.OK, result.output
    return [run["id"] for run in json.loads(result.output)["runs"]]


def test_names_with_slashes_and_underscores_are_found_exactly(seed_run):
    mine = seed_run("completed", thread_key="key_a/team_1/user-1")
    seed_run("completed", thread_key="key_a/user-1")  # a suffix of the name above, not it
    seed_run("completed", thread_key="key_b/xteam_1/user-1")  # same ending, other name
    seed_run("completed", thread_key="key_c/team%1/user-1")  # LIKE wildcards stay literal

    assert shown_run_ids(["thread", "team_1/user-1"]) == [mine]


def test_an_unowned_thread_and_a_keys_thread_of_one_name_need_the_choice(seed_run):
    seed_run("completed", thread_key="user-7")
    seed_run("completed", thread_key="key_a/user-7")

    result = runner.invoke(app, ["thread", "user-7"])
    assert result.exit_code == ExitCode.BAD_USAGE
    assert "several API keys" in result.output and "--key" in result.output
    unknown = runner.invoke(app, ["thread", "user-7", "--key", "nobody"])
    assert unknown.exit_code == ExitCode.NOT_FOUND and "nobody" in unknown.output

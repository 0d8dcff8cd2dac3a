"""The command line: help that explains, and clear errors that say what to do."""

import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from gateway.cli import app

runner = CliRunner()


def test_help_lists_every_command():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in (
        "demo",
        "worker",
        "enqueue",
        "status",
        "cancel",
        "thread",
        "usage",
        "simulator",
        "migrate",
        "cache",
        "runs",
        "agents",
        "tools",
        "serve",
        "keys",
    ):
        assert command in result.output


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("runq ")


def test_shell_completion_is_offered():
    assert "--install-completion" in runner.invoke(app, ["--help"]).output


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(180)
def test_the_demo_runs_a_batch_on_embedded_defaults(tmp_path):
    # The README's main job, on a fresh environment: no Redis, database or key configured.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "DATABASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL")
    }
    command = [
        sys.executable,
        "-m",
        "gateway.cli",
        "demo",
        # Through the HTTP API with a key (issue 8): the same fleet and table; the direct
        # enqueue path is the one every integration test's enqueue_batch takes.
        "--http",
        "--runs",
        "20",
        "--workdir",
        str(tmp_path),
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=170)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "runq demo" in result.stdout and "HTTP API on http://127.0.0.1:" in result.stderr
    # The first run's transcript comes before the table, so a newcomer sees what a run is.
    transcript = result.stdout.index("The first run")
    assert transcript < result.stdout.index("tool get_weather(") < result.stdout.index("runq demo")
    assert "assistant (completed): Here is what I found" in result.stdout
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in result.stdout.splitlines()
        if line.count("│") == 3
    }
    assert rows["completed"] == "20" and rows["failed"] == "0"
    assert rows["tool calls run twice"] == "0"

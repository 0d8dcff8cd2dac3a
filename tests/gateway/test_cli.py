"""The command line: help that explains, and clear errors that say what to do."""

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


# `runq demo` and `runq demo --http`, as the README and `make demo` start them, run in
# tests/entrypoints/test_every_entrypoint.py.

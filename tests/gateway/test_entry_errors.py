"""Errors in one line at every entry point: the variable and the fix, or the URL and how long."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from config.exit_codes import ExitCode
from gateway.cli import app
from gateway.commands.fleet import worker_node_name
from gateway.entry_errors import redact_url

runner = CliRunner()


def invoke(monkeypatch, env: dict[str, str], args: list[str]):
    from workers import wiring

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    wiring.reset()  # settings are read once per process
    return runner.invoke(app, args)


@pytest.mark.parametrize(
    ("env", "args", "names"),
    [
        ({"RUNQ_MODEL_LIMITS": "not json"}, ["status", "run_x"], "RUNQ_MODEL_LIMITS is not valid"),
        ({"RUNQ_MAX_TURNS": "many"}, ["agents"], "RUNQ_MAX_TURNS: Input should be"),
        ({"RUNQ_POLL_CAP_S": "1000"}, ["runs", "list"], "RUNQ_VISIBILITY_TIMEOUT_S must"),
        ({"RUNQ_CACHE_TTL_S": "-1"}, ["tools"], "RUNQ_CACHE_TTL_S: Input should be greater"),
        (
            {"RUNQ_MODEL_PRICES": '{"gpt": {}}'},
            ["agents"],
            "RUNQ_MODEL_PRICES (at gpt.input_per_mtok): Field required",
        ),
        ({"DATABASE_URL": "not a url"}, ["status", "run_x"], "DATABASE_URL is not a usable"),
        ({}, ["enqueue", "--agent", "assistant", "--input", "hi"], "REDIS_URL is not set"),
        ({}, ["cache"], "REDIS_URL is not set"),
        ({}, ["worker"], "REDIS_URL is not set"),
        ({"RUNQ_AGENT_MODULES": '["no.such.module"]'}, ["worker"], "RUNQ_AGENT_MODULES names"),
    ],
)
def test_a_configuration_mistake_is_one_line_naming_the_variable(
    seed_run, monkeypatch, env, args, names
):
    result = invoke(monkeypatch, env, args)
    assert result.exit_code == ExitCode.CONFIG_ERROR, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert names in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("env", "args", "service"),
    [
        (
            {"REDIS_URL": "redis://:s3cret@127.0.0.1:1/0"},
            ["enqueue", "--agent", "assistant", "--input", "hi"],
            "cannot reach Redis at redis://127.0.0.1:1/0 (REDIS_URL); gave up after",
        ),
        (
            {"REDIS_URL": "redis://:s3cret@127.0.0.1:1/0"},
            ["worker", "--queues", "tools"],
            "cannot reach Redis at redis://127.0.0.1:1/0 (REDIS_URL); gave up after",
        ),
        (
            {"DATABASE_URL": "postgresql+psycopg://runq:s3cret@127.0.0.1:1/runq"},
            ["status", "run_x"],
            "cannot reach the database at postgresql+psycopg://127.0.0.1:1/runq (DATABASE_URL)",
        ),
    ],
)
def test_an_unreachable_service_is_one_line_with_its_url_without_credentials(
    seed_run, monkeypatch, env, args, service
):
    result = invoke(monkeypatch, env, args)
    assert result.exit_code == ExitCode.UNREACHABLE, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert service in result.output and "s3cret" not in result.output


def test_debug_shows_the_traceback(seed_run, monkeypatch):
    result = invoke(monkeypatch, {"RUNQ_MAX_TURNS": "many"}, ["--debug", "agents"])
    assert result.exit_code != 0 and type(result.exception).__name__ == "ConfigError"


def test_the_real_entry_point_prints_one_line_on_a_broken_setting(tmp_path):
    # A subprocess: here `config` itself fails at import, as it does for a user.
    env = dict(os.environ, RUNQ_MODEL_LIMITS="not json", DATABASE_URL=f"sqlite:///{tmp_path}/r.db")
    command = [sys.executable, "-m", "gateway.cli", "status", "run_x"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == ExitCode.CONFIG_ERROR
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1
    assert "RUNQ_MODEL_LIMITS is not valid JSON" in result.stderr


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:pw@cache.internal:6380/2", "redis://cache.internal:6380/2"),
        ("postgresql+psycopg://u:pw@db/runq?sslmode=require", "postgresql+psycopg://db/runq"),
        ("sqlite:///runq.db", "sqlite:///runq.db"),
    ],
)
def test_urls_are_shown_without_credentials(url, shown):
    assert redact_url(url) == shown


def test_worker_nodes_are_named_per_process():
    assert worker_node_name("runs,tools", 4242) == "runq-runs-tools-4242@%h"
    assert worker_node_name("tools", 7) != worker_node_name("tools", 8)


def test_worker_passes_unknown_options_to_celery(seed_run, monkeypatch, redis_server):
    calls = []
    monkeypatch.setattr(os, "execv", lambda path, args: calls.append(args))
    args = ["worker", "--queues", "tools", "--max-tasks-per-child", "100", "--without-gossip"]
    result = invoke(monkeypatch, {"REDIS_URL": redis_server.url}, args)
    assert result.exit_code == 0, result.output
    (argv,) = calls
    assert argv[-3:] == ["--max-tasks-per-child", "100", "--without-gossip"]
    assert argv[argv.index("--hostname") + 1] == f"runq-tools-{os.getpid()}@%h"


def test_settings_errors_name_the_variable_of_each_group():
    from config.setting_errors import _env_name

    assert _env_name("url", "RedisSettings") == "REDIS_URL"
    assert _env_name("url", "DatabaseSettings") == "DATABASE_URL"
    assert _env_name("ttl_s", "CacheSettings") == "RUNQ_CACHE_TTL_S"
    assert _env_name("max_turns") == "RUNQ_MAX_TURNS"
    assert _env_name("RUNQ_MODEL_PRICES") == "RUNQ_MODEL_PRICES"


@pytest.mark.parametrize(
    ("env", "args", "code", "says"),
    [
        ({}, ["cache", "--json"], ExitCode.CONFIG_ERROR, "REDIS_URL is not set"),
        ({"RUNQ_MAX_TURNS": "many"}, ["tools", "--json"], ExitCode.CONFIG_ERROR, "RUNQ_MAX_TURNS"),
        (
            {"REDIS_URL": "redis://:s3cret@127.0.0.1:1/0"},
            ["cache", "--json"],
            ExitCode.UNREACHABLE,
            "cannot reach Redis at redis://127.0.0.1:1/0",
        ),
    ],
)
def test_with_json_an_error_is_one_json_object_on_stderr(
    seed_run, monkeypatch, env, args, code, says
):
    # A script reads `--json` output with a parser: the error must parse too (stdout stays empty).
    result = invoke(monkeypatch, env, args)
    assert result.exit_code == code
    assert result.stdout == ""
    error = json.loads(result.stderr)
    assert error["exit_code"] == code and says in error["error"] and "s3cret" not in result.stderr


def test_a_worker_may_serve_a_queue_that_producers_name_in_runq_extra_queues(monkeypatch):
    from config.celery_app import app as celery_app
    from config.settings import get_settings
    from gateway.preflight import known_queues, unknown_queues

    assert unknown_queues(["runs", "jobs-billing"], known_queues(celery_app.conf)) == [
        "jobs-billing"
    ]
    monkeypatch.setenv("RUNQ_EXTRA_QUEUES", '["jobs-billing"]')
    get_settings.cache_clear()
    try:
        assert unknown_queues(["runs", "jobs-billing"], known_queues(celery_app.conf)) == []
    finally:
        monkeypatch.delenv("RUNQ_EXTRA_QUEUES")
        get_settings.cache_clear()

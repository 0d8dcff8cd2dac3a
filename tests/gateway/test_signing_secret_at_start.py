"""Outside an explicit RUNQ_ENVIRONMENT=dev, every process that serves or works refuses to
start without a real callback signing secret, and refuses a malformed one (issue 16).

Started as a user starts them (subprocesses, the README's command lines), with a real
provider key so the secret is the only thing missing.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from config.exit_codes import ExitCode
from config.settings import PLACEHOLDER_CALLBACK_SECRET

GOOD_SECRET = "whsec_" + "Z" * 40
MALFORMED = ["whsec_abc", "whsec_!!!!" + "A" * 40]  # tests/config has the whole table

COMMANDS = {
    "runq serve": [sys.executable, "-m", "gateway.cli", "serve", "--port", "0"],
    "runq worker": [sys.executable, "-m", "gateway.cli", "worker", "--queues", "callbacks"],
    "celery worker": [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "runs"],
    "celery beat": [sys.executable, "-m", "celery", "-A", "config", "beat"],
}


def start(
    command: list[str], tmp_path, **variables: str | None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, OPENAI_API_KEY="sk-live-not-the-simulator")
    env.update(DATABASE_URL=f"sqlite:///{tmp_path}/r.db", REDIS_URL="redis://127.0.0.1:1/0")
    env.pop("RUNQ_CALLBACK_SECRET", None)
    for name, value in variables.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def last_line(result: subprocess.CompletedProcess[str]) -> str:
    return (result.stderr.strip().splitlines() or [""])[-1]


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", list(COMMANDS))
@pytest.mark.parametrize("environment", [None, "production"])
def test_no_real_secret_outside_dev_refuses_to_start_and_names_the_variable(
    tmp_path, name, environment
):
    result = start(COMMANDS[name], tmp_path, RUNQ_ENVIRONMENT=environment)
    assert result.returncode != 0, result.stderr
    assert "RUNQ_CALLBACK_SECRET is not set" in last_line(result), result.stderr
    if name.startswith("runq"):  # celery's own wrapper is entry point work (issue 16 §1)
        assert result.returncode == ExitCode.CONFIG_ERROR
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", ["runq serve", "celery worker"])
def test_the_public_placeholder_is_refused_outside_dev(tmp_path, name):
    result = start(
        COMMANDS[name],
        tmp_path,
        RUNQ_ENVIRONMENT=None,
        RUNQ_CALLBACK_SECRET=PLACEHOLDER_CALLBACK_SECRET,
    )
    assert result.returncode != 0
    assert "RUNQ_CALLBACK_SECRET is not set" in last_line(result), result.stderr


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("secret", MALFORMED)
@pytest.mark.parametrize("environment", ["dev", "production"])
def test_a_malformed_secret_is_refused_at_start_even_in_dev(tmp_path, secret, environment):
    result = start(
        COMMANDS["runq serve"], tmp_path, RUNQ_ENVIRONMENT=environment, RUNQ_CALLBACK_SECRET=secret
    )
    assert result.returncode == ExitCode.CONFIG_ERROR, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "RUNQ_CALLBACK_SECRET is malformed" in result.stderr
    assert secret not in result.stderr  # a secret, even a broken one, is never echoed


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_real_secret_gets_past_the_check(tmp_path):
    # Redis is down on purpose: the command gets as far as needing it, so the secret passed.
    result = start(
        COMMANDS["runq worker"], tmp_path, RUNQ_ENVIRONMENT=None, RUNQ_CALLBACK_SECRET=GOOD_SECRET
    )
    assert result.returncode == ExitCode.UNREACHABLE, result.stderr
    assert "RUNQ_CALLBACK_SECRET" not in result.stderr

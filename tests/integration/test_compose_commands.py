"""The workers' healthcheck `celery -A config inspect ping -d <node>` against the session
fleet, and that a node that is gone fails it. Every compose service's command itself runs in
tests/entrypoints/test_every_entrypoint.py (`runq migrate`, beat, workers, api, flower)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(120)]

BIN = Path(sys.executable).parent


def run(args: list[str], env: dict[str, str], timeout_s: float = 60) -> str:
    done = subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_the_worker_healthcheck_pings_its_own_node_name(fleet):
    node = f"runs0@{socket.gethostname()}"
    args = [str(BIN / "celery"), "-A", "config", "inspect", "ping", "-d", node]
    output = run([*args, "--timeout", "5"], fleet.env)
    assert node in output and "pong" in output
    missing = subprocess.run(
        [*args[:-1], "nobody@nowhere", "--timeout", "1"],
        env=fleet.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode != 0  # a node that is gone fails its healthcheck

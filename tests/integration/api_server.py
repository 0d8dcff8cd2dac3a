"""The HTTP API served by a real uvicorn in a thread of the test process (httpx's
TestServer pattern), on the fleet's Redis and database, with two API keys."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from fastapi import FastAPI


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
    from gateway.http.local_server import serving
    from workers.db import key_store
    from workers.wiring import new_session

    suffix = str(time.monotonic_ns())
    with new_session() as session:
        mine, key = key_store.create_key(session, name=f"svc-{suffix}")
        _, other = key_store.create_key(session, name=f"other-{suffix}")
    app = create_app()
    with serving(app) as url:
        yield Api(url, app, key, other, mine.name)

"""A real HTTP server that receives runq's signed callbacks (the `receiver` fixture)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Receiver:
    """Answers `failures` 500s, then 200s; keeps every delivery it got."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.deliveries: list[tuple[dict[str, str], bytes]] = []


@pytest.fixture
def receiver(request) -> Iterator[tuple[Receiver, str]]:
    state = Receiver(getattr(request, "param", 0))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            state.deliveries.append(({k.lower(): v for k, v in self.headers.items()}, body))
            failed = len(state.deliveries) <= state.failures
            self.send_response(500 if failed else 200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/hooks/runq"
    server.shutdown()
    server.server_close()

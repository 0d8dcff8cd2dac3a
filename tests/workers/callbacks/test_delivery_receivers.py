"""One callback delivery against real receivers on real sockets (issue 16): a name that
rebinds between lookups, a redirect, a receiver that drips, one that answers 100 MB, and
TLS to the pinned address with the name's certificate."""

from __future__ import annotations

import contextlib
import http.server
import socket
import ssl
import subprocess
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.workers.callbacks.raw_requests import read_request
from workers.callbacks import delivery as delivery_module
from workers.callbacks.delivery import MAX_RESPONSE_BYTES, Attempt, Delivery, post_signed

SECRET = "whsec_" + "A" * 40
PUBLIC_ADDRESS = "93.184.215.14"  # globally routable: the guard lets it through


class RawReceiver:
    """A TCP server on 127.0.0.1 whose every connection is handed to `script` (in its own
    thread); counts connections and records what each request said."""

    def __init__(self, script: Callable[[socket.socket, RawReceiver], None]) -> None:
        self.script = script
        self.connections = 0
        self.requests: list[bytes] = []
        self.sent = 0
        self.stop = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection: socket.socket) -> None:
        with connection:
            self.requests.append(read_request(connection))
            # The sender hanging up mid-answer is what these receivers test.
            with contextlib.suppress(OSError):
                self.script(connection, self)

    def close(self) -> None:
        self.stop.set()
        self.listener.close()


@pytest.fixture
def receivers() -> Iterator[Callable[[Callable[[socket.socket, RawReceiver], None]], RawReceiver]]:
    started: list[RawReceiver] = []

    def start(script: Callable[[socket.socket, RawReceiver], None]) -> RawReceiver:
        started.append(RawReceiver(script))
        return started[-1]

    yield start
    for receiver in started:
        receiver.close()


def answer(
    status: str = "200 OK", extra: bytes = b""
) -> Callable[[socket.socket, RawReceiver], None]:
    def script(connection: socket.socket, receiver: RawReceiver) -> None:
        connection.sendall(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\n".encode() + extra + b"\r\n")

    return script


class FakeDns:
    """Answers for made-up names: each lookup of a name takes the next answer in its list
    (the last one repeats); counts lookups."""

    def __init__(self) -> None:
        self.answers: dict[str, list[str]] = {}
        self.lookups: dict[str, int] = {}

    def __setitem__(self, name: str, answers: list[str]) -> None:
        self.answers[name] = list(answers)


@pytest.fixture
def dns(monkeypatch) -> FakeDns:
    """socket.getaddrinfo, in this process, with FakeDns's names; every other name (and
    every literal address) goes to the real resolver."""
    fake = FakeDns()
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in fake.answers:
            return real(host, port, *args, **kwargs)
        queue = fake.answers[host]
        address = queue.pop(0) if len(queue) > 1 else queue[0]
        fake.lookups[host] = fake.lookups.get(host, 0) + 1
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port)))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return fake


def deliver(url: str, *, allow_private: bool, timeout_s: float = 3.0) -> Attempt:
    job = Delivery(url, b'{"type": "run.completed"}', "msg_run_1", SECRET, timeout_s, allow_private)
    return post_signed(job, now_s=1_700_000_000)


def test_a_name_that_rebinds_to_loopback_after_the_check_is_never_connected(receivers, dns):
    # The check sees a public address; a second lookup (the one an HTTP client makes to
    # connect) would answer 127.0.0.1, where a real receiver listens and must not be hit.
    inside = receivers(answer())
    dns["rebind.example"] = [PUBLIC_ADDRESS, "127.0.0.1"]
    result = deliver(f"http://rebind.example:{inside.port}/hook", allow_private=False, timeout_s=1)
    assert inside.connections == 0
    assert not result.is_delivered
    assert dns.lookups["rebind.example"] == 1  # resolved once: the address checked


def test_a_name_that_rebinds_before_the_delivery_is_refused(receivers, dns):
    inside = receivers(answer())
    dns["rebind.example"] = ["127.0.0.1"]
    result = deliver(f"http://rebind.example:{inside.port}/hook", allow_private=False)
    assert result.error is not None and result.error.startswith("refused:") and result.is_final
    assert inside.connections == 0


def test_the_pinned_connection_keeps_the_name_in_the_host_header(receivers, dns):
    receiver = receivers(answer())
    dns["callbacks.test"] = ["127.0.0.1", "10.9.9.9"]  # a second lookup would go nowhere
    result = deliver(f"http://callbacks.test:{receiver.port}/hooks/runq?x=1", allow_private=True)
    assert result.is_delivered, result.error
    request = receiver.requests[0].decode()
    assert request.startswith("POST /hooks/runq?x=1 HTTP/1.1")
    assert f"Host: callbacks.test:{receiver.port}" in request
    assert "webhook-signature: v1," in request


def test_a_redirect_is_not_followed(receivers):
    elsewhere = receivers(answer())
    location = f"Location: http://127.0.0.1:{elsewhere.port}/stolen\r\n".encode()
    redirecting = receivers(answer("302 Found", location))
    result = deliver(f"http://127.0.0.1:{redirecting.port}/hook", allow_private=True)
    assert result.status_code == 302 and result.error == "HTTP 302" and not result.is_delivered
    assert elsewhere.connections == 0


def drip(prefix: bytes) -> Callable[[socket.socket, RawReceiver], None]:
    """Send `prefix`, then one byte every half second until told to stop."""

    def script(connection: socket.socket, receiver: RawReceiver) -> None:
        connection.sendall(prefix)
        while not receiver.stop.wait(0.5):
            connection.sendall(b"x")
            receiver.sent += 1

    return script


@pytest.mark.slow
@pytest.mark.timeout(30)
def test_a_status_line_dripped_a_byte_at_a_time_ends_at_the_delivery_deadline(receivers):
    # Every byte comes well within any per-read timeout: only a deadline on the whole
    # delivery ends it (the old client waited for ever, stalling its worker thread).
    receiver = receivers(drip(b"HTTP/1.1 2"))
    result = deliver(f"http://127.0.0.1:{receiver.port}/hook", allow_private=True, timeout_s=2)
    assert result.status_code is None and not result.is_delivered
    assert result.error is not None and result.error.startswith("timed out"), result.error


@pytest.mark.slow
@pytest.mark.timeout(30)
def test_a_body_dripped_after_a_2xx_ends_at_the_deadline_and_counts_as_delivered(receivers):
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n"
    receiver = receivers(drip(head))
    result = deliver(f"http://127.0.0.1:{receiver.port}/hook", allow_private=True, timeout_s=2)
    assert result.is_delivered and result.status_code == 200


def flood(total: int) -> Callable[[socket.socket, RawReceiver], None]:
    def script(connection: socket.socket, receiver: RawReceiver) -> None:
        connection.sendall(f"HTTP/1.1 500 Oops\r\nContent-Length: {total}\r\n\r\n".encode())
        block = b"y" * 65536
        while receiver.sent < total:
            connection.sendall(block)
            receiver.sent += len(block)

    return script


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_a_100_mb_answer_is_read_no_further_than_the_cap(receivers):
    total = 100 * 1024 * 1024
    receiver = receivers(flood(total))
    tracemalloc.start()
    try:
        result = deliver(f"http://127.0.0.1:{receiver.port}/hook", allow_private=True, timeout_s=5)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.status_code == 500 and result.error == "HTTP 500"
    assert peak < 16 * MAX_RESPONSE_BYTES, peak  # the old client held all 100 MB
    assert receiver.sent < total  # the receiver was cut off, not read to the end


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> Path:
    """A self-signed certificate for callbacks.test (openssl; skipped without it)."""
    directory = tmp_path_factory.mktemp("tls")
    command = [
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=callbacks.test", "-addext", "subjectAltName=DNS:callbacks.test",
        "-keyout", str(directory / "key.pem"), "-out", str(directory / "cert.pem"),
    ]  # fmt: skip
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"openssl could not make a test certificate: {exc}")
    return directory


@pytest.fixture
def tls_receiver(certificate, monkeypatch) -> Iterator[tuple[int, list[str | None]]]:
    """A real HTTPS server with the callbacks.test certificate; records the SNI it got."""
    names: list[str | None] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate / "cert.pem", certificate / "key.pem")
    context.sni_callback = lambda _sock, name, _ctx: names.append(name)  # type: ignore[assignment]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    trusting = ssl.create_default_context(cafile=str(certificate / "cert.pem"))
    monkeypatch.setattr(delivery_module, "tls_context", lambda: trusting)
    yield server.server_address[1], names
    server.shutdown()
    server.server_close()


def test_tls_to_the_pinned_address_sends_sni_and_checks_the_name(tls_receiver, dns):
    port, names = tls_receiver
    dns["callbacks.test"] = ["127.0.0.1", "10.9.9.9"]
    result = deliver(f"https://callbacks.test:{port}/hook", allow_private=True)
    assert result.status_code == 204 and result.is_delivered, result.error
    assert names == ["callbacks.test"]


def test_tls_refuses_a_certificate_for_another_name(tls_receiver, dns):
    port, _ = tls_receiver
    dns["other.test"] = ["127.0.0.1"]
    result = deliver(f"https://other.test:{port}/hook", allow_private=True)
    assert not result.is_delivered
    assert result.error is not None and "certificate" in result.error.lower(), result.error

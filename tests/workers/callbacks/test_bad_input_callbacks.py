"""Bad-input catalogue, callbacks and secrets (issue 16): each bad callback URL, hostile
receiver or bad signing secret gets a clear one-line answer and nothing is lost (the
attempt is recorded as an outcome; a refused URL is final, a failed one is retried)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from config.settings import PLACEHOLDER_CALLBACK_SECRET, load_settings
from tests.workers.callbacks.raw_requests import read_request
from workers.callbacks.delivery import Delivery, post_signed
from workers.errors import ConfigError

SECRET = "whsec_" + "A" * 40


def deliver(url: str, *, allow_private: bool = False, timeout_s: float = 2.0):
    job = Delivery(url, b"{}", "msg_run_1", SECRET, timeout_s, allow_private)
    return post_signed(job, now_s=1_700_000_000)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://example.com/hook", "must be an http(s) URL with a host"),
        ("http:///no-host", "must be an http(s) URL with a host"),
        ("file:///etc/passwd", "must be an http(s) URL with a host"),
        ("http://example.com:99999/hook", "bad port"),
        ("http://no-such-host.invalid/hook", "does not resolve"),
        ("http://127.0.0.1/hook", "not a public address"),
        ("http://[::1]/hook", "not a public address"),
        ("http://169.254.169.254/latest/meta-data", "not a public address"),
        ("http://10.0.0.7/hook", "not a public address"),
        ("http://[::ffff:127.0.0.1]/hook", "not a public address"),
        ("http://0.0.0.0/hook", "not a public address"),
    ],
)
def test_a_refused_url_is_a_final_one_line_outcome(url, says):
    result = deliver(url)
    assert result.is_final and not result.is_delivered and result.status_code is None
    assert result.error is not None and result.error.startswith("refused:") and says in result.error
    assert "\n" not in result.error


def scripted(answer: bytes) -> Callable[[socket.socket], None]:
    def script(connection: socket.socket) -> None:
        read_request(connection)
        connection.sendall(answer)

    return script


@pytest.fixture
def receiver() -> Iterator[Callable[[Callable[[socket.socket], None]], int]]:
    listeners: list[socket.socket] = []

    def start(script: Callable[[socket.socket], None]) -> int:
        listener = socket.create_server(("127.0.0.1", 0))
        listeners.append(listener)

        def serve() -> None:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                script(connection)

        threading.Thread(target=serve, daemon=True).start()
        return int(listener.getsockname()[1])

    yield start
    for listener in listeners:
        listener.close()


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (b"", "RemoteDisconnected"),  # hangs up without a word
        (b"SMTP ready\r\n\r\n", "BadStatusLine"),  # not HTTP at all
        (b"HTTP/1.1 abc Nope\r\n\r\n", "BadStatusLine"),
        (b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n", "HTTP 500"),
        (
            b"HTTP/1.1 301 Moved\r\nLocation: http://127.0.0.1:1/\r\nContent-Length: 0\r\n\r\n",
            "HTTP 301",
        ),
        (b"HTTP/1.1 200 OK\r\n" + b"X-Big: " + b"y" * 70000 + b"\r\n\r\n", "LineTooLong"),
    ],
)
def test_a_hostile_receiver_gets_a_retryable_one_line_outcome(receiver, answer, says):
    port = receiver(scripted(answer))
    result = deliver(f"http://127.0.0.1:{port}/hook", allow_private=True)
    assert not result.is_delivered and not result.is_final  # retried later, not lost
    assert result.error is not None and says in result.error and "\n" not in result.error


def test_a_receiver_that_is_not_listening_is_retried(receiver):
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    result = deliver(f"http://127.0.0.1:{port}/hook", allow_private=True)
    assert not result.is_final and "ConnectionRefusedError" in (result.error or "")


@pytest.mark.parametrize(
    ("variables", "says"),
    [
        ({"RUNQ_CALLBACK_SECRET": "whsec_abc"}, "RUNQ_CALLBACK_SECRET is malformed"),
        ({"RUNQ_CALLBACK_SECRET": "not-whsec"}, "RUNQ_CALLBACK_SECRET is malformed"),
        ({"RUNQ_CALLBACK_SECRET": "whsec_" + "é" * 40}, "RUNQ_CALLBACK_SECRET is malformed"),
        ({"RUNQ_ENVIRONMENT": "production"}, "RUNQ_CALLBACK_SECRET is not set"),
        ({"RUNQ_ENVIRONMENT": "prod"}, "RUNQ_CALLBACK_SECRET is not set"),
        (
            {"RUNQ_ENVIRONMENT": "staging", "RUNQ_CALLBACK_SECRET": PLACEHOLDER_CALLBACK_SECRET},
            "RUNQ_CALLBACK_SECRET is not set",
        ),
        ({"RUNQ_ENVIRONMENT": "DEV"}, "RUNQ_CALLBACK_SECRET is not set"),  # dev is exact
    ],
)
def test_a_bad_signing_secret_setting_is_one_clear_error(monkeypatch, variables, says):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-123")
    monkeypatch.delenv("RUNQ_CALLBACK_SECRET", raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=says) as caught:
        load_settings().require_deployable()
    assert "\n" not in str(caught.value)

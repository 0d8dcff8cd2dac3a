"""A callback retry an hour away never sits in the broker as one long countdown (it would
outlive the visibility timeout and be redelivered while it waits): it waits in hops no
longer than a countdown may be, and is attempted only when due."""

from __future__ import annotations

import pytest

from config.settings import get_settings
from tasks import callbacks


class Sent:
    def __init__(self) -> None:
        self.messages: list[tuple[tuple, float]] = []

    def signature(self, name, args):
        sent = self

        class Signature:
            def apply_async(self, countdown):
                sent.messages.append((args, countdown))

        return Signature()


@pytest.fixture
def sent(monkeypatch):
    box = Sent()
    monkeypatch.setattr(callbacks, "app", box)
    monkeypatch.setattr(callbacks.time, "time", lambda: 1000.0)
    return box


def test_a_retry_an_hour_away_waits_in_short_hops(sent, monkeypatch):
    attempts: list[int] = []

    def deliver_callback(run_id, attempt):
        attempts.append(attempt)
        return 3600.0, "failed"

    monkeypatch.setattr(callbacks, "deliver_callback", deliver_callback)
    max_countdown_s = get_settings().runs.max_countdown_s

    callbacks.deliver.run("run_1", 1)
    [(args, countdown)] = sent.messages
    assert args == ("run_1", 2, 4600.0) and countdown == max_countdown_s

    # the hop arrives early: it waits again, no attempt is made
    assert callbacks.deliver.run(*args) == "attempt 2 waits"
    assert attempts == [1] and sent.messages[-1] == (args, max_countdown_s)

"""The front door sends a run's first step without asking Celery to keep its result: with
a Redis result backend, a kept result SUBSCRIBEs the sending process to a channel per run."""

from __future__ import annotations

from typing import Any

import pytest

from config.celery_app import app
from workers import wiring
from workers.public.enqueue import send_start


@pytest.mark.parametrize(
    "send",
    [
        lambda: send_start("run_1"),
        lambda: wiring.send_callback("run_1"),
        lambda: wiring.send_action_callback("run_1", 3),
    ],
    ids=["start", "callback", "action-callback"],
)
def test_messages_the_front_door_sends_keep_no_result(monkeypatch, send) -> None:
    sent: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(app, "send_task", lambda name, *a, **options: sent.append((name, options)))
    send()
    [(name, options)] = sent
    assert options.get("ignore_result") is True, name

"""Start-up hooks every worker process runs."""

from __future__ import annotations

import gc
import os
import shelve
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery, beat
from celery.apps.beat import Beat
from celery.signals import worker_process_init, worker_ready

from tasks import process_hooks


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def walked(obj: object) -> bool:
    """Whether a collection would walk `obj` (it is in one of the collector's generations)."""
    return any(found is obj for found in gc.get_objects())


def test_start_up_objects_are_left_out_of_later_collections(unfrozen: None) -> None:
    start_up = {"agents": ["built at start-up"]}
    assert walked(start_up)
    process_hooks.freeze_start_up_objects()
    assert gc.get_freeze_count() > 0
    assert not walked(start_up)
    # What the worker builds afterwards is collected as before
    later = {"a run's": ["step"]}
    assert walked(later)


@pytest.mark.parametrize("signal", [worker_ready, worker_process_init])
def test_the_freeze_runs_when_a_worker_or_pool_child_is_ready(signal: object) -> None:
    # Connected with weak=False: the receiver itself is stored, not a weak reference.
    receivers = [receiver for _, receiver in signal.receivers]  # type: ignore[attr-defined]
    assert process_hooks.freeze_start_up_objects in receivers


@pytest.fixture
def own_signal_handlers() -> Iterator[None]:
    """Beat's hooks replace this process's SIGTERM/SIGINT handlers: put pytest's back."""
    saved = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT)}
    yield
    for number, handler in saved.items():
        signal.signal(number, handler)


def test_beat_told_to_stop_while_sending_a_due_task_saves_its_schedule_and_exits_0(
    tmp_path: Path, own_signal_handlers: None
) -> None:
    # Given beat as `celery beat` starts it (Celery's SIGTERM handler, then beat_init), with
    # a due task whose send is cut by SIGTERM while it reads the broker's reply, where the
    # exit's unwinding fails in the client's cleanup as redis-py's did on a closed buffer
    app = Celery("beat-under-test", broker="memory://", set_as_current=False)
    app.conf.beat_schedule = {"due": {"task": "not.registered.here", "schedule": 0.05}}
    sends: list[str] = []

    def send_cut_by_sigterm(name: str, *args: object, **kwargs: object) -> None:
        sends.append(name)
        try:
            os.kill(os.getpid(), signal.SIGTERM)
        finally:
            raise ValueError("I/O operation on closed file.")  # replaces the SystemExit

    service = beat.Service(app, schedule_filename=str(tmp_path / "schedule"))
    service.scheduler.send_task = send_cut_by_sigterm  # type: ignore[method-assign]
    Beat.install_sync_handler(None, service)  # type: ignore[arg-type]
    # When it starts (beat_init installs runq's handler over Celery's)
    service.start()
    # Then the loop ended after that send (Celery's handler had closed the shelve under it,
    # and the next tick's read of it ended beat with a ValueError, exit 1)
    assert sends == ["not.registered.here"]
    # And the schedule was saved: the send is on record, not repeated when beat restarts
    with shelve.open(str(tmp_path / "schedule")) as saved:
        assert saved["entries"]["due"].total_run_count == 1

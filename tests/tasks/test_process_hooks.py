"""Start-up hooks every worker process runs."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
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

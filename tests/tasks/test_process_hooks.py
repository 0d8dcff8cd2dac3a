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


def test_start_up_objects_are_left_out_of_later_collections(unfrozen: None) -> None:
    kept = [object() for _ in range(3)] + [{"a": [1]}]
    assert gc.get_freeze_count() == 0
    process_hooks.freeze_start_up_objects()
    assert gc.get_freeze_count() > len(kept)
    assert gc.is_tracked(kept[-1])  # still tracked; only excluded from collections


@pytest.mark.parametrize("signal", [worker_ready, worker_process_init])
def test_the_freeze_runs_when_a_worker_or_pool_child_is_ready(signal: object) -> None:
    # Connected with weak=False: the receiver itself is stored, not a weak reference.
    receivers = [receiver for _, receiver in signal.receivers]  # type: ignore[attr-defined]
    assert process_hooks.freeze_start_up_objects in receivers

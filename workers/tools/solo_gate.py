"""Running a suspect tool call alone in its worker process, so a crash can be blamed on it.

When a worker dies, every call it was running is found interrupted, and each re-run of an
idempotent one counts an attempt; a call whose attempts reach RUNQ_MAX_DELIVERIES fails its
run as a poison run. Nothing records which call took the worker down, so a harmless call
that ran beside a poison call in each of its crashes would be failed with it. The gate
removes the ambiguity where it matters: the last attempt before a verdict waits until it is
the only call running in its process, and holds new ones back meanwhile. A worker that dies
then died with that call alone in it; a call waiting at the gate has not been claimed, so
its attempts do not move. Earlier attempts share the process (`tool_calls._gate_for_rerun`):
after an ordinary crash, the re-runs of its calls do not wait for each other.

The gate is per process: a prefork child, or a threads worker's whole pool.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class SoloGate:
    """A readers-writer lock that prefers its writer: `shared()` for an execution, `alone()`
    for a call's decisive re-run. Waiting re-runs go before new shared executions, so a busy
    worker cannot keep a suspect waiting forever; each shared one ends within its tool's
    timeout, since its host is killed then."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._sharing = 0
        self._alone = False
        self._waiting_alone = 0

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._changed:
            while self._alone or self._waiting_alone:
                self._changed.wait()
            self._sharing += 1
        try:
            yield
        finally:
            with self._changed:
                self._sharing -= 1
                if self._sharing == 0:
                    self._changed.notify_all()

    @contextmanager
    def alone(self) -> Iterator[None]:
        with self._changed:
            self._waiting_alone += 1
            try:
                while self._alone or self._sharing:
                    self._changed.wait()
            finally:
                self._waiting_alone -= 1
                if not self._waiting_alone:  # shared ones held back for this one may go
                    self._changed.notify_all()
            self._alone = True
        try:
            yield
        finally:
            with self._changed:
                self._alone = False
                self._changed.notify_all()

    @property
    def running(self) -> int:
        """Executions holding the gate now (a re-run counts one)."""
        with self._changed:
            return self._sharing + int(self._alone)

    @property
    def waiting_alone(self) -> int:
        """Re-runs waiting for the process to be theirs alone."""
        with self._changed:
            return self._waiting_alone

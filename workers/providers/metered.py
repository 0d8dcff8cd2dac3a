"""A provider that counts its requests: `runq_provider_requests_total{provider,model,kind,
outcome}`, with the outcome read from runq's error tree at the adapter edge.

kind: create (a run's first turn, a correction, a new conversation), poll, submit, cancel.
outcome: ok, 429, 5xx, timeout, and 4xx for rejected requests (bad request, auth, quota).

A request that starts a model turn (create, submit, correction) and is accepted also counts
the turn by its mode, `runq_model_turns_total{provider,model,mode}`: how often the budget
turned the default's background turns synchronous.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from workers.errors import (
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderTimedOut,
)
from workers.observability import events
from workers.providers.interface import Provider, ProviderState, ToolOutput, TurnRequest

T = TypeVar("T")


def outcome_of(exc: ProviderError | None) -> str:
    """The `outcome` label for a request that raised `exc` (None: it succeeded)."""
    if exc is None:
        return "ok"
    if isinstance(exc, ProviderRateLimited):
        return "429"
    if isinstance(exc, ProviderTimedOut):
        return "timeout"
    if isinstance(exc, ProviderRejected):
        return "4xx"
    return "5xx"


class MeteredProvider:
    """Wraps a provider adapter; every method is one counted request."""

    def __init__(self, inner: Provider, *, provider: str, model: str) -> None:
        self._inner = inner
        self._provider = provider
        self._model = model

    def create(self, request: TurnRequest) -> ProviderState:
        return self._turn(request, self._count("create", lambda: self._inner.create(request)))

    def retrieve(self, ref: str) -> ProviderState:
        return self._count("poll", lambda: self._inner.retrieve(ref))

    def submit_tool_outputs(
        self, ref: str, outputs: Sequence[ToolOutput], request: TurnRequest
    ) -> ProviderState:
        state = self._count(
            "submit", lambda: self._inner.submit_tool_outputs(ref, outputs, request)
        )
        return self._turn(request, state)

    def cancel(self, ref: str) -> ProviderState:
        return self._count("cancel", lambda: self._inner.cancel(ref))

    def send_correction(
        self, ref: str, answer: str, message: str, request: TurnRequest
    ) -> ProviderState:
        state = self._count(
            "create", lambda: self._inner.send_correction(ref, answer, message, request)
        )
        return self._turn(request, state)

    def open_thread(self) -> str | None:
        return self._count("create", self._inner.open_thread)

    def _turn(self, request: TurnRequest, state: ProviderState) -> ProviderState:
        events.model_turn_started(
            provider=self._provider, model=self._model, background=request.background
        )
        return state

    def _count(self, kind: str, call: Callable[[], T]) -> T:
        try:
            result = call()
        except ProviderError as exc:
            self._record(kind, outcome_of(exc))
            raise
        self._record(kind, "ok")
        return result

    def _record(self, kind: str, outcome: str) -> None:
        events.provider_requested(
            provider=self._provider, model=self._model, kind=kind, outcome=outcome
        )

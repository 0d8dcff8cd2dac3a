"""The batch lane's provider: a turn is parked as a line for the next batch, not sent.

`create`, `submit_tool_outputs` and `send_correction` write the turn's /v1/responses body
as a `BatchTurn` (waiting) and answer "queued, wake me": the run's next poll is parked
until its deadline. The collector (`batch_collect`) sends waiting turns in a batch, records
each answer on its turn and wakes the run; the woken poll reads the answer here and the run
goes on as on any lane. A run's provider reference is its current turn's id (`bturn_…`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from sqlmodel import Session

from workers.db import batch_store
from workers.db.batch_store import TurnStatus
from workers.providers.interface import (
    Provider,
    ProviderState,
    ProviderStatus,
    ToolOutput,
    TurnRequest,
)
from workers.providers.responses import (
    correction_items,
    request_params,
    response_of,
    to_provider_state,
    tool_output_items,
)

TURN_PREFIX = "bturn_"


class BatchLaneProvider:
    """Parks turns for the Batch API; `inner` (the agent's Responses provider) opens threads."""

    def __init__(self, sessions: Callable[[], Session], agent: str, inner: Provider) -> None:
        self._sessions = sessions
        self._agent = agent
        self._inner = inner

    def create(self, request: TurnRequest) -> ProviderState:
        """Park the run's first turn."""
        return self._park(request, request.input_text, previous_ref=None)

    def retrieve(self, ref: str) -> ProviderState:
        """The turn's answer once its batch gave one; until then, still queued."""
        with self._sessions() as session:
            turn = batch_store.get_turn(session, turn_id=ref)
        if turn is None:
            return ProviderState(ProviderStatus.FAILED, ref, error=f"no batch turn {ref}")
        if turn.status == TurnStatus.DONE and turn.response_json is not None:
            response = response_of(json.loads(turn.response_json))
            return replace(to_provider_state(response, {}), ref=ref)
        if turn.status == TurnStatus.FAILED:
            return ProviderState(ProviderStatus.FAILED, ref, error=turn.error)
        if turn.status == TurnStatus.CANCELLED:
            return ProviderState(ProviderStatus.CANCELLED, ref)
        return ProviderState(ProviderStatus.QUEUED, ref, awaits_wake=True)

    def submit_tool_outputs(
        self, ref: str, outputs: Sequence[ToolOutput], request: TurnRequest
    ) -> ProviderState:
        """Park the turn that answers `ref`'s tool calls."""
        return self._park(request, tool_output_items(outputs), previous_ref=self._response(ref))

    def cancel(self, ref: str) -> ProviderState:
        """Take the turn out of its batch (a turn already sent is answered, then ignored)."""
        with self._sessions() as session:
            batch_store.cancel(session, turn_id=ref)
        return ProviderState(ProviderStatus.CANCELLED, ref)

    def send_correction(
        self, ref: str, answer: str, message: str, request: TurnRequest
    ) -> ProviderState:
        """Park a correction turn chained onto `ref`."""
        return self._park(request, correction_items(message), previous_ref=self._response(ref))

    def open_thread(self) -> str | None:
        """Threads are opened at once (one ordinary request), only turns wait for a batch."""
        return self._inner.open_thread()

    def _park(
        self, request: TurnRequest, items: str | list[Any], *, previous_ref: str | None
    ) -> ProviderState:
        # A batch request is answered when the batch is: never a background response.
        body = request_params(
            replace(request, background=False), input_items=items, previous_ref=previous_ref
        )
        with self._sessions() as session:
            turn = batch_store.add_turn(
                session, run_id=request.run_id, agent=self._agent, body=json.dumps(body)
            )
        return ProviderState(ProviderStatus.QUEUED, turn.id, awaits_wake=True)

    def _response(self, ref: str) -> str:
        """The provider's response id that answered turn `ref` (the next turn chains on it)."""
        with self._sessions() as session:
            turn = batch_store.get_turn(session, turn_id=ref)
        if turn is None or turn.response_json is None:
            return ref
        return str(json.loads(turn.response_json)["id"])


def is_batch_turn(ref: str | None) -> bool:
    """True for a batch-lane turn's reference."""
    return ref is not None and ref.startswith(TURN_PREFIX)

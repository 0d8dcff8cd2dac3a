"""ScriptedProvider: an in-memory provider double for unit tests.

Queue what each call returns (a ProviderState or a ProviderError to raise), in call order;
every call is recorded so tests can assert what the engine asked for.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from workers.errors import ProviderError
from workers.providers.interface import ProviderState, ToolOutput, TurnRequest


@dataclass
class RecordedCall:
    """One call the engine made to the provider."""

    method: str
    ref: str | None = None
    outputs: tuple[ToolOutput, ...] = ()
    request: TurnRequest | None = None


@dataclass
class ScriptedProvider:
    """Answers each call with the next scripted item; raises if the script runs out."""

    script: deque[ProviderState | ProviderError] = field(default_factory=deque)
    calls: list[RecordedCall] = field(default_factory=list)

    def queue(self, *items: ProviderState | ProviderError) -> None:
        """Append answers for the next calls."""
        self.script.extend(items)

    def create(self, request: TurnRequest) -> ProviderState:
        self.calls.append(RecordedCall("create", request=request))
        return self._next()

    def retrieve(self, ref: str) -> ProviderState:
        self.calls.append(RecordedCall("retrieve", ref=ref))
        return self._next()

    def submit_tool_outputs(
        self, ref: str, outputs: Sequence[ToolOutput], request: TurnRequest
    ) -> ProviderState:
        self.calls.append(RecordedCall("submit", ref=ref, outputs=tuple(outputs), request=request))
        return self._next()

    def cancel(self, ref: str) -> ProviderState:
        self.calls.append(RecordedCall("cancel", ref=ref))
        return self._next()

    def send_correction(
        self, ref: str, answer: str, message: str, request: TurnRequest
    ) -> ProviderState:
        self.calls.append(RecordedCall("correct", ref=ref, request=request))
        return self._next()

    def open_thread(self) -> str | None:
        self.calls.append(RecordedCall("open_thread"))
        return f"conv_{sum(call.method == 'open_thread' for call in self.calls)}"

    def methods(self) -> list[str]:
        """The method names called so far, in order."""
        return [call.method for call in self.calls]

    def _next(self) -> ProviderState:
        if not self.script:
            raise AssertionError(f"ScriptedProvider ran out of answers after {self.methods()}")
        item = self.script.popleft()
        if isinstance(item, ProviderError):
            raise item
        return item


def scripted(items: Iterable[ProviderState | ProviderError]) -> ScriptedProvider:
    """A ScriptedProvider preloaded with `items`."""
    return ScriptedProvider(script=deque(items))

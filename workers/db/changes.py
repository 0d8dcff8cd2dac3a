"""What a run transition writes besides its status, as one typed value.

Transitions used to take column names as free keywords; a `RunChanges` lets mypy
check every column a step writes, and steps combine them with `|`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class RunChanges:
    """Columns to write in a transition; a field left None leaves its column as it is."""

    step_seq: int | None = None
    agent: str | None = None
    """A handoff: the agent the run goes on with (and its `model`)."""
    model: str | None = None
    turn: int | None = None
    attempts: int | None = None
    poll_count: int | None = None
    turn_polls: int | None = None
    reserved_tokens: int | None = None
    output_retries_used: int | None = None
    provider_ref: str | None = None
    result_text: str | None = None
    result_json: str | None = None
    hosted_items: str | None = None
    error: str | None = None
    cost_usd: float | None = None
    cache_hit: bool | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    recoveries: int | None = None
    """Set only by the sweep; every other transition resets it to 0."""

    def __or__(self, other: RunChanges) -> RunChanges:
        """These changes, overridden by every field `other` sets."""
        return replace(self, **other.columns())

    def columns(self) -> dict[str, Any]:
        """The columns to write, by name."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }

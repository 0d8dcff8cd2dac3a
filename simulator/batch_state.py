"""The files and batches one simulator holds (the Batch API's objects, in memory)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class FileRecord:
    """An uploaded (or produced) file."""

    id: str
    filename: str
    purpose: str
    content: bytes
    created_at: int


@dataclass(slots=True)
class BatchRecord:
    """A batch and what it produced."""

    id: str
    input_file_id: str
    endpoint: str
    metadata: dict[str, str] | None
    created_s: float
    ends_s: float
    outcome: str
    status: str = "validating"
    output_file_id: str | None = None
    error_file_id: str | None = None
    counts: dict[str, int] = field(
        default_factory=lambda: {"total": 0, "completed": 0, "failed": 0}
    )
    errors: list[dict[str, Any]] = field(default_factory=list)
    ended_s: float | None = None


@dataclass(slots=True)
class BatchState:
    """Every file and batch of one simulator."""

    files: dict[str, FileRecord] = field(default_factory=dict)
    batches: dict[str, BatchRecord] = field(default_factory=dict)

    def clear(self) -> None:
        self.files.clear()
        self.batches.clear()

"""SQLModel tables: the source of truth for threads, runs and tool calls."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Index, TypeDecorator, UniqueConstraint
from sqlmodel import Column, Field, SQLModel

from workers.db.statuses import RunStatus, ToolCallStatus


def utcnow() -> datetime:
    """Now, timezone-aware in UTC."""
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    """A sortable-enough random id with a readable prefix (`run_…`, `thr_…`)."""
    return f"{prefix}_{uuid.uuid4().hex}"


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes; SQLite forgets the zone, so reads are re-tagged as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def _utc_column(nullable: bool = True) -> Any:
    return Column(UTCDateTime(), nullable=nullable)


class Thread(SQLModel, table=True):
    """A conversation that outlives runs."""

    id: str = Field(default_factory=lambda: new_id("thr"), primary_key=True)
    external_key: str | None = Field(default=None, unique=True, index=True)
    provider_ref: str | None = None
    """Conversation id (Responses), last response id (chain mode) or thread id (Assistants)."""
    agent: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(False))
    last_activity_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(False))
    archived_at: datetime | None = Field(default=None, sa_column=_utc_column())


class Run(SQLModel, table=True):
    """One agent run: the job a service enqueued, and everything that happened to it."""

    # The reaper asks for unfinished runs with no progress since a moment: one index serves it.
    __table_args__ = (Index("ix_run_status_updated_at", "status", "updated_at"),)

    id: str = Field(default_factory=lambda: new_id("run"), primary_key=True)
    idempotency_key: str | None = Field(default=None, unique=True, index=True)
    batch_id: str | None = Field(default=None, index=True)
    agent: str
    thread_id: str | None = Field(default=None, foreign_key="thread.id", index=True)
    input: str
    status: str = Field(default=RunStatus.PENDING.value, index=True)
    provider: str = "responses"
    model: str = ""
    provider_ref: str | None = None
    # Sequence number of the run's step chain: every state observation bumps it, and each
    # poll message carries the value it expects, so a duplicate or stale poll is dropped.
    step_seq: int = 0
    poll_count: int = 0
    # Polls of the current model turn: the poll schedule starts short again each turn.
    turn_polls: int = 0
    turn: int = 0
    attempts: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    # Tokens reserved from the rate limiter for the turn in flight, settled when it ends.
    reserved_tokens: int = 0
    use_cache: bool = False
    cache_hit: bool = False
    model_hint: str | None = None
    cost_usd: float = 0.0
    output_retries_used: int = 0
    result_text: str | None = None
    result_json: str | None = None
    hosted_items: str | None = None
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(False))
    started_at: datetime | None = Field(default=None, sa_column=_utc_column())
    finished_at: datetime | None = Field(default=None, sa_column=_utc_column())
    deadline_at: datetime = Field(sa_column=_utc_column(False))


class ToolCall(SQLModel, table=True):
    """One tool execution; also the audit log of what ran, with what, and how it went."""

    __table_args__ = (UniqueConstraint("run_id", "call_id", name="uq_toolcall_run_call"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="run.id", index=True)
    call_id: str
    turn: int
    name: str
    arguments: str
    status: str = ToolCallStatus.PENDING.value  # a ToolCallStatus
    output: str | None = None
    error: str | None = None
    duration_ms: int | None = None
    attempts: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(False))
    started_at: datetime | None = Field(default=None, sa_column=_utc_column())
    finished_at: datetime | None = Field(default=None, sa_column=_utc_column())

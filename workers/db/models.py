"""SQLModel tables: the source of truth for threads, runs and tool calls."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, TypeDecorator, UniqueConstraint
from sqlalchemy import false as sa_false
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
    # The caller's labels (a JSON object), for threads made through the Assistants-compatible
    # API; NULL for threads that runs made by key.
    metadata_json: str | None = None


class Run(SQLModel, table=True):
    """One agent run: the job a service enqueued, and everything that happened to it."""

    # Idempotency keys are scoped per owner: two services may both use "order-42".
    __table_args__ = (
        UniqueConstraint("owner_key_id", "idempotency_key", name="uq_run_owner_idempotency"),
    )

    id: str = Field(default_factory=lambda: new_id("run"), primary_key=True)
    idempotency_key: str | None = Field(default=None, index=True)
    batch_id: str | None = Field(default=None, index=True)
    agent: str
    thread_id: str | None = Field(default=None, foreign_key="thread.id", index=True)
    input: str
    status: str = Field(default=RunStatus.PENDING.value, index=True)
    provider: str = "responses"
    model: str = ""
    # Indexed: provider webhooks name the response, and must find its run at once.
    provider_ref: str | None = Field(default=None, index=True)
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
    # The API key that submitted the run ("" for the operator's CLI); no other key sees it.
    owner_key_id: str = Field(default="", index=True)
    # SHA-256 of the canonical job body: an idempotency key reused with another body is a
    # conflict, not a silent replay of the old run.
    request_hash: str | None = None
    metadata_json: str | None = None
    callback_url: str | None = None
    # None (no callback, or not yet ended) -> pending -> delivered | gave_up
    callback_state: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(False))
    started_at: datetime | None = Field(default=None, sa_column=_utc_column())
    finished_at: datetime | None = Field(default=None, sa_column=_utc_column())
    deadline_at: datetime = Field(sa_column=_utc_column(False))
    # When the run's next message should have done its work: the countdown it was sent
    # with, or the tool timeouts of a chord. The sweep re-sends the step of a run overdue
    # by more than a grace; NULL once the run is terminal, so the index holds runs in flight.
    next_due_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True, index=True)
    )
    # Times the sweep re-sent the same step; reset by every transition. Bounded, so a step
    # that kills its worker each time (a poison run) fails instead of looping.
    recoveries: int = 0
    # The next step waits longer than a broker countdown may (the visibility timeout stays
    # short): no message was sent, the sweep sends it at `next_due_at`, not as a recovery.
    parked: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})
    # The run's lane (workers.lanes), and where its turns went when that lane had no
    # capacity (a flex run that fell back to standard); priced at the lane it was served in.
    lane: str = Field(default="standard", sa_column_kwargs={"server_default": "standard"})
    lane_fallback: str | None = None
    # Function tools the caller declared for this run (a JSON list of {name, description,
    # parameters}): the model may call them, and the caller runs them (requires_action).
    caller_tools: str | None = None
    # When the caller asked the run to start (None: at once). Until then it is pending and
    # parked at this time, holding no worker slot and no broker message.
    run_at: datetime | None = Field(default=None, sa_column=_utc_column())
    # The run's own dollar budget (None: none): each model turn holds its worst case first.
    max_cost_usd: float | None = None
    # Fair shares are on (RUNQ_RUNS_IN_FLIGHT_TARGET) and the run waits, pending with no
    # message and no `next_due_at`, until an admission round gives its key a slot.
    share_waiting: bool = Field(
        default=False, index=True, sa_column_kwargs={"server_default": sa_false()}
    )


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
    # approved | rejected, by whom (an API key id, "" for the operator) and why: the audit of
    # a call that waited for a person.
    decision: str | None = None
    decided_by: str | None = None
    decision_reason: str | None = None
    decided_at: datetime | None = Field(default=None, sa_column=_utc_column())
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(False))
    started_at: datetime | None = Field(default=None, sa_column=_utc_column())
    finished_at: datetime | None = Field(default=None, sa_column=_utc_column())


class ApiKey(SQLModel, table=True):
    """A caller of the HTTP API. Only a SHA-256 of the key is stored; the prefix is shown."""

    id: str = Field(default_factory=lambda: new_id("key"), primary_key=True)
    name: str = Field(unique=True, index=True)
    prefix: str
    key_hash: str = Field(unique=True, index=True)
    # Comma-separated scopes (`submit,read`, `read`, `admin`): what the key may do.
    scopes: str = Field(default="submit,read", sa_column_kwargs={"server_default": "submit,read"})
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(False))
    revoked_at: datetime | None = Field(default=None, sa_column=_utc_column())
    # Dollar budgets of the key's runs (None: no limit): in all, per UTC day, per UTC month.
    max_usd: float | None = None
    max_usd_day: float | None = None
    max_usd_month: float | None = None
    # What a run does when a turn does not fit: "fail" (reason budget) or "wait" for room.
    on_budget: str = Field(default="fail", sa_column_kwargs={"server_default": "fail"})
    # Fair shares: the key's runs get slots in proportion to `weight`, and never more than
    # `max_concurrent_runs` in flight at once (None: no cap of its own).
    weight: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    max_concurrent_runs: int | None = None


class CallbackAttempt(SQLModel, table=True):
    """One try at POSTing a run's end to its callback URL; claimed (inserted) before the
    POST, so a redelivered message never sends the same attempt twice."""

    __table_args__ = (UniqueConstraint("run_id", "attempt", name="uq_callbackattempt_run_attempt"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="run.id", index=True)
    attempt: int
    status_code: int | None = None
    duration_ms: int = 0
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(False))


class Schedule(SQLModel, table=True):
    """A job fired on a cron schedule, owned by one API key ("" for the operator's CLI)."""

    id: str = Field(default_factory=lambda: new_id("sch"), primary_key=True)
    owner_key_id: str = Field(default="", index=True)
    agent: str
    # The run body each tick creates (the fields of POST /v1/runs), as JSON.
    job_json: str
    cron: str
    timezone: str = "UTC"
    missed: str = "skip"  # a MissedPolicy
    overlap: str = "skip"  # an OverlapPolicy
    enabled: bool = True
    # The tick the schedule owes next; NULL while paused, so the index beat reads holds only
    # schedules that may fire. Each tick is claimed by a compare-and-set on this column.
    next_fire_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True, index=True)
    )
    last_fired_at: datetime | None = Field(default=None, sa_column=_utc_column())
    last_run_id: str | None = None
    # What the last tick did when it fired nothing (overlap skip, missed ticks, a refusal).
    last_skip_reason: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(False))


class Assistant(SQLModel, table=True):
    """An assistant stored through the Assistants-compatible API: its settings live in
    immutable versions (`AssistantVersion`); an update adds one, a run records which it ran."""

    id: str = Field(default_factory=lambda: new_id("asst"), primary_key=True)
    # The API key that created it; no other key sees it.
    owner_key_id: str = Field(index=True)
    latest_version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(False))
    deleted_at: datetime | None = Field(default=None, sa_column=_utc_column())


class AssistantVersion(SQLModel, table=True):
    """One version of an assistant's settings; never changed once written, so a worker may
    cache the agent it builds from it."""

    __table_args__ = (
        UniqueConstraint("assistant_id", "version", name="uq_assistantversion_assistant_version"),
    )

    id: int | None = Field(default=None, primary_key=True)
    assistant_id: str = Field(foreign_key="assistant.id", index=True)
    version: int
    model: str
    name: str | None = None
    description: str | None = None
    instructions: str | None = None
    # The assistant's tools as the API shows them (a JSON list of {"type": "function", ...}).
    tools_json: str = "[]"
    # Names of its function tools that runq runs itself (registered tools the assistant
    # asked for in metadata["runq_server_tools"]); the others wait for the caller.
    server_tools: str = ""
    metadata_json: str = "{}"
    temperature: float | None = None
    top_p: float | None = None
    response_format_json: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(False))


class ThreadMessage(SQLModel, table=True):
    """A message a caller put on a thread through the Assistants-compatible API. Answers are
    not stored here: they are the thread's completed runs."""

    id: str = Field(default_factory=lambda: new_id("msg"), primary_key=True)
    thread_id: str = Field(foreign_key="thread.id", index=True)
    role: str
    text: str
    metadata_json: str = "{}"
    # The run that took this message as its input; NULL until a run starts on the thread.
    input_of_run_id: str | None = Field(default=None, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(False))


class BatchTurn(SQLModel, table=True):
    """One model turn of a batch-lane run, waiting for (or answered by) a Batch API batch.

    `waiting` (not yet in a batch) -> `submitted` (a line of batch `batch_id`) -> `done`
    (`response_json` holds the Response) | `failed` (`error` says why) | `cancelled`."""

    id: str = Field(default_factory=lambda: new_id("bturn"), primary_key=True)
    run_id: str = Field(index=True)
    agent: str
    # The /v1/responses request body of the turn, as JSON: one line of the batch's file.
    body: str
    status: str = Field(default="waiting", index=True)
    batch_id: str | None = Field(default=None, index=True)
    # Batches this turn was sent in that failed or expired (it is sent again, up to a limit).
    attempts: int = 0
    response_json: str | None = None
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_utc_column(False))

"""What goes in and out of the front door (HTTP, Celery `submit_job`, the CLI).

Table rows never leave the process: every answer is one of the `*Public` models below,
built from a row by `gateway.run_view`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import jsonschema  # type: ignore[import-untyped]  # ships no type information
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    field_validator,
    model_validator,
)

from workers.lanes import Lane
from workers.limits.spend import MAX_BUDGET_USD, check_budget_usd
from workers.model_routing import ModelHint
from workers.public.thread_names import THREAD_NAME_RULE, check_thread_name

MAX_INPUT_CHARS = 100_000
MAX_METADATA_ITEMS = 16

MetadataKey = Annotated[str, StringConstraints(min_length=1, max_length=64)]
MetadataValue = Annotated[str, StringConstraints(max_length=512)]


MAX_CALLER_TOOLS = 64
MAX_TOOL_OUTPUT_CHARS = 1_000_000
_TOOL_NAME = r"^[A-Za-z0-9_-]{1,64}$"


class FunctionTool(BaseModel):
    """A function tool the caller declares for one run and runs itself: the model may call
    it, the run then waits in `requires_action` for its output."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["function"] = "function"
    name: str = Field(pattern=_TOOL_NAME, description="Letters, digits, _ and -; 1-64 chars.")
    description: str = Field(default="", max_length=4096)
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="JSON schema of the arguments object.",
    )

    @field_validator("parameters")
    @classmethod
    def _a_json_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            jsonschema.validators.validator_for(value).check_schema(value)
        except jsonschema.SchemaError as exc:
            raise ValueError(f"parameters is not a valid JSON schema: {exc.message}") from None
        if value.get("type") != "object":
            raise ValueError('parameters must be a JSON schema with "type": "object"')
        return value


class RunCreate(BaseModel):
    """A job: run `agent` on `input`. Unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    agent: str = Field(min_length=1, max_length=128, description="A declared agent's name.")
    input: str = Field(min_length=1, max_length=MAX_INPUT_CHARS, description="The user message.")
    thread_key: str | None = Field(
        default=None,
        description="Your user or conversation key: same key, same thread (created on first "
        f"use); {THREAD_NAME_RULE}.",
    )
    metadata: dict[MetadataKey, MetadataValue] = Field(
        default_factory=dict,
        max_length=MAX_METADATA_ITEMS,
        description="Your own labels, string to string (at most 16; keys 64, values 512 chars).",
    )
    deadline_s: float | None = Field(
        default=None, gt=0, le=7 * 24 * 3600, description="Seconds before the run ends expired."
    )
    callback_url: HttpUrl | None = Field(
        default=None, description="POSTed a signed run.* event (Standard Webhooks) at the end."
    )
    cache: bool | None = Field(
        default=None, description="Use the response cache; None follows the agent's setting."
    )
    model_hint: ModelHint | None = Field(
        default=None, description="cheap or strong, for agents with model routing."
    )
    lane: Lane | None = Field(
        default=None,
        description="The run's slack: interactive (priority tier), standard, flex (cheaper, "
        "standard when flex has no capacity) or batch (Batch API, hours); None: the agent's.",
    )
    tools: list[FunctionTool] = Field(
        default_factory=list,
        max_length=MAX_CALLER_TOOLS,
        description="Function tools you run yourself: a call to one pauses the run in "
        "requires_action until you POST its output to /v1/runs/{id}/submit_tool_outputs.",
    )

    @field_validator("tools")
    @classmethod
    def _tool_names_unique(cls, value: list[FunctionTool]) -> list[FunctionTool]:
        names = [tool.name for tool in value]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"tool names must be unique; given twice: {', '.join(twice)}")
        return value

    run_at: datetime | None = Field(
        default=None,
        description="Start the run at this time (ISO 8601 with a time zone, e.g. "
        "2026-12-24T09:00:00Z), not at once: it waits pending, holding no worker, and its "
        "deadline counts from then. Not in the past, at most RUNQ_MAX_RUN_AT_DAYS ahead.",
    )

    max_cost_usd: float | None = Field(
        default=None,
        description="The run's own dollar budget: each model turn first holds its worst-case "
        "cost (prompt + max output tokens at RUNQ_MODEL_PRICES); a turn that does not fit ends "
        'the run failed with a reason starting "budget:". Above 0, at most '
        f"{MAX_BUDGET_USD:,.0f}.",
    )

    @field_validator("max_cost_usd")
    @classmethod
    def _sane_budget(cls, value: float | None) -> float | None:
        return check_budget_usd(value, "max_cost_usd")

    @field_validator("run_at")
    @classmethod
    def _run_at_is_aware(cls, value: datetime | None) -> datetime | None:
        # A time without a zone means a different instant on every machine that reads it.
        if value is not None and value.tzinfo is None:
            raise ValueError(
                "run_at needs a time zone (e.g. 2026-12-24T09:00:00Z or +01:00); "
                "a time without one is ambiguous"
            )
        return None if value is None else value.astimezone(UTC)

    @field_validator("thread_key")
    @classmethod
    def _thread_key_follows_the_rule(cls, value: str | None) -> str | None:
        return None if value is None else check_thread_name(value)

    @model_validator(mode="after")
    def _no_nul_characters(self) -> RunCreate:
        # PostgreSQL text cannot hold NUL; refuse it here with a message, not a 500 later.
        texts = [self.agent, self.input, self.thread_key or ""]
        texts += [*self.metadata, *self.metadata.values()]
        if any("\x00" in text for text in texts):
            raise ValueError("text fields must not contain NUL (\\u0000) characters")
        return self

    def request_hash(self) -> str:
        """SHA-256 of the canonical body: what an idempotency key promises not to change."""
        body = self.model_dump(mode="json", include=set(RunCreate.model_fields))
        if not body["tools"]:
            del body["tools"]  # the hash of a run without caller tools stays as it was
        if body["max_cost_usd"] is None:
            del body["max_cost_usd"]  # likewise for a run without a budget of its own
        if body["lane"] is None:
            del body["lane"]  # nor does the hash of a run that names no lane
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


class JobCreate(RunCreate):
    """A job as the CLI, the Celery contract and the batch tools send it."""

    idempotency_key: str | None = Field(default=None, min_length=1, max_length=256)
    batch_id: str | None = Field(default=None, max_length=128)

    @model_validator(mode="after")
    def _no_nul_in_keys(self) -> JobCreate:
        # Looked up and stored as text: PostgreSQL refuses NUL (a DataError, not an answer).
        for name in ("idempotency_key", "batch_id"):
            if "\x00" in (getattr(self, name) or ""):
                raise ValueError(f"{name} must not contain NUL (\\u0000) characters")
        return self


class UsagePublic(BaseModel):
    """Tokens the provider counted, and their price."""

    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: float


class ToolCallPublic(BaseModel):
    """One tool execution of a run."""

    call_id: str
    name: str
    arguments: str
    status: str
    output: str | None
    error: str | None
    duration_ms: int | None
    attempts: int
    decision: str | None = None
    """approved | rejected, for a call that waited for a person."""
    decision_reason: str | None = None


class ToolDecision(BaseModel):
    """Approve or reject a tool call that waits for a person."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str | None = Field(
        default=None, max_length=2000, description="Why; a rejection's reason is told to the model."
    )

    @field_validator("reason")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("reason must not contain NUL (\\u0000) characters")
        return value


class ToolOutputIn(BaseModel):
    """The output of one caller-executed tool call."""

    model_config = ConfigDict(extra="forbid")

    tool_call_id: str = Field(min_length=1, max_length=256)
    output: str = Field(max_length=MAX_TOOL_OUTPUT_CHARS)

    @model_validator(mode="after")
    def _no_nul(self) -> ToolOutputIn:
        if "\x00" in self.tool_call_id or "\x00" in self.output:
            raise ValueError("tool outputs must not contain NUL (\\u0000) characters")
        return self


class ToolOutputs(BaseModel):
    """Every waiting call's output, in one request."""

    model_config = ConfigDict(extra="forbid")

    tool_outputs: list[ToolOutputIn] = Field(min_length=1, max_length=MAX_CALLER_TOOLS * 4)


class RunPublic(BaseModel):
    """A run as a caller sees it."""

    id: str
    agent: str
    status: str
    input: str
    model: str
    output_text: str | None
    structured_output: Any = None
    error: str | None
    usage: UsagePublic
    tool_calls: list[ToolCallPublic]
    thread_key: str | None
    idempotency_key: str | None
    metadata: dict[str, str]
    callback_url: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    deadline_at: datetime
    run_at: datetime | None = None
    max_cost_usd: float | None = None
    """The run's own dollar budget, if it has one (a failed run's error starts "budget:"
    when a turn did not fit a budget)."""
    lane: str = "standard"
    lane_fallback: str | None = None
    """Where the run's turns went when its lane had no capacity (flex -> standard)."""


class RunList(BaseModel):
    """One page of runs, newest first; pass `next_cursor` back as `cursor` for the next."""

    data: list[RunPublic]
    next_cursor: str | None


class ThreadPublic(BaseModel):
    """A thread and its runs, oldest first."""

    thread_key: str
    created_at: datetime
    last_activity_at: datetime
    archived_at: datetime | None
    runs: list[RunPublic]


class ApiError(BaseModel):
    """Every 4xx answer: what went wrong and what to fix."""

    error: str
    detail: Any = None


class SpendLinePublic(BaseModel):
    """One dollar counter: `key:<id>` (in all), `key:<id>:day:<YYYY-MM-DD>`,
    `key:<id>:month:<YYYY-MM>` (UTC), or `agent:<name>:day:<YYYY-MM-DD>`."""

    scope: str
    spent_usd: float
    held_usd: float
    """Worst cases held by model turns in flight, settled to their cost when they end."""
    limit_usd: float | None
    """None: no limit on this counter."""


class SpendPublic(BaseModel):
    """What a key has spent, per counter."""

    lines: list[SpendLinePublic]

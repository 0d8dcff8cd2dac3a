"""Every Redis key name runq uses, in one place.

Keys start with a prefix (default "runq") so several deployments, or parallel test runs, can
share one Redis without seeing each other's state.
"""

from __future__ import annotations

import functools
import hashlib

DEFAULT_PREFIX = "runq"

FINGERPRINT_CHARS = 16
"""64 bits of sha256: collisions between a deployment's few keys are not a concern."""


# Every provider call names its key's buckets: a worker's few keys are hashed once each.
@functools.lru_cache(maxsize=64)
def fingerprint_api_key(api_key: str) -> str:
    """A short, stable name for an API key: the first 16 hex chars of its sha256.

    Key names are visible to anyone who can run `KEYS` or read a log, so the key itself is
    never stored, only this fingerprint.
    """
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()[:FINGERPRINT_CHARS]


def rate_limit_key(prefix: str, api_key_fingerprint: str, model: str) -> str:
    """The hash holding both token buckets of one (API key, model).

    The model comes last because fine-tuned model names contain colons (`ft:gpt-4o:org:x`);
    the fingerprint has a fixed length, so the name stays unambiguous.
    """
    return f"{prefix}:ratelimit:{api_key_fingerprint}:{model}"


def rate_limit_hold_key(prefix: str, api_key_fingerprint: str, model: str, holder: str) -> str:
    """When one caller's reserved request on one (API key, model) is due (`token_bucket.lua`).
    The holder (a run id) comes before the model, which may contain colons."""
    return f"{prefix}:ratelimit-held:{api_key_fingerprint}:{holder}:{model}"


def rate_limit_queue_key(prefix: str, api_key_fingerprint: str, model: str) -> str:
    """The last slot booked by a throttled caller of one (API key, model) (`queue_slot.lua`)."""
    return f"{prefix}:ratelimit-queue:{api_key_fingerprint}:{model}"


def cache_entry_key(prefix: str, cache_key: str) -> str:
    """The string holding one cached provider response (JSON)."""
    return f"{prefix}:cache:entry:{cache_key}"


def cache_stats_key(prefix: str) -> str:
    """The hash of shared cache counters (fields `hits` and `misses`)."""
    return f"{prefix}:cache:stats"


def turn_times_key(prefix: str, model: str) -> str:
    """The list of recent turn durations (seconds, newest first) of one model."""
    return f"{prefix}:turn_s:{model}"


def breaker_key(prefix: str, tool_name: str) -> str:
    """The hash holding one tool's circuit breaker (`breaker.lua`).

    The tool name comes last so a name containing colons stays unambiguous.
    """
    return f"{prefix}:breaker:{tool_name}"


def sweep_lock_key(prefix: str) -> str:
    """The lock that lets one recovery sweep run at a time across the fleet."""
    return f"{prefix}:sweep:lock"


def batch_collect_lock_key(prefix: str) -> str:
    """The lock that lets one batch-lane collector run at a time across the fleet."""
    return f"{prefix}:batches:lock"


def run_events_key(prefix: str, run_id: str) -> str:
    """The capped stream of one run's events (XADD MAXLEN ~, expires after events_ttl_s)."""
    return f"{prefix}:events:{run_id}"


def run_events_channel(prefix: str) -> str:
    """The pub/sub channel that says "run X has a new event": `<run_id> <event type>`.

    One channel for all runs, so each API process holds one subscription however many
    clients wait, and wakes only the waiters of the run named.
    """
    return f"{prefix}:events"


def webhook_seen_key(prefix: str, digest: str) -> str:
    """An OpenAI webhook id already processed (sha256 of the id), kept for its signature's
    window so a replay is acknowledged and ignored."""
    return f"{prefix}:webhook-seen:{digest}"


def spend_totals_key(prefix: str, scope: str) -> str:
    """The hash of one dollar-budget counter (`spend.lua`): spent, held, and its live holds."""
    return f"{prefix}:spend:{scope}"


def spend_holds_key(prefix: str, scope: str) -> str:
    """The zset of one counter's live holds, scored by their expiry in ms."""
    return f"{prefix}:spendholds:{scope}"


def spend_hold_key(prefix: str, hold_id: str) -> str:
    """The record of one turn's hold: its amount, and whether it was settled."""
    return f"{prefix}:spendhold:{hold_id}"


def admission_lock_key(prefix: str) -> str:
    """The lock that lets one fair-share admission round run at a time across the fleet."""
    return f"{prefix}:admission:lock"


def admission_due_key(prefix: str) -> str:
    """Set when an admission round is owed (a run was created or ended) and not yet run."""
    return f"{prefix}:admission:due"


RUNS_QUEUE_KEY = "runs"
"""The broker's list of run steps due now and waiting for a worker: kombu names a queue's
list after the queue, unprefixed, and runq sends no message priorities, so every waiting
step is in this one list (a countdown's message waits inside a worker instead)."""

UNACKED_KEY = "unacked"
"""kombu's hash of the messages workers hold and have not acknowledged yet (runq acks late):
the steps a worker has taken but not finished, and every countdown (a planned poll, a step
waiting on the budget), which waits inside a worker until it is due. Tool calls are in it too."""

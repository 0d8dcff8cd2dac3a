"""Every Prometheus family runq exports, by its stable name.

Dashboards and alerts rely on these names and labels; change them only with a note in the
README. Counters and histograms live in each process's default registry and are updated by
`workers.observability.events`; the two families read at scrape time (`runq_runs_active`,
`runq_queue_depth`) are produced by `gateway.dashboard.fleet_collector`.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Runs take seconds to minutes; tools milliseconds to seconds; limiter waits up to a minute.
_RUN_BUCKETS_S = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800)
_TOOL_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_WAIT_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
_POLL_BUCKETS = (0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50)

RUNS_TOTAL = Counter("runq_runs", "Runs that reached a terminal status.", ["agent", "status"])
RUN_DURATION_S = Histogram(
    "runq_run_duration_seconds",
    "Created to finished, for terminal runs.",
    ["agent"],
    buckets=_RUN_BUCKETS_S,
)
PROVIDER_REQUESTS_TOTAL = Counter(
    "runq_provider_requests",
    "Requests to the model provider (kind: create, poll, submit, cancel; "
    "outcome: ok, 429, 5xx, timeout, 4xx).",
    ["provider", "model", "kind", "outcome"],
)
MODEL_TURNS_TOTAL = Counter(
    "runq_model_turns",
    "Model turns the provider accepted, by mode: background (polled, or told by webhook) or "
    "synchronous (one request that answers at once: Chat, sync_turns, or the Responses API "
    "while the request budget is scarce).",
    ["provider", "model", "mode"],
)
POLLS_PER_TURN = Histogram(
    "runq_polls_per_turn", "Polls a model turn needed before it ended.", buckets=_POLL_BUCKETS
)
TOKENS_TOTAL = Counter(
    "runq_tokens", "Tokens the provider counted (kind: input, output, cached).", ["model", "kind"]
)
COST_USD_TOTAL = Counter(
    "runq_cost_usd", "Cost of terminal runs, from RUNQ_MODEL_PRICES.", ["agent", "model"]
)
TOOL_CALLS_TOTAL = Counter(
    "runq_tool_calls",
    "Tool executions (outcome: succeeded, failed, unavailable).",
    ["tool", "outcome"],
)
TOOL_DURATION_S = Histogram(
    "runq_tool_duration_seconds", "Tool execution time.", ["tool"], buckets=_TOOL_BUCKETS_S
)
TOOL_BREAKER_OPEN = Gauge(
    "runq_tool_breaker_open",
    "1 while this process last found the tool's circuit breaker open, else 0.",
    ["tool"],
)
LIMITER_WAITS_TOTAL = Counter(
    "runq_limiter_waits",
    "Provider calls the shared budget made wait (dimension: requests, tokens, "
    "requests_or_tokens when both limits are set).",
    ["model", "dimension"],
)
LIMITER_RESERVATIONS_TOTAL = Counter(
    "runq_limiter_reservations",
    "Waits of run steps that reserved their request: charged when refused, sent when the "
    "charge is covered, never overtaken by a later caller.",
    ["model"],
)
LIMITER_WAIT_S = Histogram(
    "runq_limiter_wait_seconds",
    "How long the shared budget made a call wait.",
    buckets=_WAIT_BUCKETS_S,
)
CACHE_REQUESTS_TOTAL = Counter(
    "runq_cache_requests", "Response cache lookups (result: hit, miss, bypass, error).", ["result"]
)
CALLBACKS_TOTAL = Counter(
    "runq_callbacks", "Run-finished callbacks delivered (outcome: ok, failed, ...).", ["outcome"]
)

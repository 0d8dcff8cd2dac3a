"""Per-process clients: database engine, Redis, SDK clients, and the step context.

Built lazily on first use and once per process, never at import time; `reset()` runs in
each forked worker child (`worker_process_init`) so no socket is shared across a fork.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from functools import update_wrapper
from typing import Any, Generic, ParamSpec, TypeVar

import redis
from openai import OpenAI
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import Engine, event
from sqlmodel import Session, create_engine

from config.settings import Settings, get_settings
from workers.agent_modules import load_agent_modules
from workers.agents import Agent, set_agent_resolver
from workers.backoff import Schedule
from workers.cache.response_cache import ResponseCache
from workers.db import session_hooks
from workers.db.migrate import migrates_itself, upgrade_to_head
from workers.errors import ConfigError
from workers.limits.clearance import Clearance, LimitTable, NoLimits, SharedBudget
from workers.limits.limiter import RedisRateLimiter
from workers.limits.spend_store import RedisSpend
from workers.limits.token_bucket import Limits
from workers.providers.assistants import AssistantsProvider
from workers.providers.batch_api import BatchApi
from workers.providers.chat import ChatProvider
from workers.providers.interface import Provider
from workers.providers.responses import ResponsesProvider
from workers.redis_keys import RUNS_QUEUE_KEY, UNACKED_KEY, fingerprint_api_key
from workers.runs.admission_lock import owe_round
from workers.runs.budget_guard import BudgetGuard, NoBudgets, SpendGuard
from workers.runs.context import NoTurnTimes, StepContext, TurnTimes
from workers.runs.events import RedisRunEvents
from workers.runs.state import RunPolicy
from workers.runs.turn_history import RedisTurnTimes
from workers.runs.usage import Price
from workers.stored_agents import StoredAgents
from workers.tools.breaker import BreakerPolicy
from workers.tools.breaker_store import RedisToolBreakers
from workers.tools.registry import default_registry

log = logging.getLogger("runq.wiring")

CALLBACK_TASK = "runq.callbacks.deliver"
ADMIT_TASK = "runq.housekeeping.admit"
ACTION_CALLBACK_TASK = "runq.callbacks.action"

P = ParamSpec("P")
T = TypeVar("T")


class BuiltOnce(Generic[P, T]):
    """A getter whose value is built once per process (and per arguments), under a lock.

    Not `functools.cache`, which lets every caller that misses build its own: the first tasks
    of a fresh worker arrive together; each built an engine and ran the SQLite migrations,
    and two step contexts held two tool gates, so two re-runs each ran "alone" at once
    (`workers.tools.solo_gate`)."""

    def __init__(self, build: Callable[P, T]) -> None:
        self._build = build
        self._built: dict[Hashable, T] = {}
        self._lock = threading.Lock()
        update_wrapper(self, build)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> T:
        key = (args, tuple(sorted(kwargs.items()))) if kwargs else args
        try:
            return self._built[key]
        except KeyError:
            pass
        with self._lock:
            if key not in self._built:
                self._built[key] = self._build(*args, **kwargs)
            return self._built[key]

    def built(self) -> list[T]:
        """What has been built so far (nothing is built by asking)."""
        return list(self._built.values())

    def cache_clear(self, *, after_fork: bool = False) -> None:
        """Forget what was built; after a fork, also the lock another thread may have held."""
        if after_fork:
            self._lock = threading.Lock()
        self._built.clear()


@BuiltOnce
def get_engine() -> Engine:
    """The process's database engine, built once; creates tables when they are missing.
    (Each first task of a worker's threads used to build one and run the SQLite migrations,
    one thread after another; now the first caller builds it and the others wait.)"""
    return build_engine(get_settings().database.url)


def build_engine(database_url: str) -> Engine:
    """An engine for `database_url`; SQLite gets WAL, a busy timeout and its migrations."""
    if not database_url.startswith("sqlite"):
        # PostgreSQL and friends are migrated once per deploy by `runq migrate`. A server that
        # does not answer fails in seconds (psycopg's default waits out the OS TCP timeout).
        connect_args = {"connect_timeout": 5} if database_url.startswith("postgresql") else {}
        return create_engine(database_url, pool_pre_ping=True, connect_args=connect_args)
    # Several worker processes write the same file: WAL lets readers run during a
    # write, and the 30 s busy timeout makes writers queue instead of failing.
    engine = create_engine(database_url, connect_args={"timeout": 30, "check_same_thread": False})
    event.listen(engine, "connect", _sqlite_pragmas)
    if migrates_itself(database_url):
        upgrade_to_head(database_url)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def new_session() -> Session:
    """A new session on the process engine (objects stay readable after commit), carrying
    the run-event sink and the callback sender the store calls after its commits."""
    info: dict[str, Any] = {}
    if get_settings().redis.url:
        info[session_hooks.EVENT_SINK] = get_run_events()
        info[session_hooks.CALLBACK_SENDER] = send_callback
        info[session_hooks.ACTION_CALLBACK_SENDER] = send_action_callback
        if get_settings().runs.in_flight_target > 0:
            info[session_hooks.ADMISSION_REQUESTER] = request_admission
    return Session(get_engine(), expire_on_commit=False, info=info)


@BuiltOnce
def get_run_events() -> RedisRunEvents:
    """The run-event streams; short timeouts and no retries, since events are best effort."""
    settings = get_settings()
    client = redis.Redis.from_url(
        settings.broker_url,
        socket_timeout=0.5,
        socket_connect_timeout=0.5,
        retry=Retry(NoBackoff(), 0),
    )
    return RedisRunEvents(
        client,
        prefix=settings.redis.prefix,
        ttl_s=settings.api.events_ttl_s,
        max_len=settings.api.events_max_len,
    )


def send_action_callback(run_id: str, step_seq: int) -> None:
    """Enqueue the `run.requires_action` callback of a run that waits at `step_seq`; a
    broker failure is logged, never raised (the run's view and events still say it waits)."""
    from kombu.exceptions import OperationalError

    from config.celery_app import app

    try:
        app.send_task(ACTION_CALLBACK_TASK, args=(run_id, step_seq), ignore_result=True)
    except (OperationalError, OSError) as exc:
        log.warning("run %s: requires_action callback not enqueued: %r", run_id, exc)


def send_callback(run_id: str) -> None:
    """Enqueue the callback delivery of a run that just ended (by task name: workers never
    import tasks). A broker failure is logged, never raised into the run's step."""
    from kombu.exceptions import OperationalError

    from config.celery_app import app

    try:
        app.send_task(CALLBACK_TASK, args=(run_id,), ignore_result=True)
    except (OperationalError, OSError) as exc:
        log.warning("run %s: callback not enqueued: %r", run_id, exc)


def request_admission() -> None:
    """Owe a fair-share admission round and send its message if none was owed. A Redis or
    broker failure is logged, never raised: the sweep runs an owed round within seconds."""
    from kombu.exceptions import OperationalError

    from config.celery_app import app

    try:
        if owe_round(get_redis(), get_settings().redis.prefix):
            app.send_task(ADMIT_TASK, ignore_result=True)
    except (redis.RedisError, OperationalError, OSError) as exc:
        log.warning("admission round not requested (%r); the sweep runs one", exc)


@BuiltOnce
def get_redis() -> redis.Redis:
    """The process's Redis client for the limiter (the broker has its own connections)."""
    return redis.Redis.from_url(get_settings().broker_url)


@BuiltOnce
def get_response_cache() -> ResponseCache:
    """The response cache, on its own Redis when RUNQ_CACHE_REDIS_URL is set."""
    settings = get_settings()
    # Short timeouts and no retries: a slow or dead cache must cost a miss, not seconds.
    client = redis.Redis.from_url(
        settings.redis.cache_url or settings.broker_url,
        socket_timeout=0.5,
        socket_connect_timeout=0.5,
        retry=Retry(NoBackoff(), 0),
    )
    return ResponseCache(client, prefix=settings.redis.prefix, ttl_s=settings.cache.ttl_s)


@BuiltOnce
def get_openai_client(base_url: str | None, api_key: str) -> OpenAI:
    """One SDK client per (base URL, key), with the SDK's own retries off: runq retries."""
    settings = get_settings()
    return OpenAI(
        api_key=api_key,
        base_url=base_url,
        max_retries=settings.provider.sdk_retries,
        timeout=settings.provider.timeout_s,
    )


def provider_for(agent: Agent, timeout_s: float | None = None) -> Provider:
    """The provider adapter an agent runs on, with its own base URL and key if it has them;
    `timeout_s` caps its request timeout below the configured one."""
    settings = get_settings()
    client = get_openai_client(agent.base_url or settings.provider.base_url, api_key_of(agent))
    if timeout_s is not None and timeout_s < settings.provider.timeout_s:
        client = client.with_options(timeout=max(timeout_s, _MIN_REQUEST_TIMEOUT_S))
    if agent.provider == "responses":
        return ResponsesProvider(client)
    if agent.provider == "chat":
        return ChatProvider(client)
    if agent.provider == "assistants":
        return AssistantsProvider(client)
    raise ConfigError(f"agent {agent.name!r}: provider {agent.provider!r} is not available")


def api_key_of(agent: Agent) -> str:
    """The API key an agent uses: a named key from RUNQ_PROVIDER_KEYS, or OPENAI_API_KEY."""
    settings = get_settings()
    if agent.api_key_name is None:
        return settings.provider.api_key.get_secret_value()
    try:
        return settings.provider.keys[agent.api_key_name].get_secret_value()
    except KeyError:
        raise ConfigError(
            f"agent {agent.name!r} wants API key {agent.api_key_name!r}, which is not in "
            "RUNQ_PROVIDER_KEYS"
        ) from None


def api_key_id_for(agent: Agent) -> str:
    """A fingerprint of the API key an agent uses (never the key itself)."""
    return fingerprint_api_key(api_key_of(agent))


def run_policy(settings: Settings) -> RunPolicy:
    """The state machine's knobs from settings."""
    return RunPolicy(
        poll=Schedule(settings.polling.first_s, settings.polling.factor, settings.polling.cap_s),
        retry=Schedule(settings.polling.retry_first_s, 2.0, settings.polling.retry_cap_s),
        max_turns=settings.runs.max_turns,
        max_attempts=settings.provider.max_attempts,
    )


def build_clearance(settings: Settings) -> Clearance:
    """The shared budget on Redis, or no limiter at all when no limit is configured."""
    headroom_ms = settings.limits.limit_headroom_ms
    table = LimitTable(
        default=Limits(
            settings.limits.default_requests_per_min,
            settings.limits.default_tokens_per_min,
            headroom_ms,
        ),
        per_model={
            model: Limits(limits.requests_per_min, limits.tokens_per_min, headroom_ms)
            for model, limits in settings.limits.model_limits.items()
        },
    )
    if table.default.is_unlimited and all(x.is_unlimited for x in table.per_model.values()):
        return NoLimits()
    limiter = RedisRateLimiter(get_redis(), prefix=settings.redis.prefix)
    return SharedBudget(
        limiter,
        table,
        now_ms=lambda: int(time.time() * 1000),
        jitter=random.random,
        backlog=lambda: runs_backlog(get_redis()),
    )


def runs_backlog(client: redis.Redis) -> int:
    """Steps about to ask for a request: those waiting on the runs queue, and the messages
    workers hold (taken, or waiting out a countdown), in one round trip. Counting only the
    queue missed the steps a worker had already taken: a runs worker with 128 threads holds
    128 starts, so the queue read ~0 through a whole burst (300 RPM bench: 23 runs started
    background turns, 0.30 polls a run, against 0.08 counting both). A held tool call counts
    too: the last of a turn submits it. Unknown counts as none: a Redis that cannot answer
    fails the budget's own take just after, with its error."""
    try:
        pipe = client.pipeline(transaction=False)
        pipe.llen(RUNS_QUEUE_KEY)
        pipe.hlen(UNACKED_KEY)
        waiting, held = pipe.execute()
        return int(waiting) + int(held)
    except redis.RedisError:
        return 0


# A request needs a moment to be sent at all; a deadline closer than this expires on the
# answer's way back instead.
_MIN_REQUEST_TIMEOUT_S = 0.1


def batch_api_for(agent: Agent) -> BatchApi:
    """The Batch API of the key and base URL an agent uses."""
    settings = get_settings()
    return BatchApi(
        get_openai_client(agent.base_url or settings.provider.base_url, api_key_of(agent))
    )


@BuiltOnce
def get_step_context() -> StepContext:
    """Everything the run steps need, built once per process (its tool gate is per process)."""
    return _build_step_context()


def _build_step_context() -> StepContext:
    settings = get_settings()
    load_agent_modules(settings.runs.agent_modules)
    # Assistants stored through the Assistants-compatible API run as agents too.
    set_agent_resolver(StoredAgents(new_session).resolve)
    return StepContext(
        sessions=new_session,
        provider_for=provider_for,
        api_key_id_for=api_key_id_for,
        tools=default_registry,
        policy=run_policy(settings),
        clearance=build_clearance(settings),
        now=lambda: datetime.now(UTC),
        default_max_output_tokens=settings.provider.default_max_output_tokens,
        tool_grace_s=settings.tools.grace_s,
        cache=get_response_cache() if settings.redis.url else None,
        base_url=settings.provider.base_url or "https://api.openai.com/v1",
        prices=_prices(settings),
        lane_price_multipliers=settings.provider.lane_price_multipliers,
        breakers=_breakers(settings) if settings.redis.url else None,
        tool_retries=settings.tools.retries,
        max_deliveries=settings.runs.max_deliveries,
        webhook_poll_first_s=settings.webhooks.poll_first_s,
        turn_times=_turn_times(settings),
        lease_s=settings.runs.lease_s,
        sweep_grace_s=settings.runs.recovery_grace_s,
        max_countdown_s=settings.runs.max_countdown_s,
        provider_within=provider_for,
        budgets=_budgets(settings),
        budget_wait_s=settings.limits.budget_wait_s,
    )


def _budgets(settings: Settings) -> BudgetGuard:
    """Dollar budgets on the shared Redis (nothing counted without one)."""
    if not settings.redis.url:
        return NoBudgets()
    return SpendGuard(
        RedisSpend(get_redis(), prefix=settings.redis.prefix),
        _prices(settings),
        now_ms=lambda: int(time.time() * 1000),
        max_output_tokens=lambda agent: (
            agent.max_output_tokens or settings.provider.default_max_output_tokens
        ),
        hold_grace_s=settings.limits.spend_hold_grace_s,
        lane_multipliers=settings.provider.lane_price_multipliers,
    )


def _prices(settings: Settings) -> dict[str, Price]:
    return {
        model: Price(p.input_per_mtok, p.output_per_mtok, p.cached_input_per_mtok)
        for model, p in settings.provider.prices.items()
    }


def _turn_times(settings: Settings) -> TurnTimes:
    if not settings.redis.url:
        return NoTurnTimes()
    return RedisTurnTimes(get_redis(), prefix=settings.redis.prefix)


def _breakers(settings: Settings) -> RedisToolBreakers:
    policy = BreakerPolicy(
        settings.tools.breaker_failures, int(settings.tools.breaker_cooldown_s * 1000)
    )
    return RedisToolBreakers(get_redis(), prefix=settings.redis.prefix, policy=policy)


def reset(*, after_fork: bool = False) -> None:
    """Forget every client (after fork, or when tests change settings).

    Pooled database connections are closed first so none is left to the garbage collector;
    after a fork they belong to the parent, so the child only drops them."""
    for engine in get_engine.built():
        engine.dispose(close=not after_fork)
    for built in (
        get_engine,
        get_redis,
        get_response_cache,
        get_run_events,
        get_openai_client,
        get_step_context,
    ):
        built.cache_clear(after_fork=after_fork)
    get_settings.cache_clear()

"""Checks a command makes before it needs a service, so a mistake fails fast and in one line."""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Iterable
from typing import Any, NoReturn

from config.exit_codes import ExitCode
from gateway.entry_errors import CommandFailed, explain

# A CLI call should fail in seconds, not wait out the OS's TCP timeout.
REDIS_CONNECT_TIMEOUT_S = 2.0


def require_deployable() -> None:
    """Outside an explicit dev, a process that serves or works needs a real provider key and
    signing secret (ConfigError, exit 9, naming the variable); see Settings.require_deployable."""
    from config.settings import get_settings

    get_settings().require_deployable()


def require_redis_url() -> str:
    """REDIS_URL, or a configuration error that says how to set it."""
    from config.settings import get_settings

    url = get_settings().redis.url
    if not url:
        raise CommandFailed(
            "configuration error: REDIS_URL is not set. Point it at the Redis every worker "
            "shares, e.g. REDIS_URL=redis://localhost:6379/0 (or try `runq demo`, which starts "
            "its own)",
            ExitCode.CONFIG_ERROR,
        )
    return url


def require_redis() -> str:
    """REDIS_URL, after one ping with a short timeout; UNREACHABLE says how long it tried."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    url = require_redis_url()
    client = redis.Redis.from_url(
        url,
        socket_connect_timeout=REDIS_CONNECT_TIMEOUT_S,
        socket_timeout=REDIS_CONNECT_TIMEOUT_S,
        retry=Retry(NoBackoff(), 0),  # one try: the message says how long that took
    )
    started_s = time.monotonic()
    try:
        client.ping()
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise explain(exc, time.monotonic() - started_s) from exc
    finally:
        client.close()
    return url


def load_agents(modules: list[str] | None = None) -> None:
    """Import `modules` (default RUNQ_AGENT_MODULES, or the demo agent when that is empty); a
    module that fails to import is a configuration error."""
    from config.settings import get_settings
    from workers.public.catalog import current_folder_importable, load_agent_modules

    modules = get_settings().runs.agent_modules if modules is None else modules
    current_folder_importable()
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise CommandFailed(
                f"configuration error: RUNQ_AGENT_MODULES names {module!r}, which cannot be "
                f"imported ({exc}); check the name and that it is on PYTHONPATH",
                ExitCode.CONFIG_ERROR,
            ) from exc
    load_agent_modules(modules)


def require_agent(name: str) -> None:
    """Load the agents, then UnknownAgent (exit 7) unless `name` is one of them."""
    from workers.public.catalog import get_agent

    load_agents()
    get_agent(name)


# `celery -A config worker|beat|flower` are started by users too, without `runq`'s wrapper:
# these give them the same one-line errors (celery would print a traceback wall, or retry a
# dead broker a hundred times).


def exit_at_start(exc: BaseException) -> NoReturn:
    """One line on stderr and the exit code `runq` would use for `exc`; ends the process."""
    failure = explain(exc, 0.0)
    sys.stderr.write(f"error: {failure}\n")
    sys.stderr.flush()
    raise SystemExit(int(failure.code))


def known_queues(conf: Any) -> set[str]:
    """Every queue the app routes tasks to (the default, the routes' and declared queues),
    and those that RUNQ_EXTRA_QUEUES says producers send jobs to by name."""
    from config.settings import get_settings

    names = {str(conf.task_default_queue)} | set(get_settings().runs.extra_queues)
    routes = conf.task_routes if isinstance(conf.task_routes, dict) else {}
    names |= {str(r["queue"]) for r in routes.values() if isinstance(r, dict) and "queue" in r}
    names |= {str(queue.name) for queue in conf.task_queues or ()}
    return names


def unknown_queues(requested: Iterable[str], known: set[str]) -> list[str]:
    """The requested queue names no task is ever sent to (a typo in -Q)."""
    return sorted(set(requested) - known)


def check_beat_start(sender: Any, **_: Any) -> None:
    """`beat_init`: outside dev, a real provider key and signing secret, else one line."""
    if sender.app.main != "runq":
        return
    try:
        require_deployable()
    except Exception as exc:
        exit_at_start(exc)


def check_worker_start(sender: Any, **_: Any) -> None:
    """`worker_init`: a deployable configuration, the queues after -Q exist and Redis
    answers, else one line and exit."""
    if sender.app.main != "runq":
        return  # Celery's signals are global: another app's worker (the benchmarks') is not ours
    try:
        require_deployable()
        selected = sender.app.amqp.queues.consume_from  # None when -Q was not given
        unknown = unknown_queues(selected or (), known_queues(sender.app.conf))
        if unknown:
            known = ", ".join(sorted(known_queues(sender.app.conf)))
            raise CommandFailed(
                f"bad usage: no task is ever sent to queue {', '.join(map(repr, unknown))} "
                f"(-Q/--queues takes a comma-separated list of: {known})",
                ExitCode.BAD_USAGE,
            )
        require_redis()
    except Exception as exc:  # whatever stops the start: one line, not a traceback
        exit_at_start(exc)

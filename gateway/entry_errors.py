"""One-line errors at every entry point (`runq …`, `runq worker`, `runq serve`).

A command either succeeds or raises; `guarded` turns what it raised into one line on stderr
and an exit code (`gateway.exit_codes`). A configuration mistake names the variable and the
fix; a service that did not answer names its URL (credentials removed) and how long runq
tried. `runq --debug …` re-raises instead, so the traceback shows.

    @app.command()
    @guarded
    def serve(...) -> None: ...
"""

from __future__ import annotations

import functools
import json
import re
import sys
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit, urlunsplit

import click
import typer
from pydantic import ValidationError
from rich.console import Console

from gateway.exit_codes import ExitCode
from workers.errors import RunqError

P = ParamSpec("P")
R = TypeVar("R")

_stderr = Console(stderr=True, highlight=False, soft_wrap=True)
_debug = False
_SETTINGS_FIELD = re.compile(r'field "([^"]+)"')


class CommandFailed(Exception):
    """An expected failure, reported as one line with its exit code."""

    def __init__(self, message: str, code: ExitCode) -> None:
        super().__init__(message)
        self.code = code


def set_debug(enabled: bool) -> None:
    """`--debug`: let errors through with their traceback instead of one line."""
    global _debug
    _debug = enabled


def guarded(command: Callable[P, R]) -> Callable[P, R]:
    """Run `command`; anything it raises becomes one line on stderr and an exit code."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        started_s = time.monotonic()
        try:
            return command(*args, **kwargs)
        except (typer.Exit, click.exceptions.ClickException, click.exceptions.Abort):
            raise
        except Exception as exc:  # the entry point: whatever escaped a command ends here
            if _debug:
                raise
            failure = explain(exc, time.monotonic() - started_s)
            if kwargs.get("as_json"):  # `--json`: a script parses the error too
                error = {"error": str(failure), "exit_code": int(failure.code)}
                sys.stderr.write(json.dumps(error) + "\n")
            else:
                _stderr.print(f"[red]error:[/] {failure}", markup=True, highlight=False)
            raise typer.Exit(failure.code) from None

    return run


def explain(exc: BaseException, elapsed_s: float) -> CommandFailed:
    """The one-line message and exit code for `exc`."""
    if isinstance(exc, CommandFailed):
        return exc
    for explainer in _EXPLAINERS:
        failure = explainer(exc, elapsed_s)
        if failure is not None:
            return failure
    first_line = (str(exc).splitlines() or [""])[0][:300]
    return CommandFailed(
        f"{type(exc).__name__}: {first_line} (a runq bug? rerun with `runq --debug …` and "
        "report the traceback)",
        ExitCode.INTERNAL_ERROR,
    )


def redact_url(url: str) -> str:
    """`url` without user name and password (kept: scheme, host, port, path)."""
    if "@" not in url:
        return url.split("?")[0]  # query strings can carry passwords too
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable URL>"
    return urlunsplit((parts.scheme, host + port, parts.path, "", ""))


def _settings_problem(exc: BaseException, elapsed_s: float) -> CommandFailed | None:
    from pydantic_settings import SettingsError

    from workers.errors import ConfigError

    # config.settings wraps what pydantic raised in a ConfigError; the cause has the details.
    cause = exc.__cause__ if isinstance(exc, ConfigError) else exc
    if isinstance(cause, SettingsError):
        match = _SETTINGS_FIELD.search(str(cause))
        variable = _env_name(match.group(1)) if match else "a RUNQ_* variable"
        reason = cause.__cause__
        problem = (
            f"is not valid JSON ({reason})"
            if isinstance(reason, json.JSONDecodeError)
            else f"cannot be read ({reason or cause})"
        )
        return _config(f"{variable} {problem}; fix it or unset it")
    if isinstance(cause, ValidationError) and cause.title in _settings_classes():
        error = cause.errors()[0]
        message = str(error["msg"]).removeprefix("Value error, ")
        if not error["loc"]:
            return _config(message)
        first, *rest = (str(part) for part in error["loc"])
        where = f" (at {'.'.join(rest)})" if rest else ""
        return _config(f"{_env_name(first, cause.title)}{where}: {message}; fix it or unset it")
    return None


def _config(message: str) -> CommandFailed:
    return CommandFailed(
        f"configuration error: {message} (every setting: config/settings.py)",
        ExitCode.CONFIG_ERROR,
    )


def _settings_classes() -> dict[str, Any]:
    """The settings classes by name: `Settings` and its groups."""
    from pydantic_settings import BaseSettings

    # Read from sys.modules: importing `config` again would re-raise the settings error.
    module = sys.modules.get("config.settings")
    members = vars(module).values() if module else ()
    return {
        cls.__name__: cls
        for cls in members
        if isinstance(cls, type) and issubclass(cls, BaseSettings) and cls is not BaseSettings
    }


def _env_name(field: str, group: str | None = None) -> str:
    """The environment variable that sets `field` (of settings class `group`, if known)."""
    if field.isupper():
        return field  # a field read by its variable name is reported under that name
    for name, cls in _settings_classes().items():
        info = cls.model_fields.get(field)
        if info is None or group not in (None, name):
            continue
        choices = getattr(info.validation_alias, "choices", [])
        standard = [choice for choice in choices if isinstance(choice, str) and choice.isupper()]
        if standard:
            return str(standard[0])
        return str(cls.model_config.get("env_prefix", "RUNQ_")).upper() + field.upper()
    return "RUNQ_" + field.upper()


def _database_problem(exc: BaseException, elapsed_s: float) -> CommandFailed | None:
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

    if isinstance(exc, ArgumentError | NoSuchModuleError):
        return _config(
            f"DATABASE_URL is not a usable database URL ({exc}); use e.g. sqlite:///runq.db or "
            "postgresql+psycopg://user:password@host:5432/runq"
        )
    if isinstance(exc, OperationalError):
        reason = (str(exc.orig).strip().splitlines() or ["no answer"])[0].rstrip(".")
        return CommandFailed(
            f"cannot reach the database at {_setting_url('database')} (DATABASE_URL); "
            f"gave up after {elapsed_s:.1f} s: {reason}. Is the server up and the URL right?",
            ExitCode.UNREACHABLE,
        )
    return None


def _redis_problem(exc: BaseException, elapsed_s: float) -> CommandFailed | None:
    import redis
    from kombu.exceptions import OperationalError

    if isinstance(exc, redis.ConnectionError | redis.TimeoutError | OperationalError):
        reason = (str(exc).strip().splitlines() or ["no answer"])[0].rstrip(".")
        return CommandFailed(
            f"cannot reach Redis at {_setting_url('redis')} (REDIS_URL); gave up after "
            f"{elapsed_s:.1f} s: {reason}. Is redis-server running and the URL right?",
            ExitCode.UNREACHABLE,
        )
    return None


def _runq_problem(exc: BaseException, elapsed_s: float) -> CommandFailed | None:
    from workers.errors import (
        ConfigError,
        IdempotencyConflict,
        RunNotFound,
        ThreadBusy,
        UnknownAgent,
    )

    if isinstance(exc, RunNotFound | UnknownAgent):
        return CommandFailed(str(exc), ExitCode.NOT_FOUND)
    if isinstance(exc, ThreadBusy | IdempotencyConflict):
        return CommandFailed(f"refused: {exc}", ExitCode.BAD_USAGE)
    if isinstance(exc, ConfigError):
        return _config(str(exc))
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or exc.title
        return CommandFailed(f"invalid {where}: {first['msg']}", ExitCode.BAD_USAGE)
    return None


def _setting_url(group: str) -> str:
    """The redacted `url` of a settings group ("database", "redis"), if the settings load."""
    module = sys.modules.get("config.settings")
    try:
        url = getattr(module.get_settings(), group).url if module else None
    except (ValueError, RunqError):  # the settings themselves may be what is broken
        url = None
    return redact_url(url) if isinstance(url, str) else "(not set)"


_EXPLAINERS: tuple[Callable[[BaseException, float], CommandFailed | None], ...] = (
    _settings_problem,
    _database_problem,
    _redis_problem,
    _runq_problem,
)

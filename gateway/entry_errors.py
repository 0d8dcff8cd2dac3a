"""One-line errors at every entry point (`runq …`, `runq worker`, `runq serve`).

A command either succeeds or raises; `guarded` turns what it raised into one line on stderr
and an exit code (`config.exit_codes`). A configuration mistake names the variable and the
fix; a service that did not answer names its URL (credentials removed) and how long runq
tried. `runq --debug …` re-raises instead, so the traceback shows.

    @app.command()
    @guarded
    def serve(...) -> None: ...
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar
from urllib.parse import urlsplit, urlunsplit

import click
import typer
from pydantic import ValidationError
from rich.console import Console

from config.exit_codes import ExitCode
from config.setting_errors import configuration_error, explain_setting_error
from workers.errors import RunqError

P = ParamSpec("P")
R = TypeVar("R")

_stderr = Console(stderr=True, highlight=False, soft_wrap=True)
_debug = False


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
    message = explain_setting_error(exc)
    return None if message is None else CommandFailed(message, ExitCode.CONFIG_ERROR)


def _config(message: str) -> CommandFailed:
    return CommandFailed(configuration_error(message), ExitCode.CONFIG_ERROR)


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
    # Each runq error class carries its exit code (workers/errors.py); INTERNAL_ERROR is left
    # to `explain`, which reports a bug.
    if isinstance(exc, RunqError) and exc.exit_code is not ExitCode.INTERNAL_ERROR:
        if exc.exit_code is ExitCode.CONFIG_ERROR:
            return _config(str(exc))
        if exc.exit_code is ExitCode.BAD_USAGE:
            return CommandFailed(f"refused: {exc}", exc.exit_code)
        return CommandFailed(str(exc), exc.exit_code)
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

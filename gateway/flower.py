"""`runq flower`: Flower with auth on every page.

Flower leaves `/metrics` and `/healthcheck` open even with --basic-auth, and opens its API
to anyone when FLOWER_UNAUTHENTICATED_API is true. This command turns that variable off,
requires the operators' credentials (RUNQ_OPERATOR_USER / RUNQ_OPERATOR_PASSWORD, the same
pair as the dashboard), wraps those two handlers in Tornado's `authenticated`, and then runs
`celery -A config flower` in this process, so the patch is in the server that answers.

The credentials never go through Flower's `--basic-auth` (or FLOWER_BASIC_AUTH): that option
is a comma-separated list, so a password holding a comma became two wrong credentials (and
each half alone let anyone in who guessed it). This process sets the parsed option to the one
credential instead, and never puts the password on a command line.
"""

from __future__ import annotations

import os
from typing import Any

from config.settings import get_settings
from workers.errors import ConfigError


def protect_open_pages() -> None:
    """Make Flower's /metrics and /healthcheck ask for the same auth as every other page."""
    import tornado.web
    from flower.views import monitor

    for handler in (monitor.Metrics, monitor.Healthcheck):
        if not getattr(handler.get, "_runq_authenticated", False):
            guarded: Any = tornado.web.authenticated(handler.get)
            guarded._runq_authenticated = True
            handler.get = guarded


def operator_credential() -> str:
    """`user:password`, as a Basic auth header decodes; ConfigError without a password."""
    settings = get_settings()
    if settings.operate.operator_password is None:
        raise ConfigError("set RUNQ_OPERATOR_PASSWORD: Flower never runs without auth")
    password = settings.operate.operator_password.get_secret_value()
    return f"{settings.operate.operator_user}:{password}"


def flower_args(port: int, address: str) -> list[str]:
    """The `celery` command line (no credentials: see `require_operator_auth`)."""
    return ["-A", "config", "flower", f"--port={port}", f"--address={address}"]


def require_operator_auth(credential: str) -> None:
    """Make `credential` the only Basic auth Flower accepts, whatever it contains. Flower's
    option parsing sets only the options it is given, so this value stays."""
    from flower.options import default_options  # Flower's options, defined on import

    default_options.basic_auth = [credential]


def run_flower(port: int = 5555, address: str = "0.0.0.0") -> None:
    """Start Flower in this process with auth on every page (blocks until stopped)."""
    from celery.bin.celery import celery as celery_command

    credential = operator_credential()
    os.environ["FLOWER_UNAUTHENTICATED_API"] = "false"
    os.environ.pop("FLOWER_BASIC_AUTH", None)  # would replace ours, split at commas
    require_operator_auth(credential)
    protect_open_pages()
    celery_command.main(args=flower_args(port, address), prog_name="celery", standalone_mode=True)

"""`runq flower`: Flower with auth on every page.

Flower leaves `/metrics` and `/healthcheck` open even with --basic-auth, and opens its API
to anyone when FLOWER_UNAUTHENTICATED_API is true. This command turns that variable off,
requires the operators' credentials (RUNQ_OPERATOR_USER / RUNQ_OPERATOR_PASSWORD, the same
pair as the dashboard), wraps those two handlers in Tornado's `authenticated`, and then runs
`celery -A config flower` in this process, so the patch is in the server that answers.
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


def flower_args(port: int, address: str) -> list[str]:
    """The `celery` command line, credentials included (never printed)."""
    settings = get_settings()
    if settings.operate.operator_password is None:
        raise ConfigError("set RUNQ_OPERATOR_PASSWORD: Flower never runs without auth")
    password = settings.operate.operator_password.get_secret_value()
    return [
        "-A",
        "config",
        "flower",
        f"--port={port}",
        f"--address={address}",
        f"--basic_auth={settings.operate.operator_user}:{password}",
    ]


def run_flower(port: int = 5555, address: str = "0.0.0.0") -> None:
    """Start Flower in this process with auth on every page (blocks until stopped)."""
    from celery.bin.celery import celery as celery_command

    os.environ["FLOWER_UNAUTHENTICATED_API"] = "false"
    args = flower_args(port, address)
    protect_open_pages()
    celery_command.main(args=args, prog_name="celery", standalone_mode=True)

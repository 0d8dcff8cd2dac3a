"""runq configuration; exposes the Celery `app` for `celery -A config worker|beat|flower`.

The app is loaded on first access, not on import: `config.settings` is imported by
modules that `config.celery_app` itself imports (the worker hooks), and an eager import
here made `import config.settings` build the Celery app half-way through, an import cycle
that depended on which module a process imported first (it killed `runq serve`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from celery import Celery

    app: Celery

__all__ = ["app"]


def __getattr__(name: str) -> Any:
    # `celery -A config` reads `config.app`; module-level __getattr__ (PEP 562) serves it.
    if name == "app":
        from workers.errors import ConfigError

        try:
            from config.celery_app import app
        except ConfigError as exc:
            # `celery -A config …` with a broken setting: one line and exit 9, as `runq` does,
            # not the traceback Celery would print for a failed app import.
            from gateway.preflight import exit_at_start

            exit_at_start(exc)
        return app
    raise AttributeError(f"module 'config' has no attribute {name!r}")

"""runq configuration; exposes the Celery `app` for `celery -A config worker|beat|flower`.

The app is loaded on first access, not on import: `config.settings` is imported by every
package, and an eager import here made `import config.settings` build the Celery app too,
an import cycle that depended on which module a process imported first (it killed
`runq serve`).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from celery import Celery

    app: Celery

__all__ = ["app"]


def __getattr__(name: str) -> Any:
    # `celery -A config` reads `config.app`; module-level __getattr__ (PEP 562) serves it.
    if name == "app":
        from config.errors import ConfigError

        try:
            from config.celery_app import app
        except ConfigError as exc:
            # `celery -A config …` with a broken setting: one line and exit 9, as `runq` does,
            # not the traceback Celery would print for a failed app import.
            from config.setting_errors import configuration_error, explain_setting_error

            message = explain_setting_error(exc) or configuration_error(str(exc))
            sys.stderr.write(f"error: {message}\n")
            sys.stderr.flush()
            raise SystemExit(int(ConfigError.exit_code)) from None
        return app
    raise AttributeError(f"module 'config' has no attribute {name!r}")

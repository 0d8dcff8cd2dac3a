"""What every Celery process does for observability at start-up: runq's log format (with the
secret scrubber) on Celery's handlers, and its own metrics port.

`tasks/process_hooks.py` connects these to Celery's signals.
"""

from __future__ import annotations

import logging
from typing import Any

from config.settings import Settings, get_settings
from workers.observability.exporter import serve_process_metrics
from workers.observability.log_format import apply_log_format
from workers.observability.tracing import enable_tracing


def secret_values(settings: Settings) -> list[str]:
    """Every configured secret, so the scrubber can keep them out of log lines."""
    values = [settings.provider.api_key.get_secret_value()]
    values += [key.get_secret_value() for key in settings.provider.keys.values()]
    values += [s.get_secret_value() for s in settings.extra_secrets() if s is not None]
    return values


def format_logs(logger: logging.Logger, **_: Any) -> None:
    """After Celery set up a logger: runq's formatter and the scrubber on its handlers."""
    settings = get_settings()
    apply_log_format([logger], settings.operate.log_format, secret_values(settings))


def serve_metrics_unless_prefork(sender: Any, **_: Any) -> None:
    """threads/solo pools run tasks in this process: serve its metrics (and trace) here."""
    if "prefork" not in repr(getattr(sender, "pool_cls", "")):
        _start_process_observability()


def serve_metrics_in_child(**_: Any) -> None:
    """A prefork child runs the tasks, so it serves the metrics (on the next free port)."""
    _start_process_observability()


def _start_process_observability() -> None:
    operate = get_settings().operate
    serve_process_metrics(operate.metrics_port)
    enable_tracing(operate.otel_endpoint, service_name="runq-worker")


def format_process_logs(level: int = logging.INFO) -> None:
    """For processes Celery does not set up (`runq serve`): a root handler with runq's
    format and the scrubber."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    root.setLevel(level)
    format_logs(root)
